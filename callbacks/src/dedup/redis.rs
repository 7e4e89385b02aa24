//! `RedisStore` (feature `redis`): the store shared by every replica.

use std::time::Duration;

use redis::aio::ConnectionManager;

use super::{BoxFuture, Claim, DedupError, DedupStore, Lease};

/// The value of a finished key.
const DONE: &str = "done";

/// Claims a key: `SET NX PX` with the lease token; otherwise says whether it is done (2) or
/// in flight (3). One script, so a key expiring between the two steps cannot be misread.
const CLAIM: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[3] then return 2 end
return 3";

/// Marks a key done if the lease token still owns it.
const COMPLETE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0";

/// Deletes a key if the lease token still owns it.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

/// A store on Redis, shared by every replica that uses the same server and prefix.
///
/// Each key is a Redis string `PREFIX + key` holding the claim's token while in flight and
/// `done` afterwards, with the TTL as its expiry, so Redis drops old keys itself. Every step is
/// one atomic script. The [`ConnectionManager`] reconnects after a connection is lost; a call
/// made while Redis is down fails with [`DedupError::Backend`].
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    claim: redis::Script,
    complete: redis::Script,
    release: redis::Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl RedisStore {
    /// The default prefix of the store's keys.
    pub const DEFAULT_PREFIX: &'static str = "dedup:";

    /// A store on `connection`, its keys prefixed with [`Self::DEFAULT_PREFIX`].
    pub fn new(connection: ConnectionManager) -> RedisStore {
        RedisStore::with_prefix(connection, RedisStore::DEFAULT_PREFIX)
    }

    /// A store whose keys start with `prefix`.
    pub fn with_prefix(connection: ConnectionManager, prefix: impl Into<String>) -> RedisStore {
        RedisStore {
            connection,
            prefix: prefix.into(),
            claim: redis::Script::new(CLAIM),
            complete: redis::Script::new(COMPLETE),
            release: redis::Script::new(RELEASE),
        }
    }

    /// Connects to `url` (`redis://host:port/db`) with a reconnecting connection.
    pub async fn connect(url: &str) -> Result<RedisStore, DedupError> {
        let client = redis::Client::open(url)?;
        Ok(RedisStore::new(ConnectionManager::new(client).await?))
    }

    fn redis_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl DedupStore for RedisStore {
    fn claim<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<Claim, DedupError>> {
        Box::pin(async move {
            let lease = Lease::new(key);
            let mut connection = self.connection.clone();
            let found: i64 = self
                .claim
                .key(self.redis_key(key))
                .arg(&lease.token)
                .arg(millis(ttl))
                .arg(DONE)
                .invoke_async(&mut connection)
                .await?;
            Ok(match found {
                1 => Claim::Claimed(lease),
                2 => Claim::Done,
                _ => Claim::InFlight,
            })
        })
    }

    fn complete<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> BoxFuture<'a, Result<(), DedupError>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let _: i64 = self
                .complete
                .key(self.redis_key(&lease.key))
                .arg(&lease.token)
                .arg(DONE)
                .arg(millis(ttl))
                .invoke_async(&mut connection)
                .await?;
            Ok(())
        })
    }

    fn release<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), DedupError>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let _: i64 =
                self.release.key(self.redis_key(&lease.key)).arg(&lease.token).invoke_async(&mut connection).await?;
            Ok(())
        })
    }
}
