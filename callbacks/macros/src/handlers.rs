//! `#[handlers]`: reads the `#[on("…")]` and `#[fallback]` methods of an impl block and writes
//! its `Handlers` impl.
//!
//! Every mistake is reported once, on the user's tokens: the impl block and an `impl Handlers`
//! (registering nothing) are still emitted, so a typo never cascades into "`Handlers` is not
//! implemented" at the `.handlers(…)` call, nor into a "missing" error in exhaustive mode.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ImplItem, ImplItemFn, ItemImpl, LitStr, Type};

use crate::generated::commands::COMMANDS;

/// Expands the macro.
pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut item: ItemImpl = match syn::parse2(input) {
        Ok(item) => item,
        Err(_) => {
            return syn::Error::new(Span::call_site(), "`#[handlers]` goes on an impl block").into_compile_error();
        }
    };
    let mut errors = Errors::default();
    let options = parse_options(args, &mut errors);
    let methods = collect(&mut item, &mut errors);
    check_exhaustive(&options, &methods, &mut errors);
    let registration = match errors.0 {
        None => register_impl(&item, &methods),
        Some(error) => {
            let stub = register_impl(&item, &Methods::default());
            let error = error.into_compile_error();
            quote!(#stub #error)
        }
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
    /// Commands, or `Namespace.*` / `*` patterns, explicitly left to the fallback.
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
            Err(meta.error(
                "unknown option; `#[handlers]` takes `exhaustive` and `ignore(\"Command\", \"Namespace.*\", …)`",
            ))
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

/// The commands an `ignore(…)` entry names: one command, a namespace (`"Sns.*"`) or all (`"*"`).
/// An entry naming nothing known is reported, with the closest name.
fn ignored_commands(pattern: &LitStr, errors: &mut Errors) -> Option<Vec<&'static str>> {
    let value = pattern.value();
    if value == "*" {
        return Some(COMMANDS.iter().map(|c| c.0).collect());
    }
    if let Some(namespace) = value.strip_suffix(".*") {
        let matched: Vec<&'static str> =
            COMMANDS.iter().map(|c| c.0).filter(|c| c.split('.').next() == Some(namespace)).collect();
        if matched.is_empty() {
            let mut namespaces: Vec<&str> = COMMANDS.iter().filter_map(|c| c.0.split('.').next()).collect();
            namespaces.dedup();
            let hint = closest(namespace, namespaces.iter().copied())
                .map(|n| format!("; did you mean `{n}.*`?"))
                .unwrap_or_default();
            errors.push(syn::Error::new_spanned(
                pattern,
                format!("no known command is in namespace `{namespace}`{hint}"),
            ));
            return None;
        }
        return Some(matched);
    }
    lookup(pattern, errors).map(|(command, ..)| vec![command])
}

/// With `exhaustive`, every known command must have a handler or be ignored.
fn check_exhaustive(options: &Options, methods: &Methods, errors: &mut Errors) {
    let Some(span) = options.exhaustive else { return };
    let mut ignored = Vec::new();
    let mut complete = methods.complete;
    for pattern in &options.ignored {
        let Some(commands) = ignored_commands(pattern, errors) else {
            complete = false;
            continue;
        };
        // Naming a handled command on its own is a contradiction; a namespace may hold both.
        if let [command] = commands[..]
            && !pattern.value().ends_with('*')
            && methods.handlers.iter().any(|h| h.command == command)
        {
            errors.push(syn::Error::new_spanned(pattern, format!("`{command}` has a handler; do not also ignore it")));
        }
        ignored.extend(commands);
    }
    // After an unknown command, the list of missing ones would only repeat that mistake.
    if !complete {
        return;
    }
    let missing: Vec<&str> = COMMANDS
        .iter()
        .map(|c| c.0)
        .filter(|c| !methods.handlers.iter().any(|h| h.command == *c) && !ignored.contains(c))
        .collect();
    if !missing.is_empty() {
        let list: String = missing.iter().map(|c| format!("\n  {c}")).collect();
        errors.push(syn::Error::new(
            span,
            format!(
                "`exhaustive`: {} known command(s) have no handler and are not ignored; add an `#[on(\"…\")]` method \
                 or list them in `ignore(…)` (a namespace may be ignored whole, e.g. `\"Sns.*\"`):{list}",
                missing.len()
            ),
        ));
    }
}

/// One `#[on("…")]` method.
struct Handler {
    /// The command it handles.
    command: &'static str,
    /// The method's name.
    method: syn::Ident,
    /// The command's event type, `(module, type)`.
    event: (&'static str, &'static str),
    /// The event type as the user wrote it.
    event_ty: Type,
    /// Whether the method takes a `Context` after the event.
    takes_context: bool,
    /// Where the method's return type is written, for errors about it.
    output_span: Span,
    /// For a before-callback whose method returns a type named `…Decision`: that type, checked to
    /// be the command's own decision type.
    decision: Option<Type>,
}

/// The `#[fallback]` method.
struct Fallback {
    method: syn::Ident,
    takes_context: bool,
    output_span: Span,
}

/// What the impl block registers.
#[derive(Default)]
struct Methods {
    handlers: Vec<Handler>,
    fallback: Option<Fallback>,
    /// False when an `#[on]` named a command this version does not know.
    complete: bool,
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
}

/// Takes the `#[on]` and `#[fallback]` attributes off the methods, checking each.
fn collect(item: &mut ItemImpl, errors: &mut Errors) -> Methods {
    let mut methods = Methods { complete: true, ..Methods::default() };
    let mut seen: HashMap<&'static str, syn::Ident> = HashMap::new();
    for impl_item in &mut item.items {
        let ImplItem::Fn(method) = impl_item else { continue };
        let mut commands = Vec::new();
        let mut fallback = None;
        method.attrs.retain(|attr| {
            if attr.path().is_ident("on") {
                commands.push(attr.parse_args::<LitStr>().map_err(|_| {
                    syn::Error::new_spanned(
                        attr,
                        "write the command as a string: `#[on(\"Group.CallbackAfterCreateGroup\")]`",
                    )
                }));
                false
            } else if attr.path().is_ident("fallback") {
                fallback = Some(attr.clone());
                false
            } else {
                true
            }
        });
        if let Some(attr) = fallback {
            if !commands.is_empty() {
                errors.push(syn::Error::new_spanned(
                    attr,
                    "a method is either `#[on(\"…\")]` or `#[fallback]`, not both",
                ));
                continue;
            }
            if let Some(first) = &methods.fallback {
                let message = format!("`{}` is already the fallback; an impl block takes one", first.method);
                errors.push(syn::Error::new_spanned(attr, message));
                continue;
            }
            let shape =
                "a fallback is `async fn name(&self, event: UnhandledEvent)`, optionally followed by `ctx: Context`";
            if let Some((_, takes_context, output_span)) = check_signature(method, shape, errors) {
                methods.fallback = Some(Fallback { method: method.sig.ident.clone(), takes_context, output_span });
            }
            continue;
        }
        for command in commands {
            let command = match command {
                Ok(command) => command,
                Err(error) => {
                    errors.push(error);
                    continue;
                }
            };
            let Some((name, module, type_name, before)) = lookup(&command, errors) else {
                methods.complete = false;
                continue;
            };
            if let Some(first) = seen.get(name) {
                errors.push(syn::Error::new_spanned(
                    &command,
                    format!("`{name}` already has a handler: `{first}`; a command takes one handler"),
                ));
                continue;
            }
            seen.insert(name, method.sig.ident.clone());
            let shape =
                "a handler is `async fn name(&self, event: <event type>)`, optionally followed by `ctx: Context`";
            if let Some((event_ty, takes_context, output_span)) = check_signature(method, shape, errors) {
                methods.handlers.push(Handler {
                    command: name,
                    method: method.sig.ident.clone(),
                    event: (module, type_name),
                    event_ty,
                    takes_context,
                    output_span,
                    decision: decision_return(method, before),
                });
            }
        }
    }
    methods
}

/// The closest of `candidates` to `name`, if close enough to suggest.
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::jaro_winkler(&name.to_ascii_lowercase(), &c.to_ascii_lowercase()), c))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(score, _)| *score > 0.8)
        .map(|(_, c)| c)
}

