//! A callback's request type, its own definitions and its `Callback` impl.

use proc_macro2::TokenStream;
use quote::quote;

use super::decision::decision_tokens;
use super::ident;
use super::types::{struct_tokens, type_def, type_ref};
use crate::model::{CallbackDef, Kind, Scope};

pub(super) fn kind(kind: Kind) -> TokenStream {
    match kind {
        Kind::Before => quote!(CallbackKind::Before),
        Kind::After => quote!(CallbackKind::After),
    }
}

/// The request type of a callback, its own definitions and its `Callback` impl.
pub(super) fn callback_items(callback: &CallbackDef) -> TokenStream {
    let request = &callback.request;
    let mut doc = String::new();
    if let Some(title) = &request.title {
        doc.push_str(&format!("{title}.\n\n"));
    }
    if let Some(description) = &request.description {
        doc.push_str(&format!("{description}\n\n"));
    }
    doc.push_str(&format!(
        "Command: `{}`. Vendor documentation: <{}> (last updated {}).",
        callback.command, callback.doc_url, callback.doc_updated
    ));
    let request_struct = struct_tokens(request, &doc);
    let defs = callback.defs.iter().map(type_def);
    let name = ident(&request.name);
    let command = &callback.command;
    let kind = kind(callback.kind);
    let reply = type_ref(&callback.reply);
    let decision = callback.decision.as_ref().map(|d| decision_tokens(callback, d));
    // A callback's own reply type can always be returned by its handler as it is.
    let own_reply = (callback.reply.scope == Scope::Local).then(|| {
        quote! {
            #[diagnostic::do_not_recommend]
            impl IntoReply<#reply> for #reply {
                fn into_reply(self) -> Result<Self, BoxError> {
                    Ok(self)
                }
            }
        }
    });
    quote! {
        #request_struct

        impl Callback for #name {
            const COMMAND: &'static str = #command;
            const KIND: CallbackKind = #kind;
            type Reply = #reply;
        }

        #(#defs)*
        #own_reply
        #decision
    }
}
