//! Why a request failed, as counted, logged and dead-lettered: the reasons, their names, and which
//! keep the request's body. A new reason is added here; a new kind of error first gets its
//! [`DispatchError`] variant (and status) in `error.rs`, and the exhaustive match of
//! [`Reason::of`] then asks which reason it is.

use crate::DispatchError;
use crate::error::{DecodeError, HandlerError};

/// What went wrong with a request, as counted, logged and dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reason {
    /// The query string is malformed, names another app or an unknown source, or fails
    /// authentication.
    Refused,
    Overloaded,
    BodyTooLarge,
    RequestTimeout,
    CommandMismatch,
    Undecodable,
    HandlerFailed,
    HandlerPanicked,
    DeadlineMissed,
    /// Another delivery of the same event is being handled: not a loss, never dead-lettered.
    InFlightElsewhere,
    DedupUnavailable,
    BatchItemUndecodable,
    DeadlineThenFailed,
    Shutdown,
    /// Acknowledged at the deadline while the handler ran; followed by a `done` when it finished.
    InProgress,
    /// The handler left the answer to the failure policy on purpose: not a loss.
    Undecided,
}

impl Reason {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Reason::Refused => "refused",
            Reason::Overloaded => "overloaded",
            Reason::BodyTooLarge => "body_too_large",
            Reason::RequestTimeout => "request_timeout",
            Reason::CommandMismatch => "command_mismatch",
            Reason::Undecodable => "undecodable",
            Reason::HandlerFailed => "handler_failed",
            Reason::HandlerPanicked => "handler_panicked",
            Reason::DeadlineMissed => "deadline_missed",
            Reason::InFlightElsewhere => "in_flight_elsewhere",
            Reason::DedupUnavailable => "dedup_unavailable",
            Reason::BatchItemUndecodable => "batch_item_undecodable",
            Reason::DeadlineThenFailed => "deadline_then_failed",
            Reason::Shutdown => "shutdown",
            Reason::InProgress => crate::dead_letter::IN_PROGRESS,
            Reason::Undecided => "undecided",
        }
    }

    /// Every variant is named, so a new [`DispatchError`] cannot be misfiled by a wildcard.
    pub(super) fn of(error: &DispatchError) -> Reason {
        match error {
            DispatchError::Query(_)
            | DispatchError::Signature(_)
            | DispatchError::WrongAppId(_)
            | DispatchError::SourceNotAllowed { .. } => Reason::Refused,
            DispatchError::BodyTooLarge { .. } => Reason::BodyTooLarge,
            DispatchError::RequestTimeout => Reason::RequestTimeout,
            DispatchError::Decode(DecodeError::CommandMismatch { .. }) => Reason::CommandMismatch,
            DispatchError::Decode(DecodeError::InvalidBody { .. }) => Reason::Undecodable,
            DispatchError::Handler(HandlerError::Panicked) => Reason::HandlerPanicked,
            DispatchError::Handler(HandlerError::Failed(_)) => Reason::HandlerFailed,
            DispatchError::Overloaded => Reason::Overloaded,
            DispatchError::DeadlineMissed => Reason::DeadlineMissed,
            DispatchError::InFlightElsewhere => Reason::InFlightElsewhere,
            DispatchError::DedupUnavailable(_) => Reason::DedupUnavailable,
            DispatchError::Undecided => Reason::Undecided,
        }
    }

    /// Whether a failure for this reason keeps the request's body as a dead letter: not when it
    /// is too large (it was not read), nor when another delivery is handling the same event, nor when
    /// the handler left it to the policy.
    pub(super) fn keeps_body(self) -> bool {
        !matches!(
            self,
            Reason::BodyTooLarge
                | Reason::RequestTimeout
                | Reason::InFlightElsewhere
                | Reason::Refused
                | Reason::Undecided
        )
    }

    /// Whether a failure for this reason is logged: not when the handler chose it.
    pub(super) fn is_logged(self) -> bool {
        self != Reason::Undecided
    }
}
