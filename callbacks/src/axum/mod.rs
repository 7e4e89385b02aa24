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
//! The query string and the source are checked before the body is read: a request that fails
//! authentication, comes from outside the allow-list, or announces a `Content-Length` over the
//! limit, is answered at once, without reading the body, without a `100 Continue`, and with
//! `Connection: close`. The body must arrive within the request timeout, however it is framed
//! (408 past it). The source is the peer's address when the router is served with
//! `ConnectInfo<SocketAddr>` (as [`Server`] does); without it, an allow-list refuses everything. Besides the dispatcher's own answers (see [`DispatchError`]), a
//! request with another method than POST gets 405, and a body that cannot be read in full gets 400
//! (413 past the size limit), each with a `FAIL` body in the vendor's format.

mod serve;

use axum::Router;
use axum::body::Body;
use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};

use crate::{DecodeError, DispatchError, Dispatcher, HttpReply};

pub use serve::{
    DEFAULT_DRAIN_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_SOURCE, DEFAULT_REQUEST_TIMEOUT,
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

/// When a request's body must have arrived: its first byte's arrival plus the request timeout,
/// set by [`Server`] for each request. Without it (a router mounted elsewhere), the default
/// request timeout counts from admission.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestDeadline(pub(crate) Instant);

async fn handle(State(dispatcher): State<Dispatcher>, RawQuery(query): RawQuery, request: Request) -> Response {
    // Nothing of the body is read (so no `100 Continue` is sent) before the query string and the
    // source passed.
    let query = query.as_deref().unwrap_or_default();
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
    let admitted = match peer {
        Some(peer) => {
            let forwarded_for = request.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
            dispatcher.admit_from(query, peer, forwarded_for)
        }
        None => dispatcher.admit(query),
    };
    let admitted = match admitted {
        Ok(admitted) => admitted,
        Err(refusal) => return closing(refusal),
    };
    let limit = dispatcher.max_body_bytes();
    let announced = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit as u64) {
        return closing(admitted.refuse(DispatchError::BodyTooLarge { limit }));
    }
    let deadline = request
        .extensions()
        .get::<RequestDeadline>()
        .map_or_else(|| admitted.admitted_at() + DEFAULT_REQUEST_TIMEOUT, |deadline| deadline.0);
    let read = axum::body::to_bytes(request.into_body(), limit);
    let body = match tokio::time::timeout_at(deadline.into(), read).await {
        Ok(Ok(body)) => body,
        Ok(Err(error)) => {
            let too_large =
                std::error::Error::source(&error).is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            let error = if too_large {
                DispatchError::BodyTooLarge { limit }
            } else {
                tracing::debug!(%error, "a body could not be read");
                DecodeError::invalid_body(admitted.command(), "the body could not be read in full").into()
            };
            return closing(admitted.refuse(error));
        }
        Err(_) => return closing(admitted.refuse(DispatchError::RequestTimeout)),
    };
    reply(admitted.dispatch(body).await)
}

async fn method_not_allowed() -> Response {
    let body = serde_json::to_vec(&crate::Reply::fail(1, "callbacks are sent with POST")).unwrap_or_default();
    (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "POST"), (header::CONTENT_TYPE, HttpReply::CONTENT_TYPE)], body)
        .into_response()
}

fn reply(reply: HttpReply) -> Response {
    (reply.status, [(header::CONTENT_TYPE, HttpReply::CONTENT_TYPE)], Body::from(reply.body)).into_response()
}

/// A reply sent before the body was read in full: the connection is closed after it, and the
/// client is told so, since what it sends next on it would be read as the rest of the body.
fn closing(refusal: HttpReply) -> Response {
    let mut response = reply(refusal);
    response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    response
}
