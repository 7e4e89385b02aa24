//! Routes: a body decoded into its command's type (or the fallback's JSON) and handed to the
//! registered handler, whose future is returned to be run.

use std::borrow::Cow;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use serde::Deserialize;

use crate::batch::{self, RejectedItem};
use crate::context::{Context, UnhandledEvent};
use crate::error::{DecodeError, HandlerError};
use crate::handler::{FallbackHandler, Handler};
use crate::lenient;
use crate::unwind::FutureExt;
use crate::{Callback, Command, DispatchError, Event, HttpReply, IntoReply, Refusal};

/// The typed routes by command name. Fixed once built and only looked up, so a fast hash is safe
/// with names a client chooses: no insertion, no collision flood.
pub(super) type Routes = rapidhash::RapidHashMap<&'static str, Box<dyn Route>>;

/// A handler's future: its reply, or why there is none.
pub(super) type Work = Pin<Box<dyn Future<Output = Result<HttpReply, DispatchError>> + Send>>;

/// A handler call under way, with the events of a batch left out of it.
pub(super) struct Routed {
    pub(super) work: Work,
    pub(super) rejected: Vec<RejectedItem>,
}

/// A type-erased handler: a typed one for one command, or the fallback.
pub(super) trait Route: Send + Sync {
    /// Decodes the context's body and calls the handler.
    fn call(&self, ctx: Context) -> Result<Routed, DispatchError>;

    /// The command a typed route serves.
    fn command(&self) -> Option<Command> {
        None
    }
}

pub(super) struct TypedRoute<C, H, M> {
    pub(super) handler: H,
    pub(super) command: Option<Command>,
    pub(super) _callback: PhantomData<fn() -> (C, M)>,
}

impl<C: Callback, M, H: Handler<C, M>> Route for TypedRoute<C, H, M> {
    fn call(&self, ctx: Context) -> Result<Routed, DispatchError> {
        let (event, rejected) = match decode::<C>(&ctx.raw_body) {
            Ok(event) => (event, Vec::new()),
            Err(error) => match lenient::decode_with_numeric_strings::<C>(&ctx.raw_body) {
                Some(event) => (event, Vec::new()),
                None => {
                    let (good, rejected) = batch::split(&ctx.raw_body, C::COMMAND, decodes_as::<C>).ok_or(error)?;
                    (
                        decode::<C>(&good).or_else(|error| lenient::decode_with_numeric_strings(&good).ok_or(error))?,
                        rejected,
                    )
                }
            },
        };
        let work = start_handler(|| self.handler.call(event, ctx))?;
        Ok(Routed { work, rejected })
    }

    fn command(&self) -> Option<Command> {
        self.command
    }
}

/// Whether `body` decodes as `C`, and if not, why (for a batch item's dead letter).
fn decodes_as<C: Callback>(body: &[u8]) -> Result<(), String> {
    match serde_json::from_slice::<C>(body) {
        Ok(_) => Ok(()),
        Err(_) if lenient::decode_with_numeric_strings::<C>(body).is_some() => Ok(()),
        Err(error) => Err(error.to_string()),
    }
}

pub(super) struct TypedFallback<H>(pub(super) H);

impl<H: FallbackHandler> Route for TypedFallback<H> {
    fn call(&self, mut ctx: Context) -> Result<Routed, DispatchError> {
        let mut body: serde_json::Value = serde_json::from_slice(&ctx.raw_body)
            .map_err(|e| DecodeError::invalid_body(ctx.command(), e.to_string()))?;
        check_body_command(ctx.command(), &ctx.raw_body)?;
        // A known batch gets the treatment a typed handler's does: its good events, and each bad
        // one dead-lettered alone.
        let mut rejected = Vec::new();
        if let Some(command) = Command::from_name(ctx.command()) {
            let decodes = |body: &[u8]| Event::from_json(command.name(), body).map(drop).map_err(|e| e.to_string());
            if decodes(&ctx.raw_body).is_err()
                && let Some((good, bad)) = batch::split(&ctx.raw_body, command.name(), decodes)
            {
                body = serde_json::from_slice(&good)
                    .map_err(|e| DecodeError::invalid_body(command.name(), e.to_string()))?;
                ctx.raw_body = good.into();
                rejected = bad;
            }
        }
        let event = UnhandledEvent { command: ctx.command().to_owned(), body };
        let work = start_handler(|| self.0.call(event, ctx))?;
        Ok(Routed { work, rejected })
    }
}

/// Decodes a body as `C`, reporting where it fails. A body that fails because it is another
/// callback's is reported as [`DecodeError::CommandMismatch`].
fn decode<C: Callback>(body: &[u8]) -> Result<C, DecodeError> {
    // serde would also read a struct from a JSON array of its fields in order; bodies are objects.
    if body.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|&first| first != b'{') {
        return Err(DecodeError::invalid_body(C::COMMAND, "expected a JSON object"));
    }
    // Decoding runs without tracking where it is; only a failure is decoded again, tracked, to
    // name the failing field, so valid bodies pay nothing for the error path.
    serde_json::from_slice(body).map_err(|error| {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let path = match serde_path_to_error::deserialize::<_, C>(&mut deserializer) {
            Err(tracked) => tracked.path().to_string(),
            Ok(_) => ".".to_owned(), // the failure came after the value: trailing characters
        };
        check_body_command(C::COMMAND, body).err().unwrap_or_else(|| DecodeError::InvalidBody {
            command: C::COMMAND.to_owned(),
            path,
            message: error.to_string(),
        })
    })
}

/// Refuses a body whose own `CallbackCommand` names another command than the query. A body that
/// is not JSON, or carries no command, passes: this check reads nothing else.
pub(super) fn check_body_command(query_command: &str, body: &[u8]) -> Result<(), DecodeError> {
    #[derive(Deserialize)]
    struct Peek<'a> {
        #[serde(rename = "CallbackCommand", borrow)]
        command: Option<Cow<'a, str>>,
    }
    match serde_json::from_slice::<Peek<'_>>(body) {
        Ok(Peek { command: Some(command) }) if command != query_command => {
            Err(DecodeError::CommandMismatch { query: query_command.to_owned(), body: command.into_owned() })
        }
        _ => Ok(()),
    }
}

/// Calls a handler and returns the future of its reply. A panic, while the handler creates its
/// future (a closure may do work before its `async` block) or while the future runs, and an error
/// the handler returns become a [`DispatchError`].
fn start_handler<R, Fut>(call: impl FnOnce() -> Fut) -> Result<Work, DispatchError>
where
    R: serde::Serialize + 'static,
    Fut: Future<Output: IntoReply<R>> + Send + 'static,
{
    let future = std::panic::catch_unwind(AssertUnwindSafe(call)).map_err(|_| HandlerError::Panicked)?;
    Ok(Box::pin(async move {
        let output = AssertUnwindSafe(future).catch_unwind().await.map_err(|_| HandlerError::Panicked)?;
        // A handler refuses a request itself by returning a `Refusal`; any other error is a failure.
        let response = output.into_reply().map_err(|e| match e.downcast::<Refusal>() {
            Ok(refusal) => DispatchError::from(*refusal),
            Err(e) => HandlerError::Failed(e.into()).into(),
        })?;
        Ok(HttpReply::ok(&response))
    }))
}
