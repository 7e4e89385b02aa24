//! Serving a [`Dispatcher`] with axum (feature `axum`, on by default).
//!
//! ```no_run
//! # async fn run(dispatcher: tencent_chat_callbacks::Dispatcher) -> std::io::Result<()> {
//! let app = tencent_chat_callbacks::axum::router("/callback", dispatcher);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! Besides the dispatcher's own answers (see [`DispatchError`]), a request with another method
//! than POST gets 405, and a body that cannot be read in full gets 400 (413 past the size limit),
//! each with a `FAIL` body in the vendor's format. A handler that takes longer than
//! [`Dispatcher::handler_deadline`] is answered [`Dispatcher::deadline_reply`] (`OK`, or the
//! configured decision for a before-callback) while it goes on to finish in the background.

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};

use crate::{DispatchError, Dispatcher, HttpReply};

/// A router serving `dispatcher` at `path`, for POST requests.
pub fn router(path: &str, dispatcher: Dispatcher) -> Router {
    Router::new().route(path, method_router(dispatcher))
}

/// The POST handler alone, to mount in a router of your own.
pub fn method_router<S: Clone + Send + Sync + 'static>(dispatcher: Dispatcher) -> MethodRouter<S> {
    post(handle).fallback(method_not_allowed).with_state(dispatcher)
}

async fn handle(State(dispatcher): State<Dispatcher>, RawQuery(query): RawQuery, request: Request) -> Response {
    let limit = dispatcher.max_body_bytes();
    let body = match axum::body::to_bytes(request.into_body(), limit).await {
        Ok(body) => body,
        Err(error) => {
            let too_large =
                std::error::Error::source(&error).is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            let error = if too_large {
                DispatchError::BodyTooLarge { limit }
            } else {
                DispatchError::InvalidBody {
                    command: "-".to_owned(),
                    path: ".".to_owned(),
                    message: format!("unreadable body: {error}"),
                }
            };
            tracing::warn!(%error, "callback refused");
            return reply(HttpReply::from(&error));
        }
    };
    let query = query.unwrap_or_default();
    // Past the deadline the vendor gets the default answer and the handler goes on in a task of
    // its own, so a slow handler never loses its event; in time, nothing is spawned.
    let mut work = Box::pin({
        let (dispatcher, query) = (dispatcher.clone(), query.clone());
        async move { dispatcher.dispatch(&query, body).await }
    });
    tokio::select! {
        answer = &mut work => reply(answer),
        () = tokio::time::sleep(dispatcher.handler_deadline()) => {
            tokio::spawn(work);
            reply(dispatcher.deadline_reply(&query))
        }
    }
}

async fn method_not_allowed() -> Response {
    let body = serde_json::to_vec(&crate::Response::fail(1, "callbacks are sent with POST")).unwrap_or_default();
    (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "POST"), (header::CONTENT_TYPE, HttpReply::CONTENT_TYPE)], body)
        .into_response()
}

fn reply(reply: HttpReply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, HttpReply::CONTENT_TYPE)], Body::from(reply.body)).into_response()
}
