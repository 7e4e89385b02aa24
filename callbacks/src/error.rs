//! Why a request was not handled, and the HTTP status and body each reason gets.

use http::StatusCode;

use crate::common::Reply;
use crate::log_safe::Clipped;

/// Why the dispatcher did not hand a request to a handler, or why the handler failed.
///
/// Every variant is answered with a `FAIL` body in the vendor's format, its `ErrorInfo` being this
/// error's message and its `ErrorCode` being 1, with the status of [`DispatchError::status`]:
///
/// | status | variants |
/// |---|---|
/// | 400 Bad Request | [`MissingParameter`], [`RepeatedParameter`], [`InvalidParameter`], [`CommandMismatch`], [`InvalidBody`] |
/// | 401 Unauthorized | [`MissingSignature`], [`Signature`] |
/// | 403 Forbidden | [`WrongAppId`] |
/// | 413 Payload Too Large | [`BodyTooLarge`] |
/// | 500 Internal Server Error | [`HandlerFailed`], [`HandlerPanicked`] |
/// | 409 Conflict | [`InFlightElsewhere`] |
/// | 503 Service Unavailable | [`Overloaded`], [`DedupUnavailable`] |
/// | 504 Gateway Timeout | [`DeadlineMissed`] (before-callbacks only: an after-callback is answered `OK`) |
///
/// For a before-callback, the [`FailurePolicy`](crate::FailurePolicy) may answer 200 instead. A
/// handler's failure is answered with a generic `ErrorInfo` naming the request id; its own message
/// goes to the log. Values quoted from the request are escaped and cut short, in the message and
/// in the log.
///
/// [`MissingParameter`]: DispatchError::MissingParameter
/// [`RepeatedParameter`]: DispatchError::RepeatedParameter
/// [`InvalidParameter`]: DispatchError::InvalidParameter
/// [`CommandMismatch`]: DispatchError::CommandMismatch
/// [`InvalidBody`]: DispatchError::InvalidBody
/// [`MissingSignature`]: DispatchError::MissingSignature
/// [`Signature`]: DispatchError::Signature
/// [`WrongAppId`]: DispatchError::WrongAppId
/// [`BodyTooLarge`]: DispatchError::BodyTooLarge
/// [`HandlerFailed`]: DispatchError::HandlerFailed
/// [`HandlerPanicked`]: DispatchError::HandlerPanicked
/// [`Overloaded`]: DispatchError::Overloaded
/// [`DeadlineMissed`]: DispatchError::DeadlineMissed
/// [`InFlightElsewhere`]: DispatchError::InFlightElsewhere
/// [`DedupUnavailable`]: DispatchError::DedupUnavailable
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError {
    /// A required query parameter (`SdkAppid` or `CallbackCommand`) is absent.
    #[error("missing query parameter `{0}`")]
    MissingParameter(&'static str),
    /// A query parameter the dispatcher reads appears more than once.
    #[error("query parameter `{0}` appears more than once")]
    RepeatedParameter(&'static str),
    /// A query parameter is malformed.
    #[error("query parameter `{name}` is invalid: {}", Clipped(.reason))]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// `SdkAppid` is not the app id the dispatcher was configured with.
    #[error("SdkAppid `{}` is not this app's", Clipped(.0))]
    WrongAppId(String),
    /// A token is configured but the request has no `Sign` or no `RequestTime`.
    #[error("missing `Sign` or `RequestTime`: this endpoint requires webhook authentication")]
    MissingSignature,
    /// `Sign` or `RequestTime` failed [`signature::verify`](crate::signature::verify).
    #[error(transparent)]
    Signature(#[from] crate::signature::SignatureError),
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
    /// The body is larger than the configured limit.
    #[error("the body is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The handler returned an error.
    #[error("the handler failed: {}", Clipped(.0))]
    HandlerFailed(String),
    /// The handler panicked.
    #[error("the handler panicked")]
    HandlerPanicked,
    /// As many requests as allowed are already being handled.
    #[error("too many callbacks are being handled; try again later")]
    Overloaded,
    /// The handler of a before-callback did not decide within the deadline.
    #[error("the handler did not decide within the deadline")]
    DeadlineMissed,
    /// Another delivery of the same event is being handled (see [`crate::dedup`]).
    #[error("the same event is being handled by another delivery; try again later")]
    InFlightElsewhere,
    /// The deduplication store could not be reached; the handler did not run.
    #[error("the deduplication store is unavailable: {}", Clipped(.0))]
    DedupUnavailable(String),
}

impl DispatchError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn status_code(&self) -> u16 {
        match self {
            DispatchError::MissingParameter(_)
            | DispatchError::RepeatedParameter(_)
            | DispatchError::InvalidParameter { .. }
            | DispatchError::CommandMismatch { .. }
            | DispatchError::InvalidBody { .. } => 400,
            DispatchError::MissingSignature | DispatchError::Signature(_) => 401,
            DispatchError::WrongAppId(_) => 403,
            DispatchError::BodyTooLarge { .. } => 413,
            DispatchError::HandlerFailed(_) | DispatchError::HandlerPanicked => 500,
            DispatchError::Overloaded | DispatchError::DedupUnavailable(_) => 503,
            DispatchError::InFlightElsewhere => 409,
            DispatchError::DeadlineMissed => 504,
        }
    }

    /// The body this error is answered with.
    pub fn reply(&self) -> Reply {
        Reply::fail(1, self.to_string())
    }
}
