//! `asyncapi.json`: an AsyncAPI 3.0 document of the webhook.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::Schemas;
use crate::model::{Catalog, Kind};

/// The AsyncAPI 3.0 document: the app's endpoint receives one operation per command, each with
/// its request message, its reply, and the query parameters as its HTTP binding.
pub(super) fn asyncapi(catalog: &Catalog, published: &Schemas, version: &str) -> Value {
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
