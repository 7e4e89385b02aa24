//! The `cargo codegen` subcommands that run the vendor-page tooling: `import` writes drafts and
//! reports repairs; `drift` exits 0 without drift, 1 on drift and 2 on an unreadable page.

use std::fs;
use std::path::{Path, PathBuf};

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema")
}

fn test_page(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vendor/tests/pages").join(name)
}

fn run(args: &[&str]) -> (Option<i32>, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_codegen")).args(args).output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr),
    )
}

#[test]
fn the_cli_exit_status_tells_drift_from_errors() {
    let root = tempfile::tempdir().unwrap();
    let pages = root.path().join("pages");
    fs::create_dir_all(root.path().join("schema")).unwrap();
    fs::create_dir(&pages).unwrap();
    fs::copy(schema_dir().join("common.json"), root.path().join("schema/common.json")).unwrap();
    fs::copy(test_page("widget-move.txt"), pages.join("widget-move.txt")).unwrap();
    let root_arg = root.path().to_str().unwrap();
    let out = root.path().join("drafts");

    let (code, output) =
        run(&["import", pages.join("widget-move.txt").to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("repaired line") && output.contains("missing comma inserted"), "{output}");
    assert!(output.contains("`EventTime` is an integer in the field table but a string of digits"), "{output}");
    let draft_path = out.join("Demo.CallbackBeforeWidgetMove.json");
    assert!(draft_path.exists());

    let (code, output) = run(&["drift", pages.to_str().unwrap(), "--root", root_arg]);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("no schema in schema/ for this command"), "{output}");

    fs::copy(&draft_path, root.path().join("schema/Demo.CallbackBeforeWidgetMove.json")).unwrap();
    let (code, output) = run(&["drift", pages.to_str().unwrap(), "--root", root_arg]);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("0 of 1 page(s) drifted"), "{output}");

    fs::copy(test_page("broken-sample.txt"), pages.join("broken-sample.txt")).unwrap();
    let (code, output) = run(&["drift", pages.to_str().unwrap(), "--root", root_arg]);
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("error:") && output.contains("broken-sample.txt"), "{output}");
}
