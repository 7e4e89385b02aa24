//! Reads the schema directory into a small model of the types to generate.
//!
//! The generator understands a deliberate subset of JSON Schema and refuses everything else with
//! an error naming the file and the JSON pointer, so a schema edit can never be silently
//! mistranslated. The subset:
//!
//! - objects with `properties` and `required` (nested objects must be named `$defs`);
//! - `string`, `boolean`, `integer`, `number`, `array` of any of these. An integer's `format`
//!   (`int32`, `uint32`, `int64`, `uint64`) gives its Rust width, and its `minimum`/`maximum`
//!   must lie within that width; without a `format`, `minimum: 0` makes it `u64`, else `i64`;
//! - `$ref` to `#/$defs/Name` in the same file or `common.json#/$defs/Name`;
//! - an integer that may also arrive as a string of digits: `anyOf: [{integer}, {string, pattern}]`;
//! - a list of strings that may also arrive as one string: `anyOf: [{array of string}, {string}]`;
//! - `x-aliases` on a property: other wire names (legacy spellings) that decode to the same field;
//!   such a property is required under any of its names with
//!   `"if": {"not": {"anyOf": [{"required": [alias]}, ...]}}, "then": {"required": [name]}`;
//! - `default` on an optional string, integer, boolean or array property, equal to that type's
//!   empty value (`""`, `0`, `false`, `[]`): a missing value decodes as empty instead of `None`;
//! - an open string enum: `type: string` with `anyOf` of `const` members and one catch-all
//!   `{type: string}`, so that values added later by the vendor still decode;
//! - `const` on the `CallbackCommand` property of a callback;
//! - a value of one of a few JSON types, as a named definition: `anyOf` of members of different
//!   JSON types, each a `string`, an `integer` or an `object` with only `additionalProperties` of
//!   `integer`, each with a `title` naming its variant (a count sent whole or by key, a user ID
//!   sent as a string or a number);
//! - a tagged union: `oneOf` of objects that each hold a `const` tag property and a content
//!   property (the same two names in every member, each member with a `title` naming its variant),
//!   plus one catch-all member whose tag is `{"type": "string", "not": {"enum": [...]}}`, so that an
//!   element type added later still decodes, with its content kept as sent.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::Error;

mod forms;
mod objects;
mod reader;
mod unions;

use reader::Reader;

/// The file holding the definitions shared by every callback.
pub(crate) const COMMON_FILE: &str = "common.json";

/// Everything generated from one schema directory.
#[derive(Debug)]
pub(crate) struct Catalog {
    /// Named types from `common.json`, in file order.
    pub(crate) common: Vec<TypeDef>,
    /// Scalar definitions of `common.json` (such as the event time), in file order: each becomes
    /// a named type in `common`, which every field referring to it uses.
    pub(crate) common_scalars: Vec<ScalarDef>,
    /// One entry per callback schema, sorted by command.
    pub(crate) callbacks: Vec<CallbackDef>,
    /// `common.json` as written.
    pub(crate) common_json: Value,
    /// Each callback's schema as written, by command, sorted.
    pub(crate) callback_json: BTreeMap<String, Value>,
    /// What each vendor namespace holds, in a sentence (`x-namespaces` of `common.json`): the
    /// summary of its module.
    pub(crate) namespace_summaries: BTreeMap<String, String>,
}

/// One callback, read from `schema/<CallbackCommand>.json`.
#[derive(Debug)]
pub(crate) struct CallbackDef {
    pub(crate) file: String,
    pub(crate) command: String,
    pub(crate) namespace: String,
    pub(crate) kind: Kind,
    pub(crate) doc_url: String,
    pub(crate) doc_updated: String,
    /// `x-callback.dedupKey`: the request property that identifies one event across retries.
    pub(crate) dedup_key: Option<String>,
    /// The request body; its name is the Rust type name of the callback.
    pub(crate) request: StructDef,
    /// Other named types the callback's schema defines for itself.
    pub(crate) defs: Vec<TypeDef>,
    /// The type of the reply body.
    pub(crate) reply: TypeRef,
    /// For a before-callback: the answers it accepts.
    pub(crate) decision: Option<DecisionDef>,
}

impl CallbackDef {
    /// The vendor's namespace: `C2C` for `C2C.CallbackAfterSendMsg`.
    pub(crate) fn vendor_namespace(&self) -> &str {
        self.command.split('.').next().unwrap_or_default()
    }

    /// A before-callback's own reply object, which its decision fills.
    pub(crate) fn own_reply(&self) -> &StructDef {
        self.defs
            .iter()
            .find_map(|d| match d {
                TypeDef::Struct(s) if s.name == self.reply.name => Some(s),
                _ => None,
            })
            .expect("model checks that a before-callback has its own reply object")
    }
}

