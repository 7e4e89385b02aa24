//! `cargo codegen import`: a draft schema from a vendor page.
//!
//! The draft is a starting point for a human: it has the page's title, command, date, every
//! request field with the table's type and description, the repaired sample as `examples`, and
//! the response's extra fields. Nested fields — table rows such as `Info.Action` or
//! `Events[].EventTime`, or objects and arrays of objects in the sample — become objects under
//! `$defs`, referenced with `$ref` as `schema/` requires, and arrays get their item type.
//! Required-ness is a guess (a field both in the table and in the sample is required unless the
//! table says it is optional), and the descriptions are the vendor's; both are to be reviewed,
//! and the descriptions rewritten, before the draft joins `schema/`.

use heck::ToUpperCamelCase;
use serde_json::{Map, Value, json};

use crate::page::{DocField, DocType, Page};

/// The `$id` prefix of every schema in `schema/`.
pub const ID_PREFIX: &str = "https://tencent-chat-callbacks.example/schema/";

/// Fields every response has; others are the callback's own.
const STANDARD_RESPONSE: &[&str] = &["ActionStatus", "ErrorCode", "ErrorInfo"];

/// Builds the draft schema for a page.
pub fn draft(page: &Page) -> Value {
    let kind = if ["Before", "Prev"].iter().any(|w| page.command.contains(&format!(".Callback{w}")))
        || page.command.contains(".Before")
    {
        "before"
    } else {
        "after"
    };
    let mut drafter = Drafter { command: &page.command, defs: Map::new() };
    let (properties, required) = drafter.object(&page.fields, &[], page.sample.as_object(), true);
    let response = drafter.response(&page.response_fields);
    let mut defs = drafter.defs;
    defs.insert("Reply".into(), response);

    let mut draft = json!({
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
        "$defs": defs,
        "examples": [page.sample],
    });
    // Drafted from the field table alone: say why, and give no empty example.
    if let Some(problem) = &page.sample_problem {
        draft["$comment"] =
            Value::from(format!("Drafted from the field table only; the sample could not be read: {problem}"));
        draft.as_object_mut().expect("an object").remove("examples");
    }
    draft
}

struct Drafter<'a> {
    command: &'a str,
    /// Named object schemas, each with the path it was made for (`x-import-path`) so a name
    /// is reused only for the same path.
    defs: Map<String, Value>,
}

