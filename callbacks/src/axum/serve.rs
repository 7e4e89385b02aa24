//! [`Server`]: the dispatcher on a socket, with the limits a public endpoint needs and a graceful
//! shutdown, built from hyper's HTTP/1 connection and hyper-util's graceful-shutdown watcher.

use std::collections::HashMap;
use std::future::Future;
use std::io::{self, IsTerminal};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::RequestDeadline;
use crate::Dispatcher;
use crate::log_safe::{Admit, RefusalLimiter};
use crate::source::source_key;

/// How long a request may take to arrive, headers and body together, counted from its first
/// byte; also how long an idle keep-alive connection is kept: 10 s. Tencent sends a request at
/// once; a client that trickles one (slowloris) is holding a connection, not calling back.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How many connections are served at once: 4096, or fewer if the open-file limit is lower.
/// Connections past the cap are closed as soon as accepted.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// How many connections one source address (IPv6: one /64) may hold open: 256. The vendor calls
/// from a few addresses with keep-alive; an address holding more is not the vendor.
pub const DEFAULT_MAX_CONNECTIONS_PER_SOURCE: usize = 256;

/// How long a shutdown waits for requests and handlers to finish: 30 s.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// File descriptors kept free of connections, for the listener, logs, dead letters and the
/// application's own files.
const RESERVED_FILES: u64 = 64;

/// Serves a [`Dispatcher`] over HTTP/1.1 until SIGTERM or Ctrl-C, then drains gracefully.
///
/// - A request must arrive whole, headers and body, within [`Server::request_timeout`] of its
///   first byte, however it is framed; past it, it is answered 408 where possible and closed.
///   An idle keep-alive connection is closed after the same time.
/// - At most [`Server::max_connections`] connections are open (fewer if the open-file limit is
///   lower), and at most [`Server::max_connections_per_source`] from one address, so idle
///   connections from one address cannot keep another's out. More are closed at once.
/// - The peer's address reaches the dispatcher, for its allow-list and its per-source cap on
///   bodies still arriving.
/// - At start, events acknowledged by a process that died while their handler ran are handed
///   to their handlers again ([`Dispatcher::resume_unfinished`]).
/// - On shutdown the listener closes, requests in flight finish, and handlers still running past
///   their deadline get until [`Server::drain_timeout`]; those still running then are dead-lettered
///   with reason `shutdown` (see [`Dispatcher::drain`]).
///
/// It changes nothing global unless asked: [`Server::default_logging`] installs a subscriber
/// writing to stderr, [`Server::raise_open_file_limit`] raises the process's limit.
#[derive(Debug)]
pub struct Server {
    dispatcher: Dispatcher,
    path: String,
    request_timeout: Duration,
    max_connections: usize,
    max_connections_per_source: usize,
    drain_timeout: Duration,
    default_logging: bool,
    raise_open_file_limit: bool,
}

