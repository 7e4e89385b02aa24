//! The admin endpoints, on their own address (`--admin`) so that probes and scrapes never share
//! the vendor's connection limits: `/healthz` (the process serves), `/readyz` (the broker and the
//! delivery target answer), `/metrics` (Prometheus text).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use hyper::Uri;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::deliver::Target;
use crate::forward::Forwarder;

/// What `/readyz` checks.
pub(crate) struct Admin {
    pub(crate) forwarder: Arc<Forwarder>,
    /// The delivery target of the stream workers (the synchronous hand-off is the forwarder's).
    pub(crate) target: Option<Arc<Target>>,
    pub(crate) metrics: PrometheusHandle,
}

/// Serves the admin endpoints on `listener` until the process ends.
pub(crate) async fn serve(listener: tokio::net::TcpListener, admin: Arc<Admin>) -> std::io::Result<()> {
    let router = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(|State(admin): State<Arc<Admin>>| async move { admin.metrics.render() }))
        .with_state(admin);
    axum::serve(listener, router).await
}

async fn ready(State(admin): State<Arc<Admin>>) -> (StatusCode, String) {
    let mut problems = Vec::new();
    if let Err(problem) = admin.forwarder.ready().await {
        problems.push(problem);
    }
    if let Some(target) = &admin.target
        && let Err(problem) = reachable(&target.url).await
    {
        problems.push(problem);
    }
    if problems.is_empty() {
        (StatusCode::OK, "ready\n".into())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {}\n", problems.join("; ")))
    }
}

/// Whether a TCP connection to the URL's host and port opens within a second: a service that
/// answers 503 is reachable (the workers retry it), one that is not listening is not.
pub(crate) async fn reachable(url: &Uri) -> Result<(), String> {
    let host = url.host().unwrap_or("localhost");
    let port = url.port_u16().unwrap_or(80);
    match tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect((host, port))).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(format!("{host}:{port}: {error}")),
        Err(_) => Err(format!("{host}:{port}: no connection within 1 s")),
    }
}

/// The address as logged.
pub(crate) fn describe(address: SocketAddr) -> String {
    format!("http://{address}/healthz, /readyz, /metrics")
}
