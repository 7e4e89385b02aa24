//! `cargo codegen diff` on crafted pairs of schema directories: each kind of change gets its bump.

use std::fs;
use std::path::Path;

use serde_json::{Value, json};
use tencent_chat_callbacks_codegen::diff::{Bump, Change, Verdict, diff, overall};

const COMMAND: &str = "Demo.CallbackAfterThing";

fn common() -> Value {
    json!({ "$defs": {
        "Stamp": { "description": "A time.", "anyOf": [{ "type": "integer", "minimum": 0 }, { "type": "string", "pattern": "^[0-9]+$" }] },
        "Colour": { "description": "A colour.", "type": "string", "anyOf": [{ "const": "red" }, { "const": "blue" }, { "type": "string" }] },
        "Reply": { "type": "object", "properties": { "ErrorCode": { "type": "integer" } }, "required": ["ErrorCode"] }
    }})
}

fn callback() -> Value {
    json!({
        "title": "A thing",
        "x-callback": { "command": COMMAND, "kind": "after", "docUrl": "u", "docUpdated": "2025-01-01" },
        "type": "object",
        "properties": {
            "CallbackCommand": { "const": COMMAND },
            "Name": { "description": "A name.", "type": "string" },
            "Count": { "description": "A count.", "type": "integer", "minimum": 0 },
            "Colour": { "$ref": "common.json#/$defs/Colour" },
            "Note": { "description": "A note.", "type": "string" }
        },
        "required": ["CallbackCommand", "Name", "Count"],
        "$defs": { "Reply": { "$ref": "common.json#/$defs/Reply" } }
    })
}

fn write_dir(dir: &Path, common: &Value, callbacks: &[(&str, Value)]) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("common.json"), common.to_string()).unwrap();
    for (command, schema) in callbacks {
        fs::write(dir.join(format!("{command}.json")), schema.to_string()).unwrap();
    }
}

