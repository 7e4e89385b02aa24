//! How the published JSON Schemas under `schema/dist/` are shaped so that the common generators
//! (Ajv, Python `jsonschema`, json-schema-to-typescript, quicktype, datamodel-code-generator)
//! read them the same way and name their types as the Rust crate does.
//!
//! What changes from `schema/`, and why:
//!
//! - **One `$defs` entry per type, keyed and titled by its type name.** Generators name a type
//!   after its `title` (or its key), so both are the Rust type name: `AfterCreateGroup`,
//!   `MsgBodyElement`, `EventTime`. A name that two namespaces define (`AfterSendMsg` in `C2C`,
//!   `Group` and `OfficialAccount`) takes its namespace as a prefix in every one of them
//!   (`C2CAfterSendMsg`), since a flat list has no modules. Nested schemas carry no `title`, so no
//!   generator invents a type name from prose.
//! - **References stay references.** A property that refers to a shared definition is only a
//!   `$ref`: with any keyword beside it, json-schema-to-typescript emits a numbered copy of the
//!   type (`EventTime1`). The property's own note moves to its object's `$comment`.
//! - **Open enums lose their outer `type`.** `type: string` beside `anyOf` makes
//!   json-schema-to-typescript emit an intersection of numbered types; the catch-all member
//!   already says `type: string`.
//! - **Tagged unions are split.** `MsgBodyElement` becomes `anyOf: [KnownMsgBodyElement,
//!   UnknownMsgBodyElement]`: `Known…` is a closed `oneOf` of one definition per member
//!   (`TextMsgBodyElement`, with the tag `const` and the typed content), `Unknown…` the
//!   catch-all, whose tag excludes the known ones. Unknown content still validates, TypeScript
//!   narrows the closed union on the tag, and quicktype sees every content type.
//! - **No `x-` keywords.** Ajv's strict mode refuses unknown keywords, so the vendor metadata
//!   (`x-callback`) moves to `catalogue.json` and the Rust-only hints are dropped.
//! - **Self-contained per-command files.** Each holds every definition its request and its
//!   reply reach, under the same names as the bundle.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::refs::refs_in;
use super::{BUNDLE, CommandTypes, ID_BASE, Schemas, command_file};
use crate::Error;
use crate::model::{COMMON_FILE, Catalog};
use crate::naming;

/// The dialect of every published file.
const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";
/// The name of `common.json` as the owner of a definition.
const COMMON: &str = "common";

/// Shapes the schemas of `catalog` for publication.
pub(crate) fn schemas(catalog: &Catalog) -> Result<Schemas, Error> {
    let names = Names::new(catalog)?;
    let mut defs = Defs::default();
    let common = Scope { file: COMMON, names: &names };
    for (key, raw) in defs_of(&catalog.common_json) {
        definition(&names.get(COMMON, key), raw, &common, &mut defs, &format!("/$defs/{key}"))?;
    }
    let mut types = BTreeMap::new();
    for callback in &catalog.callbacks {
        let command = callback.command.as_str();
        let raw = &catalog.callback_json[command];
        let scope = Scope { file: command, names: &names };
        let file = format!("{command}.json");
        let request = names.get(command, "");
        let mut root = raw.clone();
        if let Some(object) = root.as_object_mut() {
            object.remove("$defs");
        }
        defs.insert(&request, titled(&request, transform(&root, &scope)), &file, "")?;
        for (key, def) in defs_of(raw) {
            if alias_target(def).is_none() {
                definition(&names.get(command, key), def, &scope, &mut defs, &format!("/$defs/{key}"))?;
            }
        }
        types.insert(command.to_owned(), CommandTypes { request, reply: names.get(command, naming::REPLY_DEF) });
    }

    let commands =
        types.iter().map(|(command, types)| (command.clone(), self_contained(&defs.map, command, types))).collect();
    Ok(Schemas { bundle: bundle(catalog, defs.map, &types), commands, types })
}

