//! Objects: their properties, what each requires, its other spellings and its default.

use serde_json::{Map, Value};

use super::forms::{is_object, is_open_enum, is_scalar, is_union, is_untagged, text};
use super::reader::Reader;
use super::{COMMON_FILE, Field, Scope, StructDef, Ty};
use crate::{Error, naming};

impl Reader<'_> {
    pub(super) fn struct_def(&self, name: &str, schema: &Value, pointer: &str) -> Result<StructDef, Error> {
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
    pub(super) fn required_by_spelling(
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
    pub(super) fn aliases(&self, property: &Value, pointer: &str) -> Result<Vec<String>, Error> {
        let Some(aliases) = property.get("x-aliases") else { return Ok(Vec::new()) };
        let shape = "`x-aliases` must be a list of strings";
        let aliases = aliases.as_array().ok_or_else(|| self.err(pointer, shape))?;
        aliases.iter().map(|a| a.as_str().map(str::to_owned).ok_or_else(|| self.err(pointer, shape))).collect()
    }

    /// Whether an optional property has a `default`, which must be its type's empty value.
    pub(super) fn defaulted(&self, property: &Value, ty: &Ty, required: bool, pointer: &str) -> Result<bool, Error> {
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

    /// The description of a property: its own, or else that of the definition it refers to.
    pub(super) fn description_of(&self, property: &Value) -> Result<Option<String>, Error> {
        if let Some(d) = text(property, "description") {
            return Ok(Some(d));
        }
        let reference = property.get("$ref").or_else(|| property.pointer("/items/$ref")).and_then(Value::as_str);
        let Some(reference) = reference else { return Ok(None) };
        // A named type documents itself, so the field gets the first sentence of its description
        // (or its title), in words; an inlined local definition lends its whole description.
        let (target, scope) = self.target(reference, "")?;
        let named = is_object(target) || is_open_enum(target) || is_union(target) || is_untagged(target);
        Ok(if named || scope == Scope::Common {
            text(target, "description")
                .map(|d| first_sentence(&d))
                .or_else(|| text(target, "title").map(|t| format!("{t}.")))
        } else {
            text(target, "description")
        })
    }
}

/// The first sentence of `text`: up to the first full stop followed by a space, or all of it.
fn first_sentence(text: &str) -> String {
    match text.find(". ") {
        Some(end) => text[..=end].to_owned(),
        None => text.to_owned(),
    }
}
