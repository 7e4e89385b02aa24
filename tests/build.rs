//! The one skip gate of the workspace's tests: finds which outside tools this machine has
//! (brokers, Node and Python with the packages the checks use, Go) and writes the `needs!` macro
//! (`src/gate.rs`) so that a test needing a missing tool is compiled `#[ignore]`d with the reason:
//! `cargo test` reports it as ignored, never as passed. With `CONSUMER_CHECKS=required` (as
//! `.ci/run` sets) a missing tool fails the build instead, naming what to install.
//!
//! The probes run again when `PATH`, `CONSUMER_CHECKS` or a watched `node_modules` changes; after
//! installing a Python package or a Debian one, `touch tests/build.rs` to have them run again.

use std::env;
use std::fmt::Write;
use std::fs;
use std::path::Path;
use std::process::Command;

/// One tool: the name tests give it in `needs!`, how to tell it is there, and how to install it.
struct Tool {
    name: &'static str,
    /// Programs to run (program, arguments, directory relative to the workspace), each of which must succeed.
    runs: &'static [(&'static str, &'static [&'static str], &'static str)],
    /// Files or directories, relative to the workspace, that must exist.
    files: &'static [&'static str],
    install: &'static str,
}

const TOOLS: &[Tool] = &[
    Tool {
        name: "redis",
        runs: &[("redis-server", &["--version"], ".")],
        files: &[],
        install: "apt-get install redis-server",
    },
    Tool {
        name: "nats",
        runs: &[("nats-server", &["--version"], ".")],
        files: &[],
        install: "apt-get install nats-server",
    },
    Tool { name: "go", runs: &[("go", &["version"], ".")], files: &[], install: "apt-get install golang-go" },
    Tool {
        name: "node_consumers",
        runs: &[("node", &["--version"], ".")],
        files: &["tests/consumers/typescript/node_modules/.package-lock.json"],
        install: "npm ci --prefix tests/consumers/typescript",
    },
    Tool {
        name: "python_jsonschema",
        runs: &[("python3", &["-c", "import jsonschema"], ".")],
        files: &[],
        install: "pip install -r tests/consumers/python/requirements.txt",
    },
    Tool {
        name: "python_datamodel",
        runs: &[("python3", &["-c", "import datamodel_code_generator, pydantic"], ".")],
        files: &[],
        install: "pip install -r tests/consumers/python/requirements.txt",
    },
    Tool {
        name: "python_packaging",
        runs: &[("python3", &["-c", "import build, hatchling, venv, ensurepip, twine"], ".")],
        files: &[],
        install: "pip install -r tests/packages/python/requirements.txt; apt-get install python3-venv",
    },
    Tool {
        name: "node_packaging",
        runs: &[("node", &["--version"], "."), ("npm", &["--version"], ".")],
        files: &["tests/packages/npm/node_modules/typescript", "tests/packages/npm/node_modules/publint"],
        install: "npm ci --prefix tests/packages/npm",
    },
    Tool {
        name: "python_webhooks",
        runs: &[("python3", &["-c", "import standardwebhooks"], "relay/tests/services")],
        files: &[],
        install: "pip install -r relay/tests/services/requirements.txt",
    },
    Tool {
        name: "node_webhooks",
        runs: &[("node", &["-e", "import('standardwebhooks').then(() => 0)"], "relay/tests/services")],
        files: &["relay/tests/services/node_modules/.package-lock.json"],
        install: "npm ci --prefix relay/tests/services",
    },
    Tool {
        name: "python_redis",
        runs: &[("python3", &["-c", "import redis, jsonschema, referencing"], ".")],
        files: &[],
        install: "pip install redis jsonschema referencing",
    },
];

fn main() {
    let root = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("set by cargo"))
        .parent()
        .expect("in the workspace")
        .to_owned();
    println!("cargo::rerun-if-env-changed=CONSUMER_CHECKS");
    println!("cargo::rerun-if-env-changed=PATH");
    let required = env::var("CONSUMER_CHECKS").is_ok_and(|v| v == "required");
    let mut arms = String::new();
    let mut missing = Vec::new();
    for tool in TOOLS {
        for file in tool.files {
            println!("cargo::rerun-if-changed={}", root.join(file).display());
        }
        let present = tool.files.iter().all(|f| root.join(f).exists())
            && tool.runs.iter().all(|(program, args, dir)| {
                Command::new(program).args(*args).current_dir(root.join(dir)).output().is_ok_and(|o| o.status.success())
            });
        let name = tool.name;
        if present {
            let _ = writeln!(
                arms,
                "    ([{name} $(, $rest:ident)*] $($item:tt)*) => {{ $crate::needs!([$($rest),*] $($item)*); }};"
            );
        } else {
            missing.push(format!("{name} ({})", tool.install));
            let reason = format!("needs {name}, which this machine lacks: {}", tool.install);
            let _ = writeln!(
                arms,
                "    ([{name} $(, $rest:ident)*] $($item:tt)*) => {{ #[ignore = {reason:?}] $($item)* }};"
            );
        }
    }
    if required && !missing.is_empty() {
        panic!("CONSUMER_CHECKS=required, and these tools are missing: {}", missing.join("; "));
    }
    let gate = format!(
        "/// Compiles the test it wraps as is when every tool it names is on this machine, and\n\
         /// `#[ignore]`d with the reason otherwise (decided when the `tests` crate is built; see\n\
         /// `tests/build.rs` for the tools and how to install them).\n\
         ///\n\
         /// ```text\n\
         /// tests::needs! {{ [redis]\n\
         ///     #[tokio::test]\n\
         ///     async fn claims_on_a_real_server() {{ /* … */ }}\n\
         /// }}\n\
         /// ```\n\
         #[macro_export]\n\
         macro_rules! needs {{\n    ([] $($item:tt)*) => {{ $($item)* }};\n{arms}}}\n"
    );
    let out = Path::new(&env::var("OUT_DIR").expect("set by cargo")).join("gate.rs");
    fs::write(out, gate).expect("write the gate");
}
