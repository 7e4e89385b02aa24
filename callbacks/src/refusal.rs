//! A handler's own refusal of a request, told apart from its failure.

use crate::{DecodeError, DispatchError};

/// What a handler returns as its error to refuse a request itself, rather than fail on it.
///
/// Any other error is a failure: the app could not handle a genuine event, so it is logged, kept
/// as a dead letter (`handler_failed`) and answered by the failure policy. A refusal says the body
/// is at fault, or that the handler leaves the answer to the policy on purpose, and is treated as
/// the dispatcher treats that reason itself (see [`DispatchError`]): a body that is not an event is
/// answered 400 (or by the policy, for a before-callback), logged and kept as `undecodable`, since
/// it may still be a genuine event this version cannot read; `Undecided` is neither logged nor
/// kept (and from an after-callback, which has no policy to leave it to, is a failure).
///
/// ```
/// use tencent_chat_callbacks::{Context, Refusal, UnhandledEvent};
///
/// /// A fallback for a service that takes only the commands it has handlers for.
/// async fn fallback(_event: UnhandledEvent, ctx: Context) -> Result<(), Refusal> {
///     Err(Refusal::invalid_body(ctx.command(), "not a command this service takes"))
/// }
/// # let _ = fallback;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The body is not an event the handler takes: answered 400, as a body that does not decode
    /// is ([`DispatchError::Decode`]).
    #[error(transparent)]
    InvalidBody(#[from] DecodeError),
    /// A before-callback's handler leaves the answer to the failure policy on purpose (a relay
    /// with no decision endpoint, a feature switched off): answered as a failure would be, but
    /// neither logged as one nor dead-lettered ([`DispatchError::Undecided`]). An after-callback
    /// has no policy to leave it to: returned there, it is a failure (`handler_failed`), since the
    /// vendor would not send the event again.
    #[error("the handler left this callback to the failure policy")]
    Undecided,
}

impl Refusal {
    /// A body that is not a `command` event, for the reason given as `message` (400).
    pub fn invalid_body(command: impl Into<String>, message: impl Into<String>) -> Refusal {
        Refusal::InvalidBody(DecodeError::invalid_body(command, message))
    }
}

impl From<Refusal> for DispatchError {
    fn from(refusal: Refusal) -> DispatchError {
        match refusal {
            Refusal::InvalidBody(error) => DispatchError::Decode(error),
            Refusal::Undecided => DispatchError::Undecided,
        }
    }
}
