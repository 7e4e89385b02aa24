//! What every failure becomes: a log line (rate-limited), a dead letter when the request was
//! authenticated and its body is known, and an answer (the failure policy's, for a
//! before-callback).

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use super::Dispatcher;
use super::admitted::Head;
use super::reason::Reason;
use super::run::Answered;
use crate::batch::RejectedItem;
use crate::dead_letter::DeadLetter;
use crate::error::{HandlerError, HandlerFailure};
use crate::log_safe::{Admit, Clipped, RefusalLimiter};
use crate::policy::Decided;
use crate::query::CallbackQuery;
use crate::telemetry::{self, Outcome};
use crate::{CallbackKind, Command, DispatchError, HttpReply, Reply};

/// A request refused on its query string or source, before anything vouched for it.
pub(super) struct Refusal<'q, 'a> {
    pub(super) query: &'q CallbackQuery<'a>,
    pub(super) source: Option<IpAddr>,
    pub(super) error: DispatchError,
}

impl Dispatcher {
    /// The answer to an authenticated request that failed: logged (rate-limited), counted,
    /// dead-lettered when its body is known, and answered by the failure policy for a
    /// before-callback.
    pub(super) fn fail(&self, head: &Head<'_>, error: DispatchError, body: Option<&bytes::Bytes>) -> Answered {
        let error = undecided_only_before(error, head.kind());
        let reason = Reason::of(&error);
        let request_id = self.request_id(head);
        let log = reason.is_logged() && logs(&self.inner.failures);
        if log && error.status().is_server_error() {
            tracing::error!(
                command = %Clipped(&head.command),
                client_ip = %Clipped(head.client_ip.as_deref().unwrap_or("-")),
                source = %source_text(head.source),
                request_id = %Clipped(&request_id),
                reason = reason.as_str(),
                %error,
                "callback failed"
            );
        } else if log {
            tracing::warn!(
                command = %Clipped(&head.command),
                client_ip = %Clipped(head.client_ip.as_deref().unwrap_or("-")),
                source = %source_text(head.source),
                request_id = %Clipped(&request_id),
                reason = reason.as_str(),
                %error,
                "callback refused"
            );
        }
        if let Some(body) = body.filter(|_| reason.keeps_body()) {
            let letter = self.letter(head, reason, error.to_string(), body);
            self.write_dead_letter(&letter);
        }
        self.answer(Some(&head.command), head.kind(), &error, reason, &request_id, log)
    }

    /// The answer to a request whose query string or source failed a check: logged at most
    /// [`super::REFUSAL_LOG_LINES_PER_SECOND`] times a second, never dead-lettered (nothing
    /// vouches for it), and answered by the failure policy when it names a before-callback.
    pub(super) fn refuse_unauthenticated(&self, refusal: Refusal<'_, '_>) -> HttpReply {
        let Refusal { query, source, error } = refusal;
        let command = query.callback_command.as_deref();
        let request_id = query.request_id.as_deref().unwrap_or("-");
        let admitted = self.inner.refusals.admit();
        let log = matches!(admitted, Admit::Log { .. });
        if let Admit::Log { suppressed } = admitted {
            tracing::warn!(
                command = %Clipped(command.unwrap_or("-")),
                client_ip = %Clipped(query.client_ip.as_deref().unwrap_or("-")),
                source = %source_text(source),
                request_id = %Clipped(request_id),
                suppressed_since_last = suppressed,
                %error,
                "callback refused"
            );
        }
        let kind = command.and_then(Command::from_name).map(Command::kind);
        let answered = self.answer(command, kind, &error, Reason::Refused, request_id, log);
        telemetry::request_finished(command.unwrap_or("-"), None, std::time::Duration::ZERO, answered.outcome);
        answered.reply
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
    ) -> Answered {
        let own = own_reply(error, request_id);
        let own = || Answered { outcome: outcome_of_status(own.status), reply: own, command: None };
        let Some(command) = command.and_then(Command::from_name).filter(|_| kind == Some(CallbackKind::Before)) else {
            return own();
        };
        let policy = self.failure_policy(command);
        telemetry::failure_policy_used(command.name(), policy, reason.as_str());
        if log {
            tracing::error!(
                command = command.name(),
                request_id = %Clipped(request_id),
                reason = reason.as_str(),
                policy = policy.as_str(),
                "a before-callback could not be decided; answering by the failure policy"
            );
        }
        match policy.decide(request_id) {
            Decided::Reply(reply) => Answered { reply, outcome: Outcome::Answered, command: Some(command) },
            Decided::OwnStatus => own(),
        }
    }

