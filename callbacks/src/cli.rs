//! The receive path's limits as command-line flags (feature `cli`, with `clap`), for a binary
//! that serves a dispatcher: `example-server` and the relay flatten [`ReceiveArgs`] into their own
//! arguments, so both take the same flags and environment variables.

use std::path::PathBuf;
use std::time::Duration;

use crate::axum::Server;
use crate::dead_letter::{self, JsonLinesSink};
use crate::{DispatcherBuilder, IpNet};

/// Where requests may come from, how long they may take, and how much one source may hold.
#[derive(Debug, clap::Args)]
pub struct ReceiveArgs {
    /// Accept requests only from this network (CIDR, e.g. `203.0.113.0/24`); repeat for more.
    /// The vendor's egress ranges come from its IP-list API. Without it, any source is accepted.
    #[arg(long = "allow-source", env = "TENCENT_CHAT_ALLOW_SOURCES", value_delimiter = ',')]
    allow_sources: Vec<IpNet>,
    /// Believe `X-Forwarded-For` from this proxy network (CIDR); repeat for more.
    #[arg(long = "trust-forwarded-for", env = "TENCENT_CHAT_TRUST_FORWARDED_FOR", value_delimiter = ',')]
    trust_forwarded_for: Vec<IpNet>,
    /// Seconds a request may take to arrive, headers and body together (fractions allowed).
    #[arg(long, env = "TENCENT_CHAT_REQUEST_TIMEOUT", default_value_t = 10.0)]
    request_timeout: f64,
    /// Requests from one source address whose body is still arriving.
    #[arg(long, env = "TENCENT_CHAT_MAX_PENDING_PER_SOURCE", default_value_t = crate::DEFAULT_MAX_PENDING_PER_SOURCE)]
    max_pending_per_source: usize,
    /// Connections one source address may hold open.
    #[arg(long, env = "TENCENT_CHAT_MAX_CONNECTIONS_PER_SOURCE", default_value_t = crate::axum::DEFAULT_MAX_CONNECTIONS_PER_SOURCE)]
    max_connections_per_source: usize,
    /// Append callbacks that could not be handled to this JSON-lines file, to replay them later
    /// with `example-send --replay`.
    #[arg(long, env = "TENCENT_CHAT_DEAD_LETTER")]
    dead_letter: Option<PathBuf>,
    /// The total size the dead-letter files may take, in bytes; past it, letters are dropped
    /// and counted as lost.
    #[arg(long, env = "TENCENT_CHAT_DEAD_LETTER_MAX_BYTES", default_value_t = dead_letter::DEFAULT_MAX_BYTES)]
    dead_letter_max_bytes: u64,
}

impl ReceiveArgs {
    /// Applies the dispatcher's share (sources, pending bodies, dead letters) to `builder`; fails
    /// when the dead-letter file cannot be opened.
    pub fn apply(&self, mut builder: DispatcherBuilder) -> Result<DispatcherBuilder, String> {
        if !self.allow_sources.is_empty() {
            builder = builder.allow_sources(self.allow_sources.iter().copied());
        }
        builder = builder
            .trust_forwarded_for(self.trust_forwarded_for.iter().copied())
            .max_pending_per_source(self.max_pending_per_source);
        if let Some(path) = &self.dead_letter {
            let sink = JsonLinesSink::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
            builder = builder.dead_letters(sink.max_bytes(self.dead_letter_max_bytes));
        }
        Ok(builder)
    }

    /// Applies the server's share (the request timeout, the connections per source, and a raised
    /// open-file limit) to `server`.
    pub fn serve(&self, server: Server) -> Server {
        server
            .request_timeout(Duration::from_secs_f64(self.request_timeout.clamp(0.05, 3600.0)))
            .max_connections_per_source(self.max_connections_per_source)
            .raise_open_file_limit()
    }
}
