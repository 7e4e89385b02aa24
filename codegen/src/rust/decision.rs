//! A before-callback's decision: one variant per answer the command accepts, and its conversion
//! into the reply.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::types::rust_type;
use super::{doc_attrs, ident};
use crate::model::{CallbackDef, DecisionDef, Field, StructDef, Ty};

/// Fields of a reply other than `ActionStatus`, `ErrorCode` and `ErrorInfo`.
pub(super) fn reply_extras(reply: &StructDef) -> impl Iterator<Item = &Field> {
    reply.fields.iter().filter(|f| !["ActionStatus", "ErrorCode", "ErrorInfo"].contains(&f.wire_name.as_str()))
}

/// A before-callback's decision enum: one variant per answer the command accepts, each documented
/// with what the vendor does with it, and its conversion into the reply.
pub(super) fn decision_tokens(callback: &CallbackDef, decision: &DecisionDef) -> TokenStream {
    let reply = callback.own_reply();
    let base = &callback.request.name;
    let name = format_ident!("{base}Decision");
    let reply_name = ident(&reply.name);
    let command = &callback.command;
    let (changed, extra): (Vec<&Field>, Vec<&Field>) =
        reply_extras(reply).partition(|f| decision.modifiable.contains(&f.wire_name));

    let mut variants = vec![quote! {
        /// Allow it unchanged: `ErrorCode` 0. A command without a handler gets this answer too.
        Allow,
    }];
    // Each arm only changes what differs from the allowing answer `From` starts with.
    let mut arms = vec![quote!(#name::Allow => {})];
    let mut items = Vec::new();
    for (fields, variant, suffix, doc) in [
        (
            &changed,
            "Modify",
            "Changes",
            "Allow it with changed content: `ErrorCode` 0 with the fields given. Changes are applied only with `ErrorCode` 0, which this sends.",
        ),
        (
            &extra,
            "AllowWith",
            "Answer",
            "Allow it, with the command's extra answers: `ErrorCode` 0 with the fields given.",
        ),
    ] {
        if fields.is_empty() {
            continue;
        }
        let variant = ident(variant);
        let payload = format_ident!("{base}{suffix}");
        let doc = doc_attrs(doc);
        variants.push(quote!(#doc #variant(#payload),));
        let set: Vec<Ident> = fields.iter().map(|f| ident(&f.rust_name)).collect();
        arms.push(quote!(#name::#variant(payload) => { #(reply.#set = payload.#set;)* }));
        let struct_doc = doc_attrs(&format!(
            "The fields of [`{name}::{variant}`]; a field left `None` is not sent, a list the vendor \
             requires is always sent. Start from `{payload}::default()` and set fields with the methods \
             of the same name."
        ));
        let field_tokens = fields.iter().map(|f| {
            let docs = doc_attrs(f.description.as_deref().unwrap_or_default());
            let field = ident(&f.rust_name);
            let ty = rust_type(&f.ty);
            match f.required || f.defaulted {
                true => quote!(#docs pub #field: #ty,),
                false => quote!(#docs pub #field: Option<#ty>,),
            }
        });
        let setters = fields.iter().map(|f| {
            let field = ident(&f.rust_name);
            let ty = rust_type(&f.ty);
            let doc = doc_attrs(&format!("Sets `{}`.", f.wire_name));
            let value = match f.required || f.defaulted {
                true => quote!(#field),
                false => quote!(Some(#field)),
            };
            quote! {
                #doc
                pub fn #field(mut self, #field: #ty) -> Self {
                    self.#field = #value;
                    self
                }
            }
        });
        items.push(quote! {
            #struct_doc
            #[derive(Debug, Clone, PartialEq, Default)]
            #[non_exhaustive]
            pub struct #payload { #(#field_tokens)* }

            impl #payload {
                #(#setters)*
            }
        });
    }
    if decision.refuse {
        let client =
            decision.refused_client_error.map(|code| format!("; the client gets error {code}")).unwrap_or_default();
        let doc = doc_attrs(&format!("Refuse it: `ErrorCode` 1{client}."));
        variants.push(quote!(#doc Refuse,));
        arms.push(quote!(#name::Refuse => reply.error_code = 1));
    }
    if decision.drop {
        variants.push(quote! {
            /// Drop it silently: `ErrorCode` 2; the sender is told it succeeded, and nobody receives it.
            Drop,
        });
        arms.push(quote!(#name::Drop => reply.error_code = 2));
    }
    let mut constructors = Vec::new();
    if let (true, Some((min, max))) = (decision.refuse, decision.app_error_codes) {
        let doc = doc_attrs(&format!(
            "Refuse it with an app-defined code in {min}..={max}, which the client receives with the reason. \
             Build it with [`{name}::refuse_with`], which checks the range."
        ));
        let (min, max) = (proc_macro2::Literal::i64_unsuffixed(min), proc_macro2::Literal::i64_unsuffixed(max));
        let code_ty = quote!(::tencent_chat_callbacks::AppErrorCode<#min, #max>);
        variants.push(quote!(#doc RefuseWithCode(#code_ty, String),));
        arms.push(quote!(#name::RefuseWithCode(code, reason) => {
            reply.error_code = code.get();
            reply.error_info = reason;
        }));
        let ctor_doc =
            doc_attrs(&format!("[`{name}::RefuseWithCode`], or an error when `code` is outside {min}..={max}."));
        constructors.push(quote! {
            impl #name {
                #ctor_doc
                pub fn refuse_with(
                    code: i64,
                    reason: impl Into<String>,
                ) -> Result<Self, ::tencent_chat_callbacks::ErrorCodeOutOfRange> {
                    Ok(#name::RefuseWithCode(<#code_ty>::new(code)?, reason.into()))
                }
            }
        });
    }
    // The allowing answer, from the reply's constructor: a list the vendor requires starts empty.
    let allowing =
        reply.fields.iter().filter(|f| (f.required || f.defaulted) && !matches!(f.ty, Ty::CommandTag(_))).map(|f| {
            match f.wire_name.as_str() {
                "ActionStatus" => quote!(ActionStatus::Ok),
                "ErrorCode" => quote!(0),
                "ErrorInfo" => quote!(String::new()),
                _ => quote!(Default::default()),
            }
        });
    let doc = doc_attrs(&format!(
        "The app's answer to a `{command}` callback. Return it from the handler; it is sent as [`{}`].",
        reply.name
    ));
    quote! {
        #doc
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum #name {
            #(#variants)*
        }

        #(#constructors)*

        impl From<#name> for #reply_name {
            fn from(decision: #name) -> Self {
                let mut reply = #reply_name::new(#(#allowing),*);
                match decision { #(#arms,)* }
                reply
            }
        }

        #[diagnostic::do_not_recommend]
        impl IntoReply<#reply_name> for #name {
            fn into_reply(self) -> Result<#reply_name, BoxError> {
                Ok(self.into())
            }
        }

        #(#items)*
    }
}
