//! The dispatcher: from a raw query string and body to an [`HttpReply`], with no web framework.
//!
//! One file per job: `admitted.rs` is a request between its query string and its body (the
//! slots it holds), `builder.rs` the settings, `pending.rs` the bodies still arriving per source,
//! `routes.rs` decoding and the handlers, `run.rs` a handler under its deadline and dedup,
//! `failure.rs` what every failure becomes (log, dead letter, answer).

mod admitted;
mod builder;
mod failure;
mod pending;
mod reason;
mod routes;
mod run;

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;

pub use self::admitted::Admitted;
use self::admitted::Head;
use self::builder::Settings;
pub use self::builder::{BuildError, DispatcherBuilder, Handlers};
use self::failure::Refusal;
use self::pending::PendingBodies;
use self::routes::{Route, Routes};
use crate::background::Background;
use crate::dead_letter::DeadLetter;
use crate::error::QueryError;
use crate::log_safe::{Clipped, RefusalLimiter};
use crate::query::CallbackQuery;
use crate::signature::{self, SignatureError};
use crate::{DispatchError, HttpReply};

/// The default time a handler gets before the dispatcher answers without it: 1.5 s, inside the
/// 2 s the vendor waits, leaving room for the network.
pub const DEFAULT_HANDLER_DEADLINE: Duration = Duration::from_millis(1500);

/// The default largest body accepted: 1 MiB. Vendor bodies are a few kilobytes; the largest,
/// a batch of 100 push events, stays well below this.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

/// The default number of requests handled at once (bodies received, handlers running); past it,
/// requests are shed at once (503, or the failure policy for a before-callback) instead of
/// queueing past the vendor's 2 s.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;

/// The default number of admitted requests whose body is still arriving, in total.
pub const DEFAULT_MAX_PENDING: usize = 1024;

/// The default number of admitted requests whose body is still arriving, per source address (an
/// IPv6 source counts by its /64). A stranger holding a captured URL then cannot take the room
/// the vendor's requests need by trickling bodies from one address.
pub const DEFAULT_MAX_PENDING_PER_SOURCE: usize = 32;

/// Refusals of requests that did not authenticate are logged at most this often, so a flood of
/// forged requests cannot flood the log; the count of dropped lines is reported.
const REFUSAL_LOG_LINES_PER_SECOND: u32 = 20;

/// Failures of authenticated requests are logged at most this often: a captured URL
/// authenticates too, so its flood must not fill the disk through the log either.
const FAILURE_LOG_LINES_PER_SECOND: u32 = 50;

