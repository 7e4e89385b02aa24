//! The dispatcher: from a raw query string and body to an [`HttpReply`], with no web framework.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use serde::Deserialize;

use crate::background::Background;
use crate::batch::{self, RejectedItem};
use crate::context::{Context, UnhandledEvent};
use crate::dead_letter::{DeadLetter, DeadLetterSink};
use crate::dedup::{Deduplicator, Ran};
use crate::error::{DecodeError, HandlerError, QueryError};
use crate::handler::{FallbackHandler, Handler};
use crate::lenient;
use crate::log_safe::{Admit, Clipped, RefusalLimiter};
use crate::policy::FailurePolicy;
use crate::query::CallbackQuery;
use crate::signature::{self, DEFAULT_MAX_CLOCK_SKEW, SignatureError};
use crate::telemetry::{self, Outcome};
use crate::unwind::FutureExt;
use crate::{Callback, CallbackKind, Command, DispatchError, HttpReply, IntoReply, Reply};

/// The default time a handler gets before the dispatcher answers without it: 1.5 s, inside the
/// 2 s the vendor waits, leaving room for the network.
pub const DEFAULT_HANDLER_DEADLINE: Duration = Duration::from_millis(1500);

/// The default largest body accepted: 1 MiB. Vendor bodies are a few kilobytes; the largest,
/// a batch of 100 push events, stays well below this.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

/// The default number of requests handled at once; past it, requests are shed at once (503, or
/// the failure policy for a before-callback) instead of queueing past the vendor's 2 s.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;

/// The typed routes by command name. Fixed once built and only looked up, so a fast hash is safe
/// with names a client chooses: no insertion, no collision flood.
type Routes = rapidhash::RapidHashMap<&'static str, Box<dyn Route>>;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Refusals of requests that did not authenticate are logged at most this often, so a flood of
/// forged requests cannot flood the log; the count of dropped lines is reported.
const REFUSAL_LOG_LINES_PER_SECOND: u32 = 20;

/// Receives callbacks: checks the query string, decodes the body into its typed event, calls the
/// handler registered for the command, and answers in the vendor's format.
///
/// Built with [`Dispatcher::builder`]; cheap to clone (clones share the handlers).
///
/// In order, a request is:
/// 1. refused with 400 if `SdkAppid` or `CallbackCommand` is missing, malformed or repeated;
/// 2. refused with 403 if `SdkAppid` is not the configured app id;
/// 3. when a token is configured, refused with 401 if `Sign` or `RequestTime` is missing, if
///    `RequestTime` is too far from the clock, or if `Sign` does not match;
/// 4. shed with 503 if [`DispatcherBuilder::max_in_flight`] requests are already being handled;
/// 5. refused with 413 if the body exceeds the limit ([`DispatcherBuilder::max_body_bytes`]);
/// 6. refused with 400 if the body names another command than the query, and otherwise answered
///    `OK` at once if no handler takes the command and there is no fallback;
/// 7. refused with 400 if the body is not JSON of the command's type (a batch keeps its good
///    events: see below);
/// 8. handed to the handler, whose result is the reply; a handler error or panic gives 500, and a
///    handler still running at the deadline is answered without (`OK`, and it goes on to finish).
///
/// Steps 1–4 read only the query string ([`Dispatcher::admit`]), so an adapter can refuse a
/// request before reading its body.
///
/// For a **before-callback** every failure above is answered by the [`FailurePolicy`] instead
/// (by default, the status above, which the vendor treats by its console policy). Every
/// authenticated request that fails after step 4 is written to the dead-letter sink, if one is
/// set, with its raw body.
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
    refusals: RefusalLimiter,
    next_request_id: AtomicU64,
}

