//! [`DispatcherBuilder`]: the settings a dispatcher is built with, checked once at `build`.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::time::{Duration, SystemTime};

use ipnet::IpNet;

use super::pending::PendingBodies;
use super::routes::{Route, Routes, TypedFallback, TypedRoute};
use super::{
    DEFAULT_HANDLER_DEADLINE, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_PENDING,
    DEFAULT_MAX_PENDING_PER_SOURCE, Dispatcher, FAILURE_LOG_LINES_PER_SECOND, Inner, REFUSAL_LOG_LINES_PER_SECOND,
};
use crate::dead_letter::DeadLetterSink;
use crate::dedup::Deduplicator;
use crate::handler::{FallbackHandler, Handler};
use crate::log_safe::RefusalLimiter;
use crate::policy::FailurePolicy;
use crate::signature::DEFAULT_MAX_CLOCK_SKEW;
use crate::source::Sources;
use crate::{Callback, CallbackKind, Command};

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The settings a builder collects and a dispatcher keeps as they are.
pub(super) struct Settings {
    pub(super) token: Option<String>,
    pub(super) max_clock_skew: Option<Duration>,
    pub(super) max_body_bytes: usize,
    pub(super) max_in_flight: usize,
    pub(super) max_pending: usize,
    pub(super) max_pending_per_source: usize,
    pub(super) handler_deadline: Duration,
    pub(super) failure_policy: FailurePolicy,
    pub(super) failure_policy_by_command: HashMap<Command, FailurePolicy>,
    pub(super) dead_letters: Option<Arc<dyn DeadLetterSink>>,
    pub(super) dedup: Option<Deduplicator>,
    pub(super) sources: Sources,
    pub(super) clock: Clock,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token: None,
            max_clock_skew: Some(DEFAULT_MAX_CLOCK_SKEW),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_pending: DEFAULT_MAX_PENDING,
            max_pending_per_source: DEFAULT_MAX_PENDING_PER_SOURCE,
            handler_deadline: DEFAULT_HANDLER_DEADLINE,
            failure_policy: FailurePolicy::Vendor,
            failure_policy_by_command: HashMap::new(),
            dead_letters: None,
            dedup: None,
            sources: Sources::default(),
            clock: Arc::new(SystemTime::now),
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("max_clock_skew", &self.max_clock_skew)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_pending", &self.max_pending)
            .field("max_pending_per_source", &self.max_pending_per_source)
            .field("handler_deadline", &self.handler_deadline)
            .field("failure_policy", &self.failure_policy)
            .field("failure_policy_by_command", &self.failure_policy_by_command)
            .field("dead_letters", &self.dead_letters.is_some())
            .field("dedup", &self.dedup)
            .field("sources", &self.sources)
            .finish_non_exhaustive()
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
    /// A failure policy was set for a command that is not a before-callback.
    #[error("`{}` is not a before-callback; a failure policy applies only to before-callbacks", .0.name())]
    NotABeforeCallback(Command),
}

/// Configures and builds a [`Dispatcher`].
#[derive(Default)]
pub struct DispatcherBuilder {
    app_id: Option<Option<u64>>,
    settings: Settings,
    routes: Routes,
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

    /// Accepts callbacks for any `SdkAppid`. Meant for development: in production, set
    /// [`Self::app_id`]. Building logs a warning.
    pub fn accept_any_app_id(mut self) -> Self {
        self.app_id = Some(None);
        self
    }