/// Finds the command in the generated table, or reports it with the closest known name.
fn lookup(command: &LitStr, errors: &mut Errors) -> Option<(&'static str, &'static str, &'static str, bool)> {
    let name = command.value();
    if let Some(&(command, module, type_name, before)) = COMMANDS.iter().find(|row| row.0 == name) {
        return Some((command, module, type_name, before));
    }
    let hint = match closest(&name, COMMANDS.iter().map(|c| c.0)) {
        Some(c) => format!("; did you mean `{c}`?"),
        None => "; commands this version does not know reach the `#[fallback]` method".to_owned(),
    };
    errors.push(syn::Error::new_spanned(command, format!("unknown callback command `{name}`{hint}")));
    None
}

/// Where a type's name is written: the last segment of a path, since spans do not join on stable.
fn name_span(ty: &Type) -> Span {
    match ty {
        Type::Path(path) => path.path.segments.last().map_or_else(|| ty.span(), |s| s.ident.span()),
        other => other.span(),
    }
}

/// The return type of a before-callback's method when it is a plain path to a type named
/// `…Decision`: the user meant a decision, so it is checked against the command's own.
fn decision_return(method: &ImplItemFn, before: bool) -> Option<Type> {
    let syn::ReturnType::Type(_, ty) = &method.sig.output else { return None };
    let Type::Path(path) = &**ty else { return None };
    let last = path.path.segments.last()?;
    (before && last.ident.to_string().ends_with("Decision") && last.arguments.is_none()).then(|| (**ty).clone())
}

/// Checks `async fn name(&self, event: T)` with an optional `ctx: Context`; returns the event
/// type, whether a context is taken, and where the return type is written.
fn check_signature(method: &ImplItemFn, shape: &str, errors: &mut Errors) -> Option<(Type, bool, Span)> {
    let sig = &method.sig;
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(sig.fn_token, format!("`{}` must be an `async fn`; {shape}", sig.ident)));
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
    Some(((*event_arg.ty).clone(), takes_context, output_span))
}

/// `impl Handlers for Self`, registering each handler with `DispatcherBuilder::on` and the
/// fallback with `DispatcherBuilder::fallback`.
fn register_impl(item: &ItemImpl, methods: &Methods) -> TokenStream {
    let krate = quote!(::tencent_chat_callbacks);
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let self_ty = &item.self_ty;
    let registrations = methods.handlers.iter().map(|handler| {
        let (module, type_name) = handler.event;
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
            quote_spanned!(span=> ::tencent_chat_callbacks::#module::#type_name)
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
                quote_spanned!(span=> {
                    let decision: #written = #call;
                    let decision: ::tencent_chat_callbacks::#module::#decision = decision;
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