/// The settings a builder collects and a dispatcher keeps as they are.
struct Settings {
    token: Option<String>,
    max_clock_skew: Option<Duration>,
    max_body_bytes: usize,
    max_in_flight: usize,
    handler_deadline: Duration,
    failure_policy: FailurePolicy,
    failure_policy_by_command: HashMap<String, FailurePolicy>,
    dead_letters: Option<Arc<dyn DeadLetterSink>>,
    dedup: Option<Deduplicator>,
    clock: Clock,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token: None,
            max_clock_skew: Some(DEFAULT_MAX_CLOCK_SKEW),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            handler_deadline: DEFAULT_HANDLER_DEADLINE,
            failure_policy: FailurePolicy::Vendor,
            failure_policy_by_command: HashMap::new(),
            dead_letters: None,
            dedup: None,
            clock: Arc::new(SystemTime::now),
        }
    }
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut commands: Vec<_> = self.inner.routes.keys().collect();
        commands.sort();
        let settings = &self.inner.settings;
        f.debug_struct("Dispatcher")
            .field("app_id", &self.inner.app_id)
            .field("token", &settings.token.as_ref().map(|_| "<redacted>"))
            .field("max_clock_skew", &settings.max_clock_skew)
            .field("max_body_bytes", &settings.max_body_bytes)
            .field("max_in_flight", &settings.max_in_flight)
            .field("handler_deadline", &settings.handler_deadline)
            .field("failure_policy", &settings.failure_policy)
            .field("dead_letters", &settings.dead_letters.is_some())
            .field("dedup", &settings.dedup)
            .field("commands", &commands)
            .field("fallback", &self.inner.fallback.is_some())
            .finish()
    }
}

/// A request whose query string passed every check of [`Dispatcher::admit`]: it is authentic
/// and has a slot among the requests in flight, held until it is answered.
#[derive(Debug)]
pub struct Admitted<'a> {
    head: Head<'a>,
    _slot: InFlightSlot<'a>,
}

impl Admitted<'_> {
    /// `CallbackCommand`, as sent.
    pub fn command(&self) -> &str {
        &self.head.command
    }
}

/// What the query string says about a request, borrowed from it, and when it arrived.
#[derive(Debug, Clone)]
struct Head<'q> {
    app_id: u64,
    command: Cow<'q, str>,
    client_ip: Option<Cow<'q, str>>,
    platform: Option<Cow<'q, str>>,
    request_time: Option<u64>,
    request_id: Option<Cow<'q, str>>,
    /// The clock's reading when authentication needed one; else derived from `started` when a
    /// failure needs it, so the hot path reads one clock, not two.
    received_at: Option<SystemTime>,
    started: Instant,
    /// The id this dispatcher gives the request when the vendor sent no `RequestID`, made on
    /// first use so that the log, the reply and the dead letter of one request share it.
    local_id: OnceLock<String>,
}

impl Head<'_> {
    /// A copy that owns its strings, for a handler that outlives the request.
    fn into_owned(self) -> Head<'static> {
        let owned = |value: Option<Cow<'_, str>>| value.map(|v| Cow::Owned(v.into_owned()));
        Head {
            app_id: self.app_id,
            command: Cow::Owned(self.command.into_owned()),
            client_ip: owned(self.client_ip),
            platform: owned(self.platform),
            request_time: self.request_time,
            request_id: owned(self.request_id),
            received_at: self.received_at,
            started: self.started,
            local_id: self.local_id,
        }
    }

    /// The callback's kind, when this version knows the command. Only failures ask.
    fn kind(&self) -> Option<CallbackKind> {
        Command::from_name(&self.command).map(Command::kind)
    }

    fn received_at(&self) -> SystemTime {
        self.received_at.unwrap_or_else(|| {
            let now = SystemTime::now();
            now.checked_sub(self.started.elapsed()).unwrap_or(now)
        })
    }
}

/// A place among the requests in flight, given back when dropped. The count only bounds load,
/// so relaxed ordering does.
#[derive(Debug)]
struct InFlightSlot<'a>(&'a AtomicUsize);