/// The bundle: every definition, a top-level `oneOf` over the bodies that carry their
/// `CallbackCommand`, and two maps from command to request and reply type.
fn bundle(catalog: &Catalog, mut defs: Map<String, Value>, types: &BTreeMap<String, CommandTypes>) -> Value {
    let discriminated: Vec<Value> = types
        .iter()
        .filter(|(command, _)| catalog.callback_json[*command].pointer("/properties/CallbackCommand/const").is_some())
        .map(|(_, t)| reference(&t.request))
        .collect();
    let by_command = |title: &str, description: &str, pick: fn(&CommandTypes) -> &String| {
        json!({
            "title": title,
            "description": description,
            "type": "object",
            "properties": types.iter().map(|(command, t)| (command.clone(), reference(pick(t)))).collect::<Map<_, _>>(),
            "required": types.keys().collect::<Vec<_>>(),
        })
    };
    defs.insert(
        "CallbackBodies".into(),
        by_command(
            "CallbackBodies",
            "A map from each command to the type of its body. Only a map of types for generators (`CallbackBodies[\"Group.CallbackAfterCreateGroup\"]`); no payload has this shape.",
            |t| &t.request,
        ),
    );
    defs.insert(
        "CallbackReplies".into(),
        by_command(
            "CallbackReplies",
            "A map from each command to the type of the reply the app sends back. Only a map of types for generators; no payload has this shape.",
            |t| &t.reply,
        ),
    );
    json!({
        "$schema": DRAFT,
        "$id": format!("{ID_BASE}{BUNDLE}"),
        "title": "CallbackBody",
        "description": "Any Tencent Cloud Chat callback body that carries its `CallbackCommand`, told apart by that field. Each command's body is also a definition of its own under `$defs` (named as the Rust type), which is what bodies without a `CallbackCommand` (batched Push events, content moderation results) are validated against, the command coming from the query string; `CallbackBodies` and `CallbackReplies` map each command to its body and reply types.",
        // An (empty) `properties` makes the root an object type for json-schema-to-typescript,
        // which then also declares the definitions no body reaches; declared properties would
        // make datamodel-code-generator copy them into a numbered class per member.
        "type": "object",
        "properties": {},
        "oneOf": discriminated,
        "$defs": defs,
    })
}

/// One command's file: its request at the root, with every definition that the request and the
/// reply reach, so it stands alone.
fn self_contained(defs: &Map<String, Value>, command: &str, types: &CommandTypes) -> Value {
    let mut reached = BTreeSet::from([types.reply.clone()]);
    let mut pending = vec![&defs[&types.request], &defs[&types.reply]];
    while let Some(next) = pending.pop() {
        for name in refs_in(next) {
            if reached.insert(name.clone()) {
                pending.push(&defs[&name]);
            }
        }
    }
    let mut own = Map::new();
    own.insert("$schema".into(), Value::from(DRAFT));
    own.insert("$id".into(), Value::from(format!("{ID_BASE}{}", command_file(command))));
    own.extend(defs[&types.request].as_object().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())));
    let own_defs: Map<String, Value> =
        defs.iter().filter(|(name, _)| reached.contains(*name)).map(|(k, v)| (k.clone(), v.clone())).collect();
    own.insert("$defs".into(), Value::Object(own_defs));
    Value::Object(own)
}

/// The published definitions in order, refusing a name given twice.
#[derive(Default)]
struct Defs {
    map: Map<String, Value>,
    /// Where each name came from, for the error.
    origin: BTreeMap<String, String>,
}

/// Names the bundle gives to types of its own: its root and its two maps.
const RESERVED: &[&str] = &["CallbackBody", "CallbackBodies", "CallbackReplies"];

impl Defs {
    fn insert(&mut self, name: &str, schema: Value, file: &str, pointer: &str) -> Result<(), Error> {
        if RESERVED.contains(&name) {
            return Err(Error::schema(
                file,
                pointer,
                format!("`{name}` is a name the published bundle uses for itself"),
            ));
        }
        if let Some(other) = self.origin.insert(name.to_owned(), format!("schema/{file}{pointer}")) {
            return Err(Error::schema(
                file,
                pointer,
                format!("its published type name `{name}` is also the name of {other}; rename one of them"),
            ));
        }
        self.map.insert(name.to_owned(), schema);
        Ok(())
    }
}

