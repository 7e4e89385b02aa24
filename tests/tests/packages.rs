//! The first-party Python and npm packages, built from `packages/` the way they are
//! published and used end to end from their built artifacts (see `tests/packages/`):
//!
//! - Python: a wheel and an sdist built by `python -m build` from a copy of the package (the
//!   wheel is built from the sdist, so the sdist is complete), the wheel installed into a fresh
//!   virtual environment with uvicorn and mypy, the package and `check_package.py` checked by
//!   `mypy --strict`, then `check_package.py` run by that environment; `twine check --strict` on
//!   both artifacts; every README code block type-checked;
//! - npm: `npm pack` and `publint --strict`, the tarball installed into a scratch project,
//!   compiled with TypeScript `strict: true` (ESM and CommonJS), then run.
//!
//! Both run the signature's worked example, every fixture, the shared case table
//! (`tests/cases/dispatch.json`) and a real server on a loopback port; then each package's own
//! server (`python -m tencent_chat_callbacks serve`, the npm bin `tencent-chat-callbacks serve`)
//! is started as a process and put through `tests/packages/receive_path.py`, the same raw-socket
//! checks for both (refusals before the body, timeouts, dead letters, SIGTERM draining). They need `python3` with
//! `build`, `hatchling` and `venv` (tests/packages/python/requirements.txt) and `node` with
//! `npm ci` run in `tests/packages/npm`; `.ci/run` installs both and sets
//! `CONSUMER_CHECKS=required`, under which a missing tool fails the build; elsewhere
//! a test whose tool is missing is reported as ignored (`tests::needs!`). Installing pydantic, uvicorn and mypy into the environment needs the package index.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use tests::workspace_root;

/// uvicorn, for the ASGI check, and mypy, for the types a consumer sees (`py.typed`), installed
/// into the environment next to the wheel.
const PYTHON_TOOLS: [&str; 4] = ["uvicorn==0.34.3", "mypy==2.4.1", "starlette==0.47.2", "jsonschema==4.25.1"];

/// Runs `program args` in `dir`, failing with its output unless it succeeds; returns stdout.
fn run(dir: &Path, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> String {
    let program = program.as_ref();
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let text = stdout.clone() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{program:?} {args:?} failed:\n{text}");
    println!("{text}");
    stdout
}

/// A fresh, empty directory under the target directory.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    if dir.exists() {
        fs::remove_dir_all(&dir).expect("remove the old scratch directory");
    }
    fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create a directory");
    for entry in fs::read_dir(from).expect("read a directory") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// The one file in `dir` whose name ends with `suffix`.
fn only_file(dir: &Path, suffix: &str) -> PathBuf {
    let found: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read a directory")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(found.len(), 1, "expected one {suffix} in {}: {found:?}", dir.display());
    found.into_iter().next().expect("one file")
}

