//! The library's [`Server`] on a loopback port, and JSON requests to it: what the socket-level
//! tests of the receive path share.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tencent_chat_callbacks::Dispatcher;
use tencent_chat_callbacks::axum::Server;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// How long a test waits for an answer before it fails: far longer than any limit it sets.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Serves `dispatcher` with `server` (a [`Server`] set up by the test) on a loopback port until
/// the returned sender is dropped.
pub async fn serve(dispatcher: Dispatcher, server: impl FnOnce(Server) -> Server) -> (SocketAddr, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let address = listener.local_addr().expect("a bound address");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = server(Server::new(dispatcher));
    tokio::spawn(async move {
        server
            .serve_until(listener, async {
                let _ = stopped.await;
            })
            .await
    });
    (address, stop)
}

/// POSTs `body` to `/callback?query` and returns the status and the JSON answer.
pub async fn post_json(address: SocketAddr, query: &str, body: &[u8]) -> (u16, Value) {
    let (status, body) = tokio::time::timeout(PATIENCE, crate::post(address, &format!("/callback?{query}"), body))
        .await
        .expect("answered in time");
    (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}")))
}
