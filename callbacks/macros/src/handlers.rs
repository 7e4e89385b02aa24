//! `#[handlers]`: reads the `#[on("…")]` methods of an impl block and writes its `Handlers` impl.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ImplItem, ImplItemFn, ItemImpl, LitStr, Type};

use crate::generated::commands::COMMANDS;

/// Expands the macro. On errors it still emits the impl block, without the `#[on]` attributes,
/// so that a typo gives one error rather than a cascade.
pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut item: ItemImpl = match syn::parse2(input) {
        Ok(item) => item,
        Err(_) => {
            return syn::Error::new(Span::call_site(), "`#[handlers]` goes on an impl block").into_compile_error();
        }
    };
    let mut errors = Errors::default();
    let options = parse_options(args, &mut errors);
    let handlers = collect(&mut item, &mut errors);
    check_exhaustive(&options, &handlers, &mut errors);
    let registration = match errors.combined() {
        None => register_impl(&item, &handlers),
        Some(error) => error.into_compile_error(),
    };
    quote! {
        #item
        #registration
    }
}

/// The macro's arguments: `#[handlers]`, or `#[handlers(exhaustive, ignore("…", …))]`.
#[derive(Default)]
struct Options {
    /// Where `exhaustive` was written, when it was.
    exhaustive: Option<Span>,
    /// Commands explicitly left to the fallback.
    ignored: Vec<LitStr>,
}

fn parse_options(args: TokenStream, errors: &mut Errors) -> Options {
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("exhaustive") {
            options.exhaustive = Some(meta.path.span());
            Ok(())
        } else if meta.path.is_ident("ignore") {
            let content;
            syn::parenthesized!(content in meta.input);
            options.ignored.extend(content.parse_terminated(<LitStr as syn::parse::Parse>::parse, syn::Token![,])?);
            Ok(())
        } else {
            Err(meta.error("unknown option; `#[handlers]` takes `exhaustive` and `ignore(\"Command\", …)`"))
        }
    });
    if let Err(error) = syn::parse::Parser::parse2(parser, args) {
        errors.push(error);
    }
    if let (None, Some(first)) = (options.exhaustive, options.ignored.first()) {
        errors.push(syn::Error::new_spanned(first, "`ignore(…)` only makes sense with `exhaustive`"));
    }
    options
}

/// With `exhaustive`, every known command must have a handler or be listed in `ignore(…)`.
fn check_exhaustive(options: &Options, handlers: &[Handler], errors: &mut Errors) {
    let Some(span) = options.exhaustive else { return };
    for ignored in &options.ignored {
        if lookup(ignored, errors).is_some() && handlers.iter().any(|h| h.command == ignored.value()) {
            errors.push(syn::Error::new_spanned(
                ignored,
                format!("`{}` has a handler; do not also ignore it", ignored.value()),
            ));
        }
    }
    let missing: Vec<&str> = COMMANDS
        .iter()
        .map(|(command, _, _)| *command)
        .filter(|c| !handlers.iter().any(|h| h.command == *c) && !options.ignored.iter().any(|i| i.value() == *c))
        .collect();
    if !missing.is_empty() {
        let list: String = missing.iter().map(|c| format!("\n  {c}")).collect();
        errors.push(syn::Error::new(
            span,
            format!(
                "`exhaustive`: {} known command(s) have no handler and are not ignored; add an `#[on(\"…\")]` method \
                 or list them in `ignore(…)`:{list}",
                missing.len()
            ),
        ));
    }
}

/// One `#[on("…")]` method.
struct Handler {
    /// The command it handles.
    command: String,
    /// The method's name.
    method: syn::Ident,
    /// `(module, type)` of the command's event type.
    event: (&'static str, &'static str),
    /// The event type as the user wrote it.
    event_ty: Type,
    /// Whether the method takes a `Context` after the event.
    takes_context: bool,
    /// Where the method's return type is written, for errors about it.
    output_span: Span,
}

#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(existing) => existing.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn combined(self) -> Option<syn::Error> {
        self.0
    }
}