    fn failure_policy(&self, command: Command) -> crate::FailurePolicy {
        let settings = &self.inner.settings;
        settings.failure_policy_by_command.get(&command).copied().unwrap_or(settings.failure_policy)
    }

    /// The vendor's `RequestID`, or an id of this dispatcher's when it sent none.
    pub(super) fn request_id(&self, head: &Head<'_>) -> String {
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

    pub(super) fn letter(&self, head: &Head<'_>, reason: Reason, detail: String, body: &[u8]) -> DeadLetter {
        let mut letter = DeadLetter::new(
            &head.command,
            reason.as_str(),
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

    pub(super) fn dead_letter_batch_item(&self, head: &Head<'_>, item: RejectedItem) {
        let request_id = self.request_id(head);
        if logs(&self.inner.failures) {
            tracing::error!(
                command = %Clipped(&head.command),
                request_id = %Clipped(&request_id),
                index = item.index,
                reason = %Clipped(&item.reason),
                "an event of a batch could not be decoded; the others are handled and it is dead-lettered"
            );
        }
        let mut letter = self.letter(head, Reason::BatchItemUndecodable, item.reason, &item.body);
        letter.index = Some(item.index);
        self.write_dead_letter(&letter);
    }

    pub(super) fn write_dead_letter(&self, letter: &DeadLetter) {
        telemetry::dead_lettered(&letter.command, &letter.reason);
        let Some(sink) = &self.inner.settings.dead_letters else {
            if logs(&self.inner.failures) {
                tracing::error!(
                    command = %Clipped(&letter.command),
                    request_id = %Clipped(&letter.request_id),
                    reason = %letter.reason,
                    "no dead-letter sink is configured: this event is lost"
                );
            }
            return;
        };
        if let Err(error) = sink.write(letter) {
            self.lost(letter, &error);
        }
    }

    /// Writes the letter of an event acknowledged while its handler still runs, durably: the
    /// acknowledgement must not outlive the only copy of the event.
    pub(super) fn write_in_progress(&self, letter: &DeadLetter) {
        let Some(sink) = &self.inner.settings.dead_letters else { return };
        if let Err(error) = sink.write_durable(letter) {
            self.lost(letter, &error);
        }
    }

    /// Marks an `in_progress` letter as finished, so that the next start does not hand it on.
    pub(super) fn mark_done(&self, letter: &DeadLetter) {
        let Some(sink) = &self.inner.settings.dead_letters else { return };
        if let Err(error) = sink.mark_done(letter) {
            tracing::warn!(
                command = %Clipped(&letter.command),
                request_id = %Clipped(&letter.request_id),
                %error,
                "could not mark a finished handler's event as done; the next start handles it again"
            );
        }
    }

    fn lost(&self, letter: &DeadLetter, error: &std::io::Error) {
        telemetry::dead_letter_lost(&letter.command, &letter.reason);
        if logs(&self.inner.failures) {
            tracing::error!(
                command = %Clipped(&letter.command),
                request_id = %Clipped(&letter.request_id),
                reason = %letter.reason,
                %error,
                "the dead letter could not be written: this event is lost"
            );
        }
    }
}

/// Only a before-callback has a failure policy to leave its answer to: an after-callback left
/// undecided would be answered 503 and, as the vendor does not retry it, lost without a trace, so
/// it is a handler failure (logged and dead-lettered) like any other.
fn undecided_only_before(error: DispatchError, kind: Option<CallbackKind>) -> DispatchError {
    match error {
        DispatchError::Undecided if kind != Some(CallbackKind::Before) => HandlerError::Failed(HandlerFailure::from(
            "the handler left a callback undecided that is not a before-callback",
        ))
        .into(),
        error => error,
    }
}

/// The failure's own answer. Internal errors (a handler's, the dedup store's) are answered with
/// a generic `ErrorInfo` naming the request id; their own words go to the log, not to whoever
/// sent the request.
fn own_reply(error: &DispatchError, request_id: &str) -> HttpReply {
    let generic = match error {
        DispatchError::Handler(_) => "the callback could not be handled",
        DispatchError::DedupUnavailable(_) => "the deduplication store is unavailable",
        _ => return HttpReply::from(error),
    };
    let info = format!("{generic} (request {})", Clipped(request_id));
    HttpReply::with_status(error.status(), &Reply::fail(1, info))
}

fn outcome_of_status(status: http::StatusCode) -> Outcome {
    if status.is_client_error() { Outcome::Refused } else { Outcome::Failed }
}

fn logs(limiter: &RefusalLimiter) -> bool {
    matches!(limiter.admit(), Admit::Log { .. })
}

fn source_text(source: Option<IpAddr>) -> String {
    source.map_or_else(|| "-".to_owned(), |ip| ip.to_string())
}
