//! The published form of the schemas, for other languages: written under `schema/dist/` by
//! `cargo codegen` and fresh-checked like the Rust output.
//!
//! - `callbacks.schema.json`: one bundle, every type under `$defs` by its type name
//!   (`AfterCreateGroup`, `MsgBodyElement`, `EventTime`, …), a top-level `oneOf` over the
//!   callbacks whose body carries its `CallbackCommand` const, and `CallbackBodies` /
//!   `CallbackReplies` mapping each command to its body and reply types;
//! - `commands/<Command>.schema.json`: one self-contained schema per command, its request at the
//!   root and every definition it or its reply reaches under `$defs`;
//! - `catalogue.json`: what is not a schema: each command's kind, documentation page, files and
//!   type names, and the before-callbacks' decisions;
//! - `asyncapi.json`: an AsyncAPI 3.0 document of the webhook.
//!
//! The packages for other languages, which carry the bundle, are written by [`crate::python`]
//! and [`crate::typescript`]. How the schemas are shaped for generators is in
//! [`crate::published`].

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::Error;
use crate::catalogue;
use crate::model::{COMMON_FILE, Catalog, Kind};
use crate::published::{self, BUNDLE, Schemas};

/// A published file, relative to `schema/dist/`.
pub(crate) struct Published {
    pub(crate) relative_path: String,
    pub(crate) contents: String,
}

/// Every published file.
pub(crate) fn publish(catalog: &Catalog, version: &str) -> Result<Vec<Published>, Error> {
    let schemas = published::schemas(catalog)?;
    let mut files = vec![Published { relative_path: BUNDLE.into(), contents: pretty(&schemas.bundle) }];
    for (command, schema) in &schemas.commands {
        files.push(Published { relative_path: published::command_file(command), contents: pretty(schema) });
    }
    files.push(Published {
        relative_path: catalogue::FILE.into(),
        contents: pretty(&catalogue::catalogue(catalog, &schemas, version)),
    });
    files.push(Published {
        relative_path: "asyncapi.json".into(),
        contents: pretty(&asyncapi(catalog, &schemas, version)),
    });
    Ok(files)
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("a JSON value encodes") + "\n"
}

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

/// The AsyncAPI 3.0 document: the app's endpoint receives one operation per command, each with
/// its request message, its reply, and the query parameters as its HTTP binding.
fn asyncapi(catalog: &Catalog, published: &Schemas, version: &str) -> Value {
    let mut schemas = Map::new();
    for (name, schema) in published.bundle["$defs"].as_object().into_iter().flatten() {
        // The command maps are types for generators, not messages.
        if !matches!(name.as_str(), "CallbackBodies" | "CallbackReplies") {
            schemas.insert(name.clone(), to_components(schema));
        }
    }
    let mut messages = Map::new();
    let mut channel_messages = Map::new();
    let mut operations = Map::new();
    for callback in &catalog.callbacks {
        let command = &callback.command;
        let title = callback.request.title.clone().unwrap_or_default();
        let types = &published.types[command];
        let request = command.clone();
        let reply = format!("{command}.Reply");
        messages.insert(
            request.clone(),
            json!({
                "name": command,
                "title": title,
                "summary": format!("The body of a `{command}` callback."),
                "contentType": "application/json",
                "payload": { "$ref": format!("#/components/schemas/{}", types.request) },
                "externalDocs": { "url": callback.doc_url },
            }),
        );
        messages.insert(
            reply.clone(),
            json!({
                "name": reply,
                "title": format!("Reply to {command}"),
                "contentType": "application/json",
                "payload": { "$ref": format!("#/components/schemas/{}", types.reply) },
            }),
        );
        for name in [&request, &reply] {
            channel_messages.insert(name.clone(), json!({ "$ref": format!("#/components/messages/{name}") }));
        }
        let kind = match callback.kind {
            Kind::Before => "A before-callback: the reply decides the action.",
            Kind::After => "An after-callback: the reply is only acknowledged.",
        };
        operations.insert(
            command.clone(),
            json!({
                "action": "receive",
                "title": title,
                "summary": kind,
                "channel": { "$ref": "#/channels/callback" },
                "messages": [{ "$ref": format!("#/channels/callback/messages/{request}") }],
                "reply": {
                    "channel": { "$ref": "#/channels/callback" },
                    "messages": [{ "$ref": format!("#/channels/callback/messages/{reply}") }],
                },
                "security": [{ "$ref": "#/components/securitySchemes/sign" }],
                "bindings": { "http": { "method": "POST", "query": query_schema(command), "bindingVersion": "0.3.0" } },
            }),
        );
    }
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "Tencent Cloud Chat callbacks",
            "version": version,
            "description": "The webhooks Tencent Cloud Chat sends to an app's backend: an HTTP POST per event to the app's callback URL, with the app id, the command and (with authentication on) a signature in the query string and the event as the JSON body. The app replies within 2 seconds.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "app": {
                "host": "app.example.com",
                "protocol": "https",
                "description": "The app's own endpoint, configured in the Tencent Cloud Chat console. Plain HTTP is also possible.",
            }
        },
        "channels": {
            "callback": {
                "address": "/callback",
                "title": "The callback URL",
                "description": "The single URL configured for the app; every command arrives here and is told apart by the `CallbackCommand` query parameter.",
                "messages": channel_messages,
            }
        },
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "securitySchemes": {
                "sign": {
                    "type": "httpApiKey",
                    "name": "Sign",
                    "in": "query",
                    "description": "With webhook authentication on, `Sign` is the lowercase hex SHA-256 of the token set in the console followed directly by the `RequestTime` query parameter (Unix seconds). The body is not signed; receivers should also bound how far `RequestTime` may be from their clock.",
                }
            },
        },
    })
}

/// A bundled schema moved under `components/schemas`.
fn to_components(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let value = match (key.as_str(), value.as_str()) {
                        ("$ref", Some(reference)) => {
                            Value::from(reference.replace("#/$defs/", "#/components/schemas/"))
                        }
                        _ => to_components(value),
                    };
                    (key.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(to_components).collect()),
        other => other.clone(),
    }
}

/// The query parameters of a command's request.
fn query_schema(command: &str) -> Value {
    let text = |description: &str| json!({ "type": "string", "description": description });
    let properties: BTreeMap<&str, Value> = BTreeMap::from([
        (
            "SdkAppid",
            json!({ "type": "string", "pattern": "^[0-9]+$", "description": "The app's SDKAppID; receivers must check it is their own." }),
        ),
        ("CallbackCommand", json!({ "const": command, "description": "The command." })),
        ("contenttype", text("Always `json`.")),
        ("ClientIP", text("The IP of the client that caused the event; absent for some commands.")),
        ("OptPlatform", text("The client platform that caused the event; absent for some commands.")),
        ("Sign", text("With authentication on: lowercase hex SHA-256 of the token followed by RequestTime.")),
        (
            "RequestTime",
            json!({ "type": "string", "pattern": "^[0-9]+$", "description": "With authentication on: the signing time, Unix seconds." }),
        ),
        ("RequestID", text("Undocumented; a per-request id seen in real traffic.")),
    ]);
    json!({ "type": "object", "properties": properties, "required": ["SdkAppid", "CallbackCommand"] })
}
