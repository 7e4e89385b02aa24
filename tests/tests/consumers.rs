//! The published schemas, proved with other languages' own tools (see `tests/consumers/`):
//! Python's `jsonschema` validates every fixture and rejects bad payloads; TypeScript types
//! generated from the bundle compile with a consumer; the AsyncAPI parser accepts the document.
//!
//! They need `python3` with `jsonschema`, and `node` after `npm ci` in
//! `tests/consumers/typescript`. `.ci/run` installs both and sets `CONSUMER_CHECKS=required`,
//! under which a missing tool fails the test; elsewhere it is skipped with a notice.

use std::path::Path;
use std::process::Command;

use tests::workspace_root;

fn required() -> bool {
    std::env::var("CONSUMER_CHECKS").is_ok_and(|v| v == "required")
}

/// Runs `program args` in `dir`, failing with its output unless it succeeds.
fn run(dir: &Path, program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{program} {args:?} failed:\n{text}");
    println!("{text}");
}

/// `false`, with a notice, when a tool is missing and the checks are not required.
fn available(what: &str, present: bool) -> bool {
    if !present {
        assert!(!required(), "{what} is missing, and CONSUMER_CHECKS=required");
        eprintln!("skipped: {what} is missing (see tests/consumers/ to install it)");
    }
    present
}

#[test]
fn python_validates_fixtures_and_rejects_bad_payloads_with_the_published_schemas() {
    let has_jsonschema =
        Command::new("python3").args(["-c", "import jsonschema"]).output().is_ok_and(|o| o.status.success());
    if available("python3 with jsonschema", has_jsonschema) {
        run(&workspace_root().join("tests/consumers/python"), "python3", &["check_schemas.py"]);
    }
}

#[test]
fn typescript_types_from_the_bundle_compile_and_the_asyncapi_document_parses() {
    let dir = workspace_root().join("tests/consumers/typescript");
    let installed = dir.join("node_modules/typescript").is_dir()
        && Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if available("node with tests/consumers/typescript/node_modules", installed) {
        run(&dir, "node", &["check.mjs"]);
    }
}
