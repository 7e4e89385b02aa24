//! Structs, their fields, untagged values and the newtypes of shared scalars.

use proc_macro2::TokenStream;
use quote::quote;

use super::enums::{enum_tokens, union_tokens};
use super::{doc_attrs, ident, title_and_description};
use crate::model::{Field, ScalarDef, StructDef, Ty, TypeDef, TypeRef, Untagged, UntaggedDef};

/// A scalar definition of `common.json` as a newtype, so that every field using it shares one
/// documented type. An integer the vendor may quote decodes from a number or a digit string.
pub(super) fn scalar_tokens(def: &ScalarDef) -> TokenStream {
    let name = ident(&def.name);
    let name_str = &def.name;
    let docs = doc_attrs(&title_and_description(&def.title, &def.description));
    let inner = match &def.ty {
        Ty::LenientU64 => quote!(u64),
        other => rust_type(other),
    };
    let derives = match &def.ty {
        Ty::F64 => quote!(Clone, Copy, PartialEq, PartialOrd, Default),
        Ty::String | Ty::Vec(_) | Ty::Named(_) => quote!(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default),
        _ => quote!(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default),
    };
    let serde = if def.ty == Ty::LenientU64 {
        quote! {
            impl Serialize for #name {
                fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                    ::tencent_chat_callbacks::__private::lenient_u64::serialize(&self.0, serializer)
                }
            }

            impl<'de> Deserialize<'de> for #name {
                fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                    ::tencent_chat_callbacks::__private::lenient_u64::deserialize(deserializer).map(#name)
                }
            }

            #[cfg(feature = "schemars")]
            impl ::schemars::JsonSchema for #name {
                fn schema_name() -> ::std::borrow::Cow<'static, str> {
                    ::std::borrow::Cow::Borrowed(#name_str)
                }

                fn json_schema(generator: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                    <::tencent_chat_callbacks::__private::LenientU64 as ::schemars::JsonSchema>::json_schema(generator)
                }
            }
        }
    } else {
        quote! {
            impl Serialize for #name {
                fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                    Serialize::serialize(&self.0, serializer)
                }
            }

            impl<'de> Deserialize<'de> for #name {
                fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                    Deserialize::deserialize(deserializer).map(#name)
                }
            }

            #[cfg(feature = "schemars")]
            impl ::schemars::JsonSchema for #name {
                fn schema_name() -> ::std::borrow::Cow<'static, str> {
                    ::std::borrow::Cow::Borrowed(#name_str)
                }

                fn json_schema(generator: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                    <#inner as ::schemars::JsonSchema>::json_schema(generator)
                }
            }
        }
    };
    quote! {
        #docs
        #[derive(#derives)]
        pub struct #name(pub #inner);

        impl From<#inner> for #name {
            fn from(value: #inner) -> Self {
                #name(value)
            }
        }

        impl From<#name> for #inner {
            fn from(value: #name) -> Self {
                value.0
            }
        }

        impl PartialEq<#inner> for #name {
            fn eq(&self, other: &#inner) -> bool {
                self.0 == *other
            }
        }

        /// Shows the value alone, as the field would show without the newtype.
        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Debug::fmt(&self.0, f)
            }
        }

        #serde
    }
}

pub(super) fn type_def(def: &TypeDef) -> TokenStream {
    match def {
        TypeDef::Struct(s) => struct_tokens(s, &title_and_description(&s.title, &s.description)),
        TypeDef::Enum(e) => enum_tokens(e),
        TypeDef::Union(u) => union_tokens(u),
        TypeDef::Untagged(u) => untagged_tokens(u),
    }
}

