//! Command-list drift: the vendor's command-list pages (a table or a list of
//! `Namespace.Command` names, Markdown or HTML, any language) against `schema/`.

use std::fs;
use std::path::{Path, PathBuf};

use tencent_chat_callbacks_pages::drift::{VendorPage, drift_dir, schema_commands};

fn test_page(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pages").join(name)
}

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema")
}

fn dir_with(pages: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for page in pages {
        fs::copy(test_page(page), dir.path().join(page)).unwrap();
    }
    dir
}

#[test]
fn list_pages_are_recognised_in_both_shapes_and_languages_without_the_furniture() {
    let VendorPage::CommandList(zh) = VendorPage::read(&test_page("command-list.zh.md")).unwrap() else {
        panic!("the Chinese Markdown list is a command list");
    };
    assert_eq!(zh.commands.len(), 8);
    assert!(zh.commands.contains("State.StateChange") && zh.commands.contains("C2C.CallbackBeforeSendMsg"));

    let VendorPage::CommandList(en) = VendorPage::read(&test_page("command-list.en.html")).unwrap() else {
        panic!("the English HTML list is a command list");
    };
    let names: Vec<&str> = en.commands.iter().map(String::as_str).collect();
    // Script, navigation and footer names are not the list's.
    assert_eq!(
        names,
        [
            "Group.CallbackAfterSendMsg",
            "Group.CallbackBeforeSendMsg",
            "Profile.CallbackPortraitSet",
            "Sns.CallbackFriendDelete"
        ]
    );

    // A callback page that names other commands in passing stays a callback page.
    assert!(matches!(VendorPage::read(&test_page("gadget-rename.en.md")).unwrap(), VendorPage::Callback(_)));
}

#[test]
fn todays_lists_name_only_commands_with_a_schema() {
    let pages = dir_with(&["command-list.zh.md", "command-list.en.html"]);
    let report = drift_dir(pages.path(), &schema_dir()).unwrap();
    assert_eq!(report.lists.len(), 2);
    assert_eq!(report.drifted(), 0, "{report}");
    assert!(report.lists.iter().all(|l| l.missing.is_empty()));
    // Schema commands neither list names are reported, as information.
    let known = schema_commands(&schema_dir()).unwrap();
    assert_eq!(report.unlisted.len(), known.len() - 12, "{report}");
    assert!(report.unlisted.contains(&"Group.CallbackAfterGroupInfoChanged".to_owned()));
    assert!(!report.unlisted.contains(&"State.StateChange".to_owned()));
    let text = report.to_string();
    assert!(text.contains("info: `Group.CallbackAfterGroupInfoChanged` has a schema but no command list names it"));
    assert!(text.ends_with("0 of 2 page(s) drifted"), "{text}");
}

#[test]
fn a_listed_command_without_a_schema_is_drift_and_named() {
    let pages = dir_with(&["command-list.zh.md", "command-list-extra.md"]);
    let report = drift_dir(pages.path(), &schema_dir()).unwrap();
    assert_eq!(report.drifted(), 1, "{report}");
    let extra = report.lists.iter().find(|l| l.page.ends_with("command-list-extra.md")).unwrap();
    assert_eq!(extra.missing, ["Group.CallbackAfterGadgetPolish"]);
    assert_eq!(extra.listed, 3);
    let text = report.to_string();
    assert!(text.contains("`Group.CallbackAfterGadgetPolish` is listed but has no schema in schema/"), "{text}");
}

#[test]
fn lists_and_callback_pages_share_a_directory() {
    let pages = dir_with(&["command-list-extra.md", "gadget-rename.en.md"]);
    let report = drift_dir(pages.path(), &schema_dir()).unwrap();
    assert_eq!((report.pages.len(), report.lists.len(), report.drifted()), (1, 1, 2), "{report}");
    assert!(report.to_string().contains("Demo.CallbackAfterGadgetRename: drift"));
}
