//! Running a request's handler: the route and its decoding, the deadline, dedup, and the handler
//! that outlives its deadline.

use std::borrow::Cow;
use std::task::Poll;

use bytes::Bytes;

use super::Dispatcher;
use super::admitted::Head;
use super::reason::Reason;
use super::routes::{Routed, Work, check_body_command};
use crate::context::Context;
use crate::dedup::{Deduplicator, Ran};
use crate::log_safe::Clipped;
use crate::telemetry::{self, Outcome};
use crate::{CallbackKind, Command, DispatchError, HttpReply, Reply};

/// Bodies at least this large are decoded on Tokio's blocking threads, one or a few at a time,
/// not on the async workers: a batch of large bodies then cannot keep a before-callback waiting
/// past its deadline, because the deadline's timer keeps running on the workers.
const LARGE_BODY_BYTES: usize = 64 * 1024;

/// A request's answer, with what telemetry records of it, said where the answer was made.
pub(super) struct Answered {
    pub(super) reply: HttpReply,
    pub(super) outcome: Outcome,
    /// The command, when a typed route knows it (it saves the telemetry a lookup by name).
    pub(super) command: Option<Command>,
}

impl Answered {
    /// The handler's own answer. Only an acknowledgement of an after-callback is `ok`; a
    /// before-callback's decision is `answered`, whatever it decided.
    fn handled(reply: HttpReply, command: Option<Command>, kind: Option<CallbackKind>) -> Answered {
        let outcome = if kind == Some(CallbackKind::Before) { Outcome::Answered } else { Outcome::Ok };
        Answered { reply, outcome, command }
    }

    pub(super) fn acknowledged() -> Answered {
        Answered { reply: HttpReply::ok(&Reply::ok()), outcome: Outcome::Ok, command: None }
    }
}

/// What the synchronous part of a request led to.
enum Started {
    Handler(Work),
    Reply(HttpReply),
}

impl Dispatcher {
    /// Runs a request whose body has arrived and which holds a place in flight.
    pub(super) async fn run(&self, head: &Head<'_>, body: Bytes) -> Answered {
        let (started, command) = match self.start(head, &body) {
            Ok(started) => started,
            Err(error) => return self.fail(head, error, Some(&body)),
        };
        let mut work = match started {
            Started::Reply(reply) => return Answered { reply, outcome: Outcome::Ok, command },
            Started::Handler(work) => work,
        };
        // Most handlers finish at their first poll: no timer, no task.
        let first_poll = std::future::poll_fn(|cx| Poll::Ready(work.as_mut().poll(cx))).await;
        let result = match first_poll {
            Poll::Ready(result) => result,
            // Boxed: the timer is large and only a handler that waits needs it, so every
            // request's future stays small.
            Poll::Pending => match Box::pin(self.finish_late(head, &body, work)).await {
                Ok(result) => result,
                Err(late) => return late,
            },
        };
        match result {
            Ok(reply) => Answered::handled(reply, command, head.kind()),
            Err(error) => Answered { command, ..self.fail(head, error, Some(&body)) },
        }
    }

