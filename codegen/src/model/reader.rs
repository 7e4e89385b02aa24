//! Reads one schema file: a callback's command, kind, reply and decision, and its named
//! definitions.

use serde_json::Value;

use super::forms::{is_object, is_open_enum, is_union, is_untagged, text};
use super::{CallbackDef, DecisionDef, Kind, ScalarDef, Scope, Ty, TypeDef, TypeRef};
use crate::{Error, naming};

/// Reads one schema file.
pub(super) struct Reader<'a> {
    pub(super) file: &'a str,
    pub(super) root: &'a Value,
    pub(super) common: &'a Value,
    /// Where `#/$defs/…` references of this file are generated.
    pub(super) scope: Scope,
    /// For a callback's file: its command and request type name.
    pub(super) callback: Option<(&'a str, &'a str)>,
}

impl<'a> Reader<'a> {
    pub(super) fn err(&self, pointer: &str, message: impl Into<String>) -> Error {
        Error::schema(self.file, pointer, message)
    }

    pub(super) fn callback(&self) -> Result<CallbackDef, Error> {
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
    pub(super) fn decision(&self, meta: &Value, kind: Kind, reply: &Value) -> Result<Option<DecisionDef>, Error> {
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

    pub(super) fn meta_str(&self, meta: &Value, key: &str) -> Result<String, Error> {
        meta.get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| self.err(&format!("/x-callback/{key}"), "missing or not a string"))
    }

    /// The scalar definitions under `$defs` (those neither objects, enums nor unions), in file order.
    pub(super) fn scalar_defs(&self) -> Result<Vec<ScalarDef>, Error> {
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
    pub(super) fn named_defs(&self, skip: &[&str]) -> Result<Vec<TypeDef>, Error> {
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
}
