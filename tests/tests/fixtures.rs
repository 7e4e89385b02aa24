//! Every fixture against its schema and its generated type: valid under the schema, decodes,
//! re-encodes to the same JSON (a number the vendor sent as a string compares by value), and
//! one fixture per schema and command.

use std::collections::BTreeSet;
use std::fs;

use jsonschema::{Retrieve, Uri};
use serde_json::Value;
use tencent_chat_callbacks::{Command, Event};
use tests::{fixtures, workspace_root};

/// The `$id` prefix of every schema; `$ref`s resolve against it to files in `schema/`.
const ID_PREFIX: &str = "https://tencent-chat-callbacks.example/schema/";

/// Serves `$ref`s to other schema files from `schema/`, so validation never leaves the machine.
struct SchemaDir;

impl Retrieve for SchemaDir {
    fn retrieve(&self, uri: &Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let file = uri.as_str().strip_prefix(ID_PREFIX).ok_or_else(|| format!("unexpected reference {uri}"))?;
        Ok(serde_json::from_slice(&fs::read(workspace_root().join("schema").join(file))?)?)
    }
}

fn schema(command: &str) -> Value {
    let path = workspace_root().join("schema").join(format!("{command}.json"));
    serde_json::from_slice(&fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options().with_retriever(SchemaDir).build(schema).unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> =
        validator.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{what}:\n{}", errors.join("\n"));
}

/// Replaces strings of digits by numbers, so that `"1670574414123"` equals `1670574414123`.
fn numbers_by_value(value: Value) -> Value {
    match value {
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<u64>().map(Value::from).unwrap_or(Value::String(s))
        }
        Value::Array(items) => Value::Array(items.into_iter().map(numbers_by_value).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, numbers_by_value(v))).collect()),
        other => other,
    }
}

#[test]
fn every_fixture_is_valid_under_its_schema() {
    for fixture in fixtures() {
        let validator = validator(&schema(&fixture.command));
        assert_valid(&validator, &fixture.sample_json(), &fixture.command);
    }
}

#[test]
fn every_fixture_decodes_and_re_encodes_to_the_same_json() {
    for fixture in fixtures() {
        let event =
            Event::from_json(&fixture.command, &fixture.sample).unwrap_or_else(|e| panic!("{}: {e}", fixture.command));
        assert_eq!(event.command().map(Command::name), Some(fixture.command.as_str()), "a generated type");
        let encoded = serde_json::to_value(&event).unwrap();
        assert_eq!(numbers_by_value(encoded), numbers_by_value(fixture.sample_json()), "{}", fixture.command);
    }
}

/// The generated types' own `JsonSchema` (schemars) accepts every sample too, so code that
/// derives schemas from the types agrees with `schema/`.
#[test]
fn the_types_derived_schemas_accept_every_fixture() {
    for fixture in fixtures() {
        let command = Command::from_name(&fixture.command).unwrap();
        let schema = serde_json::to_value(command.json_schema()).unwrap();
        assert_valid(&jsonschema::validator_for(&schema).unwrap(), &fixture.sample_json(), &fixture.command);
    }
}

#[test]
fn the_vendor_samples_are_kept_as_published() {
    for fixture in fixtures() {
        // Some bodies carry no command (it is only in the query string, or inside batched events).
        if fixture.sample_json().get("CallbackCommand").is_some() {
            assert!(fixture.vendor_sample.contains(&format!("\"{}\"", fixture.command)), "{}", fixture.command);
        }
        // Every key of the cleaned sample is in the vendor's text: cleaning only removed defects.
        for key in fixture.sample_json().as_object().unwrap().keys() {
            assert!(fixture.vendor_sample.contains(&format!("\"{key}\"")), "{}: `{key}`", fixture.command);
        }
    }
}

/// A schema without a fixture, a fixture without a schema, or a command without either fails.
#[test]
fn schemas_fixtures_and_commands_match_one_to_one() {
    let schemas: BTreeSet<String> = fs::read_dir(workspace_root().join("schema"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|name| name.strip_suffix(".json").map(str::to_owned))
        .filter(|name| name != "common")
        .collect();
    let fixtures: BTreeSet<String> = fixtures().into_iter().map(|f| f.command).collect();
    let commands: BTreeSet<String> = Command::ALL.iter().map(|c| c.name().to_owned()).collect();
    assert_eq!(schemas, fixtures, "schema/ and tests/fixtures/ disagree");
    assert_eq!(schemas, commands, "schema/ and the generated commands disagree; run `cargo codegen`");
}

#[test]
fn schemas_reject_what_the_types_reject() {
    let validator = validator(&schema("Group.CallbackAfterCreateGroup"));
    let mut sample =
        fixtures().into_iter().find(|f| f.command == "Group.CallbackAfterCreateGroup").unwrap().sample_json();
    sample["EventTime"] = Value::from("12a");
    assert!(!validator.is_valid(&sample), "a non-digit EventTime string");
    sample["EventTime"] = Value::from(-1);
    assert!(!validator.is_valid(&sample), "a negative EventTime");
    sample["EventTime"] = Value::from(1);
    sample["CallbackCommand"] = Value::from("Group.CallbackAfterGroupInfoChanged");
    assert!(!validator.is_valid(&sample), "another command");
    sample["CallbackCommand"] = Value::from("Group.CallbackAfterCreateGroup");
    sample.as_object_mut().unwrap().remove("GroupId");
    assert!(!validator.is_valid(&sample), "a missing GroupId");
}

/// One element of every message type the schema knows, plus one it does not: valid under the
/// schema, decoded into the right variants, re-encoded unchanged.
#[test]
fn every_message_element_type_decodes_by_its_tag() {
    use tencent_chat_callbacks::common::MsgBodyElement;
    let elements: Value =
        serde_json::from_slice(&fs::read(workspace_root().join("tests/data/msg-body-elements.json")).unwrap()).unwrap();
    let schema = serde_json::json!({ "type": "array", "items": { "$ref": format!("{ID_PREFIX}common.json#/$defs/MsgBodyElement") } });
    assert_valid(&validator(&schema), &elements, "msg-body-elements.json");

    let decoded: Vec<MsgBodyElement> = serde_json::from_value(elements.clone()).unwrap();
    let tags: Vec<&str> = decoded.iter().map(MsgBodyElement::tag).collect();
    let expected: Vec<&str> = elements.as_array().unwrap().iter().map(|e| e["MsgType"].as_str().unwrap()).collect();
    assert_eq!(tags, expected);
    assert!(matches!(decoded[0], MsgBodyElement::Text(_)), "{:?}", decoded[0]);
    let last = decoded.last().unwrap();
    assert!(matches!(last, MsgBodyElement::Other { .. }), "an unknown type is kept: {last:?}");
    assert_eq!(numbers_by_value(serde_json::to_value(&decoded).unwrap()), numbers_by_value(elements));
}
