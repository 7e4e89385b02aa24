//! Idempotency: running each after-callback's work once, even when the vendor delivers it twice.
//!
//! The vendor retries an after-callback it got no answer for, pushes over the rate limit are
//! redelivered later, and a captured request can be replayed; behind a load balancer the copies
//! may reach different replicas. A [`DedupStore`] remembers which events were handled, keyed by
//! [`dedup_key`]:
//!
//! 1. [`DedupStore::claim`] before the handler runs: [`Claim::Claimed`] (run it, holding a
//!    [`Lease`]), [`Claim::InFlight`] (another delivery is running it now) or [`Claim::Done`]
//!    (it ran and succeeded; answer OK without running it again);
//! 2. [`DedupStore::complete`] after the handler succeeded: the key is done for the TTL given;
//! 3. [`DedupStore::release`] after it failed: the key is forgotten, so the vendor's retry runs it.
//!
//! A claim that is neither completed nor released (the process died) expires after the TTL given to
//! `claim`, so a later delivery runs the work. Completing or releasing checks the lease: a replica
//! whose claim expired and was taken over cannot complete or release the new owner's claim.
//!
//! [`Deduplicator::run`] does the three steps around one delivery's work.
//!
//! Before-callbacks are never deduplicated: the vendor does not retry them, and each asks for a
//! fresh decision.
//!
//! Two stores: [`MemoryStore`], bounded and per process (the default), and, with the `redis`
//! feature, `RedisStore`, shared by every replica.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

/// The default time a finished event stays remembered: 24 hours, longer than the vendor retries.
pub const DEFAULT_DONE_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The default time a claim lasts when it is neither completed nor released: 30 s, well beyond the
/// handler deadline, so only a dead process's claim expires.
pub const DEFAULT_IN_FLIGHT_TTL: Duration = Duration::from_secs(30);

/// The reason, in logs, metrics and dead letters, given to an event whose dedup key was first seen
/// with another body: a forgery sent first with a chosen key, or the genuine event after one. The
/// relay uses the same name for what it keeps in its dead-letter stream.
pub const CONFLICT_REASON: &str = "dedup_conflict";

/// The default number of keys a [`MemoryStore`] keeps.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// The key an event is remembered by.
///
/// With `key_field`, and when the body has that top-level field as a string or a number (say
/// `MsgKey`, which names one message), the key is `command:field=value`, so a redelivery whose body
/// differs in an unrelated field is still recognised. Otherwise it is `command:` followed by the
/// lowercase hex SHA-256 of the body: a retry repeats the body byte for byte. The field a command's
/// schema names for this is [`Command::dedup_field`](crate::Command::dedup_field).
pub fn dedup_key(command: &str, body: &[u8], key_field: Option<&str>) -> String {
    if let Some(field) = key_field
        && let Some(value) = field_value(body, field)
    {
        return format!("{command}:{field}={value}");
    }
    format!("{command}:{}", hex::encode(Sha256::digest(body)))
}

