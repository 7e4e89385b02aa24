//! Writing the output: the impl block as written (attributes taken off) and its
//! `impl Handlers`, registering each handler with `DispatcherBuilder::on` and the fallback.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemImpl, Type};

use crate::parse::Methods;

/// Where a type's name is written: the last segment of a path, since spans do not join on stable.
fn name_span(ty: &Type) -> Span {
    match ty {
        Type::Path(path) => path.path.segments.last().map_or_else(|| ty.span(), |s| s.ident.span()),
        other => other.span(),
    }
}

/// `impl Handlers for Self`, registering each handler with `DispatcherBuilder::on` and the
/// fallback with `DispatcherBuilder::fallback`.
pub(crate) fn register_impl(item: &ItemImpl, methods: &Methods, krate: &TokenStream) -> TokenStream {
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let self_ty = &item.self_ty;
    let registrations = methods.handlers.iter().map(|handler| {
        let (module, type_name) = (handler.row.module, handler.row.type_name);
        let method = &handler.method;
        let user_ty = &handler.event_ty;
        // Spanned on the name of the user's type (spans do not join on stable, so a whole path
        // cannot be marked): a handler for the wrong event reads "expected `AfterCreateGroup` (the
        // command's type), found `AfterGroupInfoChanged` (what was written)". The registration
        // itself uses the user's type, so that this is the only error.
        let span = name_span(user_ty);
        let expected = {
            let module = format_ident!("{module}", span = span);
            let type_name = format_ident!("{type_name}", span = span);
            {
                let krate = respan(krate, span);
                quote_spanned!(span=> #krate::#module::#type_name)
            }
        };
        let check = quote_spanned!(span=> let _ = |found: #user_ty| {
            let expected: #expected = found;
            expected
        };);
        let call = if handler.takes_context {
            quote!(this.#method(event, ctx).await)
        } else {
            quote!({ let _ = ctx; this.#method(event).await })
        };
        // A decision of another command reads "expected `group::BeforeSendMsgDecision`, found
        // `c2c::BeforeSendMsgDecision`" on the return type, and the call goes on with the right one.
        let call = match &handler.decision {
            Some(written) => {
                let span = name_span(written);
                let decision = format_ident!("{type_name}Decision", span = span);
                let module = format_ident!("{module}", span = span);
                let krate = respan(krate, span);
                quote_spanned!(span=> {
                    let decision: #written = #call;
                    let decision: #krate::#module::#decision = decision;
                    decision
                })
            }
            None => call,
        };
        // Spanned on the user's return type, so that an unsupported one is reported there.
        let call = quote_spanned!(handler.output_span=>
            <_ as #krate::IntoReply<<#user_ty as #krate::Callback>::Reply>>::into_reply(#call)
        );
        quote! {
            #check
            let builder = {
                let this = ::std::sync::Arc::clone(&self);
                builder.on::<#user_ty, _>(move |event: #user_ty, ctx: #krate::Context| {
                    let this = ::std::sync::Arc::clone(&this);
                    async move { #call }
                })
            };
        }
    });
    let fallback = methods.fallback.as_ref().map(|fallback| {
        let method = &fallback.method;
        let call = if fallback.takes_context {
            quote!(this.#method(event, ctx).await)
        } else {
            quote!({ let _ = ctx; this.#method(event).await })
        };
        let call = quote_spanned!(fallback.output_span=>
            <_ as #krate::IntoReply<#krate::Reply>>::into_reply(#call)
        );
        quote! {
            let builder = {
                let this = ::std::sync::Arc::clone(&self);
                builder.fallback(move |event: #krate::UnhandledEvent, ctx: #krate::Context| {
                    let this = ::std::sync::Arc::clone(&this);
                    async move { #call }
                })
            };
        }
    });
    let self_tokens = self_ty.to_token_stream();
    quote! {
        impl #impl_generics #krate::Handlers for #self_tokens #where_clause {
            fn register(self: ::std::sync::Arc<Self>, builder: #krate::DispatcherBuilder) -> #krate::DispatcherBuilder {
                #(#registrations)*
                #fallback
                let _ = self;
                builder
            }
        }
    }
}

/// `tokens` with every span set to `span`, so that an error about a type built from the crate's
/// path points at the user's type, not at the attribute.
fn respan(tokens: &TokenStream, span: Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut token| {
            token.set_span(span);
            token
        })
        .collect()
}