    /// Everything up to the handler call, synchronously for a small body; with the command, when
    /// a typed route knows it.
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
        let command = route.command();
        let ctx = self.context(head, command, body);
        let work = if body.len() >= LARGE_BODY_BYTES && tokio::runtime::Handle::try_current().is_ok() {
            self.decode_off_workers(head, ctx)
        } else {
            let routed = route.call(ctx)?;
            self.take_rejected(head, routed)
        };
        let work = match &inner.settings.dedup {
            // The vendor never retries a before-callback, and each asks for a fresh decision.
            Some(dedup) if head.kind() != Some(CallbackKind::Before) => {
                deduplicated(dedup.clone(), head.command.to_string(), body.clone(), work)
            }
            _ => work,
        };
        Ok((Started::Handler(work), command))
    }

    fn context(&self, head: &Head<'_>, command: Option<Command>, body: &Bytes) -> Context {
        Context {
            app_id: head.app_id,
            command: match command {
                Some(command) => Cow::Borrowed(command.name()),
                None => Cow::Owned(head.command.to_string()),
            },
            client_ip: head.client_ip.as_deref().map(str::to_owned),
            platform: head.platform.as_deref().map(Into::into),
            request_time: head.request_time,
            request_id: head.request_id.as_deref().map(str::to_owned),
            raw_body: body.clone(),
        }
    }

    /// The handler's work, after its batch's bad events were dead-lettered.
    fn take_rejected(&self, head: &Head<'_>, routed: Routed) -> Work {
        for item in routed.rejected {
            self.dead_letter_batch_item(head, item);
        }
        routed.work
    }

    /// Decoding and the handler call of a large body, on a blocking thread (a few at a time), as
    /// part of the handler's work: the deadline covers it like the handler itself.
    fn decode_off_workers(&self, head: &Head<'_>, ctx: Context) -> Work {
        let this = self.clone();
        let head = head.clone().into_owned();
        Box::pin(async move {
            let permit = this.inner.large_decodes.clone().acquire_owned().await;
            let router = this.clone();
            let command = head.command.to_string();
            let routed = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                let inner = &*router.inner;
                match inner.routes.get(command.as_str()).or(inner.fallback.as_ref()) {
                    Some(route) => route.call(ctx),
                    None => Err(DispatchError::Handler(crate::HandlerError::Panicked)),
                }
            })
            .await
            .map_err(|_| DispatchError::Handler(crate::HandlerError::Panicked))??;
            this.take_rejected(&head, routed).await
        })
    }

    /// Waits for a handler that was not ready at its first poll, up to the deadline; past it,
    /// answers without the handler (`Err`) and lets it finish on a task of its own.
    async fn finish_late(
        &self,
        head: &Head<'_>,
        body: &Bytes,
        mut work: Work,
    ) -> Result<Result<HttpReply, DispatchError>, Answered> {
        let left = self.inner.settings.handler_deadline.saturating_sub(head.started.elapsed());
        match tokio::time::timeout(left, &mut work).await {
            Ok(result) => Ok(result),
            Err(_) => Err(self.deadline_missed(head, body.clone(), work)),
        }
    }

    /// The answer at the deadline. A before-callback is answered by the failure policy. An
    /// after-callback is answered `OK`, so its event is first written durably as `in_progress`:
    /// if the process dies before the handler finishes, the next start hands it on again.
    fn deadline_missed(&self, head: &Head<'_>, body: Bytes, work: Work) -> Answered {
        telemetry::deadline_missed(&head.command);
        // The id is fixed before the copy, so the late handler's letters and this answer share it.
        let request_id = self.request_id(head);
        let late = head.clone().into_owned();
        let before = head.kind() == Some(CallbackKind::Before);
        let in_progress = (!before).then(|| {
            let letter = self.letter(
                &late,
                Reason::InProgress,
                "acknowledged at the deadline while the handler ran".into(),
                &body,
            );
            self.write_in_progress(&letter);
            letter
        });
        let letter = self.letter(&late, Reason::Shutdown, "the server shut down while the handler ran".into(), &body);
        let this = self.clone();
        self.inner.background.spawn(letter, async move {
            if let Err(error) = work.await {
                let request_id = this.request_id(&late);
                tracing::error!(
                    command = %Clipped(&late.command),
                    request_id = %Clipped(&request_id),
                    %error,
                    "a handler that missed its deadline then failed; the event is dead-lettered"
                );
                let letter = this.letter(&late, Reason::DeadlineThenFailed, error.to_string(), &body);
                this.write_dead_letter(&letter);
            }
            if let Some(letter) = &in_progress {
                this.mark_done(letter);
            }
        });
        if before {
            return self.fail(head, DispatchError::DeadlineMissed, None);
        }
        tracing::warn!(
            command = %Clipped(&head.command),
            request_id = %Clipped(&request_id),
            "the handler missed its deadline; answering OK while it finishes"
        );
        Answered::acknowledged()
    }
}

/// `work` run at most once per event across deliveries (and replicas sharing the store): a
/// duplicate of a handled event is acknowledged without running it; one being handled elsewhere
/// gets 409 so the vendor retries later; a handler that fails releases the event for the retry.
/// A delivery with a handled event's key but another body is run (see [`Deduplicator::run`]).
fn deduplicated(dedup: Deduplicator, command: String, body: Bytes, work: Work) -> Work {
    Box::pin(async move {
        match dedup.run(&command, &body, work).await {
            Ok(Ran::Ran(result)) => result,
            Ok(Ran::Duplicate) => {
                tracing::debug!(command = %Clipped(&command), "a duplicate of a handled event; acknowledged");
                Ok(HttpReply::ok(&Reply::ok()))
            }
            Ok(Ran::InFlight) => Err(DispatchError::InFlightElsewhere),
            Err(error) => Err(DispatchError::DedupUnavailable(error.to_string())),
        }
    })
}