/// The changes from the base pair to the pair `edit` makes.
fn changes(edit: impl FnOnce(&mut Value, &mut Value, &mut Vec<(&'static str, Value)>)) -> Vec<Change> {
    let root = tempfile::tempdir().unwrap();
    let (old, new) = (root.path().join("old"), root.path().join("new"));
    write_dir(&old, &common(), &[(COMMAND, callback())]);
    let (mut common, mut schema, mut extra) = (common(), callback(), Vec::new());
    edit(&mut common, &mut schema, &mut extra);
    let mut all = vec![(COMMAND, schema)];
    all.extend(extra);
    write_dir(&new, &common, &all);
    diff(&old, &new).unwrap()
}

/// The one change found: its JSON Schema bump, its Rust bump, and how it prints.
fn only(changes: &[Change]) -> (Bump, Bump, String) {
    assert_eq!(changes.len(), 1, "{changes:#?}");
    (changes[0].schema, changes[0].rust, changes[0].to_string())
}

use Bump::{Major, Minor, Patch};

#[test]
fn a_removed_field_is_major() {
    let found = changes(|_, s, _| {
        s["properties"].as_object_mut().unwrap().remove("Note");
    });
    assert_eq!(
        only(&found),
        (Major, Major, "schema major, rust major: Demo.CallbackAfterThing.Note: field removed".into())
    );
}

#[test]
fn a_new_optional_field_is_minor_for_both_and_a_new_required_field_major_for_both() {
    // Minor for Rust because generated structs are `#[non_exhaustive]` and `new` takes only the
    // required fields.
    let found = changes(|_, s, _| s["properties"]["Extra"] = json!({ "type": "string" }));
    assert_eq!(
        only(&found),
        (Minor, Minor, "schema minor, rust minor: Demo.CallbackAfterThing.Extra: new optional field".into())
    );
    let found = changes(|_, s, _| {
        s["properties"]["Extra"] = json!({ "type": "string" });
        s["required"].as_array_mut().unwrap().push(json!("Extra"));
    });
    assert_eq!(only(&found).0, Major);
    assert_eq!(only(&found).1, Major, "`new` gains a parameter");
}

#[test]
fn changes_of_required_ness_are_major() {
    let found = changes(|_, s, _| s["required"] = json!(["CallbackCommand", "Name"]));
    assert_eq!(
        only(&found),
        (Major, Major, "schema major, rust major: Demo.CallbackAfterThing.Count: no longer required".into())
    );
    let found = changes(|_, s, _| s["required"].as_array_mut().unwrap().push(json!("Note")));
    assert_eq!(
        only(&found),
        (Major, Major, "schema major, rust major: Demo.CallbackAfterThing.Note: now required".into())
    );
}

#[test]
fn narrowed_types_are_major_and_widened_ones_minor_for_the_schema() {
    let found = changes(|_, s, _| s["properties"]["Name"]["type"] = json!("integer"));
    assert_eq!(
        only(&found),
        (Major, Major, "schema major, rust major: Demo.CallbackAfterThing.Name: type changed: string → integer".into())
    );
    let found = changes(|_, s, _| {
        s["properties"]["Count"] = json!({ "description": "A count.", "$ref": "common.json#/$defs/Stamp" });
    });
    assert_eq!(only(&found).0, Major, "a different type, even if related, is reported as major");
    let found =
        changes(|c, _, _| c["$defs"]["Stamp"] = json!({ "description": "A time.", "type": "integer", "minimum": 0 }));
    assert_eq!(
        only(&found),
        (
            Major,
            Major,
            "schema major, rust major: common.Stamp: type changed: any of integer or string → unsigned integer".into()
        )
    );
}

#[test]
fn an_integer_that_may_arrive_quoted_keeps_its_rust_type_but_other_widenings_do_not() {
    let found = changes(|_, s, _| {
        s["properties"]["Count"] = json!({ "description": "A count.", "anyOf": [{ "type": "integer" }, { "type": "string", "pattern": "^[0-9]+$" }] });
    });
    assert_eq!((only(&found).0, only(&found).1), (Minor, Patch), "still a `u64`: {found:?}");
    let found = changes(|_, s, _| s["properties"]["Count"] = json!({ "description": "A count.", "type": "integer" }));
    assert_eq!(
        only(&found),
        (
            Minor,
            Major,
            "schema minor, rust major: Demo.CallbackAfterThing.Count: type widened: unsigned integer → integer".into()
        )
    );
}

#[test]
fn enum_values_added_are_minor_for_both_and_removed_major() {
    // Minor for Rust because open enums are `#[non_exhaustive]`.
    let found = changes(|c, _, _| {
        c["$defs"]["Colour"]["anyOf"].as_array_mut().unwrap().insert(0, json!({ "const": "green" }));
    });
    assert_eq!(
        only(&found),
        (Minor, Minor, "schema minor, rust minor: common.Colour: enum value \"green\" added".into())
    );
    let found = changes(|c, _, _| {
        c["$defs"]["Colour"]["anyOf"].as_array_mut().unwrap().remove(0);
    });
    assert_eq!(
        only(&found),
        (Major, Major, "schema major, rust major: common.Colour: enum value \"red\" removed".into())
    );
}

#[test]
fn documentation_is_a_patch_and_new_callbacks_are_minor() {
    let found = changes(|_, s, _| {
        s["properties"]["Name"]["description"] = json!("The name, reworded.");
        s["properties"]["Name"]["$comment"] = json!("From the vendor's page of 2026-01-01.");
        s["x-callback"]["docUpdated"] = json!("2026-01-01");
    });
    assert_eq!(overall(&found), Some(Verdict { schema: Patch, rust: Patch }), "{found:#?}");
    let found = changes(|_, _, extra| extra.push(("Demo.CallbackAfterOther", callback())));
    assert!(
        found.iter().any(|c| c.to_string() == "schema minor, rust minor: Demo.CallbackAfterOther: added"),
        "{found:#?}"
    );
    assert_eq!(overall(&found), Some(Verdict { schema: Minor, rust: Minor }));
    assert_eq!(overall(&changes(|_, _, _| {})), None, "no change");
}

#[test]
fn the_verdicts_are_the_largest_bump_of_each_kind() {
    let found = changes(|_, s, _| {
        s["properties"]["Count"] = json!({ "description": "A count.", "anyOf": [{ "type": "integer" }, { "type": "string", "pattern": "^[0-9]+$" }] });
        s["properties"]["Extra"] = json!({ "type": "string" });
    });
    let verdict = overall(&found).unwrap();
    assert_eq!(verdict, Verdict { schema: Minor, rust: Minor });
    assert_eq!(verdict.to_string(), "JSON Schema packages: minor; Rust crate: minor");
}

#[test]
fn a_published_bundle_compares_with_a_schema_directory() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let bundle = root.join("schema/dist/callbacks.schema.json");
    assert_eq!(diff(&root.join("schema"), &bundle).unwrap(), vec![], "the bundle is the schemas");
}