/// Receives callbacks: checks the query string, decodes the body into its typed event, calls the
/// handler registered for the command, and answers in the vendor's format.
///
/// Built with [`Dispatcher::builder`]; cheap to clone (clones share the handlers).
///
/// In order, a request is:
/// 1. refused with 400 if `SdkAppid` or `CallbackCommand` is missing, malformed or repeated;
/// 2. refused with 403 if its source is not in [`DispatcherBuilder::allow_sources`];
/// 3. refused with 403 if `SdkAppid` is not the configured app id;
/// 4. when a token is configured, refused with 401 if `Sign` or `RequestTime` is missing, if
///    `RequestTime` is too far from the clock, or if `Sign` does not match;
/// 5. shed with 503 if too many bodies are still arriving, from its source or in all
///    ([`DispatcherBuilder::max_pending_per_source`], [`DispatcherBuilder::max_pending`]);
/// 6. refused with 413 if the body exceeds the limit ([`DispatcherBuilder::max_body_bytes`]), or
///    with 408 if it did not arrive in time (the adapter's request timeout);
/// 7. shed with 503 if [`DispatcherBuilder::max_in_flight`] requests are already being handled;
/// 8. refused with 400 if the body names another command than the query, and otherwise answered
///    `OK` at once if no handler takes the command and there is no fallback;
/// 9. refused with 400 if the body is not JSON of the command's type (a batch keeps its good
///    events, and each bad one is dead-lettered alone);
/// 10. handed to the handler, whose result is the reply; a handler error or panic gives 500, and
///     a handler still running at the deadline is answered without (`OK`, and it goes on to
///     finish; for a before-callback, the failure policy).
///
/// Steps 1–5 read only the query string and the source ([`Dispatcher::admit`]), so an adapter
/// refuses a request before reading its body.
///
/// For a **before-callback** every failure above is answered by the [`FailurePolicy`](crate::FailurePolicy)
/// instead (by default, the status above, which the vendor treats by its console policy). Every
/// authenticated request that fails after its body arrived is written to the dead-letter sink,
/// if one is set, with its raw body.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    app_id: Option<u64>,
    settings: Settings,
    routes: Routes,
    fallback: Option<Box<dyn Route>>,
    background: Arc<Background>,
    in_flight: AtomicUsize,
    pending: PendingBodies,
    /// Large bodies decoded at once, off the async workers (see `run.rs`).
    large_decodes: Arc<tokio::sync::Semaphore>,
    refusals: RefusalLimiter,
    failures: RefusalLimiter,
    next_request_id: AtomicU64,
    /// What `build` had to warn about, kept until a subscriber can hear it.
    build_warnings: Vec<&'static str>,
    build_warnings_logged: AtomicBool,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut commands: Vec<_> = self.inner.routes.keys().collect();
        commands.sort();
        f.debug_struct("Dispatcher")
            .field("app_id", &self.inner.app_id)
            .field("settings", &self.inner.settings)
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

    /// How long a handler runs before the dispatcher answers without it.
    pub fn handler_deadline(&self) -> Duration {
        self.inner.settings.handler_deadline
    }

    /// Handles one request: `query` is the raw query string (without `?`), `body` the raw body.
    /// Never panics, whatever the input or the handler does. The request has no known source, so
    /// a dispatcher with [`DispatcherBuilder::allow_sources`] refuses it.
    ///
    /// Must be polled inside a Tokio runtime when a handler may outlive the deadline: the
    /// deadline's timer and the task that lets the handler finish are Tokio's. A handler that is
    /// ready at its first poll needs neither.
    pub fn dispatch<'a>(&'a self, query: &'a str, body: Bytes) -> impl Future<Output = HttpReply> + Send + 'a {
        // Admission is synchronous; returning either future, rather than awaiting one inside
        // another, keeps the request's state from being copied into a second, larger future.
        match self.admit(query) {
            Ok(admitted) => Dispatch::Admitted { future: admitted.dispatch(body) },
            Err(refusal) => Dispatch::Refused { reply: Some(refusal) },
        }
    }

    /// Checks a request's query string alone: app id, authentication, the command. An adapter
    /// calls this before reading the body, so a forged request never gets its body read (nor a
    /// `100 Continue`), then [`Admitted::dispatch`] with the body. The source is unknown: use
    /// [`Dispatcher::admit_from`] when the adapter knows the peer's address.
    pub fn admit<'a>(&'a self, query: &'a str) -> Result<Admitted<'a>, HttpReply> {
        self.admit_source(query, None)
    }

    /// [`Dispatcher::admit`] for a request from `peer`, with the `X-Forwarded-For` header it
    /// carried (believed only when `peer` is a proxy of [`DispatcherBuilder::trust_forwarded_for`]).
    pub fn admit_from<'a>(
        &'a self,
        query: &'a str,
        peer: IpAddr,
        forwarded_for: Option<&str>,
    ) -> Result<Admitted<'a>, HttpReply> {
        let source = self.inner.settings.sources.client(peer, forwarded_for);
        self.admit_source(query, Some(source))
    }

    /// `source` is `Some(None)` when the request came from a peer whose forwarded address could
    /// not be read, `None` when the adapter knows no peer at all.
    fn admit_source<'a>(&'a self, query: &'a str, source: Option<Option<IpAddr>>) -> Result<Admitted<'a>, HttpReply> {
        self.log_build_warnings();
        let inner = &*self.inner;
        let started = Instant::now();
        let query = CallbackQuery::parse(query);
        let source = source.flatten();
        let refuse = |error: DispatchError| Err(self.refuse_unauthenticated(Refusal { query: &query, source, error }));

        if let Some(repeated) = query.repeated {
            return refuse(QueryError::Repeated(repeated).into());
        }
        if !inner.settings.sources.allows(source) {
            return refuse(DispatchError::SourceNotAllowed { address: source });
        }
        let Some(app_id) = query.sdk_app_id.as_deref() else {
            return refuse(QueryError::Missing("SdkAppid").into());
        };
        let Some(app_id) = crate::digits::parse_digits(app_id) else {
            let reason = format!("`{}` is not a number", Clipped(app_id));
            return refuse(QueryError::Invalid { name: "SdkAppid", reason }.into());
        };
        if inner.app_id.is_some_and(|expected| expected != app_id) {
            return refuse(DispatchError::WrongAppId(crate::AppId(app_id)));
        }
        let mut received_at = None;
        if let Some(token) = &inner.settings.token {
            let now = (inner.settings.clock)();
            received_at = Some(now);
            let (Some(sign), Some(request_time)) = (&query.sign, &query.request_time) else {
                return refuse(SignatureError::Missing.into());
            };
            if let Err(error) = signature::verify(token, request_time, sign, now, inner.settings.max_clock_skew) {
                return refuse(error.into());
            }
        }
        // Borrowed from the query string (a clone of a borrowed `Cow` copies nothing).
        let Some(command) = query.callback_command.clone() else {
            return refuse(QueryError::Missing("CallbackCommand").into());
        };
        let head = Head {
            app_id,
            command,
            client_ip: query.client_ip,
            platform: query.opt_platform,
            request_time: query.request_time.as_deref().and_then(crate::digits::parse_digits),
            request_id: query.request_id,
            source,
            received_at,
            started,
            local_id: OnceLock::new(),
        };
        match inner.pending.enter(source) {
            Some(pending) => Ok(Admitted::new(self, head, pending)),
            None => Err(self.fail(&head, DispatchError::Overloaded, None).reply),
        }
    }

    /// Waits up to `timeout` for every handler still running past its deadline, then abandons
    /// the rest, writing each to the dead-letter sink with reason `shutdown` (so a SIGTERM leaves a
    /// letter to replay, where a SIGKILL leaves an unfinished `in_progress` one). Returns how many
    /// were abandoned. Call it when shutting down, after the server stopped taking requests.
    pub async fn drain(&self, timeout: Duration) -> usize {
        let abandoned = self.inner.background.drain(timeout).await;
        for letter in &abandoned {
            tracing::error!(
                command = %Clipped(&letter.command),
                request_id = %Clipped(&letter.request_id),
                "shutting down with the handler still running; the event is dead-lettered"
            );
            self.write_dead_letter(letter);
            // The `shutdown` letter now holds the event: its `in_progress` letter (same request)
            // is settled, so the next start does not hand it on a second time.
            self.mark_done(letter);
        }
        abandoned.len()
    }

    /// How many handlers are running past their deadline right now.
    pub fn handlers_past_deadline(&self) -> usize {
        self.inner.background.len()
    }

    /// Hands the events of after-callbacks that were acknowledged at their deadline but never
    /// finished (the process died while their handler ran: reason `in_progress` without a later
    /// `done`) to their handlers again, as if just received. They were authenticated when they
    /// arrived, so they are not checked again. Returns how many were handed on.
    ///
    /// [`Server`](crate::axum::Server) calls it at start-up; call it yourself with another adapter.
    pub async fn resume_unfinished(&self) -> usize {
        let Some(sink) = &self.inner.settings.dead_letters else { return 0 };
        let unfinished = match sink.unfinished() {
            Ok(letters) => letters,
            Err(error) => {
                tracing::error!(%error, "could not read the dead letters of unfinished handlers");
                return 0;
            }
        };
        if !unfinished.is_empty() {
            tracing::warn!(
                events = unfinished.len(),
                "handling again the events acknowledged while their handler ran when the last process stopped"
            );
        }
        for letter in &unfinished {
            let reply = self.redeliver(letter).await;
            if reply.status.is_success() {
                self.mark_done(letter);
            }
        }
        unfinished.len()
    }

    /// The dispatcher's own answer to a letter's event, without authentication.
    async fn redeliver(&self, letter: &DeadLetter) -> HttpReply {
        let head = Head::from_letter(letter);
        let Some(pending) = self.inner.pending.enter(None) else {
            return self.fail(&head, DispatchError::Overloaded, None).reply;
        };
        Admitted::new(self, head, pending).dispatch(letter.raw_body()).await
    }

    /// Whether `peer` is one of the proxies whose `X-Forwarded-For` is believed: the server does
    /// not cap a proxy's connections as it caps one source's.
    #[cfg(feature = "axum")]
    pub(crate) fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        self.inner.settings.sources.is_proxy(peer.to_canonical())
    }

    /// Logs what `build` warned about once a subscriber exists to hear it: when the dispatcher
    /// was built before logging was set up, its first request (or [`Server`](crate::axum::Server)'s
    /// start) logs them.
    pub(crate) fn log_build_warnings(&self) {
        let inner = &*self.inner;
        if inner.build_warnings.is_empty() || inner.build_warnings_logged.load(Ordering::Relaxed) {
            return;
        }
        if !tracing::dispatcher::has_been_set() {
            return;
        }
        if inner.build_warnings_logged.swap(true, Ordering::Relaxed) {
            return;
        }
        for warning in &inner.build_warnings {
            tracing::warn!("{warning}");
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Dispatcher::dispatch`]: the admitted request's, or a refusal known at once.
    #[project = DispatchProjection]
    enum Dispatch<F> {
        Admitted { #[pin] future: F },
        Refused { reply: Option<HttpReply> },
    }
}

impl<F: Future<Output = HttpReply>> Future for Dispatch<F> {
    type Output = HttpReply;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<HttpReply> {
        match self.project() {
            DispatchProjection::Admitted { future } => future.poll(cx),
            DispatchProjection::Refused { reply } => Poll::Ready(reply.take().expect("polled after it completed")),
        }
    }
}
