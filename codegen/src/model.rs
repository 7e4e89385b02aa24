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

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde_json::{Map, Value};

use crate::Error;
use crate::naming;

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
    /// Reads every `*.json` file of `dir`: `common.json` plus one file per callback.
    pub(crate) fn load(dir: &Path) -> Result<Catalog, Error> {
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
        check_unique_names(&callbacks)?;
        let callback_json = files
            .into_iter()
            .map(|(file, json)| (file.strip_suffix(".json").unwrap_or(&file).to_owned(), json))
            .collect();
        Ok(Catalog { common: common_defs, common_scalars, callbacks, common_json, callback_json })
    }

    /// The namespaces in use, sorted, each with its callbacks.
    pub(crate) fn namespaces(&self) -> BTreeMap<&str, Vec<&CallbackDef>> {
        let mut map: BTreeMap<&str, Vec<&CallbackDef>> = BTreeMap::new();
        for callback in &self.callbacks {
            map.entry(&callback.namespace).or_default().push(callback);
        }
        map
    }
}

/// Two callbacks of one namespace must not generate two types of the same name.
fn check_unique_names(callbacks: &[CallbackDef]) -> Result<(), Error> {
    let mut seen: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for callback in callbacks {
        let names = std::iter::once(callback.request.name.as_str()).chain(callback.defs.iter().map(TypeDef::name));
        for name in names {
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

/// Reads one schema file.
struct Reader<'a> {
    file: &'a str,
    root: &'a Value,
    common: &'a Value,
    /// Where `#/$defs/…` references of this file are generated.
    scope: Scope,
    /// For a callback's file: its command and request type name.
    callback: Option<(&'a str, &'a str)>,
}

impl<'a> Reader<'a> {
    fn err(&self, pointer: &str, message: impl Into<String>) -> Error {
        Error::schema(self.file, pointer, message)
    }

    fn callback(&self) -> Result<CallbackDef, Error> {
        let meta = self.root.get("x-callback").ok_or_else(|| self.err("", "missing `x-callback`"))?;
        let command = self.meta_str(meta, "command")?;
        if format!("{command}.json") != self.file {
            return Err(
                self.err("/x-callback/command", format!("the file of `{command}` must be named `{command}.json`"))
            );
        }
        let (namespace, type_name) = naming::split_command(&command).ok_or_else(|| {
            self.err("/x-callback/command", format!("`{command}` is not of the form `Namespace.Name`"))
        })?;
        let kind = match self.meta_str(meta, "kind")?.as_str() {
            "before" => Kind::Before,
            "after" => Kind::After,
            other => return Err(self.err("/x-callback/kind", format!("`{other}` is neither `before` nor `after`"))),
        };
        let doc_url = self.meta_str(meta, "docUrl")?;
        let doc_updated = self.meta_str(meta, "docUpdated")?;
        let dedup_key = match meta.get("dedupKey") {
            None => None,
            Some(Value::String(key)) if self.root.pointer(&format!("/properties/{key}")).is_some() => Some(key.clone()),
            Some(_) => return Err(self.err("/x-callback/dedupKey", "must name a property of the request")),
        };

        let this = Reader {
            file: self.file,
            root: self.root,
            common: self.common,
            scope: self.scope.clone(),
            callback: Some((&command, &type_name)),
        };
        let request = this.struct_def(&type_name, self.root, "")?;
        if !request.fields.iter().any(|f| matches!(f.ty, Ty::CommandTag(_)))
            && self.root.pointer("/properties/CallbackCommand").is_some()
        {
            return Err(self.err("/properties/CallbackCommand", "must be `{\"const\": <the command>}`"));
        }

        let reply_schema = self.root.pointer("/$defs/Reply").ok_or_else(|| {
            // Schemas written before the rename name it `Response`.
            let renamed = self.root.pointer("/$defs/Response").is_some();
            let hint = if renamed { " (`$defs.Response` was renamed `$defs.Reply`)" } else { "" };
            self.err("/$defs", format!("missing the `Reply` definition{hint}"))
        })?;
        let reply = match reply_schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => match this.resolve(reference, "/$defs/Reply")? {
                Ty::Named(r) => r,
                _ => return Err(self.err("/$defs/Reply", "must refer to an object definition")),
            },
            None => TypeRef { scope: Scope::Local, name: naming::reply_type(&type_name) },
        };
        let mut defs = this.named_defs(&[naming::REPLY_DEF])?;
        if reply_schema.get("$ref").is_none() {
            defs.push(TypeDef::Struct(this.struct_def(&reply.name, reply_schema, "/$defs/Reply")?));
        }

        let decision = this.decision(meta, kind, reply_schema)?;

        Ok(CallbackDef {
            file: self.file.to_owned(),
            command,
            namespace,
            kind,
            doc_url,
            doc_updated,
            dedup_key,
            request,
            defs,
            reply,
            decision,
        })
    }

    /// Reads `x-callback.decision`: required for a before-callback, whose reply must be its own
    /// object with the three standard fields; refused for an after-callback.
    fn decision(&self, meta: &Value, kind: Kind, reply: &Value) -> Result<Option<DecisionDef>, Error> {
        let pointer = "/x-callback/decision";
        let decision = match (kind, meta.get("decision")) {
            (Kind::After, None) => return Ok(None),
            (Kind::After, Some(_)) => return Err(self.err(pointer, "only a before-callback takes decisions")),
            (Kind::Before, None) => {
                return Err(self.err(pointer, "a before-callback must say which decisions it accepts"));
            }
            (Kind::Before, Some(decision)) => decision,
        };
        let properties = reply.get("properties").and_then(Value::as_object);
        let standard = ["ActionStatus", "ErrorCode", "ErrorInfo"];
        if properties.is_none_or(|p| standard.iter().any(|f| !p.contains_key(*f))) {
            return Err(self.err(
                "/$defs/Reply",
                "a before-callback's reply is an object with ActionStatus, ErrorCode and ErrorInfo",
            ));
        }
        let required: Vec<&str> =
            reply.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        // The standard three come first, as the decision's constructor passes them; a list the
        // vendor requires may follow (checked with the fields), sent empty when not filled.
        if required.len() < 3 || required[..3] != standard {
            return Err(self.err(
                "/$defs/Reply/required",
                "a before-callback's reply requires ActionStatus, ErrorCode and ErrorInfo first, in that order",
            ));
        }
        let action_status = reply.pointer("/properties/ActionStatus/$ref").and_then(Value::as_str);
        if action_status != Some("common.json#/$defs/ActionStatus") {
            return Err(self.err("/$defs/Reply/properties/ActionStatus", "must be `common.json#/$defs/ActionStatus`"));
        }
        // An answer that leaves out a required extra sends it empty, which only a list can be.
        let required: Vec<&str> = reply
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let not_a_list = required.iter().filter(|r| !standard.contains(*r)).find(|r| {
            properties.and_then(|p| p.get(**r)).and_then(|p| p.get("type")).and_then(Value::as_str) != Some("array")
        });
        if let Some(field) = not_a_list {
            return Err(self.err(
                "/$defs/Reply/required",
                format!("`{field}`: a before-callback's reply may require only lists besides the standard fields"),
            ));
        }
        let flag = |key: &str| decision.get(key).and_then(Value::as_bool).unwrap_or(false);
        let app_error_codes = match decision.get("appErrorCodes") {
            None => None,
            Some(range) => match range.as_array().map(|r| r.iter().map(Value::as_i64).collect::<Vec<_>>()).as_deref() {
                Some([Some(min), Some(max)]) if min <= max => Some((*min, *max)),
                _ => return Err(self.err(&format!("{pointer}/appErrorCodes"), "must be `[min, max]`")),
            },
        };
        let modifiable: Vec<String> = decision
            .get("modifiable")
            .and_then(Value::as_array)
            .map(|m| m.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        if let Some(unknown) = modifiable.iter().find(|m| properties.is_some_and(|p| !p.contains_key(*m))) {
            return Err(self.err(&format!("{pointer}/modifiable"), format!("`{unknown}` is not a reply property")));
        }
        Ok(Some(DecisionDef {
            refuse: flag("refuse"),
            refused_client_error: decision.get("refusedClientError").and_then(Value::as_i64),
            drop: flag("drop"),
            app_error_codes,
            modifiable,
        }))
    }

    fn meta_str(&self, meta: &Value, key: &str) -> Result<String, Error> {
        meta.get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| self.err(&format!("/x-callback/{key}"), "missing or not a string"))
    }

    /// The scalar definitions under `$defs` (those neither objects, enums nor unions), in file order.
    fn scalar_defs(&self) -> Result<Vec<ScalarDef>, Error> {
        let Some(defs) = self.root.get("$defs").and_then(Value::as_object) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for (name, schema) in defs {
            if is_object(schema) || is_open_enum(schema) || is_union(schema) || is_untagged(schema) {
                continue;
            }
            out.push(ScalarDef {
                name: name.clone(),
                title: text(schema, "title"),
                description: text(schema, "description"),
                ty: self.ty(schema, &format!("/$defs/{name}"), false)?,
            });
        }
        Ok(out)
    }

    /// The struct and enum definitions under `$defs`, in file order, less those named in `skip`.
    /// Definitions of other shapes (such as the event time) are inlined where they are used.
    fn named_defs(&self, skip: &[&str]) -> Result<Vec<TypeDef>, Error> {
        let Some(defs) = self.root.get("$defs") else { return Ok(Vec::new()) };
        let defs = defs.as_object().ok_or_else(|| self.err("/$defs", "must be an object"))?;
        let mut out = Vec::new();
        for (name, schema) in defs {
            if skip.contains(&name.as_str()) {
                continue;
            }
            let pointer = format!("/$defs/{name}");
            if is_object(schema) {
                out.push(TypeDef::Struct(self.struct_def(name, schema, &pointer)?));
            } else if is_open_enum(schema) {
                out.push(TypeDef::Enum(self.enum_def(name, schema, &pointer)?));
            } else if schema.get("oneOf").is_some() {
                out.push(TypeDef::Union(self.union_def(name, schema, &pointer)?));
            } else if is_untagged(schema) {
                out.push(TypeDef::Untagged(self.untagged_def(name, schema, &pointer)?));
            } else {
                // Checks that the definition is of a supported shape.
                self.ty(schema, &pointer, false)?;
            }
        }
        Ok(out)
    }

    fn struct_def(&self, name: &str, schema: &Value, pointer: &str) -> Result<StructDef, Error> {
        let empty = Map::new();
        let properties = match schema.get("properties") {
            Some(p) => p.as_object().ok_or_else(|| self.err(pointer, "`properties` must be an object"))?,
            None => &empty,
        };
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(missing) = required.iter().find(|r| !properties.contains_key(**r)) {
            return Err(self.err(pointer, format!("`{missing}` is required but not a property")));
        }
        let required_by_spelling = self.required_by_spelling(schema, properties, pointer)?;
        let mut fields = Vec::new();
        for (wire_name, property) in properties {
            let field_pointer = format!("{pointer}/properties/{wire_name}");
            let ty = self.ty(property, &field_pointer, wire_name == "CallbackCommand")?;
            if matches!(&ty, Ty::Vec(item) if **item == Ty::LenientU64) {
                return Err(self.err(&field_pointer, "a list of integers-or-digit-strings is not supported"));
            }
            if matches!(&ty, Ty::Vec(item) if **item == Ty::StringOrList) {
                return Err(self.err(&field_pointer, "a list of strings-or-lists is not supported"));
            }
            let aliases = self.aliases(property, &field_pointer)?;
            if let Some(taken) = aliases.iter().find(|a| properties.contains_key(a.as_str())) {
                return Err(self.err(&field_pointer, format!("the alias `{taken}` is a property of its own")));
            }
            if required_by_spelling.as_deref() == Some(wire_name.as_str()) && required.contains(&wire_name.as_str()) {
                return Err(self.err(
                    &field_pointer,
                    "required under any spelling (`if`/`then`), so it must not also be in `required`",
                ));
            }
            let required =
                required.contains(&wire_name.as_str()) || required_by_spelling.as_deref() == Some(wire_name.as_str());
            let defaulted = self.defaulted(property, &ty, required, &field_pointer)?;
            let description = self.description_of(property)?;
            if description.is_none() && !matches!(ty, Ty::CommandTag(_)) {
                return Err(
                    self.err(&field_pointer, "every property needs a `description` (it becomes the field's doc)")
                );
            }
            let scalar = property
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(&format!("{COMMON_FILE}#/$defs/")))
                .filter(|name| self.common.pointer(&format!("/$defs/{name}")).is_some_and(is_scalar))
                .map(str::to_owned);
            fields.push(Field {
                wire_name: wire_name.clone(),
                rust_name: naming::field_name(wire_name),
                description,
                ty,
                required,
                aliases,
                defaulted,
                scalar,
            });
        }
        Ok(StructDef {
            name: name.to_owned(),
            title: text(schema, "title"),
            description: text(schema, "description"),
            fields,
        })
    }

    /// The property an object requires under any of its spellings:
    /// `"if": {"not": {"anyOf": [{"required": [alias]}, ...]}}, "then": {"required": [name]}`
    /// (each alias may be declared beside its `required`, with its type),
    /// one `anyOf` member per `x-aliases` entry of the property `name` ("without any other
    /// spelling, the main one is required"). Validators read it; code generators, which would
    /// make a type per branch of an object-level `anyOf`, ignore it. Any other `if` is refused.
    fn required_by_spelling(
        &self,
        schema: &Value,
        properties: &Map<String, Value>,
        pointer: &str,
    ) -> Result<Option<String>, Error> {
        if schema.get("anyOf").is_some() {
            return Err(self.err(
                &format!("{pointer}/anyOf"),
                "an object's `anyOf` is not supported; see `if`/`then` for a property required under any spelling",
            ));
        }
        let Some(condition) = schema.get("if") else {
            return match schema.get("then") {
                Some(_) => Err(self.err(&format!("{pointer}/then"), "`then` without `if`")),
                None => Ok(None),
            };
        };
        let pointer = format!("{pointer}/if");
        let shape = "a property required under any spelling is `\"if\": {\"not\": {\"anyOf\": [{\"required\": [alias]}, ...]}}, \"then\": {\"required\": [name]}`, one member per `x-aliases` entry";
        // `{"required": [name]}`, optionally with `"properties": {name: ...}` (declaring the other
        // spelling there keeps Ajv's strict mode, which wants every required name declared).
        let single = |v: &Value| -> Option<String> {
            let member = v.as_object()?;
            let name = match member.get("required").and_then(Value::as_array).map(Vec::as_slice) {
                Some([Value::String(name)]) => name.clone(),
                _ => return None,
            };
            let declared = match member.get("properties") {
                None => member.len() == 1,
                Some(p) => member.len() == 2 && p.as_object().is_some_and(|p| p.len() == 1 && p.contains_key(&name)),
            };
            declared.then_some(name)
        };
        let main = schema
            .get("then")
            .and_then(single)
            .filter(|name| properties.contains_key(name))
            .ok_or_else(|| self.err(&pointer, shape))?;
        let not = condition
            .as_object()
            .filter(|c| c.len() == 1)
            .and_then(|c| c.get("not"))
            .filter(|n| n.as_object().is_some_and(|n| n.len() == 1))
            .and_then(|n| n.get("anyOf"))
            .and_then(Value::as_array)
            .ok_or_else(|| self.err(&pointer, shape))?;
        let mut listed =
            not.iter().map(single).collect::<Option<Vec<String>>>().ok_or_else(|| self.err(&pointer, shape))?;
        let mut aliases = self.aliases(&properties[&main], &pointer)?;
        listed.sort();
        aliases.sort();
        if listed != aliases || aliases.is_empty() {
            return Err(self.err(&pointer, shape));
        }
        Ok(Some(main))
    }

    /// A property's `x-aliases`: a list of other wire names that decode to the same field.
    fn aliases(&self, property: &Value, pointer: &str) -> Result<Vec<String>, Error> {
        let Some(aliases) = property.get("x-aliases") else { return Ok(Vec::new()) };
        let shape = "`x-aliases` must be a list of strings";
        let aliases = aliases.as_array().ok_or_else(|| self.err(pointer, shape))?;
        aliases.iter().map(|a| a.as_str().map(str::to_owned).ok_or_else(|| self.err(pointer, shape))).collect()
    }

    /// Whether an optional property has a `default`, which must be its type's empty value.
    fn defaulted(&self, property: &Value, ty: &Ty, required: bool, pointer: &str) -> Result<bool, Error> {
        let Some(default) = property.get("default") else { return Ok(false) };
        let empty = match ty {
            Ty::String => Value::from(""),
            Ty::I32 | Ty::U32 | Ty::I64 | Ty::U64 => Value::from(0),
            Ty::Bool => Value::from(false),
            Ty::Vec(_) => Value::Array(Vec::new()),
            _ => return Err(self.err(pointer, "`default` is supported on strings, integers, booleans and lists")),
        };
        if *default != empty {
            return Err(self.err(pointer, format!("`default` must be the empty value `{empty}`")));
        }
        if required {
            return Err(self.err(pointer, "a required property cannot have a `default`"));
        }
        Ok(true)
    }

    fn enum_def(&self, name: &str, schema: &Value, pointer: &str) -> Result<EnumDef, Error> {
        let mut variants = Vec::new();
        for member in schema["anyOf"].as_array().into_iter().flatten() {
            let Some(value) = member.get("const") else { continue };
            let wire_name = value.as_str().ok_or_else(|| self.err(pointer, "enum members must be string constants"))?;
            let rust_name = match member.get("x-rust-name") {
                Some(n) => n.as_str().ok_or_else(|| self.err(pointer, "`x-rust-name` must be a string"))?.to_owned(),
                None => naming::variant_name(wire_name),
            };
            let aliases = member
                .get("x-aliases")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default();
            variants.push(Variant {
                wire_name: wire_name.to_owned(),
                rust_name,
                description: text(member, "description"),
                aliases,
            });
        }
        if variants.iter().any(|v| v.rust_name == naming::OTHER_VARIANT) {
            return Err(self
                .err(pointer, format!("`{}` is reserved for values the schema does not list", naming::OTHER_VARIANT)));
        }
        Ok(EnumDef {
            name: name.to_owned(),
            title: text(schema, "title"),
            description: text(schema, "description"),
            variants,
        })
    }

    fn untagged_def(&self, name: &str, schema: &Value, pointer: &str) -> Result<UntaggedDef, Error> {
        let members = schema["anyOf"].as_array().map(Vec::as_slice).unwrap_or_default();
        let mut variants = Vec::new();
        for (i, member) in members.iter().enumerate() {
            let member_pointer = format!("{pointer}/anyOf/{i}");
            let variant = text(member, "title")
                .map(|t| naming::variant_name(&t))
                .ok_or_else(|| self.err(&member_pointer, "a member needs a `title`: its variant's name"))?;
            if variants.iter().any(|(v, _, _)| *v == variant) {
                return Err(self.err(&member_pointer, format!("another member is also titled `{variant}`")));
            }
            let holds = match member.get("type").and_then(Value::as_str) {
                Some("string") => Untagged::Value(Ty::String),
                Some("integer") => Untagged::Value(self.integer(member, &member_pointer)?),
                _ => Untagged::Map(
                    self.integer(&member["additionalProperties"], &format!("{member_pointer}/additionalProperties"))?,
                ),
            };
            variants.push((variant, text(member, "description"), holds));
        }
        Ok(UntaggedDef {
            name: name.to_owned(),
            title: text(schema, "title"),
            description: text(schema, "description"),
            variants,
        })
    }

    fn union_def(&self, name: &str, schema: &Value, pointer: &str) -> Result<UnionDef, Error> {
        let members = schema["oneOf"].as_array().ok_or_else(|| self.err(pointer, "`oneOf` must be an array"))?;
        let shape = "each `oneOf` member must be an object with a `const` tag property and a content property";
        let mut tag: Option<String> = None;
        let mut content: Option<String> = None;
        let mut variants = Vec::new();
        let mut other_description = None;
        let mut catch_alls = 0;
        for (i, member) in members.iter().enumerate() {
            let member_pointer = format!("{pointer}/oneOf/{i}");
            let properties =
                member.get("properties").and_then(Value::as_object).ok_or_else(|| self.err(&member_pointer, shape))?;
            let tag_name = properties
                .iter()
                .find(|(_, p)| p.get("const").is_some() || p.get("not").is_some())
                .map(|(k, _)| k.clone())
                .ok_or_else(|| self.err(&member_pointer, shape))?;
            let content_name = properties.keys().find(|k| **k != tag_name).cloned();
            if properties.len() > 2 {
                return Err(self.err(&member_pointer, shape));
            }
            if tag.get_or_insert_with(|| tag_name.clone()) != &tag_name {
                return Err(self.err(&member_pointer, "every member must use the same tag property"));
            }
            if let Some(content_name) = &content_name
                && content.get_or_insert_with(|| content_name.clone()) != content_name
            {
                return Err(self.err(&member_pointer, "every member must use the same content property"));
            }
            match properties[&tag_name].get("const") {
                Some(value) => {
                    let tag_value =
                        value.as_str().ok_or_else(|| self.err(&member_pointer, "the tag must be a string"))?;
                    let content_name = content_name.ok_or_else(|| self.err(&member_pointer, shape))?;
                    let rust_name = text(member, "x-rust-name")
                        .or_else(|| text(member, "title"))
                        .ok_or_else(|| self.err(&member_pointer, "a member needs a `title`: its variant's name"))?;
                    let rust_name = naming::variant_name(&rust_name);
                    let content_pointer = format!("{member_pointer}/properties/{content_name}");
                    variants.push(UnionVariant {
                        tag_value: tag_value.to_owned(),
                        rust_name,
                        description: text(member, "description"),
                        content: self.ty(&properties[&content_name], &content_pointer, false)?,
                    });
                }
                None => {
                    catch_alls += 1;
                    other_description = text(member, "description");
                }
            }
        }
        if catch_alls != 1 {
            return Err(self.err(
                pointer,
                "a tagged union needs exactly one catch-all member, whose tag is `{\"not\": {\"enum\": [...]}}`",
            ));
        }
        if variants.iter().any(|v| v.rust_name == naming::OTHER_VARIANT) {
            return Err(self.err(pointer, format!("`{}` is reserved for the catch-all member", naming::OTHER_VARIANT)));
        }
        Ok(UnionDef {
            name: name.to_owned(),
            title: text(schema, "title"),
            description: text(schema, "description"),
            tag: tag.unwrap_or_default(),
            content: content.ok_or_else(|| self.err(pointer, shape))?,
            variants,
            other_description,
        })
    }

    /// The description of a property: its own, or else that of the definition it refers to.
    fn description_of(&self, property: &Value) -> Result<Option<String>, Error> {
        if let Some(d) = text(property, "description") {
            return Ok(Some(d));
        }
        let reference = property.get("$ref").or_else(|| property.pointer("/items/$ref")).and_then(Value::as_str);
        Ok(match reference {
            Some(r) => {
                // A named type documents itself, so the field gets its title; an inlined
                // definition (such as the event time) lends its whole description.
                let (target, scope) = self.target(r, "")?;
                if is_object(target) || is_open_enum(target) || is_union(target) || is_untagged(target) {
                    text(target, "title").map(|t| format!("{t}."))
                } else if scope == Scope::Common {
                    // Common scalars are named types too (see `ScalarDef`), documented once.
                    text(target, "title").map(|t| format!("{t}.")).or_else(|| text(target, "description"))
                } else {
                    text(target, "description")
                }
            }
            None => None,
        })
    }

    /// The Rust type of a property schema.
    fn ty(&self, schema: &Value, pointer: &str, command_property: bool) -> Result<Ty, Error> {
        if let Some(value) = schema.get("const") {
            return match self.callback.filter(|_| command_property) {
                Some((command, request)) if value == command => Ok(Ty::CommandTag(request.to_owned())),
                Some((command, _)) => Err(self.err(pointer, format!("must be the command `{command}`"))),
                None => Err(self.err(pointer, "`const` is only supported on a callback's `CallbackCommand`")),
            };
        }
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            return self.resolve(reference, pointer);
        }
        if is_lenient_integer(schema) {
            return Ok(Ty::LenientU64);
        }
        if is_string_or_list(schema) {
            return Ok(Ty::StringOrList);
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("string") if schema.get("anyOf").is_none() => Ok(Ty::String),
            Some("boolean") => Ok(Ty::Bool),
            Some("number") => Ok(Ty::F64),
            Some("integer") => self.integer(schema, pointer),
            Some("array") => {
                let items = schema.get("items").ok_or_else(|| self.err(pointer, "an array needs `items`"))?;
                Ok(Ty::Vec(Box::new(self.ty(items, &format!("{pointer}/items"), false)?)))
            }
            Some("object") => Err(self.err(pointer, "name this object under `$defs` and refer to it with `$ref`")),
            _ => Err(self.err(pointer, "unsupported schema; see the list of supported forms in codegen/src/model.rs")),
        }
    }

    /// An integer's Rust type: from its `format`, whose range must hold its `minimum` and
    /// `maximum`, or else unsigned when its `minimum` is not negative.
    fn integer(&self, schema: &Value, pointer: &str) -> Result<Ty, Error> {
        let bound = |key: &str| -> Result<Option<i128>, Error> {
            match schema.get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_i64()
                    .map(i128::from)
                    .or_else(|| v.as_u64().map(i128::from))
                    .map(Some)
                    .ok_or_else(|| self.err(pointer, format!("`{key}` must be an integer"))),
            }
        };
        let (minimum, maximum) = (bound("minimum")?, bound("maximum")?);
        let Some(format) = schema.get("format") else {
            return Ok(if minimum.is_some_and(|m| m >= 0) { Ty::U64 } else { Ty::I64 });
        };
        let (ty, low, high) = match format.as_str() {
            Some("int32") => (Ty::I32, i128::from(i32::MIN), i128::from(i32::MAX)),
            Some("uint32") => (Ty::U32, 0, i128::from(u32::MAX)),
            Some("int64") => (Ty::I64, i128::from(i64::MIN), i128::from(i64::MAX)),
            Some("uint64") => (Ty::U64, 0, i128::from(u64::MAX)),
            _ => return Err(self.err(pointer, "an integer's `format` must be `int32`, `uint32`, `int64` or `uint64`")),
        };
        if let Some(outside) = [minimum, maximum].into_iter().flatten().find(|b| *b < low || *b > high) {
            return Err(self.err(
                pointer,
                format!("the bound {outside} does not fit the format `{}`", format.as_str().unwrap_or_default()),
            ));
        }
        if ty == Ty::U32 || ty == Ty::U64 {
            // An unsigned format with a negative value allowed would lose that value.
            if minimum.is_none_or(|m| m < 0) {
                return Err(self.err(pointer, "an unsigned `format` needs `minimum` 0 or more"));
            }
        }
        Ok(ty)
    }

    /// Resolves a `$ref` to a named type, or to the inlined type of a scalar definition.
    fn resolve(&self, reference: &str, pointer: &str) -> Result<Ty, Error> {
        let (target, scope) = self.target(reference, pointer)?;
        let name = reference.rsplit('/').next().unwrap_or_default().to_owned();
        if is_object(target) || is_open_enum(target) || is_union(target) || is_untagged(target) {
            Ok(Ty::Named(TypeRef { scope, name }))
        } else {
            let reader = Reader {
                file: self.file,
                root: if scope == Scope::Common { self.common } else { self.root },
                common: self.common,
                scope,
                callback: None,
            };
            reader.ty(target, pointer, false)
        }
    }

    fn target(&self, reference: &str, pointer: &str) -> Result<(&'a Value, Scope), Error> {
        let (root, scope, local) = if let Some(local) = reference.strip_prefix(&format!("{COMMON_FILE}#")) {
            (self.common, Scope::Common, local)
        } else if let Some(local) = reference.strip_prefix('#') {
            (self.root, self.scope.clone(), local)
        } else {
            return Err(self
                .err(pointer, format!("`{reference}`: only `#/$defs/…` and `{COMMON_FILE}#/$defs/…` are supported")));
        };
        if !local.starts_with("/$defs/") || local.matches('/').count() != 2 {
            return Err(self.err(pointer, format!("`{reference}` must point at a top-level `$defs` entry")));
        }
        let target =
            root.pointer(local).ok_or_else(|| self.err(pointer, format!("`{reference}` points at nothing")))?;
        Ok((target, scope))
    }
}

