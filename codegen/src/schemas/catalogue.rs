//! `schema/dist/catalogue.json`: what the published schemas know about each command that is not
//! a schema. The vendor metadata of `x-callback` lives here instead of in the schemas, so that
//! validators in strict mode (Ajv's default) accept the schemas with no set-up.
//!
//! ```json
//! { "version": "0.1.0", "idBase": "https://…/schema/v1/", "bundle": "callbacks.schema.json",
//!   "commands": { "Group.CallbackAfterCreateGroup": {
//!     "summary": "After a group is created", "kind": "after", "docUrl": "…", "docUpdated": "…",
//!     "request": { "type": "AfterCreateGroup", "schema": "commands/Group.CallbackAfterCreateGroup.schema.json" },
//!     "reply": { "type": "Reply", "schema": "commands/Group.CallbackAfterCreateGroup.schema.json#/$defs/Reply" } } } }
//! ```
//!
//! A before-callback's entry also has `decision`, the answers its reply may carry, as in
//! `x-callback.decision`.

use serde_json::{Map, Value, json};

use super::{BUNDLE, ID_BASE, Schemas, command_file};
use crate::model::Catalog;

/// The catalogue's file name, relative to `schema/dist/`.
pub(crate) const FILE: &str = "catalogue.json";

/// The catalogue of every command.
pub(crate) fn catalogue(catalog: &Catalog, schemas: &Schemas, version: &str) -> Value {
    let mut commands = Map::new();
    for callback in &catalog.callbacks {
        let command = &callback.command;
        let types = &schemas.types[command];
        let file = command_file(command);
        let mut entry = Map::new();
        if let Some(summary) = &callback.request.title {
            entry.insert("summary".into(), Value::from(summary.as_str()));
        }
        // Everything `x-callback` says but the command, which is the key.
        let meta = catalog.callback_json[command].get("x-callback").and_then(Value::as_object);
        entry.extend(meta.into_iter().flatten().filter(|(k, _)| *k != "command").map(|(k, v)| (k.clone(), v.clone())));
        entry.insert("request".into(), json!({ "type": types.request, "schema": file }));
        entry
            .insert("reply".into(), json!({ "type": types.reply, "schema": format!("{file}#/$defs/{}", types.reply) }));
        commands.insert(command.clone(), Value::Object(entry));
    }
    json!({
        "description": "Tencent Cloud Chat callbacks: for each command, what kind of callback it is, the vendor page that documents it, and where its request and reply schemas are (file paths relative to this catalogue; type names as in the bundle's `$defs`).",
        "version": version,
        "idBase": ID_BASE,
        "bundle": BUNDLE,
        "commands": commands,
    })
}