impl Server {
    /// A server for `dispatcher` at `/callback`, with the default limits.
    pub fn new(dispatcher: Dispatcher) -> Server {
        Server {
            dispatcher,
            path: "/callback".to_owned(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_source: DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            default_logging: false,
            raise_open_file_limit: false,
        }
    }

    /// The path callbacks are posted to. Default: `/callback`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// How long a request may take to arrive, headers and body, from its first byte; and how
    /// long a connection may stay idle between requests. Default: [`DEFAULT_REQUEST_TIMEOUT`].
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How many connections are served at once. Default: [`DEFAULT_MAX_CONNECTIONS`].
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// How many connections one source address may hold open. A proxy trusted with
    /// [`DispatcherBuilder::trust_forwarded_for`](crate::DispatcherBuilder::trust_forwarded_for)
    /// is not capped. Default: [`DEFAULT_MAX_CONNECTIONS_PER_SOURCE`].
    pub fn max_connections_per_source(mut self, max: usize) -> Self {
        self.max_connections_per_source = max;
        self
    }

    /// How long a shutdown waits for requests and late handlers. Default: [`DEFAULT_DRAIN_TIMEOUT`].
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Installs a `tracing` subscriber writing to stderr (filtered by `RUST_LOG`, default
    /// `info`; colours only on a terminal) when the application set none, so refusals are never
    /// silent. Off by default: installing the global subscriber is the application's choice.
    pub fn default_logging(mut self) -> Self {
        self.default_logging = true;
        self
    }

    /// Raises the process's soft limit on open files to its hard limit before serving. Without
    /// it, the connection cap is lowered to fit under the limit as it is. Off by default.
    pub fn raise_open_file_limit(mut self) -> Self {
        self.raise_open_file_limit = true;
        self
    }

    /// Serves until SIGTERM or SIGINT (Ctrl-C), then shuts down gracefully.
    pub async fn serve(self, listener: TcpListener) -> io::Result<()> {
        self.serve_until(listener, shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then shuts down gracefully.
    pub async fn serve_until(self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        if self.default_logging {
            install_default_subscriber();
        }
        self.dispatcher.log_build_warnings();
        let max_connections = self.max_connections.min(open_file_room(self.raise_open_file_limit));
        let connections = Arc::new(Semaphore::new(max_connections));
        let per_source = Arc::new(PerSource::default());
        let service = TowerToHyperService::new(super::router(&self.path, self.dispatcher.clone()));
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(self.request_timeout).keep_alive(true);
        let graceful = GracefulShutdown::new();
        let refusals = RefusalLimiter::new(10, Duration::from_secs(1));
        let resume = self.dispatcher.clone();
        tokio::spawn(async move { resume.resume_unfinished().await });

        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
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
                continue;
            };
            let source_slot = if self.dispatcher.is_trusted_proxy(peer.ip()) {
                None
            } else {
                match per_source.enter(peer.ip(), self.max_connections_per_source) {
                    Some(slot) => Some(slot),
                    None => {
                        if let Admit::Log { suppressed } = refusals.admit() {
                            tracing::warn!(
                                source = %source_key(peer.ip()),
                                max = self.max_connections_per_source,
                                suppressed_since_last = suppressed,
                                "connection limit of one source reached; closing a new connection"
                            );
                        }
                        continue;
                    }
                }
            };
            let first_byte = FirstByte::default();
            let io = TokioIo::new(Marked { stream, first_byte: first_byte.clone() });
            let connection_service =
                PerConnection { service: service.clone(), peer, first_byte, request_timeout: self.request_timeout };
            let connection = graceful.watch(http.serve_connection(io, connection_service));
            tokio::spawn(async move {
                // An error here is the client's: a reset, a timeout, a malformed request.
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "connection ended with an error");
                }
                drop((permit, source_slot));
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

/// The service of one connection: the router, told the peer's address and each request's
/// deadline (its first byte's arrival plus the request timeout).
#[derive(Clone)]
struct PerConnection<S> {
    service: S,
    peer: SocketAddr,
    first_byte: FirstByte,
    request_timeout: Duration,
}

impl<S, B> hyper::service::Service<http::Request<B>> for PerConnection<S>
where
    S: hyper::service::Service<http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn call(&self, mut request: http::Request<B>) -> Self::Future {
        let started = self.first_byte.get().unwrap_or_else(Instant::now);
        request.extensions_mut().insert(ConnectInfo(self.peer));
        request.extensions_mut().insert(RequestDeadline(started + self.request_timeout));
        let response = self.service.call(request);
        let first_byte = self.first_byte.clone();
        Box::pin(async move {
            let response = response.await;
            // Bytes read while this request was handled were its body: the next request's clock
            // starts at the next byte.
            first_byte.clear();
            response
        })
    }
}

/// When the connection's current request sent its first byte, as nanoseconds after `epoch` plus
/// one (0: no byte since the last request).
#[derive(Clone)]
struct FirstByte {
    epoch: Instant,
    at: Arc<AtomicU64>,
}

impl Default for FirstByte {
    fn default() -> Self {
        FirstByte { epoch: Instant::now(), at: Arc::default() }
    }
}

impl FirstByte {
    fn record(&self) {
        if self.at.load(Ordering::Relaxed) == 0 {
            let nanos = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
            let _ = self.at.compare_exchange(0, nanos + 1, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    /// The instant of the request's first byte; it stays set while the request's body arrives.
    fn get(&self) -> Option<Instant> {
        match self.at.load(Ordering::Relaxed) {
            0 => None,
            at => Some(self.epoch + Duration::from_nanos(at - 1)),
        }
    }

    fn clear(&self) {
        self.at.store(0, Ordering::Relaxed);
    }
}

/// A TCP stream that records when each request's first byte arrives.
struct Marked {
    stream: TcpStream,
    first_byte: FirstByte,
}

impl AsyncRead for Marked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.first_byte.record();
        }
        polled
    }
}

impl AsyncWrite for Marked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Open connections per source address.
#[derive(Default)]
struct PerSource {
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl PerSource {
    fn enter(self: &Arc<Self>, peer: IpAddr, max: usize) -> Option<SourceSlot> {
        let source = source_key(peer);
        let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = open.entry(source).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(SourceSlot { per_source: Arc::clone(self), source })
    }
}

/// One open connection of a source; given back when dropped.
struct SourceSlot {
    per_source: Arc<PerSource>,
    source: IpAddr,
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut open = self.per_source.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&self.source) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.source);
            }
        }
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

/// A subscriber for an application that set none up; one that did keeps its own.
fn install_default_subscriber() {
    if !tracing::dispatcher::has_been_set() {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(io::stderr().is_terminal())
            .with_writer(io::stderr)
            .try_init();
    }
}

/// How many connections fit under the open-file limit, raising the soft limit to the hard one
/// first when asked. Without room kept this way, a thousand idle connections under a default
/// limit of 1024 stop the server from accepting anything (or opening a dead-letter file).
fn open_file_room(raise: bool) -> usize {
    #[cfg(unix)]
    {
        let limit = if raise {
            rlimit::increase_nofile_limit(u64::MAX)
        } else {
            rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft)
        };
        match limit {
            Ok(limit) => usize::try_from(limit.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX).max(1),
            Err(error) => {
                tracing::warn!(%error, "the open-file limit could not be read");
                usize::MAX
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = raise;
        usize::MAX
    }
}