fn text(schema: &Value, key: &str) -> Option<String> {
    schema.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn is_object(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("object") && schema.get("oneOf").is_none()
}

fn is_union(schema: &Value) -> bool {
    schema.get("oneOf").is_some()
}

/// A definition generated as a newtype over a scalar: neither an object, an enum nor a union.
fn is_scalar(schema: &Value) -> bool {
    !is_object(schema) && !is_open_enum(schema) && !is_union(schema) && !is_untagged(schema)
}

/// `anyOf` of two or more members of different JSON types, each a plain `{type: string}`, an
/// `integer`, or an `object` with only `additionalProperties` of `integer`, and no `type` beside.
fn is_untagged(schema: &Value) -> bool {
    let Some(members) = schema.get("anyOf").and_then(Value::as_array) else { return false };
    let kind = |m: &Value| -> Option<&'static str> {
        match m.get("type").and_then(Value::as_str)? {
            "string" if ["const", "pattern", "enum"].iter().all(|k| m.get(*k).is_none()) => Some("string"),
            "integer" => Some("integer"),
            "object"
                if m.get("properties").is_none()
                    && m.get("additionalProperties")
                        .is_some_and(|v| v.get("type").and_then(Value::as_str) == Some("integer")) =>
            {
                Some("object")
            }
            _ => None,
        }
    };
    let Some(mut kinds) = members.iter().map(kind).collect::<Option<Vec<&str>>>() else { return false };
    let count = kinds.len();
    kinds.sort_unstable();
    kinds.dedup();
    schema.get("type").is_none() && count >= 2 && kinds.len() == count
}

