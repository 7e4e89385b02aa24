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
//! and [`crate::typescript`]. How the schemas are shaped for generators is in [`shape`]; the
//! one place that reads and rewrites `$ref`s in raw JSON is [`refs`], because what is published
//! is the schemas as written (comments, examples, keywords the model has no use for), not the
//! model.

mod asyncapi;
mod catalogue;
pub(crate) mod refs;
mod shape;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::Catalog;
use crate::{Error, GeneratedFile};

pub(crate) use shape::schemas;

/// The base of every published `$id`: this repository's GitHub Pages site (from the workspace's
/// `repository`), then `schema/v1/`, which changes only if the files move or are reshaped
/// incompatibly. ARCHITECTURE.md and `docs/published-schemas.md` record it.
pub(crate) const ID_BASE: &str = "https://tencent-chat-callbacks.github.io/tencent-chat-callbacks/schema/v1/";
/// The published bundle's file name.
pub(crate) const BUNDLE: &str = "callbacks.schema.json";

/// The published name of one command's request and reply types.
#[derive(Debug, Clone)]
pub(crate) struct CommandTypes {
    pub(crate) request: String,
    pub(crate) reply: String,
}

/// Every published schema.
#[derive(Debug)]
pub(crate) struct Schemas {
    /// `callbacks.schema.json`.
    pub(crate) bundle: Value,
    /// `commands/<Command>.schema.json`, by command.
    pub(crate) commands: BTreeMap<String, Value>,
    /// The request and reply type of each command.
    pub(crate) types: BTreeMap<String, CommandTypes>,
}

/// The path of a command's self-contained schema, relative to `schema/dist/`.
pub(crate) fn command_file(command: &str) -> String {
    format!("commands/{command}.schema.json")
}

/// Every published file, with paths relative to `schema/dist/`.
pub(crate) fn publish(catalog: &Catalog, version: &str) -> Result<Vec<GeneratedFile>, Error> {
    let schemas = schemas(catalog)?;
    let mut files = vec![GeneratedFile::new(BUNDLE, pretty(&schemas.bundle))];
    for (command, schema) in &schemas.commands {
        files.push(GeneratedFile::new(command_file(command), pretty(schema)));
    }
    files.push(GeneratedFile::new(catalogue::FILE, pretty(&catalogue::catalogue(catalog, &schemas, version))));
    files.push(GeneratedFile::new("asyncapi.json", pretty(&asyncapi::asyncapi(catalog, &schemas, version))));
    Ok(files)
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("a JSON value encodes") + "\n"
}