/// A top-level string or number field of a JSON object, as text; `None` when absent, empty or
/// of another type.
fn field_value(body: &[u8], field: &str) -> Option<String> {
    let object: HashMap<String, serde_json::Value> = serde_json::from_slice(body).ok()?;
    match object.get(field)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What [`DedupStore::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// Nobody handled this key yet: run the work, then [`DedupStore::complete`] or
    /// [`DedupStore::release`] the lease.
    Claimed(Lease),
    /// Another delivery holds the key and has not finished: do not run the work now. Answer with
    /// a failure so the vendor retries later, when the first delivery has finished or failed.
    InFlight,
    /// The work ran and succeeded: acknowledge without running it again.
    Done,
}

/// Proof of a claim: the key and a token unique to this claim.
#[derive(Clone, PartialEq, Eq)]
pub struct Lease {
    key: String,
    pub(super) token: String,
}

impl Lease {
    /// A lease on `key` with a fresh token.
    pub(super) fn new(key: &str) -> Lease {
        Lease { key: key.to_owned(), token: fresh_token() }
    }

    /// The key claimed.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease").field("key", &self.key).finish_non_exhaustive()
    }
}

/// A token no other claim has, in this process or another: the hash of the process id, the time
/// and a counter.
fn fresh_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let seed = format!("{}:{nanos}:{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    hex::encode(&Sha256::digest(seed)[..16])
}

/// Why a store could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DedupError {
    /// The store's backend failed (connection lost, timeout, …).
    #[error("the dedup store failed: {0}")]
    Backend(String),
}

#[cfg(feature = "redis")]
impl From<::redis::RedisError> for DedupError {
    fn from(error: ::redis::RedisError) -> Self {
        DedupError::Backend(error.to_string())
    }
}

/// The future a [`DedupStore`] method returns: boxed and `Send`. The same type as
/// `futures::future::BoxFuture`, so a store may be written with either.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where claims are kept; see the [module documentation](self).
pub trait DedupStore: Send + Sync + 'static {
    /// Claims `key` for one run of its work. The claim expires after `ttl` unless completed or
    /// released first.
    fn claim<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<Claim, DedupError>>;

    /// Marks the leased key done for `ttl`: later claims get [`Claim::Done`]. Does nothing when
    /// the lease is no longer the key's owner (it expired and was claimed again).
    fn complete<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> BoxFuture<'a, Result<(), DedupError>>;

    /// Forgets the leased key, so the next delivery runs the work. Does nothing when the lease is
    /// no longer the key's owner.
    fn release<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), DedupError>>;
}

mod memory;
#[cfg(feature = "redis")]
mod redis;

pub use self::memory::MemoryStore;
#[cfg(feature = "redis")]
pub use self::redis::RedisStore;

/// What [`Deduplicator::run`] did with a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ran<T> {
    /// The work ran (first delivery, or a retry after a failure); its result.
    Ran(T),
    /// The work already ran and succeeded: acknowledge without running it.
    Duplicate,
    /// Another delivery is running it now: answer a failure so the vendor retries later.
    InFlight,
}

/// A store with its settings, wrapping one delivery's work in claim → complete / release: the
/// one call a dispatcher makes per after-callback.
#[derive(Clone)]
pub struct Deduplicator {
    store: Arc<dyn DedupStore>,
    done_ttl: Duration,
    in_flight_ttl: Duration,
    key_fields: HashMap<crate::Command, String>,
}

impl fmt::Debug for Deduplicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deduplicator")
            .field("done_ttl", &self.done_ttl)
            .field("in_flight_ttl", &self.in_flight_ttl)
            .field("key_fields", &self.key_fields)
            .finish_non_exhaustive()
    }
}

impl Deduplicator {
    /// Deduplicates on `store` with [`DEFAULT_DONE_TTL`] and [`DEFAULT_IN_FLIGHT_TTL`], keying
    /// each command by the field its schema names ([`Command::dedup_field`](crate::Command::dedup_field)),
    /// the others by the hash of their body.
    pub fn new(store: impl DedupStore) -> Deduplicator {
        Deduplicator {
            store: Arc::new(store),
            done_ttl: DEFAULT_DONE_TTL,
            in_flight_ttl: DEFAULT_IN_FLIGHT_TTL,
            key_fields: HashMap::new(),
        }
    }

    /// How long a finished event is remembered, and how long a claim lasts unfinished.
    pub fn ttls(mut self, done: Duration, in_flight: Duration) -> Self {
        (self.done_ttl, self.in_flight_ttl) = (done, in_flight);
        self
    }

    /// Keys `command` by its body's `field` (see [`dedup_key`]), instead of its schema's choice.
    pub fn key_field(mut self, command: crate::Command, field: impl Into<String>) -> Self {
        self.key_fields.insert(command, field.into());
        self
    }

    /// The key of one delivery.
    pub fn key(&self, command: &str, body: &[u8]) -> String {
        let known = crate::Command::from_name(command);
        let field = known.and_then(|command| self.key_fields.get(&command)).map(String::as_str);
        let field = field.or_else(|| known.and_then(crate::Command::dedup_field));
        dedup_key(command, body, field)
    }

    /// Runs `work` unless this event already ran or is running: claims the key, runs the work,
    /// then completes the key when the work returned `Ok` and releases it otherwise. A failure to
    /// complete or release is logged, not returned: the work's result stands (an unreleased claim
    /// expires after the in-flight TTL). Fails only when the claim itself fails (store down),
    /// before the work runs.
    ///
    /// A delivery is a duplicate only when its body is one already handled. When the key comes
    /// from a field (`MsgKey`), a handled body is also remembered by its hash; a delivery with a
    /// handled field value but another body is not dropped (someone who saw one signed URL could
    /// otherwise forge the field first and have the genuine event acknowledged unhandled): it is
    /// logged at WARN as a conflict and run, deduplicated by its body's hash.
    pub async fn run<T, E, F>(&self, command: &str, body: &[u8], work: F) -> Result<Ran<Result<T, E>>, DedupError>
    where
        F: Future<Output = Result<T, E>>,
    {
        let key = self.key(command, body);
        let body_key = dedup_key(command, body, None);
        if key == body_key {
            return self.run_keyed(&key, work).await;
        }
        let lease = match self.store.claim(&key, self.in_flight_ttl).await? {
            Claim::Claimed(lease) => lease,
            Claim::InFlight => return Ok(Ran::InFlight),
            Claim::Done => {
                let ran = self.run_keyed(&body_key, work).await?;
                if matches!(ran, Ran::Ran(_)) {
                    tracing::warn!(
                        key = %crate::log_safe::Clipped(&key),
                        reason = CONFLICT_REASON,
                        "a delivery repeats a handled event's dedup key with another body; it is handled, not dropped"
                    );
                    crate::telemetry::dedup_conflict(command);
                }
                return Ok(ran);
            }
        };
        let result = work.await;
        let settled = match &result {
            Ok(_) => match self.store.complete(&lease, self.done_ttl).await {
                Ok(()) => self.remember_body(&body_key).await,
                Err(error) => Err(error),
            },
            Err(_) => self.store.release(&lease).await,
        };
        if let Err(error) = settled {
            tracing::warn!(%error, key = %crate::log_safe::Clipped(&key), "could not settle a dedup claim; it expires by itself");
        }
        Ok(Ran::Ran(result))
    }

    /// Marks a handled body's hash done, so that a redelivery of the same body is a duplicate.
    async fn remember_body(&self, body_key: &str) -> Result<(), DedupError> {
        match self.store.claim(body_key, self.in_flight_ttl).await? {
            Claim::Claimed(lease) => self.store.complete(&lease, self.done_ttl).await,
            Claim::Done | Claim::InFlight => Ok(()),
        }
    }

    /// [`Deduplicator::run`] with a key computed beforehand, e.g. an envelope's `dedup_key`.
    pub async fn run_keyed<T, E, F>(&self, key: &str, work: F) -> Result<Ran<Result<T, E>>, DedupError>
    where
        F: Future<Output = Result<T, E>>,
    {
        let lease = match self.store.claim(key, self.in_flight_ttl).await? {
            Claim::Claimed(lease) => lease,
            Claim::Done => return Ok(Ran::Duplicate),
            Claim::InFlight => return Ok(Ran::InFlight),
        };
        let result = work.await;
        let settled = match &result {
            Ok(_) => self.store.complete(&lease, self.done_ttl).await,
            Err(_) => self.store.release(&lease).await,
        };
        if let Err(error) = settled {
            tracing::warn!(%error, key = %crate::log_safe::Clipped(key), "could not settle a dedup claim; it expires by itself");
        }
        Ok(Ran::Ran(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_command_and_body_hash_by_default() {
        let key = dedup_key("C2C.CallbackAfterSendMsg", b"{}", None);
        assert_eq!(key, "C2C.CallbackAfterSendMsg:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
        assert_ne!(key, dedup_key("C2C.CallbackAfterSendMsg", b"{ }", None));
        assert_ne!(key, dedup_key("Group.CallbackAfterSendMsg", b"{}", None));
    }

    #[test]
    fn key_field_names_the_event_when_present() {
        let body = br#"{"MsgKey":"144115_1_2","EventTime":1}"#;
        let other_time = br#"{"MsgKey":"144115_1_2","EventTime":2}"#;
        let key = dedup_key("C2C.CallbackAfterSendMsg", body, Some("MsgKey"));
        assert_eq!(key, "C2C.CallbackAfterSendMsg:MsgKey=144115_1_2");
        assert_eq!(key, dedup_key("C2C.CallbackAfterSendMsg", other_time, Some("MsgKey")));
        assert_eq!(dedup_key("X", br#"{"Seq":42}"#, Some("Seq")), "X:Seq=42");
        // Absent, empty, of another type, or not JSON: the body hash.
        for body in [&br#"{"Other":1}"#[..], br#"{"MsgKey":""}"#, br#"{"MsgKey":[1]}"#, b"not json"] {
            assert_eq!(dedup_key("X", body, Some("MsgKey")), dedup_key("X", body, None));
        }
    }

    #[tokio::test]
    async fn a_deduplicator_runs_each_event_once_and_a_failure_again() {
        const C: &str = "Group.CallbackAfterCreateGroup";
        let dedup = Deduplicator::new(MemoryStore::new(10)).key_field(crate::Command::GroupAfterCreateGroup, "MsgKey");
        let ran = |n: i32| async move { Ok::<_, String>(n) };
        assert_eq!(dedup.run(C, br#"{"MsgKey":"a","T":1}"#, ran(1)).await.unwrap(), Ran::Ran(Ok(1)));
        // The same body again: a duplicate, not run.
        assert_eq!(dedup.run(C, br#"{"MsgKey":"a","T":1}"#, ran(9)).await.unwrap(), Ran::Duplicate);
        // The same MsgKey in another body (say, a forgery came first): run, never dropped; then
        // its own redelivery is a duplicate.
        assert_eq!(dedup.run(C, br#"{"MsgKey":"a","T":2}"#, ran(2)).await.unwrap(), Ran::Ran(Ok(2)));
        assert_eq!(dedup.run(C, br#"{"MsgKey":"a","T":2}"#, ran(8)).await.unwrap(), Ran::Duplicate);
        // A failure releases the key, so the retry runs.
        let failed = dedup.run("D", b"{}", async { Err::<i32, _>("broker down".to_owned()) }).await.unwrap();
        assert_eq!(failed, Ran::Ran(Err("broker down".to_owned())));
        assert_eq!(dedup.run("D", b"{}", ran(3)).await.unwrap(), Ran::Ran(Ok(3)));
        assert_eq!(dedup.run("D", b"{}", ran(4)).await.unwrap(), Ran::Duplicate);
        // A command whose schema names a key field is keyed by it without configuration.
        let command = "C2C.CallbackAfterSendMsg";
        assert_eq!(dedup.key(command, br#"{"MsgKey":"m","X":1}"#), "C2C.CallbackAfterSendMsg:MsgKey=m");
        // While one delivery runs, another is told it is in flight.
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
        let slow = dedup.run("E", b"{}", async move {
            started_tx.send(()).unwrap();
            finish_rx.await.unwrap();
            Ok::<_, String>(5)
        });
        let other = async {
            started_rx.await.unwrap();
            let answer = dedup.run("E", b"{}", ran(6)).await.unwrap();
            finish_tx.send(()).unwrap();
            answer
        };
        let (slow, other) = tokio::join!(slow, other);
        assert_eq!((slow.unwrap(), other), (Ran::Ran(Ok(5)), Ran::InFlight));
    }
}