/// `type: string` with `anyOf` of string constants and one catch-all `{type: string}`.
fn is_open_enum(schema: &Value) -> bool {
    let Some(members) = schema.get("anyOf").and_then(Value::as_array) else { return false };
    let catch_all = |m: &Value| m.get("type").and_then(Value::as_str) == Some("string") && m.get("const").is_none();
    schema.get("type").and_then(Value::as_str) == Some("string")
        && members.iter().filter(|m| catch_all(m)).count() == 1
        && members.iter().all(|m| catch_all(m) || m.get("const").is_some_and(Value::is_string))
}

/// `anyOf: [{type: array, items: {type: string}}, {type: string}]`, in either order: a list the
/// vendor sometimes sends as a single string.
fn is_string_or_list(schema: &Value) -> bool {
    let Some([a, b]) = schema.get("anyOf").and_then(Value::as_array).map(Vec::as_slice) else { return false };
    let is_string = |m: &Value| *m == serde_json::json!({"type": "string"});
    let is_list = |m: &Value| *m == serde_json::json!({"type": "array", "items": {"type": "string"}});
    (is_list(a) && is_string(b)) || (is_string(a) && is_list(b))
}

/// `anyOf: [{type: integer}, {type: string, pattern}]`: a number the vendor sometimes quotes.
fn is_lenient_integer(schema: &Value) -> bool {
    let Some([a, b]) = schema.get("anyOf").and_then(Value::as_array).map(Vec::as_slice) else { return false };
    let has_type = |m: &Value, t: &str| m.get("type").and_then(Value::as_str) == Some(t);
    has_type(a, "integer") && has_type(b, "string") && b.get("pattern").is_some()
}
