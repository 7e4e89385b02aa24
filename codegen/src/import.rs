//! `cargo codegen import`: a draft schema from a vendor page.
//!
//! The draft is a starting point for a human: it has the page's title, command, date, every
//! request field with the table's type and description, the repaired sample as `examples`, and
//! the response's extra fields. Required-ness is a guess (a field both in the table and in the
//! sample is required), and the descriptions are the vendor's; both are to be reviewed, and the
//! descriptions rewritten, before the draft joins `schema/`.

use serde_json::{Map, Value, json};

use crate::page::{DocType, Page};

/// The `$id` prefix of every schema in `schema/`.
pub const ID_PREFIX: &str = "https://tencent-chat-callbacks.example/schema/";

/// Fields every response has; others are the callback's own.
const STANDARD_RESPONSE: &[&str] = &["ActionStatus", "ErrorCode", "ErrorInfo"];

/// Builds the draft schema for a page.
pub fn draft(page: &Page) -> Value {
    let sample = page.sample.as_object().expect("a page's sample is an object");
    let kind = if ["Before", "Prev"].iter().any(|w| page.command.contains(&format!(".Callback{w}")))
        || page.command.contains(".Before")
    {
        "before"
    } else {
        "after"
    };

    let mut properties = Map::new();
    let mut required = Vec::new();
    for name in page.wire_fields() {
        let documented = page.fields.iter().find(|f| f.name.eq_ignore_ascii_case(&name));
        let ty = documented.map(|f| f.ty).or_else(|| sample.get(&name).and_then(DocType::of));
        let mut property = property_schema(&name, ty, &page.command);
        let note = match documented {
            Some(f) if f.name != name => Some(format!("the field table spells it `{}`", f.name)),
            Some(_) if !sample.contains_key(&name) => Some("in the field table, not in the sample".to_owned()),
            Some(_) => None,
            None => Some("in the sample, not in the field table".to_owned()),
        };
        if let Some(f) = documented.filter(|f| !f.description.is_empty()) {
            property.insert("description".into(), Value::from(f.description.clone()));
        }
        if let Some(note) = note {
            property.insert("x-import-note".into(), Value::from(note));
        }
        if documented.is_some() && sample.contains_key(&name) {
            required.push(Value::from(name.clone()));
        }
        properties.insert(name, Value::Object(property));
    }

    let extras: Vec<_> =
        page.response_fields.iter().filter(|f| !STANDARD_RESPONSE.contains(&f.name.as_str())).collect();
    let response = if extras.is_empty() {
        json!({ "$ref": "common.json#/$defs/Response" })
    } else {
        let mut properties = Map::from_iter([
            ("ActionStatus".to_owned(), json!({ "$ref": "common.json#/$defs/ActionStatus" })),
            ("ErrorCode".to_owned(), json!({ "type": "integer" })),
            ("ErrorInfo".to_owned(), json!({ "type": "string" })),
        ]);
        for field in &extras {
            let mut property = property_schema(&field.name, Some(field.ty), &page.command);
            property.insert("description".into(), Value::from(field.description.clone()));
            properties.insert(field.name.clone(), Value::Object(property));
        }
        let required = STANDARD_RESPONSE
            .iter()
            .map(|name| name.to_string())
            .chain(extras.iter().filter(|f| f.required == Some(true)).map(|f| f.name.clone()));
        json!({ "type": "object", "properties": properties, "required": required.collect::<Vec<_>>() })
    };

    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("{ID_PREFIX}{}.json", page.command),
        "title": page.title,
        "description": "DRAFT imported from the vendor page: review the types and required fields, and describe the callback in our own words.",
        "x-callback": {
            "command": page.command,
            "kind": kind,
            "docUrl": page.doc_url,
            "docUpdated": page.updated,
        },
        "type": "object",
        "properties": properties,
        "required": required,
        "$defs": { "Response": response },
        "examples": [page.sample],
    })
}

/// The schema of one field: the shared definitions for the fields that have one.
fn property_schema(name: &str, ty: Option<DocType>, command: &str) -> Map<String, Value> {
    let (keyword, value) = match (name, ty) {
        ("CallbackCommand", _) => ("const", Value::from(command)),
        ("EventTime", _) => ("$ref", Value::from("common.json#/$defs/EventTime")),
        ("Type", Some(DocType::String)) => ("$ref", Value::from("common.json#/$defs/GroupType")),
        (_, Some(ty)) => ("type", Value::from(ty.json_type())),
        (_, None) => return Map::new(),
    };
    Map::from_iter([(keyword.to_owned(), value)])
}
