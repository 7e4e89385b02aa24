//! [`MemoryStore`]: the bounded store of one process.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{BoxFuture, Claim, DEFAULT_CAPACITY, DedupError, DedupStore, Lease};

/// The clock a [`MemoryStore`] reads.
type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// A bounded store in this process's memory: the default, enough for one replica.
///
/// It keeps at most a capacity of keys. When full, it drops expired keys first and then the keys
/// closest to expiring (with one TTL for all, the oldest), so memory stays bounded under any
/// traffic; a key dropped early only means a late duplicate runs again.
pub struct MemoryStore {
    capacity: usize,
    clock: Clock,
    state: Mutex<MemoryState>,
}

#[derive(Default)]
struct MemoryState {
    entries: HashMap<String, Entry>,
    /// Every entry by (expiry, sequence number), so the soonest to expire is first.
    by_expiry: BTreeMap<(Instant, u64), String>,
    next_seq: u64,
}

struct Entry {
    /// `None` once done; the lease token while in flight.
    token: Option<String>,
    expires: Instant,
    seq: u64,
}

impl MemoryState {
    fn remove(&mut self, key: &str) {
        if let Some(entry) = self.entries.remove(key) {
            self.by_expiry.remove(&(entry.expires, entry.seq));
        }
    }

    fn insert(&mut self, key: &str, token: Option<String>, expires: Instant) {
        self.remove(key);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_expiry.insert((expires, seq), key.to_owned());
        self.entries.insert(key.to_owned(), Entry { token, expires, seq });
    }

    /// Drops expired entries, then the soonest to expire while more than `keep` remain.
    fn make_room(&mut self, now: Instant, keep: usize) {
        while let Some(entry) = self.by_expiry.first_entry() {
            if entry.key().0 > now && self.entries.len() <= keep {
                break;
            }
            let key = entry.remove();
            self.entries.remove(&key);
        }
    }

    /// The entry for `key`, unless it expired.
    fn live(&self, key: &str, now: Instant) -> Option<&Entry> {
        self.entries.get(key).filter(|e| e.expires > now)
    }
}

impl MemoryStore {
    /// A store of at most `capacity` keys (at least 1).
    pub fn new(capacity: usize) -> MemoryStore {
        MemoryStore::with_clock(capacity, Arc::new(Instant::now))
    }

    /// A store reading time from `clock`, for tests.
    pub fn with_clock(capacity: usize, clock: Arc<dyn Fn() -> Instant + Send + Sync>) -> MemoryStore {
        MemoryStore { capacity: capacity.max(1), clock, state: Mutex::default() }
    }

    /// How many keys the store holds now, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the store holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        // The state is consistent after every statement that can panic, so a poisoned lock is usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn claim_now(&self, key: &str, ttl: Duration) -> Claim {
        let now = (self.clock)();
        let mut state = self.lock();
        match state.live(key, now) {
            Some(Entry { token: None, .. }) => return Claim::Done,
            Some(Entry { token: Some(_), .. }) => return Claim::InFlight,
            None => {}
        }
        state.remove(key);
        state.make_room(now, self.capacity - 1);
        let lease = Lease::new(key);
        state.insert(key, Some(lease.token.clone()), now + ttl);
        Claim::Claimed(lease)
    }

    /// Applies `f` to the leased entry when the lease still owns it.
    fn with_owned(&self, lease: &Lease, f: impl FnOnce(&mut MemoryState, Instant)) {
        let now = (self.clock)();
        let mut state = self.lock();
        if state.live(&lease.key, now).is_some_and(|e| e.token.as_ref() == Some(&lease.token)) {
            f(&mut state, now);
        }
    }
}

impl Default for MemoryStore {
    /// A store of [`DEFAULT_CAPACITY`] keys.
    fn default() -> Self {
        MemoryStore::new(DEFAULT_CAPACITY)
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore").field("capacity", &self.capacity).field("len", &self.len()).finish()
    }
}

impl DedupStore for MemoryStore {
    fn claim<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<Claim, DedupError>> {
        let claim = self.claim_now(key, ttl);
        Box::pin(async move { Ok(claim) })
    }

