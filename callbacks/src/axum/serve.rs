//! [`Server`]: the dispatcher on a socket, with the limits a public endpoint needs and a graceful
//! shutdown, built from hyper's HTTP/1 connection, hyper-util's graceful-shutdown watcher and
//! tower-http's body timeout.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::Dispatcher;
use crate::log_safe::{Admit, RefusalLimiter};

/// How long a client may take to send a request's headers, and how long an idle keep-alive
/// connection is kept: 10 s. Tencent sends a request at once; a client that trickles headers
/// (slowloris) is holding a connection, not calling back.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to send a body: 10 s.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How many connections are served at once: 4096 (the process's file limit is raised to allow
/// it where the system permits). Connections past the cap are closed as soon as accepted.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// How long a shutdown waits for requests and handlers to finish: 30 s.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// File descriptors kept free of connections, for the listener, logs, dead letters and the
/// application's own files.
const RESERVED_FILES: u64 = 64;

/// Serves a [`Dispatcher`] over HTTP/1.1 until SIGTERM or Ctrl-C, then drains gracefully.
///
/// - Headers must arrive within [`Server::header_read_timeout`] (also the keep-alive idle time),
///   bodies within [`Server::body_read_timeout`]; slow clients are disconnected.
/// - At most [`Server::max_connections`] connections are open; more are closed at once, and the
///   file-descriptor limit is raised so the cap, not the system, decides.
/// - On shutdown the listener closes, requests in flight finish, and handlers still running past
///   their deadline get until [`Server::drain_timeout`]; those still running then are dead-lettered
///   with reason `shutdown` (see [`Dispatcher::drain`]).
/// - When no `tracing` subscriber is installed, one writing to stderr is (filtered by `RUST_LOG`,
///   default `info`), so refusals are never silent.
///
/// The dispatcher itself bounds the body size and the requests in flight.
#[derive(Debug)]
pub struct Server {
    dispatcher: Dispatcher,
    path: String,
    header_read_timeout: Duration,
    body_read_timeout: Duration,
    max_connections: usize,
    drain_timeout: Duration,
}

impl Server {
    /// A server for `dispatcher` at `/callback`, with the default limits.
    pub fn new(dispatcher: Dispatcher) -> Server {
        Server {
            dispatcher,
            path: "/callback".to_owned(),
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
        }
    }

    /// The path callbacks are posted to. Default: `/callback`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// How long a client may take to send the headers of a request, or stay idle between
    /// requests. Default: [`DEFAULT_HEADER_READ_TIMEOUT`].
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long a client may take to send a body. Default: [`DEFAULT_BODY_READ_TIMEOUT`].
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// How many connections are served at once. Default: [`DEFAULT_MAX_CONNECTIONS`].
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// How long a shutdown waits for requests and late handlers. Default: [`DEFAULT_DRAIN_TIMEOUT`].
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Serves until SIGTERM or SIGINT (Ctrl-C), then shuts down gracefully.
    pub async fn serve(self, listener: TcpListener) -> io::Result<()> {
        self.serve_until(listener, shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then shuts down gracefully.
    pub async fn serve_until(self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        install_default_subscriber();
        let max_connections = self.max_connections.min(raise_file_limit());
        let connections = Arc::new(Semaphore::new(max_connections));
        let router = super::router(&self.path, self.dispatcher.clone())
            .layer(RequestBodyTimeoutLayer::new(self.body_read_timeout));
        let service = TowerToHyperService::new(router);
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(self.header_read_timeout).keep_alive(true);
        let graceful = GracefulShutdown::new();
        let refusals = RefusalLimiter::new(10, Duration::from_secs(1));

        tokio::pin!(shutdown);
        loop {
            let (stream, _peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors, or a connection reset before it was accepted:
                        // pause briefly rather than spin.
                        if let Admit::Log { suppressed } = refusals.admit() {
                            tracing::error!(%error, suppressed_since_last = suppressed, "accepting a connection failed");
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                },
            };
            let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
                if let Admit::Log { suppressed } = refusals.admit() {
                    tracing::warn!(
                        max_connections,
                        suppressed_since_last = suppressed,
                        "connection limit reached; closing a new connection"
                    );
                }
                drop(stream);
                continue;
            };
            let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service.clone()));
            tokio::spawn(async move {
                // An error here is the client's: a reset, a timeout, a malformed request.
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "connection ended with an error");
                }
                drop(permit);
            });
        }

        drop(listener);
        let started = Instant::now();
        tracing::info!("shutting down: no new connections; finishing requests in flight");
        if tokio::time::timeout(self.drain_timeout, graceful.shutdown()).await.is_err() {
            tracing::warn!("requests still in flight at the drain timeout were cut off");
        }
        let late = self.dispatcher.handlers_past_deadline();
        if late > 0 {
            tracing::info!(handlers = late, "waiting for handlers still running past their deadline");
        }
        let abandoned = self.dispatcher.drain(self.drain_timeout.saturating_sub(started.elapsed())).await;
        tracing::info!(abandoned, "shut down");
        Ok(())
    }
}

/// Completes at the first SIGTERM or SIGINT (Ctrl-C); on other systems, at Ctrl-C.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut terminate), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = terminate.recv() => tracing::info!("SIGTERM received"),
                    _ = interrupt.recv() => tracing::info!("SIGINT received"),
                }
            }
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Without a subscriber every refusal would go unseen; an application that set one up keeps it.
fn install_default_subscriber() {
    if !tracing::dispatcher::has_been_set() {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(io::stderr).try_init();
    }
}

/// Raises the soft limit on open files to the hard limit and returns how many connections fit
/// under it. Without this, a default limit of 1024 lets a thousand idle connections stop the
/// server from accepting anything (or opening a dead-letter file).
fn raise_file_limit() -> usize {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => usize::try_from(limit.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX),
            Err(error) => {
                tracing::warn!(%error, "the open-file limit could not be read or raised");
                usize::MAX
            }
        }
    }
    #[cfg(not(unix))]
    {
        usize::MAX
    }
}
