//! Reading the macro's input: its options, and the `#[on("…")]` and `#[fallback]` methods of the
//! impl block with their signatures. What a method names is checked against the command table
//! in `validate.rs`.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{FnArg, ImplItem, ImplItemFn, ItemImpl, LitStr, Type};

use crate::generated::commands::CommandRow;
use crate::validate::{check_decision_module, lookup};

/// The macro's arguments: `#[handlers]`, or `#[handlers(exhaustive, ignore("…", …), crate = "…")]`.
#[derive(Default)]
pub(crate) struct Options {
    /// Where `exhaustive` was written, when it was.
    pub(crate) exhaustive: Option<Span>,
    /// Commands, or `Namespace.*` / `*` patterns, explicitly left to the fallback.
    pub(crate) ignored: Vec<LitStr>,
    /// The path of the runtime crate, for a crate that re-exports it: `crate = "my_sdk::tcc"`.
    pub(crate) krate: Option<syn::Path>,
}

pub(crate) fn parse_options(args: TokenStream, errors: &mut Errors) -> Options {
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("exhaustive") {
            options.exhaustive = Some(meta.path.span());
            Ok(())
        } else if meta.path.is_ident("crate") {
            let path: LitStr = meta.value()?.parse()?;
            options.krate = Some(path.parse()?);
            Ok(())
        } else if meta.path.is_ident("ignore") {
            let content;
            syn::parenthesized!(content in meta.input);
            options.ignored.extend(content.parse_terminated(<LitStr as syn::parse::Parse>::parse, syn::Token![,])?);
            Ok(())
        } else {
            Err(meta.error(
                "unknown option; `#[handlers]` takes `exhaustive`, `ignore(\"Command\", \"Namespace.*\", …)` and \
                 `crate = \"path::to::tencent_chat_callbacks\"`",
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

/// One `#[on("…")]` method.
pub(crate) struct Handler {
    /// The command it handles, from the table.
    pub(crate) row: &'static CommandRow,
    /// The method's name.
    pub(crate) method: syn::Ident,
    /// The event type as the user wrote it.
    pub(crate) event_ty: Type,
    /// Whether the method takes a `Context` after the event.
    pub(crate) takes_context: bool,
    /// Where the method's return type is written, for errors about it.
    pub(crate) output_span: Span,
    /// For a before-callback whose method returns a type named `…Decision`: that type, checked to
    /// be the command's own decision type.
    pub(crate) decision: Option<Type>,
}

/// The `#[fallback]` method.
pub(crate) struct Fallback {
    pub(crate) method: syn::Ident,
    pub(crate) takes_context: bool,
    pub(crate) output_span: Span,
}

/// What the impl block registers.
#[derive(Default)]
pub(crate) struct Methods {
    pub(crate) handlers: Vec<Handler>,
    pub(crate) fallback: Option<Fallback>,
    /// False when an `#[on]` named a command this version does not know.
    pub(crate) complete: bool,
}

#[derive(Default)]
pub(crate) struct Errors(pub(crate) Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(existing) => existing.combine(error),
            None => self.0 = Some(error),
        }
    }
}

/// Takes the `#[on]` and `#[fallback]` attributes off the methods, checking each.
pub(crate) fn collect(item: &mut ItemImpl, errors: &mut Errors) -> Methods {
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
            let Some(row) = lookup(&command, errors) else {
                methods.complete = false;
                continue;
            };
            if let Some(first) = seen.get(row.name) {
                let name = row.name;
                errors.push(syn::Error::new_spanned(
                    &command,
                    format!("`{name}` already has a handler: `{first}`; a command takes one handler"),
                ));
                continue;
            }
            seen.insert(row.name, method.sig.ident.clone());
            let shape =
                "a handler is `async fn name(&self, event: <event type>)`, optionally followed by `ctx: Context`";
            if let Some((event_ty, takes_context, output_span)) = check_signature(method, shape, errors) {
                let decision = decision_return(method, row.before);
                if let Some(written) = &decision {
                    check_decision_module(written, row, errors);
                }
                methods.handlers.push(Handler {
                    row,
                    method: method.sig.ident.clone(),
                    event_ty,
                    takes_context,
                    output_span,
                    decision,
                });
            }
        }
    }
    methods
}

/// The return type of a before-callback's method when it is a plain path to a type named
/// `…Decision`: the user meant a decision, so it is checked against the command's own.
pub(crate) fn decision_return(method: &ImplItemFn, before: bool) -> Option<Type> {
    let syn::ReturnType::Type(_, ty) = &method.sig.output else { return None };
    let Type::Path(path) = &**ty else { return None };
    let last = path.path.segments.last()?;
    (before && last.ident.to_string().ends_with("Decision") && last.arguments.is_none()).then(|| (**ty).clone())
}

/// Checks `async fn name(&self, event: T)` with an optional `ctx: Context`; returns the event
/// type, whether a context is taken, and where the return type is written.
pub(crate) fn check_signature(method: &ImplItemFn, shape: &str, errors: &mut Errors) -> Option<(Type, bool, Span)> {
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
