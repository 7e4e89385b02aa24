//! Values chosen from a set: open string enums, untagged values of a few JSON types, and
//! tagged unions.

use serde_json::Value;

use super::forms::text;
use super::reader::Reader;
use super::{EnumDef, Ty, UnionDef, UnionVariant, Untagged, UntaggedDef, Variant};
use crate::{Error, naming};

impl Reader<'_> {
    pub(super) fn enum_def(&self, name: &str, schema: &Value, pointer: &str) -> Result<EnumDef, Error> {
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

    pub(super) fn untagged_def(&self, name: &str, schema: &Value, pointer: &str) -> Result<UntaggedDef, Error> {
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

    pub(super) fn union_def(&self, name: &str, schema: &Value, pointer: &str) -> Result<UnionDef, Error> {
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
}
