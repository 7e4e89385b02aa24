//! The dispatcher: from a raw query string and body to an [`HttpReply`], with no web framework.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::FutureExt;
use serde::Deserialize;

use crate::context::{Context, UnhandledEvent};
use crate::handler::{FallbackHandler, Handler};
use crate::query::CallbackQuery;
use crate::signature::{self, DEFAULT_MAX_CLOCK_SKEW};
use crate::{Callback, DispatchError, HttpReply, IntoResponse, Response};

/// The default time a handler gets before an adapter answers without it: 1.5 s, inside the 2 s
/// the vendor waits, leaving room for the network.
pub const DEFAULT_HANDLER_DEADLINE: Duration = Duration::from_millis(1500);

/// What a before-callback is answered when its handler misses the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeadlineDecision {
    /// Allow the action (`ErrorCode` 0), as the vendor itself does by default on a timeout.
    #[default]
    Allow,
    /// Refuse the action (`ErrorCode` 1).
    Refuse,
}

/// The default largest body accepted: 1 MiB. Vendor bodies are a few kilobytes; the largest,
/// a batch of 100 push events, stays well below this.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Receives callbacks: checks the query string, decodes the body into its typed event, calls the
/// handler registered for the command, and answers in the vendor's format.
///
/// Built with [`Dispatcher::builder`]; cheap to clone (clones share the handlers).
///
/// In order, a request is:
/// 1. refused with 413 if the body exceeds the limit ([`DispatcherBuilder::max_body_bytes`]);
/// 2. refused with 400 if `SdkAppid` or `CallbackCommand` is missing, malformed or repeated;
/// 3. refused with 403 if `SdkAppid` is not the configured app id;
/// 4. when a token is configured, refused with 401 if `Sign` or `RequestTime` is missing, if
///    `RequestTime` is too far from the clock, or if `Sign` does not match;
/// 5. refused with 400 if the body names another command than the query, and otherwise answered
///    `OK` at once if no handler takes the command and there is no fallback;
/// 6. refused with 400 if the body is not JSON of the command's type;
/// 7. handed to the handler, whose result is the reply; a handler error or panic gives 500.
///
/// See [`DispatchError`] for the body of each refusal.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    app_id: Option<u64>,
    settings: Settings,
    routes: HashMap<&'static str, Box<dyn Route>>,
    fallback: Option<Box<dyn Route>>,
}

/// The settings a builder collects and a dispatcher keeps as they are.
struct Settings {
    token: Option<String>,
    max_clock_skew: Option<Duration>,
    max_body_bytes: usize,
    handler_deadline: Duration,
    deadline_decision: DeadlineDecision,
    clock: Clock,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token: None,
            max_clock_skew: Some(DEFAULT_MAX_CLOCK_SKEW),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            handler_deadline: DEFAULT_HANDLER_DEADLINE,
            deadline_decision: DeadlineDecision::Allow,
            clock: Arc::new(SystemTime::now),
        }
    }
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut commands: Vec<_> = self.inner.routes.keys().collect();
        commands.sort();
        f.debug_struct("Dispatcher")
            .field("app_id", &self.inner.app_id)
            .field("token", &self.inner.settings.token.as_ref().map(|_| "<redacted>"))
            .field("max_clock_skew", &self.inner.settings.max_clock_skew)
            .field("max_body_bytes", &self.inner.settings.max_body_bytes)
            .field("commands", &commands)
            .field("fallback", &self.inner.fallback.is_some())
            .finish()
    }
}

impl Dispatcher {
    /// Starts building a dispatcher.
    pub fn builder() -> DispatcherBuilder {
        DispatcherBuilder::default()
    }

    /// The largest body this dispatcher accepts, for adapters that read the body.
    pub fn max_body_bytes(&self) -> usize {
        self.inner.settings.max_body_bytes
    }

    /// How long an adapter lets [`Dispatcher::dispatch`] run before answering with
    /// [`Dispatcher::deadline_reply`]. The core has no timer of its own: the axum adapter applies
    /// it, and lets the handler finish in the background.
    pub fn handler_deadline(&self) -> Duration {
        self.inner.settings.handler_deadline
    }