impl Drafter<'_> {
    /// The properties and required list of the object at `path`, from the table rows under it
    /// and its sample value.
    fn object(
        &mut self,
        rows: &[DocField],
        path: &[String],
        sample: Option<&Map<String, Value>>,
        top: bool,
    ) -> (Map<String, Value>, Vec<Value>) {
        let under = |f: &&DocField| {
            let p = f.path();
            p.len() > path.len() && p.iter().zip(path).all(|(a, b)| a.eq_ignore_ascii_case(b))
        };
        let spelled = |name: &str| sample.and_then(|s| s.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned());
        // Child keys in table order (sample spelling), then sample-only keys.
        let mut keys: Vec<String> = Vec::new();
        for field in rows.iter().filter(under) {
            let key = field.path()[path.len()];
            let key = spelled(key).unwrap_or_else(|| key.to_owned());
            if !keys.iter().any(|k| k.eq_ignore_ascii_case(&key)) {
                keys.push(key);
            }
        }
        for key in sample.into_iter().flat_map(|s| s.keys()) {
            if !keys.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                keys.push(key.clone());
            }
        }

        let mut properties = Map::new();
        let mut required = Vec::new();
        for key in keys {
            let mut child_path = path.to_vec();
            child_path.push(key.clone());
            let documented = rows.iter().find(|f| {
                let p = f.path();
                p.len() == child_path.len() && p.iter().zip(&child_path).all(|(a, b)| a.eq_ignore_ascii_case(b))
            });
            let value = sample.and_then(|s| s.get(&key));
            let mut property = if top { self.shared(&key, documented) } else { None }
                .unwrap_or_else(|| self.property(rows, &child_path, documented, value));
            if let Some(f) = documented.filter(|f| !f.description.is_empty()) {
                property.insert("description".into(), Value::from(f.description.clone()));
            }
            let leaf = documented.map(|f| f.path().last().copied().unwrap_or_default().to_owned());
            let note = match (documented, leaf) {
                (Some(_), Some(leaf)) if leaf != key => Some(format!("the field table spells it `{leaf}`")),
                (Some(_), _) if value.is_none() => Some("in the field table, not in the sample".to_owned()),
                (Some(_), _) => None,
                (None, _) if has_rows_under(rows, &child_path) => None,
                (None, _) => Some("in the sample, not in the field table".to_owned()),
            };
            if let Some(note) = note {
                property.insert("x-import-note".into(), Value::from(note));
            }
            let documented_at_all = documented.is_some() || has_rows_under(rows, &child_path);
            if documented_at_all && value.is_some() && documented.and_then(|f| f.required) != Some(false) {
                required.push(Value::from(key.clone()));
            }
            properties.insert(key, Value::Object(property));
        }
        (properties, required)
    }

    /// The shared definitions for the top-level fields that have one.
    fn shared(&self, key: &str, documented: Option<&DocField>) -> Option<Map<String, Value>> {
        let (keyword, value) = match (key, documented.map(|f| f.ty)) {
            ("CallbackCommand", _) => ("const", Value::from(self.command)),
            ("EventTime", _) => ("$ref", Value::from("common.json#/$defs/EventTime")),
            ("Type", Some(DocType::String) | None) if documented.is_some() => {
                ("$ref", Value::from("common.json#/$defs/GroupType"))
            }
            _ => return None,
        };
        Some(Map::from_iter([(keyword.to_owned(), value)]))
    }

    /// The schema of the field at `path`: a scalar type, a `$ref` to a named object, or an
    /// array with its item schema.
    fn property(
        &mut self,
        rows: &[DocField],
        path: &[String],
        documented: Option<&DocField>,
        value: Option<&Value>,
    ) -> Map<String, Value> {
        let marked_array = rows.iter().any(|f| f.marks_array(path.last().expect("a path has a key")));
        let children = has_rows_under(rows, path);
        let ty = documented.map(|f| f.ty).or_else(|| value.and_then(DocType::of)).or(match (marked_array, children) {
            (true, _) => Some(DocType::Array),
            (false, true) => Some(DocType::Object),
            _ => None,
        });
        match ty {
            None => Map::new(),
            Some(DocType::Object) => match self.named_object(rows, path, value.and_then(Value::as_object), false) {
                Some(name) => Map::from_iter([("$ref".to_owned(), Value::from(format!("#/$defs/{name}")))]),
                None => Map::from_iter([("type".to_owned(), Value::from("object"))]),
            },
            Some(DocType::Array) => {
                let first = value.and_then(Value::as_array).and_then(|a| a.first());
                let items_ty = documented
                    .and_then(|f| f.items)
                    .or_else(|| first.and_then(DocType::of))
                    .or(if children { Some(DocType::Object) } else { None });
                let items = match items_ty {
                    Some(DocType::Object) => self
                        .named_object(rows, path, first.and_then(Value::as_object), true)
                        .map(|name| json!({ "$ref": format!("#/$defs/{name}") }))
                        .unwrap_or_else(|| json!({ "type": "object" })),
                    Some(DocType::Array) => json!({ "type": "array" }),
                    Some(ty) => json!({ "type": ty.json_type() }),
                    None => json!({}),
                };
                Map::from_iter([("type".to_owned(), Value::from("array")), ("items".to_owned(), items)])
            }
            Some(ty) => Map::from_iter([("type".to_owned(), Value::from(ty.json_type()))]),
        }
    }

    /// Adds the object at `path` (or the items of the array at `path`) to `$defs` and returns
    /// its name; `None` for an object with no known fields.
    fn named_object(
        &mut self,
        rows: &[DocField],
        path: &[String],
        sample: Option<&Map<String, Value>>,
        items: bool,
    ) -> Option<String> {
        if !has_rows_under(rows, path) && sample.is_none_or(Map::is_empty) {
            return None;
        }
        let (properties, required) = self.object(rows, path, sample, false);
        let key = path.last().expect("a path has a key");
        let base = if items { singular(&key.to_upper_camel_case()) } else { key.to_upper_camel_case() };
        let origin = path.join(".") + if items { "[]" } else { "" };
        let mut name = base.clone();
        let mut parents = path[..path.len() - 1].iter().rev();
        while name == "Reply" || self.defs.get(&name).is_some_and(|d| d["x-import-path"] != origin.as_str()) {
            name = match parents.next() {
                Some(parent) => format!("{}{name}", parent.to_upper_camel_case()),
                None => format!("{name}{}", self.defs.len()),
            };
        }
        self.defs.insert(
            name.clone(),
            json!({ "type": "object", "x-import-path": origin, "properties": properties, "required": required }),
        );
        Some(name)
    }

    /// The response definition: the shared one, or the callback's own with its extra fields.
    fn response(&mut self, fields: &[DocField]) -> Value {
        let extras: Vec<&DocField> =
            fields.iter().filter(|f| !f.is_nested() && !STANDARD_RESPONSE.contains(&f.name.as_str())).collect();
        if extras.is_empty() {
            return json!({ "$ref": "common.json#/$defs/Reply" });
        }
        let mut properties = Map::from_iter([
            ("ActionStatus".to_owned(), json!({ "$ref": "common.json#/$defs/ActionStatus" })),
            ("ErrorCode".to_owned(), json!({ "type": "integer" })),
            ("ErrorInfo".to_owned(), json!({ "type": "string" })),
        ]);
        for field in &extras {
            let mut property = self.property(fields, std::slice::from_ref(&field.name), Some(field), None);
            property.insert("description".into(), Value::from(field.description.clone()));
            properties.insert(field.name.clone(), Value::Object(property));
        }
        let required = STANDARD_RESPONSE
            .iter()
            .map(|name| name.to_string())
            .chain(extras.iter().filter(|f| f.required == Some(true)).map(|f| f.name.clone()));
        json!({ "type": "object", "properties": properties, "required": required.collect::<Vec<_>>() })
    }
}

/// Whether some table row sits below `path`.
fn has_rows_under(rows: &[DocField], path: &[String]) -> bool {
    rows.iter().any(|f| {
        let p = f.path();
        p.len() > path.len() && p.iter().zip(path).all(|(a, b)| a.eq_ignore_ascii_case(b))
    })
}

/// The name of one item of a list: `MemberList` → `Member`, `Events` → `Event`, else `…Item`.
fn singular(name: &str) -> String {
    if let Some(stem) = name.strip_suffix("List").filter(|s| !s.is_empty()) {
        return stem.to_owned();
    }
    match name.strip_suffix('s') {
        Some(stem) if stem.len() > 2 && !stem.ends_with('s') => stem.to_owned(),
        _ => format!("{name}Item"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_names() {
        assert_eq!(singular("MemberList"), "Member");
        assert_eq!(singular("Events"), "Event");
        assert_eq!(singular("Address"), "AddressItem");
        assert_eq!(singular("Ids"), "IdsItem");
    }
}
