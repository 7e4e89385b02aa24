//! `cargo codegen diff OLD NEW`: what a schema change means for consumers, as two semantic
//! version bumps, field by field: one for the JSON Schema packages (someone who validates
//! payloads), one for the Rust crate (someone who compiles against the generated types).
//!
//! OLD and NEW are each a schema directory (like `schema/`) or a published bundle
//! (`callbacks.schema.json`). Both are compared in bundled form, definition by definition, so a
//! change to a shared definition is reported once; when either is a published bundle, both are
//! compared as published (type names, no vendor metadata). The rules, from a consumer's side (someone who
//! validates payloads or decodes them into generated types):
//!
//! | change | JSON Schema | Rust |
//! |---|---|---|
//! | a callback or definition removed; a field removed | major | major |
//! | a new required field (the type's `new` takes it) | major | major |
//! | a field becoming required or optional (`T` ⇄ `Option<T>`) | major | major |
//! | a type narrowed or replaced; an enum value or union variant removed | major | major |
//! | a callback, definition or optional field added (every generated type is `#[non_exhaustive]`) | minor | minor |
//! | an enum value or union variant added (open enums are `#[non_exhaustive]`) | minor | minor |
//! | an integer that may now arrive as a digit string (still `u64`) | minor | patch |
//! | another widened type (a bound dropped: `u64` → `i64`, `String` → an enum) | minor | major |
//! | descriptions, titles, `$comment`, documentation links and dates | patch | patch |

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::path::Path;

use serde_json::{Map, Value};

use crate::Error;
use crate::model::COMMON_FILE;
use crate::schemas::refs::bundle_defs;

/// How much a change matters to consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bump {
    /// Documentation only.
    Patch,
    /// Additions that existing consumers accept.
    Minor,
    /// Changes that can break existing consumers.
    Major,
}

impl fmt::Display for Bump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        })
    }
}

/// One classified change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// How much it matters to users of the JSON Schema packages.
    pub schema: Bump,
    /// How much it matters to users of the Rust crate.
    pub rust: Bump,
    /// Where: a definition, with a field path when it concerns a field.
    pub place: String,
    /// What changed.
    pub what: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "schema {}, rust {}: {}: {}", self.schema, self.rust, self.place, self.what)
    }
}

/// The changes from `old` to `new`, most important first; empty when nothing changed.
pub fn diff(old: &Path, new: &Path) -> Result<Vec<Change>, Error> {
    // A published bundle is shaped for generators; a directory compared with one is shaped the same way.
    let published = old.is_file() || new.is_file();
    let (old, new) = (load(old, published)?, load(new, published)?);
    let mut changes = Vec::new();
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for name in names {
        match (old.get(name), new.get(name)) {
            (Some(_), None) => changes.push(change(Bump::Major, name, "removed".into())),
            (None, Some(_)) => changes.push(change(Bump::Minor, name, "added".into())),
            (Some(a), Some(b)) => compare(name, a, b, &mut changes),
            (None, None) => unreachable!("the name comes from one of the maps"),
        }
    }
    changes.sort_by(|a, b| {
        (b.schema.max(b.rust), b.schema).cmp(&(a.schema.max(a.rust), a.schema)).then_with(|| a.place.cmp(&b.place))
    });
    Ok(changes)
}

/// The two verdicts of a set of changes: the largest bump for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The bump of the JSON Schema packages' versions.
    pub schema: Bump,
    /// The bump of the Rust crate's version.
    pub rust: Bump,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JSON Schema packages: {}; Rust crate: {}", self.schema, self.rust)
    }
}

/// The overall verdicts, `None` when there is no change.
pub fn overall(changes: &[Change]) -> Option<Verdict> {
    let schema = changes.iter().map(|c| c.schema).max()?;
    let rust = changes.iter().map(|c| c.rust).max()?;
    Some(Verdict { schema, rust })
}

/// A change that matters as much to both kinds of user.
fn change(bump: Bump, place: &str, what: String) -> Change {
    Change { schema: bump, rust: bump, place: place.to_owned(), what }
}