/// Publishes one named definition: a tagged union as its parts, anything else as it is.
fn definition(name: &str, raw: &Value, scope: &Scope<'_>, defs: &mut Defs, pointer: &str) -> Result<(), Error> {
    let file = scope.source_file();
    let Some(members) = raw.get("oneOf").and_then(Value::as_array) else {
        return defs.insert(name, titled(name, transform(raw, scope)), &file, pointer);
    };
    let known_name = format!("Known{name}");
    let unknown_name = format!("Unknown{name}");
    let mut known = Vec::new();
    let mut parts = Vec::new();
    let mut tag = String::new();
    let mut unknown = None;
    for (i, member) in members.iter().enumerate() {
        let properties = member.get("properties").and_then(Value::as_object);
        let tag_of = properties.and_then(|p| p.iter().find(|(_, s)| s.get("const").is_some()));
        match tag_of {
            Some((tag_name, _)) => {
                tag.clone_from(tag_name);
                let variant = text(member, "x-rust-name").or_else(|| text(member, "title")).unwrap_or_default();
                let member_name = format!("{}{name}", naming::variant_name(&variant));
                known.push(reference(&member_name));
                parts.push((member_name, member, format!("{pointer}/oneOf/{i}")));
            }
            None => unknown = Some((member, format!("{pointer}/oneOf/{i}"))),
        }
    }
    let Some((unknown, unknown_pointer)) = unknown else {
        return Err(Error::schema(&file, pointer, "a tagged union needs a catch-all member"));
    };
    let mut union = Map::new();
    union.insert("title".into(), Value::from(name));
    if let Some(description) = raw.get("description") {
        union.insert("description".into(), description.clone());
    }
    union.insert("anyOf".into(), json!([reference(&known_name), reference(&unknown_name)]));
    defs.insert(name, Value::Object(union), &file, pointer)?;
    let known_schema = json!({
        "title": known_name,
        "description": format!("A `{name}` of a kind this version knows, told apart by its `{tag}`."),
        "oneOf": known,
    });
    defs.insert(&known_name, known_schema, &file, pointer)?;
    for (member_name, member, member_pointer) in parts {
        defs.insert(&member_name, titled(&member_name, transform(member, scope)), &file, &member_pointer)?;
    }
    defs.insert(&unknown_name, titled(&unknown_name, transform(unknown, scope)), &file, &unknown_pointer)
}

/// `schema` with `title` set to `name`, first.
fn titled(name: &str, schema: Value) -> Value {
    let mut out = Map::new();
    out.insert("title".into(), Value::from(name));
    if let Value::Object(map) = schema {
        out.extend(map.into_iter().filter(|(k, _)| k != "title"));
    }
    Value::Object(out)
}

/// Keywords whose value is one schema.
const SCHEMA_KEYWORDS: &[&str] = &[
    "items",
    "not",
    "additionalProperties",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
];
/// Keywords whose value is a list of schemas.
const SCHEMA_LIST_KEYWORDS: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords whose value maps names to schemas.
const SCHEMA_MAP_KEYWORDS: &[&str] = &["properties", "patternProperties", "dependentSchemas", "$defs"];
/// Keywords of a callback's root that only make sense in its source file.
const SOURCE_ONLY: &[&str] = &["$schema", "$id", "title"];