    /// Turns on webhook authentication with the token set in the console: every request must then
    /// carry a valid `Sign` and a fresh `RequestTime`, or it gets 401. Without a token anyone who
    /// knows the URL can post callbacks; building without one logs a warning.
    ///
    /// The vendor's `Sign` covers the token and `RequestTime` only, not the body: whoever sees one
    /// signed URL can post any body with it until `RequestTime` leaves the window
    /// ([`Self::max_clock_skew`]). [`Self::allow_sources`] is what stops them.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.settings.token = Some(token.into());
        self
    }

    /// How far `RequestTime` may be from the clock, either way; `None` turns the check off.
    /// Default: [`DEFAULT_MAX_CLOCK_SKEW`] (60 s). Only used with a token. It is also how long a
    /// captured signed URL stays usable, so keep it short.
    pub fn max_clock_skew(mut self, max: Option<Duration>) -> Self {
        self.settings.max_clock_skew = max;
        self
    }

    /// The clock `RequestTime` is compared with. Default: the system clock.
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.settings.clock = Arc::new(clock);
        self
    }

    /// Accepts requests only from these networks (the vendor's egress ranges, and your own for
    /// tests); others get 403 before their body is read (for a before-callback, the failure
    /// policy). Default: any source, with a warning at build. A request whose source the adapter
    /// does not know (see [`Dispatcher::admit_from`]) is refused when this is set.
    pub fn allow_sources(mut self, networks: impl IntoIterator<Item = IpNet>) -> Self {
        self.settings.sources.allow(networks);
        self
    }

    /// Believes the `X-Forwarded-For` header of requests from these proxies (a load balancer in
    /// front of the service): the source is then the last address in it that is not one of them.
    /// Default: no proxy is trusted, and the source is the peer's address.
    pub fn trust_forwarded_for(mut self, proxies: impl IntoIterator<Item = IpNet>) -> Self {
        self.settings.sources.trust_proxies(proxies);
        self
    }

    /// The largest body accepted; larger ones get 413. Default: [`DEFAULT_MAX_BODY_BYTES`] (1 MiB).
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.settings.max_body_bytes = max;
        self
    }

    /// How many requests may be handled at once, counted from the arrival of their body; past
    /// it, requests are shed at once with 503 (or the failure policy, for a before-callback).
    /// Default: [`DEFAULT_MAX_IN_FLIGHT`].
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.settings.max_in_flight = max;
        self
    }

    /// How many admitted requests may be sending their body at once, in all. Default:
    /// [`DEFAULT_MAX_PENDING`].
    pub fn max_pending(mut self, max: usize) -> Self {
        self.settings.max_pending = max;
        self
    }

    /// How many admitted requests from one source address (IPv6: one /64) may be sending their
    /// body at once. Default: [`DEFAULT_MAX_PENDING_PER_SOURCE`].
    pub fn max_pending_per_source(mut self, max: usize) -> Self {
        self.settings.max_pending_per_source = max;
        self
    }

    /// How long a handler may take before the dispatcher answers without it. Default:
    /// [`DEFAULT_HANDLER_DEADLINE`] (1.5 s; the vendor waits 2 s). Past the deadline an
    /// after-callback is answered `OK` and its handler goes on; a before-callback is answered by
    /// the failure policy.
    pub fn handler_deadline(mut self, deadline: Duration) -> Self {
        self.settings.handler_deadline = deadline;
        self
    }

    /// How every before-callback is answered when it cannot be decided; see [`FailurePolicy`].
    /// Default: [`FailurePolicy::Vendor`].
    pub fn on_failure(mut self, policy: FailurePolicy) -> Self {
        self.settings.failure_policy = policy;
        self
    }

    /// The failure policy of one before-callback, overriding [`Self::on_failure`] for it.
    /// `build` fails with [`BuildError::NotABeforeCallback`] for an after-callback.
    pub fn on_failure_of(mut self, command: Command, policy: FailurePolicy) -> Self {
        self.settings.failure_policy_by_command.insert(command, policy);
        self
    }

    /// Runs each after-callback's handler at most once per event, on `dedup`'s store (in memory,
    /// or Redis shared by replicas): see [`Deduplicator`]. Before-callbacks are never deduplicated.
    pub fn dedup(mut self, dedup: Deduplicator) -> Self {
        self.settings.dedup = Some(dedup);
        self
    }

    /// Where authenticated callbacks that could not be handled are written, with their body.
    /// Without a sink they are only logged, and building logs a warning.
    pub fn dead_letters(mut self, sink: impl DeadLetterSink) -> Self {
        self.settings.dead_letters = Some(Arc::new(sink));
        self
    }

    /// Registers `handler` for callback `C`, the handler's event type. A handler takes the event,
    /// or the event and its [`Context`](crate::Context); see [`Handler`].
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
        let route = TypedRoute::<C, _, M> { handler, command: Command::from_name(C::COMMAND), _callback: PhantomData };
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

    /// Builds the dispatcher. Insecure settings (no token, any app id, any source) and a missing
    /// dead-letter sink are logged as warnings, once per dispatcher built: at once when logging
    /// is set up, else at the dispatcher's first request.
    pub fn build(self) -> Result<Dispatcher, BuildError> {
        let app_id = self.app_id.ok_or(BuildError::AppIdNotSet)?;
        if let Some(command) = self.duplicate {
            return Err(BuildError::DuplicateHandler(command));
        }
        if self.settings.token.as_deref() == Some("") {
            return Err(BuildError::EmptyToken);
        }
        let mut by_command: Vec<_> = self.settings.failure_policy_by_command.keys().copied().collect();
        by_command.sort_by_key(|command| command.name());
        if let Some(&command) = by_command.iter().find(|command| command.kind() != CallbackKind::Before) {
            return Err(BuildError::NotABeforeCallback(command));
        }
        let mut build_warnings = Vec::new();
        if self.settings.token.is_none() {
            build_warnings.push(
                "no webhook token is set: any client that knows the URL can post callbacks and decide \
                 before-callbacks; set the token configured in the console",
            );
        }
        if app_id.is_none() {
            build_warnings.push("callbacks for ANY SdkAppid are accepted; set the app id in production");
        }
        if !self.settings.sources.is_restricted() {
            build_warnings.push(
                "requests are accepted from any source address: whoever sees one signed URL can post any \
                 body with it for the RequestTime window; allow only the vendor's egress ranges",
            );
        }
        if self.settings.dead_letters.is_none() {
            build_warnings.push("no dead-letter sink is set: callbacks that fail are only logged, not kept");
        }
        let pending = PendingBodies::new(self.settings.max_pending, self.settings.max_pending_per_source);
        let dispatcher = Dispatcher {
            inner: Arc::new(Inner {
                app_id,
                settings: self.settings,
                routes: self.routes,
                fallback: self.fallback,
                background: Arc::default(),
                in_flight: AtomicUsize::new(0),
                pending,
                large_decodes: Arc::new(tokio::sync::Semaphore::new(large_decodes_at_once())),
                refusals: RefusalLimiter::new(REFUSAL_LOG_LINES_PER_SECOND, Duration::from_secs(1)),
                failures: RefusalLimiter::new(FAILURE_LOG_LINES_PER_SECOND, Duration::from_secs(1)),
                next_request_id: AtomicU64::new(0),
                build_warnings,
                build_warnings_logged: AtomicBool::new(false),
            }),
        };
        dispatcher.log_build_warnings();
        Ok(dispatcher)
    }
}

/// Half the cores, at least one: large decodes then leave the async workers room to answer.
fn large_decodes_at_once() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1))
}