    fn complete<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> BoxFuture<'a, Result<(), DedupError>> {
        self.with_owned(lease, |state, now| state.insert(&lease.key, None, now + ttl));
        Box::pin(async { Ok(()) })
    }

    fn release<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), DedupError>> {
        self.with_owned(lease, |state, _| state.remove(&lease.key));
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::DEFAULT_DONE_TTL;

    /// A clock the test moves by hand.
    fn manual_clock() -> (Arc<Mutex<Instant>>, Clock) {
        let now = Arc::new(Mutex::new(Instant::now()));
        let read = Arc::clone(&now);
        (now, Arc::new(move || *read.lock().unwrap()))
    }

    fn advance(now: &Mutex<Instant>, by: Duration) {
        *now.lock().unwrap() += by;
    }

    const SECOND: Duration = Duration::from_secs(1);

    async fn claimed(store: &MemoryStore, key: &str) -> Lease {
        match store.claim(key, 10 * SECOND).await.unwrap() {
            Claim::Claimed(lease) => lease,
            other => panic!("{key}: expected a claim, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn claim_complete_then_done_until_the_ttl() {
        let (now, clock) = manual_clock();
        let store = MemoryStore::with_clock(10, clock);
        let lease = claimed(&store, "a").await;
        assert_eq!(lease.key(), "a");
        assert_eq!(store.claim("a", 10 * SECOND).await.unwrap(), Claim::InFlight);
        store.complete(&lease, 60 * SECOND).await.unwrap();
        assert_eq!(store.claim("a", 10 * SECOND).await.unwrap(), Claim::Done);
        advance(&now, 59 * SECOND);
        assert_eq!(store.claim("a", 10 * SECOND).await.unwrap(), Claim::Done);
        advance(&now, SECOND);
        claimed(&store, "a").await;
    }

    #[tokio::test]
    async fn release_lets_the_next_delivery_run() {
        let (_, clock) = manual_clock();
        let store = MemoryStore::with_clock(10, clock);
        let lease = claimed(&store, "a").await;
        store.release(&lease).await.unwrap();
        assert!(store.is_empty());
        claimed(&store, "a").await;
    }

    #[tokio::test]
    async fn an_abandoned_claim_expires_and_its_stale_lease_cannot_touch_the_new_one() {
        let (now, clock) = manual_clock();
        let store = MemoryStore::with_clock(10, clock);
        let stale = claimed(&store, "a").await;
        advance(&now, 9 * SECOND);
        assert_eq!(store.claim("a", 10 * SECOND).await.unwrap(), Claim::InFlight);
        advance(&now, SECOND);
        let fresh = claimed(&store, "a").await;
        store.release(&stale).await.unwrap();
        store.complete(&stale, 60 * SECOND).await.unwrap();
        assert_eq!(store.claim("a", 10 * SECOND).await.unwrap(), Claim::InFlight);
        store.complete(&fresh, 60 * SECOND).await.unwrap();
        assert_eq!(store.claim("a", 10 * SECOND).await.unwrap(), Claim::Done);
    }

    #[tokio::test]
    async fn a_full_store_drops_expired_keys_then_the_oldest() {
        let (now, clock) = manual_clock();
        let store = MemoryStore::with_clock(3, clock);
        for key in ["a", "b"] {
            let lease = claimed(&store, key).await;
            store.complete(&lease, 5 * SECOND).await.unwrap();
        }
        advance(&now, SECOND);
        let c = claimed(&store, "c").await;
        store.complete(&c, 100 * SECOND).await.unwrap();
        assert_eq!(store.len(), 3);
        advance(&now, 5 * SECOND); // a and b expired
        claimed(&store, "d").await;
        assert_eq!(store.len(), 2, "both expired keys dropped, nothing else");
        assert_eq!(store.claim("c", SECOND).await.unwrap(), Claim::Done);
        claimed(&store, "e").await;
        assert_eq!(store.len(), 3);
        // Full with live keys: "d" (in flight, expiring at 16 s) is the soonest to expire.
        claimed(&store, "f").await;
        assert_eq!(store.len(), 3);
        assert_eq!(store.claim("c", SECOND).await.unwrap(), Claim::Done);
        assert_eq!(store.claim("e", SECOND).await.unwrap(), Claim::InFlight);
        assert!(matches!(store.claim("d", SECOND).await.unwrap(), Claim::Claimed(_)), "d was dropped");
    }

    #[tokio::test]
    async fn memory_stays_bounded_under_many_keys() {
        let store = MemoryStore::new(100);
        for i in 0..10_000 {
            let lease = claimed(&store, &format!("k{i}")).await;
            store.complete(&lease, DEFAULT_DONE_TTL).await.unwrap();
        }
        assert_eq!(store.len(), 100);
        assert_eq!(store.claim("k9999", SECOND).await.unwrap(), Claim::Done);
    }
}