impl Drop for InFlightSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What went wrong with a request, as counted, logged and dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    /// The query string is malformed, names another app, or fails authentication.
    Refused,
    Overloaded,
    BodyTooLarge,
    CommandMismatch,
    Undecodable,
    HandlerFailed,
    HandlerPanicked,
    DeadlineMissed,
    /// Another delivery of the same event is being handled: not a loss, never dead-lettered.
    InFlightElsewhere,
    DedupUnavailable,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Refused => "refused",
            Reason::Overloaded => "overloaded",
            Reason::BodyTooLarge => "body_too_large",
            Reason::CommandMismatch => "command_mismatch",
            Reason::Undecodable => "undecodable",
            Reason::HandlerFailed => "handler_failed",
            Reason::HandlerPanicked => "handler_panicked",
            Reason::DeadlineMissed => "deadline_missed",
            Reason::InFlightElsewhere => "in_flight_elsewhere",
            Reason::DedupUnavailable => "dedup_unavailable",
        }
    }

    fn of(error: &DispatchError) -> Reason {
        match error {
            DispatchError::BodyTooLarge { .. } => Reason::BodyTooLarge,
            DispatchError::Decode(DecodeError::CommandMismatch { .. }) => Reason::CommandMismatch,
            DispatchError::Decode(_) => Reason::Undecodable,
            DispatchError::Handler(HandlerError::Panicked) => Reason::HandlerPanicked,
            DispatchError::Handler(_) => Reason::HandlerFailed,
            DispatchError::Overloaded => Reason::Overloaded,
            DispatchError::DeadlineMissed => Reason::DeadlineMissed,
            DispatchError::InFlightElsewhere => Reason::InFlightElsewhere,
            DispatchError::DedupUnavailable(_) => Reason::DedupUnavailable,
            _ => Reason::Refused,
        }
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
    /// Never panics, whatever the input or the handler does.
    ///
    /// Must be polled inside a Tokio runtime when a handler may outlive the deadline: the
    /// deadline's timer and the task that lets the handler finish are Tokio's. A handler that is
    /// ready at its first poll needs neither.
    pub fn dispatch<'a>(&'a self, query: &'a str, body: Bytes) -> impl Future<Output = HttpReply> + Send + 'a {
        // Admission is synchronous; returning either future, rather than awaiting one inside
        // another, keeps the request's state from being copied into a second, larger future.
        match self.admit(query) {
            Ok(admitted) => Dispatch::Admitted { future: self.dispatch_admitted(admitted, body) },
            Err(refusal) => Dispatch::Refused { reply: Some(refusal) },
        }
    }

    /// Checks a request's query string alone: app id, authentication, the command, and room among
    /// the requests in flight. An adapter calls this before reading the body, so a forged request
    /// never gets its body read (nor a `100 Continue`), then [`Dispatcher::dispatch_admitted`].
    pub fn admit<'a>(&'a self, query: &'a str) -> Result<Admitted<'a>, HttpReply> {
        let inner = &*self.inner;
        let started = Instant::now();
        let query = match CallbackQuery::parse(query) {
            Ok(query) => query,
            Err(error) => return Err(self.refuse_unauthenticated(None, &CallbackQuery::default(), error.into())),
        };
        let refuse = |error| Err(self.refuse_unauthenticated(query.callback_command.as_deref(), &query, error));

        let Some(app_id) = query.sdk_app_id.as_deref() else {
            return refuse(QueryError::Missing("SdkAppid").into());
        };
        let Some(app_id) = crate::digits::parse_digits(app_id) else {
            let reason = format!("`{}` is not a number", Clipped(app_id));
            return refuse(QueryError::Invalid { name: "SdkAppid", reason }.into());
        };
        if inner.app_id.is_some_and(|expected| expected != app_id) {
            return refuse(DispatchError::WrongAppId(app_id.to_string()));
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
            received_at,
            started,
            local_id: OnceLock::new(),
        };
        let in_flight = inner.in_flight.fetch_add(1, Ordering::Relaxed);
        let slot = InFlightSlot(&inner.in_flight);
        if in_flight >= inner.settings.max_in_flight {
            drop(slot);
            return Err(self.fail(&head, DispatchError::Overloaded, None));
        }
        Ok(Admitted { head, _slot: slot })
    }

    /// Handles the body of a request that [`Dispatcher::admit`] let in.
    pub async fn dispatch_admitted(&self, admitted: Admitted<'_>, body: Bytes) -> HttpReply {
        let head = &admitted.head;
        let (reply, command) = match self.start(head, &body) {
            Ok((Started::Reply(reply), command)) => (reply, command),
            Ok((Started::Handler(mut work), command)) => {
                // Most handlers finish at their first poll: no timer, no task.
                let first_poll = std::future::poll_fn(|cx| Poll::Ready(work.as_mut().poll(cx))).await;
                let reply = match first_poll {
                    Poll::Ready(result) => self.reply(head, result, &body),
                    // Boxed: the timer is large and only a handler that waits needs it, so every
                    // request's future stays small.
                    Poll::Pending => Box::pin(self.finish_late(head, body, work)).await,
                };
                (reply, command)
            }
            Err(error) => (self.fail(head, error, Some(&body)), None),
        };
        telemetry::request_finished(&head.command, command, head.started.elapsed(), outcome_of(&reply));
        reply
    }

    /// Answers an admitted request whose body could not be read: too large, cut off, too slow.
    pub fn refuse_admitted(&self, admitted: Admitted<'_>, error: DispatchError) -> HttpReply {
        let reply = self.fail(&admitted.head, error, None);
        telemetry::request_finished(&admitted.head.command, None, admitted.head.started.elapsed(), outcome_of(&reply));
        reply
    }

    /// Waits up to `timeout` for every handler still running past its deadline, then abandons
    /// the rest, writing each to the dead-letter sink with reason `shutdown`. Returns how many
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
        }
        abandoned.len()
    }

    /// How many handlers are running past their deadline right now.
    pub fn handlers_past_deadline(&self) -> usize {
        self.inner.background.len()
    }

    /// Everything up to the handler call, synchronously; with the command, when a typed route
    /// knows it (it saves the telemetry a lookup by name).
    fn start(&self, head: &Head<'_>, body: &Bytes) -> Result<(Started, Option<Command>), DispatchError> {
        let inner = &*self.inner;
        if body.len() > inner.settings.max_body_bytes {
            return Err(DispatchError::BodyTooLarge { limit: inner.settings.max_body_bytes });
        }
        let Some(route) = inner.routes.get(&*head.command).or(inner.fallback.as_ref()) else {
            // Even unhandled, a body of another command is refused, never acknowledged.
            check_body_command(&head.command, body)?;
            tracing::debug!(command = %Clipped(&head.command), "no handler for this command; answering OK");
            return Ok((Started::Reply(HttpReply::ok(&Reply::ok())), None));
        };
        let ctx = Context {
            app_id: head.app_id,
            command: match route.command() {
                Some(command) => Cow::Borrowed(command.name()),
                None => Cow::Owned(head.command.to_string()),
            },
            client_ip: head.client_ip.as_deref().map(str::to_owned),
            platform: head.platform.as_deref().map(Into::into),
            request_time: head.request_time,
            request_id: head.request_id.as_deref().map(str::to_owned),
            raw_body: body.clone(),
        };
        let routed = route.call(ctx)?;
        for item in routed.rejected {
            self.dead_letter_batch_item(head, item);
        }
        let work = match &inner.settings.dedup {
            // The vendor never retries a before-callback, and each asks for a fresh decision.
            Some(dedup) if head.kind() != Some(CallbackKind::Before) => {
                deduplicated(dedup.clone(), head.command.to_string(), body.clone(), routed.work)
            }
            _ => routed.work,
        };
        Ok((Started::Handler(work), route.command()))
    }

    /// Waits for a handler that was not ready at its first poll, up to the deadline; past it,
    /// answers without the handler and lets it finish on a task of its own.
    async fn finish_late(&self, head: &Head<'_>, body: Bytes, mut work: Work) -> HttpReply {
        let left = self.inner.settings.handler_deadline.saturating_sub(head.started.elapsed());
        match tokio::time::timeout(left, &mut work).await {
            Ok(result) => self.reply(head, result, &body),
            Err(_) => self.deadline_missed(head, body, work),
        }
    }

    /// The answer to a handler's result.
    fn reply(&self, head: &Head<'_>, result: Result<HttpReply, DispatchError>, body: &Bytes) -> HttpReply {
        result.unwrap_or_else(|error| self.fail(head, error, Some(body)))
    }

    fn deadline_missed(&self, head: &Head<'_>, body: Bytes, work: Work) -> HttpReply {
        telemetry::deadline_missed(&head.command);
        // The id is fixed before the copy, so the late handler's letters and this answer share it.
        let request_id = self.request_id(head);
        let late = head.clone().into_owned();
        let letter = self.letter(&late, "shutdown", "the server shut down while the handler ran".into(), &body);
        let this = self.clone();
        self.inner.background.spawn(letter, async move {
            if let Err(error) = work.await {
                tracing::error!(
                    command = %Clipped(&late.command),
                    request_id = %Clipped(&this.request_id(&late)),
                    %error,
                    "a handler that missed its deadline then failed; the event is dead-lettered"
                );
                let letter = this.letter(&late, "deadline_then_failed", error.to_string(), &body);
                this.write_dead_letter(&letter);
            }
        });
        if head.kind() == Some(CallbackKind::Before) {
            return self.fail(head, DispatchError::DeadlineMissed, None);
        }
        tracing::warn!(
            command = %Clipped(&head.command),
            request_id = %Clipped(&request_id),
            "the handler missed its deadline; answering OK while it finishes"
        );
        HttpReply::ok(&Reply::ok())
    }

    /// The answer to an authenticated request that failed: logged, counted, dead-lettered when
    /// its body is known, and answered by the failure policy for a before-callback.
    fn fail(&self, head: &Head<'_>, error: DispatchError, body: Option<&Bytes>) -> HttpReply {
        let reason = Reason::of(&error);
        let request_id = self.request_id(head);
        // Shedding is what overload looks like: one line per shed request would add to the load,
        // so those lines go through the same limiter as strangers' refusals.
        let log = reason != Reason::Overloaded || matches!(self.inner.refusals.admit(), Admit::Log { .. });
        if log && error.status().is_server_error() {
            tracing::error!(
                command = %Clipped(&head.command),
                client_ip = %Clipped(head.client_ip.as_deref().unwrap_or("-")),
                request_id = %Clipped(&request_id),
                reason = reason.as_str(),
                %error,
                "callback failed"
            );
        } else if log {
            tracing::warn!(
                command = %Clipped(&head.command),
                client_ip = %Clipped(head.client_ip.as_deref().unwrap_or("-")),
                request_id = %Clipped(&request_id),
                reason = reason.as_str(),
                %error,
                "callback refused"
            );
        }
        if let Some(body) = body.filter(|_| !matches!(reason, Reason::BodyTooLarge | Reason::InFlightElsewhere)) {
            let letter = self.letter(head, reason.as_str(), error.to_string(), body);
            self.write_dead_letter(&letter);
        }
        self.answer(Some(&head.command), head.kind(), &error, reason, &request_id, log)
    }

    /// The answer to a request whose query string failed a check: logged at most
    /// [`REFUSAL_LOG_LINES_PER_SECOND`] times a second, never dead-lettered (nothing vouches for
    /// it), and answered by the failure policy when it names a before-callback.
    fn refuse_unauthenticated(
        &self,
        command: Option<&str>,
        query: &CallbackQuery<'_>,
        error: DispatchError,
    ) -> HttpReply {
        let request_id = query.request_id.as_deref().unwrap_or("-");
        let admitted = self.inner.refusals.admit();
        let log = matches!(admitted, Admit::Log { .. });
        if let Admit::Log { suppressed } = admitted {
            tracing::warn!(
                command = %Clipped(command.unwrap_or("-")),
                client_ip = %Clipped(query.client_ip.as_deref().unwrap_or("-")),
                request_id = %Clipped(request_id),
                suppressed_since_last = suppressed,
                %error,
                "callback refused"
            );
        }
        let kind = command.and_then(Command::from_name).map(Command::kind);
        let reply = self.answer(command, kind, &error, Reason::Refused, request_id, log);
        telemetry::request_finished(command.unwrap_or("-"), None, Duration::ZERO, outcome_of(&reply));
        reply
    }

    /// The reply to a failure: its own status, or for a before-callback the failure policy's answer
    /// (logged when `log`: the caller rate-limits what strangers cause).
    fn answer(
        &self,
        command: Option<&str>,
        kind: Option<CallbackKind>,
        error: &DispatchError,
        reason: Reason,
        request_id: &str,
        log: bool,
    ) -> HttpReply {
        let own = || match error {
            // The handler's own words go to the log, not to whoever sent the request.
            DispatchError::Handler(_) => {
                let info = format!("the callback could not be handled (request {})", Clipped(request_id));
                HttpReply::with_status(error.status(), &Reply::fail(1, info))
            }
            _ => HttpReply::from(error),
        };
        let (Some(command), Some(CallbackKind::Before)) = (command, kind) else { return own() };
        let policy = self.failure_policy(command);
        telemetry::failure_policy_used(command, policy, reason.as_str());
        if log {
            tracing::error!(
                command = %Clipped(command),
                request_id = %Clipped(request_id),
                reason = reason.as_str(),
                policy = policy.as_str(),
                "a before-callback could not be decided; answering by the failure policy"
            );
        }
        match policy {
            FailurePolicy::Allow => HttpReply::ok(&Reply::ok()),
            FailurePolicy::Refuse => {
                let info = format!("refused by the failure policy (request {})", Clipped(request_id));
                HttpReply::ok(&Reply { error_code: 1, error_info: info, ..Reply::ok() })
            }
            FailurePolicy::Vendor => own(),
        }
    }

    fn failure_policy(&self, command: &str) -> FailurePolicy {
        let settings = &self.inner.settings;
        settings.failure_policy_by_command.get(command).copied().unwrap_or(settings.failure_policy)
    }

    /// The vendor's `RequestID`, or an id of this dispatcher's when it sent none.
    fn request_id(&self, head: &Head<'_>) -> String {
        match &head.request_id {
            Some(id) => id.to_string(),
            None => head
                .local_id
                .get_or_init(|| {
                    let n = self.inner.next_request_id.fetch_add(1, Ordering::Relaxed);
                    format!("local-{}-{n}", std::process::id())
                })
                .clone(),
        }
    }

    fn letter(&self, head: &Head<'_>, reason: &str, detail: String, body: &[u8]) -> DeadLetter {
        let mut letter = DeadLetter::new(
            &head.command,
            reason,
            detail,
            head.app_id,
            &self.request_id(head),
            head.received_at(),
            body,
        );
        letter.client_ip = head.client_ip.as_deref().map(str::to_owned);
        letter.platform = head.platform.as_deref().map(str::to_owned);
        letter
    }

    fn dead_letter_batch_item(&self, head: &Head<'_>, item: RejectedItem) {
        let request_id = self.request_id(head);
        tracing::error!(
            command = %Clipped(&head.command),
            request_id = %Clipped(&request_id),
            index = item.index,
            reason = %Clipped(&item.reason),
            "an event of a batch could not be decoded; the others are handled and it is dead-lettered"
        );
        let mut letter = self.letter(head, "batch_item_undecodable", item.reason, &item.body);
        letter.index = Some(item.index);
        self.write_dead_letter(&letter);
    }

    fn write_dead_letter(&self, letter: &DeadLetter) {
        telemetry::dead_lettered(&letter.command, &letter.reason);
        let Some(sink) = &self.inner.settings.dead_letters else {
            tracing::error!(
                command = %Clipped(&letter.command),
                request_id = %Clipped(&letter.request_id),
                reason = %letter.reason,
                "no dead-letter sink is configured: this event is lost"
            );
            return;
        };
        if let Err(error) = sink.write(letter) {
            tracing::error!(
                command = %Clipped(&letter.command),
                request_id = %Clipped(&letter.request_id),
                %error,
                "the dead letter could not be written: this event is lost"
            );
        }
    }
}