/// The code blocks of a Markdown file fenced as `language`, in order.
fn code_blocks(markdown: &Path, language: &str) -> Vec<String> {
    let text = fs::read_to_string(markdown).expect("read a README");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match &mut current {
            None if line.trim_start() == format!("```{language}") => current = Some(String::new()),
            Some(block) if line.trim_start() == "```" => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// The check's closing line must report no failure.
fn assert_all_passed(stdout: &str) {
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.ends_with(" 0 failed") && !last.starts_with("0 passed"), "unexpected summary: {last}");
}

tests::needs! { [python_packaging]
    #[test]
    fn the_python_package_builds_installs_and_answers_like_the_rust_dispatcher() {
        let root = workspace_root();
        let source = root.join("packages/python");
        let dir = scratch("python-package");
        // Built from a copy, so no build output can land in the source tree.
        let copy = dir.join("src");
        copy_dir(&source, &copy);
        let dist = dir.join("dist");
        run(
            &dir,
            "python3",
            &["-m", "build", "--no-isolation", "--outdir", &dist.to_string_lossy(), &copy.to_string_lossy()],
        );
        let wheel = only_file(&dist, ".whl");
        let sdist = only_file(&dist, ".tar.gz");
        // Ready to publish: the metadata and README as PyPI checks them.
        let (wheel_file, sdist_file) = (wheel.to_string_lossy().into_owned(), sdist.to_string_lossy().into_owned());
        run(&dir, "python3", &["-m", "twine", "check", "--strict", &wheel_file, &sdist_file]);
        for leftover in ["build", "dist", "src/tencent_chat_callbacks.egg-info"] {
            assert!(!source.join(leftover).exists(), "the build wrote {leftover} into the source tree");
        }

        let venv = dir.join("venv");
        run(&dir, "python3", &["-m", "venv", &venv.to_string_lossy()]);
        let python = venv.join("bin/python");
        let wheel = wheel.to_string_lossy();
        let install = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", &wheel];
        run(&dir, &python, &[&install[..], &PYTHON_TOOLS[..]].concat());
        let check = root.join("tests/packages/python/check_package.py");
        // The installed package and a consumer of it (the check itself) type-check strictly.
        let check_file = check.to_string_lossy();
        run(&dir, &python, &["-m", "mypy", "--strict", "-p", "tencent_chat_callbacks"]);
        run(&dir, &python, &["-m", "mypy", "--strict", &check_file]);
        // Every Python block of the package's README type-checks strictly against the installed package.
        let blocks = code_blocks(&source.join("README.md"), "python");
        assert!(blocks.len() >= 2, "the README lost its examples");
        let readme = dir.join("readme");
        fs::create_dir_all(&readme).expect("create the README directory");
        let mut files = Vec::new();
        for (index, block) in blocks.iter().enumerate() {
            let file = readme.join(format!("readme_{index}.py"));
            fs::write(&file, block).expect("write a README block");
            files.push(file.to_string_lossy().into_owned());
        }
        let mut mypy = vec!["-m", "mypy", "--strict"];
        mypy.extend(files.iter().map(String::as_str));
        run(&readme, &python, &mypy);
        let stdout = run(&dir, &python, &[&check.to_string_lossy(), &root.to_string_lossy()]);
        assert_all_passed(&stdout);
        // The receive path over real sockets: `python -m tencent_chat_callbacks serve` as a process.
        let python = python.to_string_lossy();
        let stdout = run(
            &dir,
            "python3",
            &[&receive_path(), &root.to_string_lossy(), "--", &python, "-m", "tencent_chat_callbacks", "serve"],
        );
        assert_all_passed(&stdout);
    }
}

/// The real-socket checks both servers must pass (stdlib Python only).
fn receive_path() -> String {
    workspace_root().join("tests/packages/receive_path.py").to_string_lossy().into_owned()
}

tests::needs! { [node_packaging]
    #[test]
    fn the_npm_package_packs_installs_typechecks_strictly_and_answers_like_the_rust_dispatcher() {
        let root = workspace_root();
        let consumer = root.join("tests/packages/npm");
        let packed = scratch("npm-package");
        let source = root.join("packages/npm");
        let destination = packed.to_string_lossy();
        run(&source, "npm", &["pack", "--pack-destination", &destination, "--loglevel=error"]);
        let tarball = only_file(&packed, ".tgz");
        // Ready to publish: exports, types and files as publint checks them, warnings included.
        let publint = consumer.join("node_modules/publint/src/cli.js");
        run(&source, "node", &[&publint.to_string_lossy(), "--strict", "--pack", "npm"]);

        // The scratch project sits inside tests/packages/npm so that TypeScript, @types/node and
        // Express resolve from its node_modules; the package itself is installed into the scratch.
        let project = consumer.join(".scratch");
        if project.exists() {
            fs::remove_dir_all(&project).expect("remove the old scratch project");
        }
        fs::create_dir_all(&project).expect("create the scratch project");
        for file in ["check.ts", "check-cjs.cts", "tsconfig.json"] {
            fs::copy(consumer.join(file), project.join(file)).expect("copy a check file");
        }
        fs::write(project.join("package.json"), "{\"name\": \"scratch\", \"private\": true, \"type\": \"module\"}\n")
            .expect("write the scratch package.json");
        let tarball = tarball.to_string_lossy();
        let install = ["install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error", &tarball];
        run(&project, "npm", &install);
        run(&project, "node", &["../node_modules/typescript/bin/tsc", "-p", "."]);
        // Every TypeScript block of the package's README compiles with the same strict settings.
        let blocks = code_blocks(&source.join("README.md"), "ts");
        assert!(blocks.len() >= 3, "the README lost its examples");
        let mut files = Vec::new();
        for (index, block) in blocks.iter().enumerate() {
            let name = format!("readme-{index}.ts");
            fs::write(project.join(&name), block).expect("write a README block");
            files.push(format!("{name:?}"));
        }
        let config = format!(
            "{{\"extends\": \"./tsconfig.json\", \"compilerOptions\": {{\"noEmit\": true}}, \"files\": [{}]}}\n",
            files.join(", ")
        );
        fs::write(project.join("tsconfig.readme.json"), config).expect("write the README tsconfig");
        run(&project, "node", &["../node_modules/typescript/bin/tsc", "-p", "tsconfig.readme.json"]);
        let stdout = run(&project, "node", &["out/check.js", &root.to_string_lossy()]);
        assert_all_passed(&stdout);
        // The receive path over real sockets: the installed `tencent-chat-callbacks serve` bin.
        let bin = project.join("node_modules/.bin/tencent-chat-callbacks");
        let stdout =
            run(&project, "python3", &[&receive_path(), &root.to_string_lossy(), "--", &bin.to_string_lossy(), "serve"]);
        assert_all_passed(&stdout);
    }
}
