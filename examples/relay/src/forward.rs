//! Where envelopes go: stdout as JSON lines, a Redis stream, or a NATS JetStream subject. Each
//! publication is acknowledged by its destination before the relay answers the vendor, and each
//! is deduplicated by the envelope's `dedup_key`.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tencent_chat_callbacks::dedup::{Deduplicator, MemoryStore, Ran};
use tencent_chat_callbacks::envelope::Envelope;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

/// What became of a publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Published {
    /// The destination took it; for Redis, the entry id.
    New(Option<String>),
    /// The same event was published before (within the dedup TTL), so it was not published again.
    Duplicate,
}

/// Why a publication failed; the vendor gets a failure status and may retry.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ForwardError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("nats: {0}")]
    Nats(String),
    #[error("stdout: {0}")]
    Stdout(std::io::Error),
    #[error("this event is being published by another delivery; retry later")]
    InFlight,
    #[error("the dedup store failed: {0}")]
    Dedup(#[from] tencent_chat_callbacks::dedup::DedupError),
}

/// Claims the dedup key and appends the envelope in one step, so a relay that dies between the
/// two can neither lose the event (claimed but never appended) nor duplicate it. Returns the entry
/// id, or `false` when the key was already claimed. The value `done` is what
/// `tencent_chat_callbacks::dedup::RedisStore` writes for a finished key, so both agree.
///
/// KEYS: the dedup key, the stream. ARGV: the TTL in ms, the envelope, the MAXLEN or ''.
const CLAIM_AND_XADD: &str = r"
if not redis.call('SET', KEYS[1], 'done', 'NX', 'PX', ARGV[1]) then return false end
if ARGV[3] ~= '' then
  return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'envelope', ARGV[2])
end
return redis.call('XADD', KEYS[2], '*', 'envelope', ARGV[2])";

/// The prefix of dedup keys in Redis, shared with `RedisStore`.
const DEDUP_PREFIX: &str = tencent_chat_callbacks::dedup::RedisStore::DEFAULT_PREFIX;

/// A destination for envelopes.
pub(crate) enum Forwarder {
    /// One JSON line per envelope on stdout, deduplicated in memory.
    Stdout { out: Mutex<tokio::io::Stdout>, seen: Deduplicator },
    /// `XADD` to a stream, deduplicated on the same Redis.
    Redis { connection: ConnectionManager, stream: String, maxlen: Option<u64>, script: redis::Script },
    /// A JetStream publication on `subject.<command>`, deduplicated by the stream's duplicate
    /// window through the `Nats-Msg-Id` header.
    Nats { jetstream: jetstream::Context, subject: String },
}

/// The options that choose and shape a destination.
#[derive(Debug, Clone)]
pub(crate) struct Destination {
    /// `None`, `redis://…` or `nats://…`.
    pub(crate) url: Option<String>,
    /// The Redis stream, or the JetStream stream's name.
    pub(crate) stream: String,
    /// `XADD MAXLEN ~`.
    pub(crate) maxlen: Option<u64>,
    /// The subject prefix for NATS.
    pub(crate) subject: String,
    /// How long a published event's key is remembered.
    pub(crate) dedup_ttl: Duration,
}

