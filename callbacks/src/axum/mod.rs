//! Serving a [`Dispatcher`] with axum (feature `axum`, on by default).
//!
//! [`Server`] is the ready-made way: it serves the dispatcher with the limits a public endpoint
//! needs (header and body read timeouts, a connection cap) and shuts down gracefully on SIGTERM
//! or Ctrl-C, letting handlers finish. [`router`] and [`method_router`] are for mounting the
//! dispatcher in an application of your own.
//!
//! ```no_run
//! # async fn run(dispatcher: tencent_chat_callbacks::Dispatcher) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! tencent_chat_callbacks::axum::Server::new(dispatcher).serve(listener).await
//! # }
//! ```
//!
//! The query string is checked before the body is read: a request that fails authentication, or
//! announces a `Content-Length` over the limit, is answered at once, without reading the body and
//! without a `100 Continue`. Besides the dispatcher's own answers (see [`DispatchError`]), a
//! request with another method than POST gets 405, and a body that cannot be read in full gets 400
//! (413 past the size limit), each with a `FAIL` body in the vendor's format.

mod serve;

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};

use crate::{DecodeError, DispatchError, Dispatcher, HttpReply};

pub use serve::{
    DEFAULT_BODY_READ_TIMEOUT, DEFAULT_DRAIN_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
};
pub use serve::{Server, shutdown_signal};

/// A router serving `dispatcher` at `path`, for POST requests.
pub fn router(path: &str, dispatcher: Dispatcher) -> Router {
    Router::new().route(path, method_router(dispatcher))
}

/// The POST handler alone, to mount in a router of your own.
pub fn method_router<S: Clone + Send + Sync + 'static>(dispatcher: Dispatcher) -> MethodRouter<S> {
    post(handle).fallback(method_not_allowed).with_state(dispatcher)
}

async fn handle(State(dispatcher): State<Dispatcher>, RawQuery(query): RawQuery, request: Request) -> Response {
    // Nothing of the body is read (so no `100 Continue` is sent) before the query string passed.
    let admitted = match dispatcher.admit(query.as_deref().unwrap_or_default()) {
        Ok(admitted) => admitted,
        Err(refusal) => return reply(refusal),
    };
    let limit = dispatcher.max_body_bytes();
    let announced = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit as u64) {
        return reply(dispatcher.refuse_admitted(admitted, DispatchError::BodyTooLarge { limit }));
    }
    let body = match axum::body::to_bytes(request.into_body(), limit).await {
        Ok(body) => body,
        Err(error) => {
            let too_large =
                std::error::Error::source(&error).is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            let error = if too_large {
                DispatchError::BodyTooLarge { limit }
            } else {
                DecodeError::invalid_body(admitted.command(), format!("unreadable body: {error}")).into()
            };
            return reply(dispatcher.refuse_admitted(admitted, error));
        }
    };
    reply(dispatcher.dispatch_admitted(admitted, body).await)
}

async fn method_not_allowed() -> Response {
    let body = serde_json::to_vec(&crate::Reply::fail(1, "callbacks are sent with POST")).unwrap_or_default();
    (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "POST"), (header::CONTENT_TYPE, HttpReply::CONTENT_TYPE)], body)
        .into_response()
}

fn reply(reply: HttpReply) -> Response {
    (reply.status, [(header::CONTENT_TYPE, HttpReply::CONTENT_TYPE)], Body::from(reply.body)).into_response()
}
