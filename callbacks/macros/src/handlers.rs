//! `#[handlers]`: reads the `#[on("…")]` and `#[fallback]` methods of an impl block
//! (`parse.rs`), checks them against the command table (`validate.rs`) and writes its `Handlers`
//! impl (`expand.rs`).
//!
//! Every mistake is reported once, on the user's tokens: the impl block and an `impl Handlers`
//! (registering nothing) are still emitted, so a typo never cascades into "`Handlers` is not
//! implemented" at the `.handlers(…)` call, nor into a "missing" error in exhaustive mode.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::ItemImpl;

use crate::parse::{Errors, Methods};

/// Expands the macro.
pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut item: ItemImpl = match syn::parse2(input) {
        Ok(item) => item,
        Err(_) => {
            return syn::Error::new(Span::call_site(), "`#[handlers]` goes on an impl block").into_compile_error();
        }
    };
    let mut errors = Errors::default();
    let options = crate::parse::parse_options(args, &mut errors);
    let methods = crate::parse::collect(&mut item, &mut errors);
    crate::validate::check_exhaustive(&options, &methods, &mut errors);
    let krate = options.krate.as_ref().map_or_else(|| quote!(::tencent_chat_callbacks), ToTokens::to_token_stream);
    let registration = match errors.0 {
        None => crate::expand::register_impl(&item, &methods, &krate),
        Some(error) => {
            let stub = crate::expand::register_impl(&item, &Methods::default(), &krate);
            let error = error.into_compile_error();
            quote!(#stub #error)
        }
    };
    quote! {
        #item
        #registration
    }
}
