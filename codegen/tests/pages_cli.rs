//! The `cargo codegen` subcommands that run the vendor-page tooling: `import` writes drafts and
//! reports repairs; `drift` exits 0 without drift, 1 on drift and 2 on an unreadable page.

use std::fs;
use std::path::{Path, PathBuf};

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema")
}

fn test_page(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pages/tests/pages").join(name)
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

/// Issue 19: without `--out`, `import` writes to `target/schema-drafts` of the workspace it is run
/// in (found from the current directory up), not of the checkout the binary was built in; a page
/// whose sample cannot be read is drafted from its table, with a warning naming the problem.
#[test]
fn import_drafts_into_the_workspace_it_runs_in_and_warns_of_an_unreadable_sample() {
    let workspace = tempfile::tempdir().unwrap();
    fs::write(workspace.path().join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
    let below = workspace.path().join("some/dir");
    fs::create_dir_all(&below).unwrap();
    let text = fs::read_to_string(test_page("gadget-rename.zh.md")).unwrap();
    let broken = text
        .replace(
            "| SdkAppid | 应用 |",
            "| SdkAppid | 应用 |\n| CallbackCommand | 固定为 Demo.CallbackAfterGadgetRename |",
        )
        .replace("\"Gadget_Account\": \"g-7\",", "\"Gadget_Account\": \"g-7,");
    fs::write(below.join("broken.zh.md"), broken).unwrap();

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_codegen"))
        .args(["import", "broken.zh.md"])
        .current_dir(&below)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("warning: drafted from the field table only") && text.contains("not closed"), "{text}");
    let draft = workspace.path().join("target/schema-drafts/Demo.CallbackAfterGadgetRename.json");
    assert!(draft.is_file(), "{text}");
    let draft: serde_json::Value = serde_json::from_slice(&fs::read(draft).unwrap()).unwrap();
    assert!(draft["properties"]["Gadget_Account"].is_object(), "{draft:#}");
}

#[path = "../pages/tests/support/server.rs"]
mod server;

/// `import` reads Markdown and HTML pages too, saying which shape it saw.
#[test]
fn import_reads_every_shape() {
    let out = tempfile::tempdir().unwrap();
    for (page, shape) in
        [("gadget-rename.en.md", "(Markdown)"), ("gadget-rename.zh.md", "(Markdown)"), ("gadget-rename.html", "(HTML)")]
    {
        let (code, output) = run(&["import", test_page(page).to_str().unwrap(), "--out", out.path().to_str().unwrap()]);
        assert_eq!(code, Some(0), "{output}");
        assert!(output.contains(shape) && output.contains("trailing comma removed"), "{output}");
    }
    assert!(out.path().join("Demo.CallbackAfterGadgetRename.json").exists());
    let (code, output) = run(&["import", test_page("unknown-format.txt").to_str().unwrap()]);
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("no request sample"), "{output}");
}

/// `drift` on command lists: 0 when every listed command has a schema, 1 naming the one that
/// has none.
#[test]
fn drift_on_command_lists_exits_by_what_is_missing() {
    let pages = tempfile::tempdir().unwrap();
    for page in ["command-list.zh.md", "command-list.en.html"] {
        fs::copy(test_page(page), pages.path().join(page)).unwrap();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let (code, output) = run(&["drift", pages.path().to_str().unwrap(), "--root", root.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("all 8 listed commands have a schema") && output.contains("info: `"), "{output}");

    fs::copy(test_page("command-list-extra.md"), pages.path().join("command-list-extra.md")).unwrap();
    let (code, output) = run(&["drift", pages.path().to_str().unwrap(), "--root", root.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("`Group.CallbackAfterGadgetPolish` is listed but has no schema"), "{output}");
    assert!(output.contains("1 of 3 page(s) drifted"), "{output}");
}

/// `fetch`: 0 when every page was had (downloaded or unchanged), 2 when one was not.
#[test]
fn fetch_exit_status_and_report() {
    let server = server::Server::start();
    server.put(
        "/list",
        server::Served {
            body: fs::read_to_string(test_page("command-list.en.html")).unwrap(),
            content_type: "text/html",
            etag: Some("\"a\"".into()),
            last_modified: Some("Sun, 01 Feb 2026 12:00:00 GMT".into()),
        },
    );
    let out = tempfile::tempdir().unwrap();
    let fetch = |urls: &[String]| {
        let mut args = vec!["fetch".to_owned()];
        args.extend(urls.iter().cloned());
        args.extend([
            "--out".into(),
            out.path().display().to_string(),
            "--backoff-ms".into(),
            "1".into(),
            "--pause-ms".into(),
            "0".into(),
        ]);
        run(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (code, output) = fetch(&[server.url("/list")]);
    assert_eq!(code, Some(0), "{output}");
    assert!(
        output.contains("(downloaded, 1 attempt(s)") && output.contains("Sun, 01 Feb 2026 12:00:00 GMT"),
        "{output}"
    );
    let (code, output) = fetch(&[server.url("/list"), server.url("/gone")]);
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("(unchanged, 1 attempt(s)") && output.contains("/gone: HTTP 404"), "{output}");

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let (code, output) = run(&["drift", out.path().to_str().unwrap(), "--root", root.to_str().unwrap()]);
    assert_eq!(code, Some(0), "fetched pages are what drift reads: {output}");
}
