//! The supported forms of a property schema, and the Rust type of each: scalars, integers with
//! their widths, lists, and references to named definitions.

use serde_json::Value;

use super::reader::Reader;
use super::{COMMON_FILE, Scope, Ty, TypeRef};
use crate::Error;

impl<'a> Reader<'a> {
    /// The Rust type of a property schema.
    pub(super) fn ty(&self, schema: &Value, pointer: &str, command_property: bool) -> Result<Ty, Error> {
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
            _ => {
                Err(self
                    .err(pointer, "unsupported schema; see the list of supported forms in codegen/src/model/mod.rs"))
            }
        }
    }

    /// An integer's Rust type: from its `format`, whose range must hold its `minimum` and
    /// `maximum`, or else unsigned when its `minimum` is not negative.
    pub(super) fn integer(&self, schema: &Value, pointer: &str) -> Result<Ty, Error> {
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
    pub(super) fn resolve(&self, reference: &str, pointer: &str) -> Result<Ty, Error> {
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

    pub(super) fn target(&self, reference: &str, pointer: &str) -> Result<(&'a Value, Scope), Error> {
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

pub(super) fn text(schema: &Value, key: &str) -> Option<String> {
    schema.get(key).and_then(Value::as_str).map(str::to_owned)
}

pub(super) fn is_object(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("object") && schema.get("oneOf").is_none()
}

pub(super) fn is_union(schema: &Value) -> bool {
    schema.get("oneOf").is_some()
}

/// A definition generated as a newtype over a scalar: neither an object, an enum nor a union.
pub(super) fn is_scalar(schema: &Value) -> bool {
    !is_object(schema) && !is_open_enum(schema) && !is_union(schema) && !is_untagged(schema)
}

/// `anyOf` of two or more members of different JSON types, each a plain `{type: string}`, an
/// `integer`, or an `object` with only `additionalProperties` of `integer`, and no `type` beside.
pub(super) fn is_untagged(schema: &Value) -> bool {
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
pub(super) fn is_open_enum(schema: &Value) -> bool {
    let Some(members) = schema.get("anyOf").and_then(Value::as_array) else { return false };
    let catch_all = |m: &Value| m.get("type").and_then(Value::as_str) == Some("string") && m.get("const").is_none();
    schema.get("type").and_then(Value::as_str) == Some("string")
        && members.iter().filter(|m| catch_all(m)).count() == 1
        && members.iter().all(|m| catch_all(m) || m.get("const").is_some_and(Value::is_string))
}

/// `anyOf: [{type: array, items: {type: string}}, {type: string}]`, in either order: a list the
/// vendor sometimes sends as a single string.
pub(super) fn is_string_or_list(schema: &Value) -> bool {
    let Some([a, b]) = schema.get("anyOf").and_then(Value::as_array).map(Vec::as_slice) else { return false };
    let is_string = |m: &Value| *m == serde_json::json!({"type": "string"});
    let is_list = |m: &Value| *m == serde_json::json!({"type": "array", "items": {"type": "string"}});
    (is_list(a) && is_string(b)) || (is_string(a) && is_list(b))
}

/// `anyOf: [{type: integer}, {type: string, pattern}]`: a number the vendor sometimes quotes.
pub(super) fn is_lenient_integer(schema: &Value) -> bool {
    let Some([a, b]) = schema.get("anyOf").and_then(Value::as_array).map(Vec::as_slice) else { return false };
    let has_type = |m: &Value, t: &str| m.get("type").and_then(Value::as_str) == Some(t);
    has_type(a, "integer") && has_type(b, "string") && b.get("pattern").is_some()
}