/// A value of one of a few JSON types, told apart by the type alone (`serde(untagged)`): the
/// members' JSON types differ, so no value decodes to the wrong variant.
pub(super) fn untagged_tokens(def: &UntaggedDef) -> TokenStream {
    let name = ident(&def.name);
    let docs = doc_attrs(&title_and_description(&def.title, &def.description));
    let variants = def.variants.iter().map(|(variant, doc, holds)| {
        let (variant, doc) = (ident(variant), doc_attrs(doc.as_deref().unwrap_or_default()));
        let ty = match holds {
            Untagged::Value(ty) => rust_type(ty),
            Untagged::Map(ty) => {
                let ty = rust_type(ty);
                quote!(::std::collections::BTreeMap<String, #ty>)
            }
        };
        quote! { #doc #variant(#ty) }
    });
    quote! {
        #docs
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[cfg_attr(feature = "schemars", derive(::schemars::JsonSchema))]
        #[serde(untagged)]
        pub enum #name {
            #(#variants,)*
        }
    }
}

/// A struct, `#[non_exhaustive]` so that a field added to the schema is not a breaking change,
/// with `new` taking its required fields and those read as empty when missing (or `Default`,
/// when it has none).
pub(super) fn struct_tokens(def: &StructDef, doc: &str) -> TokenStream {
    let name = ident(&def.name);
    let docs = doc_attrs(doc);
    let fields = def.fields.iter().map(field_tokens);
    let arguments: Vec<&Field> =
        def.fields.iter().filter(|f| (f.required || f.defaulted) && !matches!(f.ty, Ty::CommandTag(_))).collect();
    let (default, constructor) = if arguments.is_empty() {
        (quote!(Default,), quote!())
    } else {
        let params = arguments.iter().map(|f| {
            let field = ident(&f.rust_name);
            let ty = field_type(f);
            quote!(#field: #ty)
        });
        let values = def.fields.iter().map(|f| {
            let field = ident(&f.rust_name);
            match &f.ty {
                Ty::CommandTag(_) => quote!(#field: CommandTag::new()),
                _ if f.required || f.defaulted => quote!(#field),
                _ => quote!(#field: None),
            }
        });
        let many = (arguments.len() > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]));
        let doc = doc_attrs("Builds it from its required fields; optional ones are `None` and may be set afterwards.");
        let constructor = quote! {
            impl #name {
                #doc
                #many
                pub fn new(#(#params),*) -> Self {
                    #name { #(#values,)* }
                }
            }
        };
        (quote!(), constructor)
    };
    quote! {
        #docs
        #[derive(Debug, Clone, PartialEq, #default Serialize, Deserialize)]
        #[cfg_attr(feature = "schemars", derive(::schemars::JsonSchema))]
        #[non_exhaustive]
        pub struct #name {
            #(#fields,)*
        }

        #constructor
    }
}

/// The Rust type of a field as declared, `Option` included.
pub(super) fn field_type(field: &Field) -> TokenStream {
    let ty = match (&field.scalar, &field.ty) {
        (Some(scalar), _) => {
            let name = ident(scalar);
            quote!(#name)
        }
        (None, Ty::CommandTag(request)) => {
            let request = ident(request);
            return quote!(CommandTag<#request>);
        }
        (None, Ty::LenientU64) => quote!(u64),
        (None, other) => rust_type(other),
    };
    if field.required || field.defaulted { ty } else { quote!(Option<#ty>) }
}

/// A field with its doc and one `#[serde(...)]` attribute holding everything serde needs: the
/// wire name, other spellings, what a missing value reads as, and the helper of a lenient type.
pub(super) fn field_tokens(field: &Field) -> TokenStream {
    let name = ident(&field.rust_name);
    let wire = &field.wire_name;
    let description = match (&field.ty, &field.description) {
        (Ty::CommandTag(_), _) => format!("The command word, `{wire}`; always this callback's own command."),
        (_, Some(d)) => d.clone(),
        (_, None) => String::new(),
    };
    let docs = doc_attrs(&description);
    let ty = field_type(field);
    let mut serde: Vec<TokenStream> = Vec::new();
    if field.rust_name != field.wire_name {
        serde.push(quote!(rename = #wire));
    }
    serde.extend(field.aliases.iter().map(|alias| quote!(alias = #alias)));
    let optional = !field.required && !field.defaulted;
    if !field.required {
        serde.push(quote!(default));
    }
    if optional {
        serde.push(quote!(skip_serializing_if = "Option::is_none"));
    }
    // A named scalar decodes itself; only inlined lenient integers and string-or-lists need a helper.
    let helper = match (&field.ty, field.scalar.is_none()) {
        (Ty::LenientU64, true) => Some(("lenient_u64", "LenientU64")),
        (Ty::StringOrList, _) => Some(("string_or_list", "StringOrList")),
        _ => None,
    };
    let schemars = helper.map(|(module, schema)| {
        let with = format!("::tencent_chat_callbacks::__private::{module}{}", if optional { "::option" } else { "" });
        serde.push(quote!(with = #with));
        let schema = match optional {
            true => format!("Option<::tencent_chat_callbacks::__private::{schema}>"),
            false => format!("::tencent_chat_callbacks::__private::{schema}"),
        };
        quote!(#[cfg_attr(feature = "schemars", schemars(with = #schema))])
    });
    let serde = (!serde.is_empty()).then(|| quote!(#[serde(#(#serde),*)]));
    quote! {
        #docs
        #serde
        #schemars
        pub #name: #ty
    }
}

pub(super) fn rust_type(ty: &Ty) -> TokenStream {
    match ty {
        Ty::String => quote!(String),
        Ty::Bool => quote!(bool),
        Ty::I32 => quote!(i32),
        Ty::U32 => quote!(u32),
        Ty::I64 => quote!(i64),
        Ty::U64 => quote!(u64),
        Ty::F64 => quote!(f64),
        // Inside a list the value is plain; `model` only allows the lenient form on a field.
        Ty::LenientU64 => quote!(u64),
        // Outside a field (a reply's changes) the list is always encoded as a list.
        Ty::StringOrList => quote!(Vec<String>),
        Ty::Vec(item) => {
            let item = rust_type(item);
            quote!(Vec<#item>)
        }
        Ty::Named(r) => type_ref(r),
        Ty::CommandTag(_) => unreachable!("handled by field_tokens"),
    }
}

/// A named type, by its bare name: a namespace module imports the `common` types it uses.
pub(super) fn type_ref(r: &TypeRef) -> TokenStream {
    let name = ident(&r.name);
    quote!(#name)
}
