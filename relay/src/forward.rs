//! Where envelopes go: stdout as JSON lines, an HTTP service (a synchronous hand-off), a Redis
//! stream, or a NATS JetStream subject. Each publication is acknowledged by its destination
//! before the relay answers the vendor, and each is deduplicated by the envelope's `dedup_key`
//! together with the hash of its body, so that a forged event cannot make the genuine one with
//! the same key be dropped as its duplicate.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sha2::{Digest, Sha256};
use tencent_chat_callbacks::dedup::{Deduplicator, MemoryStore, Ran};
use tencent_chat_callbacks::envelope::Envelope;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use crate::deliver::{Attempt, Target};

/// What became of a publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Published {
    /// The destination took it; for a broker, the entry id.
    New(Option<String>),
    /// The same event (same key, same body) was published before, within the dedup TTL.
    Duplicate,
    /// An event with the same key but another body was published before. With Redis it went to
    /// the dead-letter stream (reason `dedup_conflict`, the entry id given); without a broker it
    /// was published all the same. Either way it was not dropped.
    Conflict(Option<String>),
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
    #[error("the service did not take the event: {0}")]
    Deliver(String),
    #[error("this event is being published by another delivery; retry later")]
    InFlight,
    #[error("the dedup store failed: {0}")]
    Dedup(#[from] tencent_chat_callbacks::dedup::DedupError),
}

/// The dead-letter reason of an event whose dedup key was first seen with another body: the
/// library's name for it, which `CLAIM_AND_XADD` spells out too (a test checks it does).
pub(crate) use tencent_chat_callbacks::dedup::CONFLICT_REASON;

/// Claims the dedup key with the body's hash and appends the envelope in one step, so a relay
/// that dies between the two can neither lose the event (claimed but never appended) nor
/// duplicate it. A key already claimed with the same hash is a duplicate (`done`, what
/// `tencent_chat_callbacks::dedup::RedisStore` writes, is taken as one too: no hash to compare);
/// with another hash, the envelope goes to the dead-letter stream instead, reason
/// `dedup_conflict`, and the key keeps its first hash.
///
/// KEYS: the dedup key, the stream, the dead-letter stream. ARGV: the TTL in ms, the envelope,
/// the MAXLEN or '', the body's hash.
const CLAIM_AND_XADD: &str = r"
local function xadd(stream, fields)
  local args = {'XADD', stream}
  if ARGV[3] ~= '' then
    table.insert(args, 'MAXLEN'); table.insert(args, '~'); table.insert(args, ARGV[3])
  end
  table.insert(args, '*')
  for _, field in ipairs(fields) do table.insert(args, field) end
  return redis.call(unpack(args))
end
local seen = redis.call('GET', KEYS[1])
if seen then
  if seen == ARGV[4] or seen == 'done' then return {'duplicate'} end
  return {'conflict', xadd(KEYS[3], {'envelope', ARGV[2], 'reason', 'dedup_conflict',
    'detail', 'the dedup key was first published with a body of SHA-256 ' .. seen .. ', this one is ' .. ARGV[4]})}
end
redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[1])
return {'new', xadd(KEYS[2], {'envelope', ARGV[2]})}";

/// The prefix of dedup keys in Redis, shared with `RedisStore`.
const DEDUP_PREFIX: &str = tencent_chat_callbacks::dedup::RedisStore::DEFAULT_PREFIX;

/// Deduplication in memory (stdout and the synchronous hand-off): by key and body hash, so a
/// second body under a key is published, and by key alone, to notice that and say so.
pub(crate) struct MemoryDedup {
    exact: Deduplicator,
    keys: Deduplicator,
}

impl MemoryDedup {
    fn new(ttl: Duration) -> MemoryDedup {
        let store = || Deduplicator::new(MemoryStore::default()).ttls(ttl, Duration::from_secs(30));
        MemoryDedup { exact: store(), keys: store() }
    }

