//! A request between its query string and its body: what the query said, and the slot it holds.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Instant, SystemTime};

use bytes::Bytes;

use super::Dispatcher;
use super::pending::PendingSlot;
use crate::dead_letter::DeadLetter;
use crate::telemetry;
use crate::{CallbackKind, Command, DispatchError, HttpReply};

/// A request whose query string passed every check of [`Dispatcher::admit`]: it is authentic,
/// from an allowed source, and holds a place among the bodies still arriving, until its body is
/// given to [`Admitted::dispatch`] or it is refused with [`Admitted::refuse`].
#[derive(Debug)]
#[must_use = "an admitted request holds a slot until it is dispatched or refused"]
pub struct Admitted<'a> {
    dispatcher: &'a Dispatcher,
    head: Head<'a>,
    _pending: PendingSlot<'a>,
}

impl<'a> Admitted<'a> {
    pub(super) fn new(dispatcher: &'a Dispatcher, head: Head<'a>, pending: PendingSlot<'a>) -> Admitted<'a> {
        Admitted { dispatcher, head, _pending: pending }
    }

    /// `CallbackCommand`, as sent.
    pub fn command(&self) -> &str {
        &self.head.command
    }

    /// When the query string was checked: adapters measure the time the body takes from here.
    pub fn admitted_at(&self) -> Instant {
        self.head.started
    }

    /// Handles the body that arrived for this request: takes a place among the requests in
    /// flight (shedding it when there is none), then decodes and hands it to its handler.
    pub fn dispatch(self, body: Bytes) -> impl std::future::Future<Output = HttpReply> + Send + 'a {
        let Admitted { dispatcher, head, _pending } = self;
        // The body has arrived: its place among pending bodies is given back before the handler
        // runs, so that only finished bodies count against the in-flight cap.
        drop(_pending);
        let slot = InFlightSlot::take(&dispatcher.inner.in_flight, dispatcher.inner.settings.max_in_flight);
        async move {
            let answered = match slot {
                Some(_slot) => dispatcher.run(&head, body).await,
                None => dispatcher.fail(&head, DispatchError::Overloaded, Some(&body)),
            };
            telemetry::request_finished(&head.command, answered.command, head.started.elapsed(), answered.outcome);
            answered.reply
        }
    }

    /// Answers this request without its body: the body could not be read (too large, cut off,
    /// too slow). The answer tells the client to close the connection.
    pub fn refuse(self, error: DispatchError) -> HttpReply {
        let answered = self.dispatcher.fail(&self.head, error, None);
        telemetry::request_finished(&self.head.command, None, self.head.started.elapsed(), answered.outcome);
        answered.reply
    }
}

/// What the query string says about a request, borrowed from it, and when it arrived.
#[derive(Debug, Clone)]
pub(super) struct Head<'q> {
    pub(super) app_id: u64,
    pub(super) command: Cow<'q, str>,
    pub(super) client_ip: Option<Cow<'q, str>>,
    pub(super) platform: Option<Cow<'q, str>>,
    pub(super) request_time: Option<u64>,
    pub(super) request_id: Option<Cow<'q, str>>,
    /// The address the request came from, when the adapter knows it.
    pub(super) source: Option<IpAddr>,
    /// The clock's reading when authentication needed one; else derived from `started` when a
    /// failure needs it, so the hot path reads one clock, not two.
    pub(super) received_at: Option<SystemTime>,
    pub(super) started: Instant,
    /// The id this dispatcher gives the request when the vendor sent no `RequestID`, made on
    /// first use so that the log, the reply and the dead letter of one request share it.
    pub(super) local_id: OnceLock<String>,
}

impl Head<'_> {
    /// A copy that owns its strings, for a handler that outlives the request.
    pub(super) fn into_owned(self) -> Head<'static> {
        let owned = |value: Option<Cow<'_, str>>| value.map(|v| Cow::Owned(v.into_owned()));
        Head {
            app_id: self.app_id,
            command: Cow::Owned(self.command.into_owned()),
            client_ip: owned(self.client_ip),
            platform: owned(self.platform),
            request_time: self.request_time,
            request_id: owned(self.request_id),
            source: self.source,
            received_at: self.received_at,
            started: self.started,
            local_id: self.local_id,
        }
    }

    /// The head of a request kept as a dead letter, to hand it on again.
    pub(super) fn from_letter(letter: &DeadLetter) -> Head<'static> {
        Head {
            app_id: letter.app_id,
            command: Cow::Owned(letter.command.clone()),
            client_ip: letter.client_ip.clone().map(Cow::Owned),
            platform: letter.platform.clone().map(Cow::Owned),
            request_time: None,
            request_id: Some(Cow::Owned(letter.request_id.clone())),
            source: None,
            received_at: Some(SystemTime::now()),
            started: Instant::now(),
            local_id: OnceLock::new(),
        }
    }

    /// The callback's kind, when this version knows the command. Only failures ask.
    pub(super) fn kind(&self) -> Option<CallbackKind> {
        Command::from_name(&self.command).map(Command::kind)
    }

    pub(super) fn received_at(&self) -> SystemTime {
        self.received_at.unwrap_or_else(|| {
            let now = SystemTime::now();
            now.checked_sub(self.started.elapsed()).unwrap_or(now)
        })
    }
}

/// A place among the requests in flight, given back when dropped. The count only bounds load,
/// so relaxed ordering does.
#[derive(Debug)]
pub(super) struct InFlightSlot<'a>(&'a AtomicUsize);

impl<'a> InFlightSlot<'a> {
    /// A place, or `None` when `max` requests are in flight.
    fn take(count: &'a AtomicUsize, max: usize) -> Option<InFlightSlot<'a>> {
        let before = count.fetch_add(1, Ordering::Relaxed);
        let slot = InFlightSlot(count);
        (before < max).then_some(slot)
    }
}

impl Drop for InFlightSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