    /// The answer for a request whose handler missed the deadline: for a before-callback, the
    /// configured [`DeadlineDecision`]; for anything else, `OK`.
    pub fn deadline_reply(&self, query: &str) -> HttpReply {
        let command = CallbackQuery::parse(query).ok().and_then(|q| q.callback_command.map(Cow::into_owned));
        let before = command
            .as_deref()
            .and_then(crate::Command::from_name)
            .is_some_and(|c| c.kind() == crate::CallbackKind::Before);
        tracing::warn!(
            command = command.as_deref().unwrap_or("-"),
            "the handler missed its deadline; answering without it"
        );
        match (before, self.inner.settings.deadline_decision) {
            (true, DeadlineDecision::Refuse) => HttpReply::ok(&Response { error_code: 1, ..Response::ok() }),
            _ => HttpReply::ok(&Response::ok()),
        }
    }

    /// Handles one request: `query` is the raw query string (without `?`), `body` the raw body.
    /// Never panics, whatever the input or the handler does.
    pub async fn dispatch(&self, query: &str, body: Bytes) -> HttpReply {
        let result = match self.prepare(query, body) {
            Ok(Prepared::Route(future)) => future.await,
            Ok(Prepared::Reply(reply)) => Ok(reply),
            Err(error) => Err(error),
        };
        match result {
            Ok(reply) => reply,
            Err(error) => {
                if error.status() >= 500 {
                    tracing::error!(%error, "callback failed");
                } else {
                    tracing::warn!(%error, "callback refused");
                }
                HttpReply::from(&error)
            }
        }
    }

    /// Everything up to the handler call, synchronously.
    fn prepare(&self, query: &str, body: Bytes) -> Result<Prepared, DispatchError> {
        let inner = &*self.inner;
        let settings = &inner.settings;
        if body.len() > settings.max_body_bytes {
            return Err(DispatchError::BodyTooLarge { limit: settings.max_body_bytes });
        }
        let query = CallbackQuery::parse(query)?;
        let app_id = query.sdk_app_id.as_deref().ok_or(DispatchError::MissingParameter("SdkAppid"))?;
        let app_id = parse_app_id(app_id)?;
        if inner.app_id.is_some_and(|expected| expected != app_id) {
            return Err(DispatchError::WrongAppId(app_id.to_string()));
        }
        if let Some(token) = &settings.token {
            let (Some(sign), Some(request_time)) = (&query.sign, &query.request_time) else {
                return Err(DispatchError::MissingSignature);
            };
            signature::verify(token, request_time, sign, (settings.clock)(), settings.max_clock_skew)?;
        }
        let command = query.callback_command.as_deref().ok_or(DispatchError::MissingParameter("CallbackCommand"))?;

        let Some(route) = inner.routes.get(command).or(inner.fallback.as_ref()) else {
            // Even unhandled, a body of another command is refused, never acknowledged.
            check_body_command(command, &body)?;
            tracing::debug!(%command, "no handler for this command; answering OK");
            return Ok(Prepared::Reply(HttpReply::ok(&Response::ok())));
        };
        let ctx = Context {
            app_id,
            command: command.to_owned(),
            client_ip: query.client_ip.map(Cow::into_owned),
            platform: query.opt_platform.as_deref().map(Into::into),
            request_time: query.request_time.as_deref().and_then(crate::__private::parse_digits),
            request_id: query.request_id.map(Cow::into_owned),
            raw_body: body,
        };
        route.call(ctx).map(Prepared::Route)
    }
}

enum Prepared {
    Route(BoxFuture<Result<HttpReply, DispatchError>>),
    Reply(HttpReply),
}

fn parse_app_id(value: &str) -> Result<u64, DispatchError> {
    crate::__private::parse_digits(value).ok_or_else(|| DispatchError::InvalidParameter {
        name: "SdkAppid",
        reason: format!("`{value}` is not a number"),
    })
}

/// Decodes a body as `C`, reporting where it fails. A body that fails because it is another
/// callback's is reported as [`DispatchError::CommandMismatch`].
fn decode<C: Callback>(body: &[u8]) -> Result<C, DispatchError> {
    // serde would also read a struct from a JSON array of its fields in order; bodies are objects.
    if body.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|&first| first != b'{') {
        return Err(DispatchError::InvalidBody {
            command: C::COMMAND.to_owned(),
            path: ".".to_owned(),
            message: "expected a JSON object".to_owned(),
        });
    }
    // Decoding runs without tracking where it is; only a failure is decoded again, tracked, to
    // name the failing field, so valid bodies pay nothing for the error path.
    serde_json::from_slice(body).map_err(|error| {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let path = match serde_path_to_error::deserialize::<_, C>(&mut deserializer) {
            Err(tracked) => tracked.path().to_string(),
            Ok(_) => ".".to_owned(), // the failure came after the value: trailing characters
        };
        check_body_command(C::COMMAND, body).err().unwrap_or_else(|| DispatchError::InvalidBody {
            command: C::COMMAND.to_owned(),
            path,
            message: error.to_string(),
        })
    })
}