/// A schema in published form: references rewritten to the published names and alone in their
/// object, `x-` keywords and nested titles removed, open enums without an outer `type`.
fn transform(schema: &Value, scope: &Scope<'_>) -> Value {
    let Value::Object(map) = schema else { return schema.clone() };
    let mut out = Map::new();
    for (key, value) in map {
        if key.starts_with("x-") || SOURCE_ONLY.contains(&key.as_str()) {
            continue;
        }
        let value = match key.as_str() {
            "$ref" => Value::from(value.as_str().map_or_else(String::new, |r| scope.resolve(r))),
            k if SCHEMA_KEYWORDS.contains(&k) => transform(value, scope),
            k if SCHEMA_LIST_KEYWORDS.contains(&k) => {
                Value::Array(value.as_array().into_iter().flatten().map(|s| transform(s, scope)).collect())
            }
            k if SCHEMA_MAP_KEYWORDS.contains(&k) => Value::Object(
                value.as_object().into_iter().flatten().map(|(n, s)| (n.clone(), transform(s, scope))).collect(),
            ),
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    if out.contains_key("$ref") {
        out.retain(|key, _| key == "$ref");
    }
    let notes = reference_notes(map);
    if !notes.is_empty() {
        let comment = match out.remove("$comment") {
            Some(Value::String(existing)) => format!("{existing}\n\n{notes}"),
            _ => notes,
        };
        out.insert("$comment".into(), Value::from(comment));
    }
    if out.contains_key("anyOf") && out.get("type").and_then(Value::as_str) == Some("string") {
        out.remove("type");
    }
    Value::Object(out)
}

/// The notes of the properties that are references, as one text (`Name`: note), for the
/// object's `$comment`: beside a `$ref` they would make generators copy the referenced type.
fn reference_notes(schema: &Map<String, Value>) -> String {
    let properties = schema.get("properties").and_then(Value::as_object).into_iter().flatten();
    let notes = properties.filter(|(_, p)| p.get("$ref").is_some()).flat_map(|(name, property)| {
        ["description", "$comment"]
            .into_iter()
            .filter_map(move |key| Some(format!("`{name}`: {}", property.get(key)?.as_str()?)))
    });
    notes.collect::<Vec<_>>().join("\n")
}

/// The published names of the definitions in `schema/`, by owner (`common` or a command) and
/// `$defs` key (empty for a callback's request).
struct Names {
    by_source: BTreeMap<(String, String), String>,
}

impl Names {
    fn new(catalog: &Catalog) -> Result<Names, Error> {
        // (owner, key, Rust name, namespace; empty for common)
        let mut entries: Vec<(String, String, String, String)> = defs_of(&catalog.common_json)
            .map(|(key, _)| (COMMON.to_owned(), key.clone(), key.clone(), String::new()))
            .collect();
        let mut aliases = Vec::new();
        for callback in &catalog.callbacks {
            let command = &callback.command;
            let namespace = command.split_once('.').map_or("", |(n, _)| n).to_owned();
            let request = &callback.request.name;
            entries.push((command.clone(), String::new(), request.clone(), namespace.clone()));
            for (key, def) in defs_of(&catalog.callback_json[command]) {
                if let Some(target) = alias_target(def) {
                    aliases.push((command.clone(), key.clone(), target.to_owned()));
                    continue;
                }
                let rust = if key == naming::REPLY_DEF { naming::reply_type(request) } else { key.clone() };
                entries.push((command.clone(), key.clone(), rust, namespace.clone()));
            }
        }
        let mut owners: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (_, _, rust, namespace) in &entries {
            owners.entry(rust).or_default().insert(namespace);
        }
        let mut by_source = BTreeMap::new();
        for (owner, key, rust, namespace) in &entries {
            let shared = owners[rust.as_str()].len() > 1;
            let name = if shared && !namespace.is_empty() { format!("{namespace}{rust}") } else { rust.clone() };
            by_source.insert((owner.clone(), key.clone()), name);
        }
        let mut names = Names { by_source };
        for (command, key, target) in aliases {
            let name = Scope { file: &command, names: &names }.target(&target).ok_or_else(|| {
                Error::schema(
                    &format!("{command}.json"),
                    &format!("/$defs/{key}"),
                    format!("`{target}` points at nothing"),
                )
            })?;
            names.by_source.insert((command, key), name);
        }
        Ok(names)
    }

    /// The published name of a definition the model has already checked exists.
    fn get(&self, owner: &str, key: &str) -> String {
        self.by_source.get(&(owner.to_owned(), key.to_owned())).cloned().unwrap_or_else(|| key.to_owned())
    }
}

/// The file being published, for resolving its references.
struct Scope<'a> {
    /// `common`, or the command of a callback's file.
    file: &'a str,
    names: &'a Names,
}

impl Scope<'_> {
    /// The published name a reference of this file points at.
    fn target(&self, reference: &str) -> Option<String> {
        let (file, pointer) = reference.split_once('#')?;
        let key = pointer.strip_prefix("/$defs/")?;
        let owner = if file == COMMON_FILE { COMMON } else { self.file };
        self.names.by_source.get(&(owner.to_owned(), key.to_owned())).cloned()
    }

    fn resolve(&self, reference: &str) -> String {
        self.target(reference).map_or_else(|| reference.to_owned(), |name| format!("#/$defs/{name}"))
    }

    fn source_file(&self) -> String {
        if self.file == COMMON { COMMON_FILE.to_owned() } else { format!("{}.json", self.file) }
    }
}

/// A definition that is only a reference to another (a callback's `Reply` that is the
/// shared one) names no type of its own.
fn alias_target(def: &Value) -> Option<&str> {
    let map = def.as_object()?;
    if map.len() == 1 { map.get("$ref")?.as_str() } else { None }
}

/// The `$defs` entries of a source file, in file order.
fn defs_of(schema: &Value) -> impl Iterator<Item = (&String, &Value)> {
    schema.get("$defs").and_then(Value::as_object).into_iter().flatten()
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/$defs/{name}") })
}

fn text(schema: &Value, key: &str) -> Option<String> {
    schema.get(key).and_then(Value::as_str).map(str::to_owned)
}

#[cfg(test)]
mod tests;