fn outcome_of(reply: &HttpReply) -> Outcome {
    match reply.status.as_u16() {
        200 if reply.body.starts_with(br#"{"ActionStatus":"OK","ErrorCode":0"#) => Outcome::Ok,
        200 => Outcome::Answered,
        400..=499 => Outcome::Refused,
        _ => Outcome::Failed,
    }
}

type Work = BoxFuture<Result<HttpReply, DispatchError>>;

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

enum Started {
    Handler(Work),
    Reply(HttpReply),
}

/// `work` run at most once per event across deliveries (and replicas sharing the store): a
/// duplicate of a handled event is acknowledged without running it; one being handled elsewhere
/// gets 409 so the vendor retries later; a handler that fails releases the event for the retry.
fn deduplicated(dedup: Deduplicator, command: String, body: Bytes, work: Work) -> Work {
    Box::pin(async move {
        match dedup.run(&command, &body, work).await {
            Ok(Ran::Ran(result)) => result,
            Ok(Ran::Duplicate) => {
                tracing::debug!(command = %Clipped(&command), "a duplicate of a handled event; acknowledged");
                Ok(HttpReply::ok(&Reply::ok()))
            }
            Ok(_) => Err(DispatchError::InFlightElsewhere),
            Err(error) => Err(DispatchError::DedupUnavailable(error.to_string())),
        }
    })
}

/// A handler call under way, with the events of a batch left out of it.
struct Routed {
    work: Work,
    rejected: Vec<RejectedItem>,
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
fn check_body_command(query_command: &str, body: &[u8]) -> Result<(), DecodeError> {
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
        // A handler may refuse a request itself by returning a `DispatchError`, which keeps its status.
        let response = output.into_reply().map_err(|e| match e.downcast::<DispatchError>() {
            Ok(refusal) => *refusal,
            Err(e) => HandlerError::Failed(e.to_string()).into(),
        })?;
        Ok(HttpReply::ok(&response))
    }))
}