/// Refuses a body whose own `CallbackCommand` names another command than the query. A body that
/// is not JSON, or carries no command, passes: this check reads nothing else.
fn check_body_command(query_command: &str, body: &[u8]) -> Result<(), DispatchError> {
    #[derive(Deserialize)]
    struct Peek<'a> {
        #[serde(rename = "CallbackCommand", borrow)]
        command: Option<Cow<'a, str>>,
    }
    match serde_json::from_slice::<Peek<'_>>(body) {
        Ok(Peek { command: Some(command) }) if command != query_command => {
            Err(DispatchError::CommandMismatch { query: query_command.to_owned(), body: command.into_owned() })
        }
        _ => Ok(()),
    }
}

/// Calls a handler and returns the future of its reply. A panic, while the handler creates its
/// future (a closure may do work before its `async` block) or while the future runs, and an error
/// the handler returns become a [`DispatchError`].
fn start<R, Fut>(call: impl FnOnce() -> Fut) -> Result<BoxFuture<Result<HttpReply, DispatchError>>, DispatchError>
where
    R: serde::Serialize + 'static,
    Fut: Future<Output: IntoResponse<R>> + Send + 'static,
{
    let future = std::panic::catch_unwind(AssertUnwindSafe(call)).map_err(|_| DispatchError::HandlerPanicked)?;
    Ok(Box::pin(async move {
        let output = AssertUnwindSafe(future).catch_unwind().await.map_err(|_| DispatchError::HandlerPanicked)?;
        // A handler may refuse a request itself by returning a `DispatchError`, which keeps its status.
        let response = output.into_response().map_err(|e| match e.downcast::<DispatchError>() {
            Ok(refusal) => *refusal,
            Err(e) => DispatchError::HandlerFailed(e.to_string()),
        })?;
        Ok(HttpReply::ok(&response))
    }))
}

/// A type-erased handler: a typed one for one command, or the fallback.
trait Route: Send + Sync {
    fn call(&self, ctx: Context) -> Result<BoxFuture<Result<HttpReply, DispatchError>>, DispatchError>;
}

struct TypedRoute<C, H, M> {
    handler: H,
    _callback: PhantomData<fn() -> (C, M)>,
}

impl<C: Callback, M, H: Handler<C, M>> Route for TypedRoute<C, H, M> {
    fn call(&self, ctx: Context) -> Result<BoxFuture<Result<HttpReply, DispatchError>>, DispatchError> {
        let event = decode::<C>(&ctx.raw_body)?;
        start(|| self.handler.call(event, ctx))
    }
}

struct TypedFallback<H>(H);

impl<H: FallbackHandler> Route for TypedFallback<H> {
    fn call(&self, ctx: Context) -> Result<BoxFuture<Result<HttpReply, DispatchError>>, DispatchError> {
        let body = serde_json::from_slice(&ctx.raw_body).map_err(|e| DispatchError::InvalidBody {
            command: ctx.command.clone(),
            path: ".".to_owned(),
            message: e.to_string(),
        })?;
        check_body_command(&ctx.command, &ctx.raw_body)?;
        let event = UnhandledEvent { command: ctx.command.clone(), body };
        start(|| self.0.call(event, ctx))
    }
}

/// A set of handlers that registers itself, as written by the `#[handlers]` macro.
pub trait Handlers: Send + Sync + 'static {
    /// Registers every handler of `self` on `builder`.
    fn register(self: Arc<Self>, builder: DispatcherBuilder) -> DispatcherBuilder;
}

/// Why [`DispatcherBuilder::build`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Neither [`DispatcherBuilder::app_id`] nor [`DispatcherBuilder::accept_any_app_id`] was called.
    #[error("no app id configured: call `app_id(…)`, or `accept_any_app_id()` to accept every app")]
    AppIdNotSet,
    /// Two handlers were registered for one command.
    #[error("two handlers are registered for `{0}`")]
    DuplicateHandler(&'static str),
    /// The token is empty.
    #[error("the token is empty; leave it unset to turn authentication off")]
    EmptyToken,
}