/// Bundled `$defs` of a schema directory or a bundle file.
fn load(path: &Path, published: bool) -> Result<Map<String, Value>, Error> {
    let read = |path: &Path| -> Result<Value, Error> {
        let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::NotABundle { path: path.to_owned(), message: e.to_string() })
    };
    if path.is_file() {
        let bundle = read(path)?;
        return match bundle.get("$defs") {
            Some(Value::Object(defs)) => Ok(defs.clone()),
            _ => Err(Error::NotABundle { path: path.to_owned(), message: "no `$defs`".into() }),
        };
    }
    if published {
        let bundle = crate::schemas::schemas(&crate::model::Catalog::load(path, &Default::default())?)?.bundle;
        return Ok(bundle["$defs"].as_object().cloned().unwrap_or_default());
    }
    let common = read(&path.join(COMMON_FILE))?;
    let mut callbacks = BTreeMap::new();
    for entry in fs::read_dir(path).map_err(|e| Error::io(path, e))? {
        let file = entry.map_err(|e| Error::io(path, e))?.path();
        let name = file.file_name().unwrap_or_default().to_string_lossy().into_owned();
        if let Some(command) = name.strip_suffix(".json").filter(|c| *c != "common") {
            callbacks.insert(command.to_owned(), read(&file)?);
        }
    }
    Ok(bundle_defs(&common, &callbacks).0)
}

/// Compares two versions of one definition.
fn compare(place: &str, old: &Value, new: &Value, changes: &mut Vec<Change>) {
    if old == new {
        return;
    }
    let (old_props, new_props) = (properties(old), properties(new));
    if old_props.is_some() || new_props.is_some() {
        let (old_props, new_props) = (old_props.unwrap_or_default(), new_props.unwrap_or_default());
        let (old_req, new_req) = (required(old), required(new));
        for (field, schema) in &old_props {
            let at = format!("{place}.{field}");
            match new_props.get(field) {
                None => changes.push(change(Bump::Major, &at, "field removed".into())),
                Some(new_schema) => {
                    match (old_req.contains(field), new_req.contains(field)) {
                        (true, false) => changes.push(change(Bump::Major, &at, "no longer required".into())),
                        (false, true) => changes.push(change(Bump::Major, &at, "now required".into())),
                        _ => {}
                    }
                    compare_type(&at, schema, new_schema, changes);
                }
            }
        }
        for field in new_props.keys().filter(|f| !old_props.contains_key(*f)) {
            let at = format!("{place}.{field}");
            if new_req.contains(field) {
                changes.push(change(Bump::Major, &at, "new required field".into()));
            } else {
                changes.push(change(Bump::Minor, &at, "new optional field".into()));
            }
        }
        if strip(old, &["properties", "required"]) != strip(new, &["properties", "required"]) {
            compare_type(
                place,
                &strip(old, &["properties", "required"]),
                &strip(new, &["properties", "required"]),
                changes,
            );
        }
    } else {
        compare_type(place, old, new, changes);
    }
}

