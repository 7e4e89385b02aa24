//! The `#[handlers]` attribute macro of `tencent-chat-callbacks`, checked at compile time
//! against the command table generated from the schemas. Use it through that crate.

// `syn` 3, the major serde_derive and thiserror use, so a service builds one `syn`.
extern crate syn3 as syn;

mod generated {
    #[rustfmt::skip]
    pub(crate) mod commands;
}
mod expand;
mod handlers;
mod parse;
mod validate;

use proc_macro::TokenStream;

/// Registers the `#[on("Command")]` methods of an impl block; see `tencent_chat_callbacks`.
#[proc_macro_attribute]
pub fn handlers(args: TokenStream, input: TokenStream) -> TokenStream {
    handlers::expand(args.into(), input.into()).into()
}