/// Configures and builds a [`Dispatcher`].
#[derive(Default)]
pub struct DispatcherBuilder {
    app_id: Option<Option<u64>>,
    settings: Settings,
    routes: HashMap<&'static str, Box<dyn Route>>,
    fallback: Option<Box<dyn Route>>,
    duplicate: Option<&'static str>,
}

impl fmt::Debug for DispatcherBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DispatcherBuilder").field("app_id", &self.app_id).finish_non_exhaustive()
    }
}

impl DispatcherBuilder {
    /// Accepts only callbacks whose `SdkAppid` is `app_id`; others get 403.
    pub fn app_id(mut self, app_id: u64) -> Self {
        self.app_id = Some(Some(app_id));
        self
    }

    /// Accepts callbacks for any `SdkAppid`. Meant for development: in production, set [`Self::app_id`].
    pub fn accept_any_app_id(mut self) -> Self {
        self.app_id = Some(None);
        self
    }

    /// Turns on webhook authentication with the token set in the console: every request must then
    /// carry a valid `Sign` and a fresh `RequestTime`, or it gets 401.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.settings.token = Some(token.into());
        self
    }

    /// How far `RequestTime` may be from the clock, either way; `None` turns the check off.
    /// Default: [`DEFAULT_MAX_CLOCK_SKEW`] (5 minutes). Only used with a token.
    pub fn max_clock_skew(mut self, max: Option<Duration>) -> Self {
        self.settings.max_clock_skew = max;
        self
    }

    /// The clock `RequestTime` is compared with. Default: the system clock.
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.settings.clock = Arc::new(clock);
        self
    }

    /// The largest body accepted; larger ones get 413. Default: [`DEFAULT_MAX_BODY_BYTES`] (1 MiB).
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.settings.max_body_bytes = max;
        self
    }

    /// How long a handler may take before the adapter answers without it. Default:
    /// [`DEFAULT_HANDLER_DEADLINE`] (1.5 s; the vendor waits 2 s).
    pub fn handler_deadline(mut self, deadline: Duration) -> Self {
        self.settings.handler_deadline = deadline;
        self
    }

    /// What a before-callback gets when its handler misses the deadline. Default: allow.
    pub fn deadline_decision(mut self, decision: DeadlineDecision) -> Self {
        self.settings.deadline_decision = decision;
        self
    }

    /// Registers `handler` for callback `C`, the handler's event type. A handler takes the event,
    /// or the event and its [`Context`]; see [`Handler`].
    ///
    /// ```
    /// use tencent_chat_callbacks::{group, Context, Dispatcher};
    ///
    /// async fn on_group_created(event: group::AfterCreateGroup, _ctx: Context) {
    ///     println!("group {} created", event.group_id);
    /// }
    ///
    /// let dispatcher = Dispatcher::builder()
    ///     .app_id(1400000000)
    ///     .on(on_group_created)
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn on<C: Callback, M: 'static>(mut self, handler: impl Handler<C, M>) -> Self {
        let route = TypedRoute::<C, _, M> { handler, _callback: PhantomData };
        if self.routes.insert(C::COMMAND, Box::new(route)).is_some() {
            self.duplicate.get_or_insert(C::COMMAND);
        }
        self
    }

    /// Registers every handler of a `#[handlers]` impl block.
    pub fn handlers<T: Handlers>(self, handlers: T) -> Self {
        Arc::new(handlers).register(self)
    }

    /// Receives every callback no typed handler takes, with its body as JSON. Without a fallback,
    /// such callbacks are answered `OK` without reading the body.
    pub fn fallback(mut self, handler: impl FallbackHandler) -> Self {
        self.fallback = Some(Box::new(TypedFallback(handler)));
        self
    }

    /// Builds the dispatcher.
    pub fn build(self) -> Result<Dispatcher, BuildError> {
        let app_id = self.app_id.ok_or(BuildError::AppIdNotSet)?;
        if let Some(command) = self.duplicate {
            return Err(BuildError::DuplicateHandler(command));
        }
        if self.settings.token.as_deref() == Some("") {
            return Err(BuildError::EmptyToken);
        }
        Ok(Dispatcher {
            inner: Arc::new(Inner { app_id, settings: self.settings, routes: self.routes, fallback: self.fallback }),
        })
    }
}