/// Compares two schemas of one value: its type, enum values and documentation.
fn compare_type(place: &str, old: &Value, new: &Value, changes: &mut Vec<Change>) {
    if old == new {
        return;
    }
    let (old_shape, new_shape) = (shape(old), shape(new));
    if old_shape != new_shape {
        let what = format!("{old_shape} → {new_shape}");
        changes.push(if !widens(&old_shape, &new_shape) {
            change(Bump::Major, place, format!("type changed: {what}"))
        } else {
            // The generated Rust type stays `u64` when an unsigned integer may also arrive quoted;
            // any other widening changes it.
            let same_rust_type = old_shape == "unsigned integer" && new_shape == "any of integer or string";
            let rust = if same_rust_type { Bump::Patch } else { Bump::Major };
            Change { schema: Bump::Minor, rust, place: place.to_owned(), what: format!("type widened: {what}") }
        });
        return;
    }
    if let (Some(a), Some(b)) = (old.get("oneOf"), new.get("oneOf")) {
        // A tagged union: members are told apart by their title (the variant).
        let titles = |v: &Value| -> BTreeSet<String> {
            v.as_array().into_iter().flatten().filter_map(|m| m["title"].as_str()).map(str::to_owned).collect()
        };
        let (old_members, new_members) = (titles(a), titles(b));
        for member in old_members.difference(&new_members) {
            changes.push(change(Bump::Major, place, format!("variant {member} removed")));
        }
        for member in new_members.difference(&old_members) {
            changes.push(change(Bump::Minor, place, format!("variant {member} added")));
        }
        if old_members != new_members {
            return;
        }
    }
    let (old_values, new_values) = (enum_values(old), enum_values(new));
    for value in old_values.difference(&new_values) {
        changes.push(change(Bump::Major, place, format!("enum value {value} removed")));
    }
    for value in new_values.difference(&old_values) {
        changes.push(change(Bump::Minor, place, format!("enum value {value} added")));
    }
    if old_values == new_values && strip(old, DOC_KEYS) == strip(new, DOC_KEYS) {
        changes.push(change(Bump::Patch, place, "documentation changed".into()));
    } else if old_values == new_values {
        let items = |v: &Value| v.get("items").cloned();
        match (items(old), items(new)) {
            (Some(a), Some(b)) if a != b => compare(&format!("{place}[]"), &a, &b, changes),
            _ => changes.push(change(Bump::Major, place, "constraints changed".into())),
        }
    }
}

/// Keys that only document.
const DOC_KEYS: &[&str] =
    &["description", "title", "$comment", "x-callback", "examples", "x-rust-name", "x-import-note"];

fn strip(schema: &Value, keys: &[&str]) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter().filter(|(k, _)| !keys.contains(&k.as_str())).map(|(k, v)| (k.clone(), strip(v, keys))).collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| strip(v, keys)).collect()),
        other => other.clone(),
    }
}

fn properties(schema: &Value) -> Option<Map<String, Value>> {
    schema.get("properties").and_then(Value::as_object).cloned()
}

fn required(schema: &Value) -> BTreeSet<String> {
    schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
}

/// A short description of what values a schema admits, ignoring enum members and documentation.
fn shape(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return format!("ref {}", reference.trim_start_matches("#/$defs/"));
    }
    if let Some(value) = schema.get("const") {
        return format!("const {value}");
    }
    let ty = schema.get("type").and_then(Value::as_str).unwrap_or("any");
    if let Some(members) = schema.get("anyOf").and_then(Value::as_array) {
        let catch_all =
            members.iter().any(|m| m.get("type").is_some() && m.get("const").is_none() && m.get("pattern").is_none());
        let types: BTreeSet<&str> = members.iter().filter_map(|m| m.get("type").and_then(Value::as_str)).collect();
        if members.iter().all(|m| m.get("const").is_some() || m.get("type").is_some()) && catch_all && types.len() <= 1
        {
            return format!("open enum of {ty}");
        }
        return format!("any of {}", types.into_iter().collect::<Vec<_>>().join(" or "));
    }
    match ty {
        "array" => format!("array of {}", schema.get("items").map(shape).unwrap_or_else(|| "any".into())),
        "integer" if schema.get("minimum").and_then(Value::as_i64) == Some(0) => "unsigned integer".into(),
        other => other.to_owned(),
    }
}

/// Whether every value of `old` is a value of `new`.
fn widens(old: &str, new: &str) -> bool {
    matches!(
        (old, new),
        ("unsigned integer", "integer")
            | ("integer" | "unsigned integer", "any of integer or string")
            | ("integer" | "unsigned integer", "number")
            | ("string", "open enum of string")
            | (_, "any")
    )
}

fn enum_values(schema: &Value) -> BTreeSet<String> {
    schema
        .get("anyOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("const"))
        .map(Value::to_string)
        .collect()
}