/// Takes the `#[on]` attributes off the methods, checking each registration.
fn collect(item: &mut ItemImpl, errors: &mut Errors) -> Vec<Handler> {
    let mut handlers = Vec::new();
    let mut seen: HashMap<String, syn::Ident> = HashMap::new();
    for impl_item in &mut item.items {
        let ImplItem::Fn(method) = impl_item else { continue };
        let mut commands = Vec::new();
        method.attrs.retain(|attr| {
            if attr.path().is_ident("on") {
                commands.push(attr.parse_args::<LitStr>().map_err(|_| {
                    syn::Error::new_spanned(
                        attr,
                        "write the command as a string: `#[on(\"Group.CallbackAfterCreateGroup\")]`",
                    )
                }));
                false
            } else {
                true
            }
        });
        for command in commands {
            let command = match command {
                Ok(command) => command,
                Err(error) => {
                    errors.push(error);
                    continue;
                }
            };
            let Some(event) = lookup(&command, errors) else { continue };
            if let Some(first) = seen.get(&command.value()) {
                errors.push(syn::Error::new_spanned(
                    &command,
                    format!("`{}` already has a handler: `{first}`; a command takes one handler", command.value()),
                ));
                continue;
            }
            seen.insert(command.value(), method.sig.ident.clone());
            if let Some(handler) = check_signature(method, command.value(), event, errors) {
                handlers.push(handler);
            }
        }
    }
    handlers
}

/// Finds the command in the generated table, or reports it with the closest known name.
fn lookup(command: &LitStr, errors: &mut Errors) -> Option<(&'static str, &'static str)> {
    let name = command.value();
    if let Some(&(_, module, type_name)) = COMMANDS.iter().find(|(c, _, _)| *c == name) {
        return Some((module, type_name));
    }
    let closest = COMMANDS
        .iter()
        .map(|(c, _, _)| (strsim::jaro_winkler(&name.to_ascii_lowercase(), &c.to_ascii_lowercase()), *c))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(score, _)| *score > 0.8);
    let hint = match closest {
        Some((_, c)) => format!("; did you mean `{c}`?"),
        None => String::new(),
    };
    errors.push(syn::Error::new_spanned(command, format!("unknown callback command `{name}`{hint}")));
    None
}

/// A handler is `async fn name(&self, event: Event)` or `async fn name(&self, event: Event, ctx: Context)`.
fn check_signature(
    method: &ImplItemFn,
    command: String,
    event: (&'static str, &'static str),
    errors: &mut Errors,
) -> Option<Handler> {
    let sig = &method.sig;
    let shape = "a handler is `async fn name(&self, event: <event type>)`, optionally followed by `ctx: Context`";
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            format!("handler `{}` must be an `async fn`; {shape}", sig.ident),
        ));
        return None;
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(receiver)) if matches!(receiver.kind, syn::ReceiverKind::Reference(_, _, None)) => {}
        _ => {
            errors.push(syn::Error::new_spanned(&sig.inputs, format!("handlers take `&self`; {shape}")));
            return None;
        }
    }
    let Some(FnArg::Typed(event_arg)) = inputs.next() else {
        errors.push(syn::Error::new(sig.paren_token.span.join(), format!("missing the event argument; {shape}")));
        return None;
    };
    let takes_context = inputs.next().is_some();
    if let Some(extra) = inputs.next() {
        errors.push(syn::Error::new_spanned(extra, format!("too many arguments; {shape}")));
        return None;
    }
    let output_span = match &sig.output {
        syn::ReturnType::Type(_, ty) => ty.span(),
        syn::ReturnType::Default => sig.ident.span(),
    };
    Some(Handler {
        command,
        method: sig.ident.clone(),
        event,
        event_ty: (*event_arg.ty).clone(),
        takes_context,
        output_span,
    })
}

/// `impl Handlers for Self`, registering each handler with `DispatcherBuilder::on`.
fn register_impl(item: &ItemImpl, handlers: &[Handler]) -> TokenStream {
    let krate = quote!(::tencent_chat_callbacks);
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let self_ty = &item.self_ty;
    let registrations = handlers.iter().map(|handler| {
        let (module, type_name) = handler.event;
        let expected = {
            let module = format_ident!("{module}");
            let type_name = format_ident!("{type_name}");
            quote!(#krate::#module::#type_name)
        };
        let method = &handler.method;
        let user_ty = &handler.event_ty;
        // Spanned on the user's type, so that a handler for the wrong event reads
        // "expected `group::AfterCreateGroup`, found …" right there.
        let event = quote_spanned!(user_ty.span()=> {
            let event: #user_ty = event;
            event
        });
        let call = if handler.takes_context {
            quote!(this.#method(#event, ctx).await)
        } else {
            quote!({ let _ = ctx; this.#method(#event).await })
        };
        // Spanned on the user's return type, so that an unsupported one is reported there.
        let call = quote_spanned!(handler.output_span=>
            #krate::__private::into_response::<<#expected as #krate::Callback>::Response, _>(#call)
        );
        quote! {
            let builder = {
                let this = ::std::sync::Arc::clone(&self);
                builder.on::<#expected, _>(move |event: #expected, ctx: #krate::Context| {
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
                let _ = self;
                builder
            }
        }
    }
}