/// A type-erased handler: a typed one for one command, or the fallback.
trait Route: Send + Sync {
    fn call(&self, ctx: Context) -> Result<Routed, DispatchError>;

    /// The command a typed route serves.
    fn command(&self) -> Option<Command> {
        None
    }
}

struct TypedRoute<C, H, M> {
    handler: H,
    command: Option<Command>,
    _callback: PhantomData<fn() -> (C, M)>,
}

impl<C: Callback, M, H: Handler<C, M>> Route for TypedRoute<C, H, M> {
    fn call(&self, ctx: Context) -> Result<Routed, DispatchError> {
        let (event, rejected) = match decode::<C>(&ctx.raw_body) {
            Ok(event) => (event, Vec::new()),
            Err(error) => match lenient::decode_with_numeric_strings::<C>(&ctx.raw_body) {
                Some(event) => (event, Vec::new()),
                None => batch::decode_partially::<C>(&ctx.raw_body).ok_or(error)?,
            },
        };
        let work = start_handler(|| self.handler.call(event, ctx))?;
        Ok(Routed { work, rejected })
    }

    fn command(&self) -> Option<Command> {
        self.command
    }
}

struct TypedFallback<H>(H);

impl<H: FallbackHandler> Route for TypedFallback<H> {
    fn call(&self, ctx: Context) -> Result<Routed, DispatchError> {
        let body = serde_json::from_slice(&ctx.raw_body)
            .map_err(|e| DecodeError::invalid_body(ctx.command(), e.to_string()))?;
        check_body_command(ctx.command(), &ctx.raw_body)?;
        let event = UnhandledEvent { command: ctx.command().to_owned(), body };
        let work = start_handler(|| self.0.call(event, ctx))?;
        Ok(Routed { work, rejected: Vec::new() })
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
    /// A failure policy was set for a command that is not a known before-callback.
    #[error("`{0}` is not a before-callback; a failure policy applies only to before-callbacks")]
    NotABeforeCallback(String),
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

    /// How many requests may be handled at once; past it, requests are shed at once with 503
    /// (or the failure policy, for a before-callback). Default: [`DEFAULT_MAX_IN_FLIGHT`].
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.settings.max_in_flight = max;
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
    pub fn on_failure_of(mut self, command: &str, policy: FailurePolicy) -> Self {
        self.settings.failure_policy_by_command.insert(command.to_owned(), policy);
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

    /// Builds the dispatcher. Insecure settings (no token, any app id) and a missing dead-letter
    /// sink are logged as warnings, once per dispatcher built.
    pub fn build(self) -> Result<Dispatcher, BuildError> {
        let app_id = self.app_id.ok_or(BuildError::AppIdNotSet)?;
        if let Some(command) = self.duplicate {
            return Err(BuildError::DuplicateHandler(command));
        }
        if self.settings.token.as_deref() == Some("") {
            return Err(BuildError::EmptyToken);
        }
        if let Some(command) = self
            .settings
            .failure_policy_by_command
            .keys()
            .find(|command| Command::from_name(command).map(Command::kind) != Some(CallbackKind::Before))
        {
            return Err(BuildError::NotABeforeCallback(crate::log_safe::clip(command)));
        }
        if self.settings.token.is_none() {
            tracing::warn!(
                "no webhook token is set: any client that knows the URL can post callbacks and decide \
                 before-callbacks; set the token configured in the console"
            );
        }
        if app_id.is_none() {
            tracing::warn!("callbacks for ANY SdkAppid are accepted; set the app id in production");
        }
        if self.settings.dead_letters.is_none() {
            tracing::warn!("no dead-letter sink is set: callbacks that fail are only logged, not kept");
        }
        Ok(Dispatcher {
            inner: Arc::new(Inner {
                app_id,
                settings: self.settings,
                routes: self.routes,
                fallback: self.fallback,
                background: Arc::default(),
                in_flight: AtomicUsize::new(0),
                refusals: RefusalLimiter::new(REFUSAL_LOG_LINES_PER_SECOND, Duration::from_secs(1)),
                next_request_id: AtomicU64::new(0),
            }),
        })
    }
}
