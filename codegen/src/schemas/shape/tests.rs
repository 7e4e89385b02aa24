//! The published shape, checked on small schemas.

use std::fs;
use std::path::Path;

use super::*;

fn load(dir: &Path) -> Result<Schemas, Error> {
    schemas(&Catalog::load(dir, &Default::default())?)
}

fn basic() -> Schemas {
    load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/basic/schema")).unwrap()
}

fn workspace() -> Schemas {
    load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema")).unwrap()
}

/// A schema directory with `common.json` holding `common_defs` and an after-callback per
/// command, each answered with the shared `Reply` and holding `local_defs`.
fn schema_dir(common_defs: Value, commands: &[&str], local_defs: Value) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut defs = json!({
        "Reply": {
            "title": "Reply", "description": "The answer.", "type": "object",
            "properties": { "ActionStatus": { "description": "Status.", "type": "string" } },
        },
    });
    defs.as_object_mut().unwrap().extend(common_defs.as_object().unwrap().clone());
    let namespaces: serde_json::Map<String, Value> =
        commands.iter().map(|c| (c.split('.').next().unwrap().to_owned(), Value::from("A namespace."))).collect();
    fs::write(dir.path().join("common.json"), json!({ "x-namespaces": namespaces, "$defs": defs }).to_string())
        .unwrap();
    for command in commands {
        let mut local = json!({ "Reply": { "$ref": "common.json#/$defs/Reply" } });
        local.as_object_mut().unwrap().extend(local_defs.as_object().unwrap().clone());
        let schema = json!({
            "title": "A callback", "description": "Test.",
            "x-callback": { "command": command, "kind": "after", "docUrl": "https://example.test", "docUpdated": "2025-01-01" },
            "type": "object",
            "properties": { "CallbackCommand": { "const": command } },
            "$defs": local,
        });
        fs::write(dir.path().join(format!("{command}.json")), schema.to_string()).unwrap();
    }
    dir
}

fn def_names(schema: &Value) -> Vec<&str> {
    schema["$defs"].as_object().unwrap().keys().map(String::as_str).collect()
}

#[test]
fn names_are_type_names_and_a_name_two_namespaces_define_takes_its_namespace() {
    let item = json!({ "Item": { "title": "An item", "description": "X.", "type": "object", "properties": {} } });
    let dir = schema_dir(json!({}), &["Aa.CallbackAfterSendMsg", "Bb.CallbackAfterSendMsg"], item);
    let schemas = load(dir.path()).unwrap();
    let expected =
        ["Reply", "AaAfterSendMsg", "AaItem", "BbAfterSendMsg", "BbItem", "CallbackBodies", "CallbackReplies"];
    assert_eq!(def_names(&schemas.bundle), expected);
    assert_eq!(schemas.types["Bb.CallbackAfterSendMsg"].reply, "Reply");
    assert_eq!(schemas.commands["Aa.CallbackAfterSendMsg"]["title"], "AaAfterSendMsg");
    assert_eq!(
        schemas.bundle["$defs"]["CallbackBodies"]["properties"]["Aa.CallbackAfterSendMsg"]["$ref"],
        "#/$defs/AaAfterSendMsg"
    );
}

#[test]
fn a_published_name_given_twice_is_an_error_naming_both_sources() {
    let union = json!({
        "Part": {
            "title": "Part", "description": "A union.", "type": "object",
            "oneOf": [
                { "title": "Text", "type": "object", "properties": { "Kind": { "const": "text" }, "Body": { "type": "string" } } },
                { "type": "object", "properties": { "Kind": { "type": "string", "not": { "enum": ["text"] } }, "Body": {} } },
            ],
        },
        "KnownPart": { "title": "Known part", "description": "Clashes.", "type": "object", "properties": {} },
    });
    let dir = schema_dir(union, &["Aa.CallbackAfterThing"], json!({}));
    let message = load(dir.path()).unwrap_err().to_string();
    assert!(message.contains("`KnownPart`") && message.contains("schema/common.json/$defs/Part"), "{message}");
}