impl Forwarder {
    /// Connects to the destination. Redis connects lazily, so the relay starts (and answers
    /// failures) while Redis is still down; NATS must answer at startup, to ensure the stream, and
    /// is reconnected without limit afterwards.
    pub(crate) async fn connect(destination: &Destination) -> Result<Arc<Forwarder>, Box<dyn std::error::Error>> {
        let forwarder = match destination.url.as_deref() {
            None | Some("-" | "stdout") => {
                let seen =
                    Deduplicator::new(MemoryStore::default()).ttls(destination.dedup_ttl, Duration::from_secs(30));
                Forwarder::Stdout { out: Mutex::new(tokio::io::stdout()), seen }
            }
            Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(1)))
                    .set_response_timeout(Some(Duration::from_secs(1)))
                    .set_max_delay(Duration::from_secs(2));
                let connection = ConnectionManager::new_lazy_with_config(redis::Client::open(url)?, config)?;
                Forwarder::Redis {
                    connection,
                    stream: destination.stream.clone(),
                    maxlen: destination.maxlen,
                    script: redis::Script::new(CLAIM_AND_XADD),
                }
            }
            Some(url) if url.starts_with("nats://") => {
                let options = async_nats::ConnectOptions::new()
                    .retry_on_initial_connect()
                    .max_reconnects(None)
                    .connection_timeout(Duration::from_secs(1));
                let client = options.connect(url).await?;
                let jetstream = jetstream::new(client);
                let config = jetstream::stream::Config {
                    name: destination.stream.clone(),
                    subjects: vec![format!("{}.>", destination.subject)],
                    duplicate_window: destination.dedup_ttl,
                    ..Default::default()
                };
                // Ensuring the stream needs the server: this fails after the JetStream request timeout.
                jetstream.get_or_create_stream(config).await.map_err(|e| format!("cannot ensure the stream: {e}"))?;
                Forwarder::Nats { jetstream, subject: destination.subject.clone() }
            }
            Some(other) => {
                return Err(format!("--forward {other}: expected redis://HOST:PORT or nats://HOST:PORT").into());
            }
        };
        Ok(Arc::new(forwarder))
    }

    /// Publishes one envelope and waits for the destination's acknowledgement.
    pub(crate) async fn publish(&self, envelope: &Envelope, dedup_ttl: Duration) -> Result<Published, ForwardError> {
        let ttl_ms = u64::try_from(dedup_ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        match self {
            Forwarder::Stdout { out, seen } => {
                let mut line = envelope.to_json();
                line.push('\n');
                let write = async {
                    let mut out = out.lock().await;
                    out.write_all(line.as_bytes()).await?;
                    out.flush().await
                };
                match seen.run_keyed(&envelope.dedup_key, write).await? {
                    Ran::Ran(written) => written.map(|()| Published::New(None)).map_err(ForwardError::Stdout),
                    Ran::Duplicate => Ok(Published::Duplicate),
                    _ => Err(ForwardError::InFlight),
                }
            }
            Forwarder::Redis { connection, stream, maxlen, script } => {
                let mut connection = connection.clone();
                let id: Option<String> = script
                    .key(format!("{DEDUP_PREFIX}{}", envelope.dedup_key))
                    .key(stream)
                    .arg(ttl_ms)
                    .arg(envelope.to_json())
                    .arg(maxlen.map(|n| n.to_string()).unwrap_or_default())
                    .invoke_async(&mut connection)
                    .await?;
                Ok(id.map_or(Published::Duplicate, |id| Published::New(Some(id))))
            }
            Forwarder::Nats { jetstream, subject } => {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(async_nats::header::NATS_MESSAGE_ID, envelope.dedup_key.as_str());
                let subject = format!("{subject}.{}", subject_token(&envelope.command));
                let ack = jetstream
                    .publish_with_headers(subject, headers, envelope.to_json().into())
                    .await
                    .map_err(|e| ForwardError::Nats(e.to_string()))?
                    .await
                    .map_err(|e| ForwardError::Nats(e.to_string()))?;
                Ok(if ack.duplicate { Published::Duplicate } else { Published::New(Some(ack.sequence.to_string())) })
            }
        }
    }
}

/// The command as subject tokens: a vendor command (`Group.CallbackAfterCreateGroup`) is kept as is;
/// in an unknown one, characters NATS reserves (spaces, `*`, `>`) become `_`.
fn subject_token(command: &str) -> String {
    let token: String = command
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .collect();
    let token = token.split('.').map(|part| if part.is_empty() { "_" } else { part }).collect::<Vec<_>>().join(".");
    if token.is_empty() { "_".into() } else { token }
}

#[cfg(test)]
mod tests {
    #[test]
    fn subject_tokens() {
        assert_eq!(super::subject_token("Group.CallbackAfterCreateGroup"), "Group.CallbackAfterCreateGroup");
        assert_eq!(super::subject_token("a b.*.>"), "a_b._._");
        assert_eq!(super::subject_token("x..y."), "x._.y._");
    }
}
