//! Open string enums and tagged unions: a variant per known value, and one that keeps the rest.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::types::rust_type;
use super::{doc_attrs, ident, title_and_description};
use crate::model::{EnumDef, UnionDef};
use crate::naming;

/// An open enum: a variant per known value, `Other(String)` for the rest, and hand-rolled serde
/// impls so that an unknown value decodes instead of failing.
pub(super) fn enum_tokens(def: &EnumDef) -> TokenStream {
    let name = ident(&def.name);
    let docs = doc_attrs(&format!(
        "{}\n\nA value this version does not know decodes to [`{}::{}`] and is kept as sent.",
        title_and_description(&def.title, &def.description),
        def.name,
        naming::OTHER_VARIANT
    ));
    let other = ident(naming::OTHER_VARIANT);
    let variants: Vec<Ident> = def.variants.iter().map(|v| ident(&v.rust_name)).collect();
    let variant_docs = def.variants.iter().map(|v| {
        doc_attrs(&format!(
            "`{}`{}",
            v.wire_name,
            v.description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
        ))
    });
    let wire: Vec<&str> = def.variants.iter().map(|v| v.wire_name.as_str()).collect();
    let patterns = def.variants.iter().map(|v| {
        let all = std::iter::once(&v.wire_name).chain(&v.aliases);
        quote!(#(#all)|*)
    });
    let schema_members = def.variants.iter().map(|v| {
        let value = &v.wire_name;
        quote!({ "const": #value })
    });
    let name_str = &def.name;
    quote! {
        #docs
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum #name {
            #(#variant_docs #variants,)*
            /// A value this version of the schema does not list, kept as sent.
            #other(String),
        }

        impl #name {
            /// The value as sent on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    #(#name::#variants => #wire,)*
                    #name::#other(value) => value,
                }
            }
        }

        impl From<&str> for #name {
            fn from(value: &str) -> Self {
                match value {
                    #(#patterns => #name::#variants,)*
                    other => #name::#other(other.to_owned()),
                }
            }
        }

        impl ::core::fmt::Display for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for #name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                ::tencent_chat_callbacks::__private::deserialize_str_into(deserializer)
            }
        }

        #[cfg(feature = "schemars")]
        impl ::schemars::JsonSchema for #name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(#name_str)
            }

            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                ::schemars::json_schema!({
                    "type": "string",
                    "anyOf": [#(#schema_members,)* { "type": "string" }]
                })
            }
        }
    }
}

/// A tagged union: a variant per known tag holding its typed content, `Other` for the rest with
/// the content kept as JSON. Decoding reads the tag and then decodes the content as that tag's
/// type (see `__private::deserialize_tagged`); it never guesses from the content's shape.
pub(super) fn union_tokens(def: &UnionDef) -> TokenStream {
    let name = ident(&def.name);
    let (tag, content) = (&def.tag, &def.content);
    let docs = doc_attrs(&format!(
        "{}\n\nThe `{tag}` field selects the variant and `{content}` is decoded as its type. A `{tag}` this \
         version does not know decodes to [`{}::{}`], with the content kept as sent.",
        title_and_description(&def.title, &def.description),
        def.name,
        naming::OTHER_VARIANT
    ));
    let other = ident(naming::OTHER_VARIANT);
    let tag_field = ident(&naming::field_name(tag));
    let content_field = ident(&naming::field_name(content));
    let variants: Vec<Ident> = def.variants.iter().map(|v| ident(&v.rust_name)).collect();
    let tags: Vec<&str> = def.variants.iter().map(|v| v.tag_value.as_str()).collect();
    let types: Vec<TokenStream> = def.variants.iter().map(|v| rust_type(&v.content)).collect();
    let variant_docs = def.variants.iter().map(|v| {
        doc_attrs(&format!(
            "`{}`{}",
            v.tag_value,
            v.description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
        ))
    });
    let other_docs =
        doc_attrs(def.other_description.as_deref().unwrap_or("An element type this version does not know."));
    let tag_doc = format!(" The `{tag}` value, as sent.");
    let content_doc = format!(" The `{content}` value, as sent.");
    quote! {
        #docs
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum #name {
            #(#variant_docs #variants(#types),)*
            #other_docs
            #other {
                #[doc = #tag_doc]
                #tag_field: String,
                #[doc = #content_doc]
                #content_field: ::serde_json::Value,
            },
        }

        impl #name {
            #[doc = #tag_doc]
            pub fn tag(&self) -> &str {
                match self {
                    #(#name::#variants(_) => #tags,)*
                    #name::#other { #tag_field, .. } => #tag_field,
                }
            }
        }

        impl ::tencent_chat_callbacks::__private::TaggedUnion for #name {
            const TAG: &'static str = #tag;
            const CONTENT: &'static str = #content;

            fn content<'de, D: ::serde::Deserializer<'de>>(tag: &str, content: D) -> Result<Self, D::Error> {
                match tag {
                    #(#tags => Deserialize::deserialize(content).map(#name::#variants),)*
                    other => Ok(#name::#other {
                        #tag_field: other.to_owned(),
                        #content_field: Deserialize::deserialize(content)?,
                    }),
                }
            }
        }

        impl Serialize for #name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use ::serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry(#tag, self.tag())?;
                match self {
                    #(#name::#variants(content) => map.serialize_entry(#content, content)?,)*
                    #name::#other { #content_field, .. } => map.serialize_entry(#content, #content_field)?,
                }
                map.end()
            }
        }

        impl<'de> Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                ::tencent_chat_callbacks::__private::deserialize_tagged(deserializer)
            }
        }

        #[cfg(feature = "schemars")]
        impl ::schemars::JsonSchema for #name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(stringify!(#name))
            }

            fn json_schema(generator: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                ::schemars::json_schema!({
                    "type": "object",
                    "oneOf": [
                        #({
                            "type": "object",
                            "properties": { #tag: { "const": #tags }, #content: generator.subschema_for::<#types>() },
                            "required": [#tag, #content]
                        },)*
                        {
                            "type": "object",
                            "properties": { #tag: { "type": "string", "not": { "enum": [#(#tags),*] } } },
                            "required": [#tag]
                        }
                    ]
                })
            }
        }
    }
}