#[test]
fn the_bundles_own_names_are_reserved() {
    let clash =
        json!({ "CallbackBodies": { "title": "Bodies", "description": "X.", "type": "object", "properties": {} } });
    let dir = schema_dir(clash, &["Aa.CallbackAfterThing"], json!({}));
    let message = load(dir.path()).unwrap_err().to_string();
    assert!(message.contains("`CallbackBodies` is a name the published bundle uses"), "{message}");
}

#[test]
fn every_reference_resolves_inside_its_file_and_every_reply_is_there() {
    for schemas in [basic(), workspace()] {
        for (command, schema) in &schemas.commands {
            let defs = def_names(schema);
            for name in refs_in(schema) {
                assert!(defs.contains(&name.as_str()), "{command}: #/$defs/{name} is not in the file");
            }
            assert!(defs.contains(&schemas.types[command].reply.as_str()), "{command}: no reply");
        }
        let defs = def_names(&schemas.bundle);
        for name in refs_in(&schemas.bundle) {
            assert!(defs.contains(&name.as_str()), "bundle: #/$defs/{name} is missing");
        }
    }
}

#[test]
fn titles_name_each_definition_and_nothing_else_and_no_vendor_keywords_remain() {
    fn walk(value: &Value, at: &str, top: bool) {
        let Value::Object(map) = value else {
            if let Value::Array(items) = value {
                items.iter().enumerate().for_each(|(i, v)| walk(v, &format!("{at}/{i}"), false));
            }
            return;
        };
        for (key, child) in map {
            assert!(!key.starts_with("x-"), "{at}: `{key}`");
            assert!(key != "title" || top, "{at}: a nested title");
            if key == "$ref" {
                assert_eq!(map.len(), 1, "{at}: keywords beside `$ref`");
            }
            // Property names and definition names are names, not keywords.
            if matches!(key.as_str(), "properties" | "$defs") {
                for (name, schema) in child.as_object().unwrap() {
                    walk(schema, &format!("{at}/{key}/{name}"), key == "$defs");
                }
            } else {
                walk(child, &format!("{at}/{key}"), false);
            }
        }
    }
    for schemas in [basic(), workspace()] {
        for (name, def) in schemas.bundle["$defs"].as_object().unwrap() {
            assert_eq!(def["title"], *name);
        }
        walk(&schemas.bundle, "bundle", true);
        for (command, schema) in &schemas.commands {
            walk(schema, command, true);
        }
    }
}

#[test]
fn a_tagged_union_becomes_a_closed_union_of_named_members_and_a_catch_all() {
    let defs = basic().bundle["$defs"].clone();
    assert_eq!(defs["Part"]["anyOf"], json!([{ "$ref": "#/$defs/KnownPart" }, { "$ref": "#/$defs/UnknownPart" }]));
    assert_eq!(defs["KnownPart"]["oneOf"], json!([{ "$ref": "#/$defs/TextPart" }, { "$ref": "#/$defs/CountPart" }]));
    assert_eq!(defs["TextPart"]["properties"]["Body"], json!({ "$ref": "#/$defs/PartText" }));
    assert_eq!(defs["UnknownPart"]["properties"]["Kind"]["not"], json!({ "enum": ["text", "count"] }));

    let defs = workspace().bundle["$defs"].clone();
    let custom = &defs["UnknownPortraitProfileItem"];
    assert!(custom["properties"].get("Value").is_some(), "the catch-all declares the value: {custom}");
    assert_eq!(defs["TextMsgBodyElement"]["properties"]["MsgContent"], json!({ "$ref": "#/$defs/TextContent" }));
}

#[test]
fn a_reference_keeps_no_keyword_beside_it_and_its_note_moves_to_the_objects_comment() {
    let request = basic().commands["Demo.CallbackAfterThing"].clone();
    assert_eq!(request["properties"]["LaterTime"], json!({ "$ref": "#/$defs/Stamp" }));
    assert_eq!(request["$comment"], "`LaterTime`: An optional quoted count.");
    // An open enum's catch-all says `type: string`; the outer one would make an intersection.
    assert!(request["$defs"]["Colour"].get("type").is_none());
    assert_eq!(request["$id"], format!("{ID_BASE}commands/Demo.CallbackAfterThing.schema.json"));
}
