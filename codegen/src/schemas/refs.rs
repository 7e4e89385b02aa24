//! The one place that follows and rewrites `$ref`s in raw JSON: the published schemas are the
//! schemas as written, so bundling them moves references, and `cargo codegen diff` compares two
//! bundles of schemas as written.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::model::COMMON_FILE;

/// The schemas bundled as written, for `cargo codegen diff` (not published): `$defs` from
/// `common.json` as `common.<Name>`, each callback under its command and its own definitions as
/// `<Command>.<Name>`, and the references to the callbacks whose body carries its command.
pub(crate) fn bundle_defs(common: &Value, callbacks: &BTreeMap<String, Value>) -> (Map<String, Value>, Vec<Value>) {
    let mut defs = Map::new();
    for (name, schema) in common["$defs"].as_object().into_iter().flatten() {
        defs.insert(format!("common.{name}"), rewrite_refs(schema, "common", "#/$defs/"));
    }
    let mut discriminated = Vec::new();
    for (command, schema) in callbacks {
        let mut schema = schema.clone();
        let object = schema.as_object_mut().expect("a callback schema is an object");
        object.remove("$schema");
        object.remove("$id");
        if let Some(Value::Object(local)) = object.remove("$defs") {
            for (name, def) in local {
                defs.insert(format!("{command}.{name}"), rewrite_refs(&def, command, "#/$defs/"));
            }
        }
        if schema.pointer("/properties/CallbackCommand/const").is_some() {
            discriminated.push(json!({ "$ref": format!("#/$defs/{command}") }));
        }
        defs.insert(command.clone(), rewrite_refs(&schema, command, "#/$defs/"));
    }
    (defs, discriminated)
}

/// Rewrites `$ref`s of a schema from file `owner` (a command, or `common`) to `prefix` + the
/// bundled name.
fn rewrite_refs(schema: &Value, owner: &str, prefix: &str) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let value = match (key.as_str(), value.as_str()) {
                        ("$ref", Some(reference)) => Value::from(bundled_ref(reference, owner, prefix)),
                        _ => rewrite_refs(value, owner, prefix),
                    };
                    (key.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| rewrite_refs(v, owner, prefix)).collect()),
        other => other.clone(),
    }
}

fn bundled_ref(reference: &str, owner: &str, prefix: &str) -> String {
    let (file, pointer) = reference.split_once('#').unwrap_or((reference, ""));
    let scope = if file == COMMON_FILE { "common" } else { owner };
    match pointer.strip_prefix("/$defs/") {
        Some(name) => format!("{prefix}{scope}.{name}"),
        None => reference.to_owned(),
    }
}

/// The `$defs` names a published schema refers to.
pub(crate) fn refs_in(schema: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![schema];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                if let Some(name) = map.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")) {
                    out.insert(name.to_owned());
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    out
}