/// What a before-callback's answer can do, from `x-callback.decision`.
#[derive(Debug)]
pub(crate) struct DecisionDef {
    /// `ErrorCode` 1 refuses the action.
    pub(crate) refuse: bool,
    /// The error the client sees on a refusal, when documented.
    pub(crate) refused_client_error: Option<i64>,
    /// `ErrorCode` 2 drops the action silently.
    pub(crate) drop: bool,
    /// The range of app-defined codes passed to the client, when documented.
    pub(crate) app_error_codes: Option<(i64, i64)>,
    /// Reply fields that carry modified content.
    pub(crate) modifiable: Vec<String>,
}

/// Whether a callback reports an action or lets the app decide it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Before,
    After,
}

#[derive(Debug)]
pub(crate) enum TypeDef {
    Struct(StructDef),
    Enum(EnumDef),
    Union(UnionDef),
    Untagged(UntaggedDef),
}

impl TypeDef {
    pub(crate) fn name(&self) -> &str {
        match self {
            TypeDef::Struct(s) => &s.name,
            TypeDef::Enum(e) => &e.name,
            TypeDef::Union(u) => &u.name,
            TypeDef::Untagged(u) => &u.name,
        }
    }
}

#[derive(Debug)]
pub(crate) struct StructDef {
    pub(crate) name: String,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) fields: Vec<Field>,
}

#[derive(Debug)]
pub(crate) struct Field {
    pub(crate) wire_name: String,
    pub(crate) rust_name: String,
    pub(crate) description: Option<String>,
    pub(crate) ty: Ty,
    pub(crate) required: bool,
    /// Other wire names that decode to this field (`x-aliases`), such as a legacy spelling.
    pub(crate) aliases: Vec<String>,
    /// Optional on the wire, but read as the type's empty value when missing (`default`).
    pub(crate) defaulted: bool,
    /// The `common.json` scalar definition the property refers to, if any; the Rust field then
    /// has that definition's named type rather than `ty` inlined.
    pub(crate) scalar: Option<String>,
}

/// A scalar definition of `common.json`, such as the event time.
#[derive(Debug)]
pub(crate) struct ScalarDef {
    pub(crate) name: String,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) ty: Ty,
}

/// An open string enum: known values plus a catch-all for values added later.
#[derive(Debug)]
pub(crate) struct EnumDef {
    pub(crate) name: String,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) variants: Vec<Variant>,
}

#[derive(Debug)]
pub(crate) struct Variant {
    pub(crate) wire_name: String,
    pub(crate) rust_name: String,
    pub(crate) description: Option<String>,
    /// Other spellings that decode to this variant.
    pub(crate) aliases: Vec<String>,
}

/// A value of one of a few JSON types, told apart by the type alone: a count the vendor sends
/// whole or broken down by key (`CreatedGroupNum`), a user ID one copy of a page sends as a number.
#[derive(Debug)]
pub(crate) struct UntaggedDef {
    pub(crate) name: String,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    /// The variants, in schema order: name, doc and what it holds.
    pub(crate) variants: Vec<(String, Option<String>, Untagged)>,
}

/// What a variant of an [`UntaggedDef`] holds.
#[derive(Debug)]
pub(crate) enum Untagged {
    /// A string or an integer of the given type.
    Value(Ty),
    /// An object from keys to integers of the given type.
    Map(Ty),
}

/// A tagged union: the tag property selects the type of the content property.
#[derive(Debug)]
pub(crate) struct UnionDef {
    pub(crate) name: String,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    /// The wire name of the tag property, e.g. `MsgType`.
    pub(crate) tag: String,
    /// The wire name of the content property, e.g. `MsgContent`.
    pub(crate) content: String,
    pub(crate) variants: Vec<UnionVariant>,
    /// The description of the catch-all member.
    pub(crate) other_description: Option<String>,
}

#[derive(Debug)]
pub(crate) struct UnionVariant {
    /// The tag value, e.g. `TIMTextElem`.
    pub(crate) tag_value: String,
    pub(crate) rust_name: String,
    pub(crate) description: Option<String>,
    /// The type of the content.
    pub(crate) content: Ty,
}

/// The Rust type of a field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ty {
    String,
    Bool,
    /// `format: int32`.
    I32,
    /// `format: uint32`.
    U32,
    I64,
    U64,
    F64,
    /// An unsigned integer that may arrive as a string of digits.
    LenientU64,
    /// A list of strings that may arrive as a single string (one element).
    StringOrList,
    Vec(Box<Ty>),
    Named(TypeRef),
    /// A `CallbackCommand` const equal to the callback's own command, in the request or in an
    /// object nested in it (batched events repeat it); holds the request type's name.
    CommandTag(String),
}

/// A named generated type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypeRef {
    pub(crate) scope: Scope,
    pub(crate) name: String,
}

/// Where a named type is generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// In the `common` module.
    Common,
    /// In the module of the namespace being generated.
    Local,
}

