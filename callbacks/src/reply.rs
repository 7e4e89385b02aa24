//! Building the vendor's answer: [`Reply`] helpers, [`IntoReply`] and [`HttpReply`].

use bytes::Bytes;
use http::StatusCode;

use crate::common::{ActionStatus, Reply};

impl Reply {
    /// `{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}`: the callback was handled.
    pub fn ok() -> Reply {
        Reply { action_status: ActionStatus::Ok, error_code: 0, error_info: String::new() }
    }

    /// `{"ActionStatus":"FAIL",…}` with the given code and reason.
    pub fn fail(error_code: i64, error_info: impl Into<String>) -> Reply {
        Reply { action_status: ActionStatus::Fail, error_code, error_info: error_info.into() }
    }
}

/// An error a handler returns; its message becomes the `ErrorInfo` of the reply.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a handler may return, for a callback answered with `R`.
///
/// For after-event callbacks (`R` = [`Reply`]) a handler returns `()`, a [`Reply`], or a
/// `Result` of either whose error converts into [`BoxError`] (any `std::error::Error`, a `String`,
/// `anyhow::Error`, …). An `Err` is a failure, answered by the failure policy (500 under `vendor`),
/// unless the error is a [`Refusal`](crate::Refusal): a handler that finds the request itself at
/// fault (say, a fallback that cannot decode a body) returns one to get its status, e.g. 400.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned by a handler whose callback answers with `{R}`",
    note = "return `()`, a `{R}`, or a `Result` of either whose error converts into `BoxError`"
)]
pub trait IntoReply<R> {
    /// Converts into the reply body, or the handler's error.
    fn into_reply(self) -> Result<R, BoxError>;
}

impl IntoReply<Reply> for () {
    fn into_reply(self) -> Result<Reply, BoxError> {
        Ok(Reply::ok())
    }
}

impl IntoReply<Reply> for Reply {
    fn into_reply(self) -> Result<Reply, BoxError> {
        Ok(self)
    }
}

impl<R, T: IntoReply<R>, E: Into<BoxError>> IntoReply<R> for Result<T, E> {
    fn into_reply(self) -> Result<R, BoxError> {
        self.map_err(Into::into).and_then(T::into_reply)
    }
}

/// The HTTP answer to one callback request: a status and a JSON body in the vendor's format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// The HTTP status code.
    pub status: StatusCode,
    /// The JSON body.
    pub body: Bytes,
}

impl HttpReply {
    /// A reply with status 200 and `body` encoded as JSON.
    pub fn ok<T: serde::Serialize + 'static>(body: &T) -> HttpReply {
        // The plain acknowledgement is most replies: it is encoded once, at compile time.
        const ACKNOWLEDGED: &[u8] = br#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}"#;
        if (body as &dyn std::any::Any).downcast_ref::<Reply>().is_some_and(|r| *r == Reply::ok()) {
            return HttpReply { status: StatusCode::OK, body: Bytes::from_static(ACKNOWLEDGED) };
        }
        HttpReply::with_status(StatusCode::OK, body)
    }

    /// A reply with `status` and `body` encoded as JSON.
    pub fn with_status<T: serde::Serialize>(status: StatusCode, body: &T) -> HttpReply {
        match serde_json::to_vec(body) {
            Ok(json) => HttpReply { status, body: Bytes::from(json) },
            Err(e) => HttpReply::from(&crate::DispatchError::from(crate::error::HandlerError::Failed(
                format!("the reply could not be encoded: {e}").into(),
            ))),
        }
    }

    /// The content type of every reply.
    pub const CONTENT_TYPE: &'static str = "application/json";
}

impl From<&crate::DispatchError> for HttpReply {
    fn from(error: &crate::DispatchError) -> HttpReply {
        let json = serde_json::to_vec(&error.reply()).unwrap_or_default();
        HttpReply { status: error.status(), body: Bytes::from(json) }
    }
}
