//! Why a request was not handled, and the HTTP status and body each reason gets.

use http::StatusCode;

use crate::common::Reply;
use crate::log_safe::Clipped;
use crate::signature::SignatureError;

/// Why the dispatcher did not hand a request to a handler, or why the handler failed.
///
/// Each boundary a request crosses has its own error, converted into this one with `?`:
/// [`QueryError`] (the query string), [`SignatureError`] (authentication), [`DecodeError`]
/// (the body) and [`HandlerError`] (the handler). The rest are the dispatcher's own.
///
/// Every variant is answered with a `FAIL` body in the vendor's format, its `ErrorInfo` being this
/// error's message and its `ErrorCode` being 1, with the status of [`DispatchError::status`]:
///
/// | status | variants |
/// |---|---|
/// | 400 Bad Request | [`Query`], [`Decode`] |
/// | 401 Unauthorized | [`Signature`] |
/// | 403 Forbidden | [`WrongAppId`], [`SourceNotAllowed`] |
/// | 408 Request Timeout | [`RequestTimeout`] |
/// | 409 Conflict | [`InFlightElsewhere`] |
/// | 413 Payload Too Large | [`BodyTooLarge`] |
/// | 500 Internal Server Error | [`Handler`] |
/// | 503 Service Unavailable | [`Overloaded`], [`DedupUnavailable`], [`Undecided`] |
/// | 504 Gateway Timeout | [`DeadlineMissed`] (before-callbacks only: an after-callback is answered `OK`) |
///
/// For a before-callback, the [`FailurePolicy`](crate::FailurePolicy) may answer 200 instead. A
/// handler's failure is answered with a generic `ErrorInfo` naming the request id; its own message
/// goes to the log. Values quoted from the request are escaped and cut short, in the message and
/// in the log.
///
/// [`Query`]: DispatchError::Query
/// [`Decode`]: DispatchError::Decode
/// [`Signature`]: DispatchError::Signature
/// [`WrongAppId`]: DispatchError::WrongAppId
/// [`SourceNotAllowed`]: DispatchError::SourceNotAllowed
/// [`RequestTimeout`]: DispatchError::RequestTimeout
/// [`InFlightElsewhere`]: DispatchError::InFlightElsewhere
/// [`BodyTooLarge`]: DispatchError::BodyTooLarge
/// [`Handler`]: DispatchError::Handler
/// [`Overloaded`]: DispatchError::Overloaded
/// [`DedupUnavailable`]: DispatchError::DedupUnavailable
/// [`DeadlineMissed`]: DispatchError::DeadlineMissed
/// [`Undecided`]: DispatchError::Undecided
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError {
    /// The query string is malformed.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// `SdkAppid` is not the app id the dispatcher was configured with.
    #[error("SdkAppid `{0}` is not this app's")]
    WrongAppId(crate::AppId),
    /// The request came from an address outside the allow-list
    /// ([`DispatcherBuilder::allow_sources`](crate::DispatcherBuilder::allow_sources)), or from
    /// one that could not be told.
    #[error("requests from {} are not accepted", address_text(.address))]
    SourceNotAllowed {
        /// The source address, when known.
        address: Option<std::net::IpAddr>,
    },
    /// Authentication failed: see [`SignatureError`].
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The body is not the command's event.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The body is larger than the configured limit.
    #[error("the body is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The headers and body did not arrive within the request timeout.
    #[error("the request did not arrive within the request timeout")]
    RequestTimeout,
    /// The handler failed or panicked.
    #[error(transparent)]
    Handler(#[from] HandlerError),
    /// As many requests as allowed are already being handled.
    #[error("too many callbacks are being handled; try again later")]
    Overloaded,
    /// The handler of a before-callback did not decide within the deadline.
    #[error("the handler did not decide within the deadline")]
    DeadlineMissed,
    /// The handler of a before-callback returned [`Refusal::Undecided`](crate::Refusal::Undecided)
    /// to leave the answer to the failure policy on purpose (a relay with no decision endpoint, a
    /// feature switched off): answered as any failure would be, but not logged as one and not
    /// dead-lettered, since nothing was lost.
    #[error("the handler left this callback to the failure policy")]
    Undecided,
    /// Another delivery of the same event is being handled (see [`crate::dedup`]).
    #[error("the same event is being handled by another delivery; try again later")]
    InFlightElsewhere,
    /// The deduplication store could not be reached; the handler did not run.
    #[error("the deduplication store is unavailable: {}", Clipped(.0))]
    DedupUnavailable(String),
}

/// Why a query string was refused (400), before anything else was checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// A required parameter (`SdkAppid` or `CallbackCommand`) is absent.
    #[error("missing query parameter `{0}`")]
    Missing(&'static str),
    /// A parameter the dispatcher reads appears more than once.
    #[error("query parameter `{0}` appears more than once")]
    Repeated(&'static str),
    /// A parameter is malformed.
    #[error("query parameter `{name}` is invalid: {}", Clipped(.reason))]
    Invalid {
        /// The parameter.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Why a body was refused (400): it is not the event its query string names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The body's `CallbackCommand` differs from the query's.
    #[error("the body's CallbackCommand `{}` differs from the query's `{}`", Clipped(.body), Clipped(.query))]
    CommandMismatch {
        /// The command in the query string.
        query: String,
        /// The command in the body.
        body: String,
    },
    /// The body is not valid JSON, or not of the command's type.
    #[error("the body is not a valid `{}`: at `{}`: {}", Clipped(.command), Clipped(.path), Clipped(.message))]
    InvalidBody {
        /// The command the body was decoded for.
        command: String,
        /// Where decoding failed, e.g. `MemberList[0].Member_Account`, or `.` for the whole body.
        path: String,
        /// What is wrong there.
        message: String,
    },
}

impl DecodeError {
    /// A body that is not a `command` event, for a reason given as `message` (a handler refuses
    /// one with [`Refusal::invalid_body`](crate::Refusal::invalid_body)).
    pub fn invalid_body(command: impl Into<String>, message: impl Into<String>) -> DecodeError {
        DecodeError::InvalidBody { command: command.into(), path: ".".to_owned(), message: message.into() }
    }
}

/// Why a handler produced no reply (500).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandlerError {
    /// The handler returned an error, kept as its source.
    #[error("the handler failed: {}", Clipped(&.0.to_string()))]
    Failed(#[source] HandlerFailure),
    /// The handler panicked.
    #[error("the handler panicked")]
    Panicked,
}

/// The error a handler returned, shared so that a [`DispatchError`] stays `Clone`. Two are equal
/// when their messages are: what a test of a handler compares.
#[derive(Clone)]
pub struct HandlerFailure(std::sync::Arc<dyn std::error::Error + Send + Sync>);

impl HandlerFailure {
    /// The error the handler returned.
    pub fn get(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl From<crate::BoxError> for HandlerFailure {
    fn from(error: crate::BoxError) -> Self {
        HandlerFailure(std::sync::Arc::from(error))
    }
}

impl From<&str> for HandlerFailure {
    fn from(message: &str) -> Self {
        HandlerFailure::from(crate::BoxError::from(message))
    }
}

impl From<String> for HandlerFailure {
    fn from(message: String) -> Self {
        HandlerFailure::from(crate::BoxError::from(message))
    }
}

impl std::fmt::Debug for HandlerFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for HandlerFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&*self.0, f)
    }
}

impl std::error::Error for HandlerFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for HandlerFailure {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

impl Eq for HandlerFailure {}

impl DispatchError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn status_code(&self) -> u16 {
        match self {
            DispatchError::Query(_) | DispatchError::Decode(_) => 400,
            DispatchError::Signature(_) => 401,
            DispatchError::WrongAppId(_) | DispatchError::SourceNotAllowed { .. } => 403,
            DispatchError::RequestTimeout => 408,
            DispatchError::InFlightElsewhere => 409,
            DispatchError::BodyTooLarge { .. } => 413,
            DispatchError::Handler(_) => 500,
            DispatchError::Overloaded | DispatchError::DedupUnavailable(_) | DispatchError::Undecided => 503,
            DispatchError::DeadlineMissed => 504,
        }
    }

    /// The body this error is answered with.
    pub fn reply(&self) -> Reply {
        Reply::fail(1, self.to_string())
    }
}

fn address_text(address: &Option<std::net::IpAddr>) -> String {
    address.map_or_else(|| "an unknown source".to_owned(), |ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    /// What the handler returned stays reachable as the error's source, not flattened to text.
    #[test]
    fn a_handler_failure_keeps_the_handlers_error_as_its_source() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "db unreachable");
        let error = DispatchError::from(HandlerError::Failed(HandlerFailure::from(crate::BoxError::from(io))));
        // `Handler` is transparent: the source is what the handler returned.
        let failure = error.source().expect("what the handler returned");
        let failure = failure.downcast_ref::<HandlerFailure>().expect("kept as a HandlerFailure");
        assert_eq!(
            failure.get().downcast_ref::<std::io::Error>().map(|e| e.kind()),
            Some(std::io::ErrorKind::ConnectionRefused)
        );
        assert_eq!(error.to_string(), "the handler failed: db unreachable");
        assert_eq!(error.clone(), error);
    }
}