impl Catalog {
    /// Reads every `*.json` file of `dir`: `common.json` plus one file per callback. `taken` are
    /// the module names a namespace's module must not take (the hand-written modules beside the
    /// generated ones, which `pub use generated::*` would silently shadow).
    pub(crate) fn load(dir: &Path, taken: &BTreeSet<String>) -> Result<Catalog, Error> {
        let mut files = BTreeMap::new();
        let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for entry in entries {
            let path = entry.map_err(|e| Error::io(dir, e))?.path();
            if path.extension().is_some_and(|ext| ext == "json") {
                let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
                let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
                let json: Value = serde_json::from_str(&text)
                    .map_err(|e| Error::schema(&name, "", format!("not valid JSON: {e}")))?;
                files.insert(name, json);
            }
        }
        let common_json = files
            .remove(COMMON_FILE)
            .ok_or_else(|| Error::schema(COMMON_FILE, "", "the shared definitions file is missing"))?;

        let common = Reader {
            file: COMMON_FILE,
            root: &common_json,
            common: &common_json,
            scope: Scope::Common,
            callback: None,
        };
        let common_defs = common.named_defs(&[])?;
        let common_scalars = common.scalar_defs()?;

        let mut callbacks = Vec::new();
        for (file, json) in &files {
            let reader = Reader { file, root: json, common: &common_json, scope: Scope::Local, callback: None };
            callbacks.push(reader.callback()?);
        }
        let common_names: BTreeSet<&str> =
            common_defs.iter().map(TypeDef::name).chain(common_scalars.iter().map(|s| s.name.as_str())).collect();
        check_unique_names(&callbacks, &common_names)?;
        let namespace_summaries = namespace_summaries(&common_json, &callbacks, taken)?;
        let callback_json = files
            .into_iter()
            .map(|(file, json)| (file.strip_suffix(".json").unwrap_or(&file).to_owned(), json))
            .collect();
        Ok(Catalog { common: common_defs, common_scalars, callbacks, common_json, callback_json, namespace_summaries })
    }

    /// The namespaces in use, sorted, each with its callbacks.
    pub(crate) fn namespaces(&self) -> BTreeMap<&str, Vec<&CallbackDef>> {
        let mut map: BTreeMap<&str, Vec<&CallbackDef>> = BTreeMap::new();
        for callback in &self.callbacks {
            map.entry(&callback.namespace).or_default().push(callback);
        }
        map
    }

    /// The summary of a vendor namespace's module.
    pub(crate) fn namespace_summary(&self, namespace: &str) -> Option<&str> {
        self.namespace_summaries.get(namespace).map(String::as_str)
    }

    /// The names of the types of `common.json`, which every namespace module may use.
    pub(crate) fn common_type_names(&self) -> impl Iterator<Item = &str> {
        self.common.iter().map(TypeDef::name).chain(self.common_scalars.iter().map(|s| s.name.as_str()))
    }
}

/// `x-namespaces` of `common.json`: a summary for every namespace in use (one for a namespace
/// without callbacks is allowed, so a subset of the schemas still generates), and no namespace
/// whose module name is already taken.
fn namespace_summaries(
    common: &Value,
    callbacks: &[CallbackDef],
    taken: &BTreeSet<String>,
) -> Result<BTreeMap<String, String>, Error> {
    let pointer = "/x-namespaces";
    let summaries: BTreeMap<String, String> = match common.get("x-namespaces") {
        None => BTreeMap::new(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(text) => Ok((k.clone(), text.to_owned())),
                None => Err(Error::schema(COMMON_FILE, &format!("{pointer}/{k}"), "must be a sentence")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(Error::schema(COMMON_FILE, pointer, "must map each namespace to a sentence")),
    };
    for callback in callbacks {
        let namespace = callback.vendor_namespace();
        if !summaries.contains_key(namespace) {
            return Err(Error::schema(
                COMMON_FILE,
                pointer,
                format!("`{namespace}` (of {}) needs a sentence saying what the namespace holds", callback.file),
            ));
        }
        if taken.contains(&callback.namespace) {
            return Err(Error::schema(
                &callback.file,
                "/x-callback/command",
                format!(
                    "the namespace `{namespace}` would generate the module `{}`, which is a hand-written module of \
                     the runtime crate",
                    callback.namespace
                ),
            ));
        }
    }
    Ok(summaries)
}

/// Two callbacks of one namespace must not generate two types of the same name, and no callback
/// a type named as one of `common.json`'s, which its module imports.
fn check_unique_names(callbacks: &[CallbackDef], common: &BTreeSet<&str>) -> Result<(), Error> {
    let mut seen: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for callback in callbacks {
        let names = std::iter::once(callback.request.name.as_str()).chain(callback.defs.iter().map(TypeDef::name));
        for name in names {
            if common.contains(name) {
                return Err(Error::schema(
                    &callback.file,
                    "",
                    format!("type `{name}` is also defined in {COMMON_FILE}; rename this definition"),
                ));
            }
            if let Some(other) = seen.insert((&callback.namespace, name), &callback.file) {
                return Err(Error::schema(
                    &callback.file,
                    "",
                    format!("type `{name}` is also generated from {other}; rename one of the definitions"),
                ));
            }
        }
    }
    Ok(())
}