    /// Runs `publish` unless this key and body were published; says whether the key had been
    /// published with another body.
    async fn run<F, E>(&self, envelope: &Envelope, publish: F) -> Result<Result<Published, E>, ForwardError>
    where
        F: Future<Output = Result<(), E>>,
    {
        let exact = format!("{}#{}", envelope.dedup_key, body_hash(envelope));
        match self.exact.run_keyed(&exact, publish).await? {
            Ran::Ran(Ok(())) => {
                let first = self.keys.run_keyed(&envelope.dedup_key, async { Ok::<(), ()>(()) }).await?;
                Ok(Ok(if matches!(first, Ran::Duplicate) { Published::Conflict(None) } else { Published::New(None) }))
            }
            Ran::Ran(Err(error)) => Ok(Err(error)),
            Ran::Duplicate => Ok(Ok(Published::Duplicate)),
            _ => Err(ForwardError::InFlight),
        }
    }
}

/// The lowercase hex SHA-256 of an envelope's body as received.
pub(crate) fn body_hash(envelope: &Envelope) -> String {
    hex::encode(Sha256::digest(envelope.body.get().as_bytes()))
}

/// A destination for envelopes.
pub(crate) enum Forwarder {
    /// One JSON line per envelope on stdout.
    Stdout { out: Mutex<tokio::io::Stdout>, seen: MemoryDedup },
    /// A signed POST to the service within the publish timeout; no retry but the vendor's.
    Http { target: Arc<Target>, seen: MemoryDedup },
    /// `XADD` to a stream, deduplicated on the same Redis.
    Redis { redis: RedisStream, script: redis::Script },
    /// A JetStream publication on `subject.<command>`, deduplicated by the stream's duplicate
    /// window through the `Nats-Msg-Id` header, which is the dedup key and the body's hash: a
    /// redelivery is dropped, while another body under the same key (a forgery sent first through
    /// a captured URL, then the genuine event) is stored too, for the consumer to tell apart,
    /// instead of being dropped in silence.
    Nats { jetstream: jetstream::Context, subject: String },
}

/// A Redis stream and what goes with it.
#[derive(Clone)]
pub(crate) struct RedisStream {
    pub(crate) connection: ConnectionManager,
    pub(crate) stream: String,
    pub(crate) dead_stream: String,
    pub(crate) maxlen: Option<u64>,
}

/// The options that choose and shape a destination.
#[derive(Debug, Clone)]
pub(crate) struct Destination {
    /// `None`, `redis://…` or `nats://…`.
    pub(crate) url: Option<String>,
    /// The Redis stream, or the JetStream stream's name.
    pub(crate) stream: String,
    /// The Redis stream of dead letters.
    pub(crate) dead_stream: String,
    /// `XADD MAXLEN ~`; `None` for no bound.
    pub(crate) maxlen: Option<u64>,
    /// The subject prefix for NATS.
    pub(crate) subject: String,
    /// How long a published event's key is remembered.
    pub(crate) dedup_ttl: Duration,
}

/// A Redis connection that connects lazily and reconnects by itself, so the relay starts (and
/// answers failures) while Redis is still down.
pub(crate) fn redis_connection(url: &str) -> Result<ConnectionManager, redis::RedisError> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(1)))
        .set_max_delay(Duration::from_secs(2));
    ConnectionManager::new_lazy_with_config(redis::Client::open(url)?, config)
}

/// Whether `url` names Redis.
pub(crate) fn is_redis(url: &str) -> bool {
    url.starts_with("redis://") || url.starts_with("rediss://")
}

impl Forwarder {
    /// Connects to the destination: `deliver` (the synchronous hand-off) when there is no
    /// broker. NATS must answer at startup, to ensure the stream, and is reconnected without
    /// limit afterwards.
    pub(crate) async fn connect(
        destination: &Destination,
        deliver: Option<Arc<Target>>,
    ) -> Result<Arc<Forwarder>, Box<dyn std::error::Error>> {
        let forwarder = match destination.url.as_deref() {
            None | Some("-" | "stdout") => match deliver {
                Some(target) => Forwarder::Http { target, seen: MemoryDedup::new(destination.dedup_ttl) },
                None => Forwarder::Stdout {
                    out: Mutex::new(tokio::io::stdout()),
                    seen: MemoryDedup::new(destination.dedup_ttl),
                },
            },
            Some(url) if is_redis(url) => Forwarder::Redis {
                redis: RedisStream {
                    connection: redis_connection(url)?,
                    stream: destination.stream.clone(),
                    dead_stream: destination.dead_stream.clone(),
                    maxlen: destination.maxlen,
                },
                script: redis::Script::new(CLAIM_AND_XADD),
            },
            Some(url) if url.starts_with("nats://") => {
                let options = async_nats::ConnectOptions::new()
                    .retry_on_initial_connect()
                    .max_reconnects(None)
                    .connection_timeout(Duration::from_secs(1));
                let client = options.connect(url).await?;
                let jetstream = jetstream::new(client);
                let mut config = jetstream::stream::Config {
                    name: destination.stream.clone(),
                    subjects: vec![format!("{}.>", destination.subject)],
                    duplicate_window: destination.dedup_ttl,
                    ..Default::default()
                };
                if let Some(maxlen) = destination.maxlen {
                    config.max_messages = i64::try_from(maxlen).unwrap_or(i64::MAX);
                }
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
                seen.run(envelope, write).await?.map_err(ForwardError::Stdout)
            }
            Forwarder::Http { target, seen } => {
                let deliver = async {
                    match target.attempt(&envelope.dedup_key, Bytes::from(envelope.to_json())).await {
                        Attempt::Delivered => Ok(()),
                        Attempt::Failed { detail, .. } => Err(detail),
                    }
                };
                seen.run(envelope, deliver).await?.map_err(ForwardError::Deliver)
            }
            Forwarder::Redis { redis, script } => {
                let mut connection = redis.connection.clone();
                let reply: Vec<String> = script
                    .key(format!("{DEDUP_PREFIX}{}", envelope.dedup_key))
                    .key(&redis.stream)
                    .key(&redis.dead_stream)
                    .arg(ttl_ms)
                    .arg(envelope.to_json())
                    .arg(redis.maxlen.map(|n| n.to_string()).unwrap_or_default())
                    .arg(body_hash(envelope))
                    .invoke_async(&mut connection)
                    .await?;
                let mut reply = reply.into_iter();
                Ok(match (reply.next().as_deref(), reply.next()) {
                    (Some("new"), id) => Published::New(id),
                    (Some("conflict"), id) => Published::Conflict(id),
                    _ => Published::Duplicate,
                })
            }
            Forwarder::Nats { jetstream, subject } => {
                let mut headers = async_nats::HeaderMap::new();
                let message_id = format!("{}#{}", envelope.dedup_key, body_hash(envelope));
                headers.insert(async_nats::header::NATS_MESSAGE_ID, message_id.as_str());
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

    /// The JetStream context, when the destination is NATS.
    pub(crate) fn jetstream(&self) -> Option<&jetstream::Context> {
        match self {
            Forwarder::Nats { jetstream, .. } => Some(jetstream),
            _ => None,
        }
    }

    /// Whether the destination answers now, for `/readyz`.
    pub(crate) async fn ready(&self) -> Result<(), String> {
        match self {
            Forwarder::Stdout { .. } => Ok(()),
            Forwarder::Http { target, .. } => crate::admin::reachable(&target.url).await,
            Forwarder::Redis { redis, .. } => {
                let mut connection = redis.connection.clone();
                let ping = redis::cmd("PING");
                match tokio::time::timeout(Duration::from_secs(1), ping.query_async::<String>(&mut connection)).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(error)) => Err(format!("redis: {error}")),
                    Err(_) => Err("redis: no answer within 1 s".into()),
                }
            }
            Forwarder::Nats { jetstream, .. } => match jetstream.client().connection_state() {
                async_nats::connection::State::Connected => Ok(()),
                state => Err(format!("nats: {state}")),
            },
        }
    }
}

/// The command as subject tokens: a vendor command (`Group.CallbackAfterCreateGroup`) is kept as is;
/// in an unknown one, characters NATS reserves (spaces, `*`, `>`) become `_`.
pub(crate) fn subject_token(command: &str) -> String {
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

    #[test]
    fn the_script_dead_letters_a_conflict_under_the_library_s_reason() {
        assert!(super::CLAIM_AND_XADD.contains(&format!("'reason', '{}'", super::CONFLICT_REASON)));
    }
}
