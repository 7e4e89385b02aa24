//! Requests admitted whose body is still arriving, counted in total and per source.
//!
//! A body trickled byte by byte holds its request open until the adapter's request timeout. Were
//! such requests counted among those in flight, one address with a captured URL could fill the
//! in-flight cap and have every genuine before-callback shed. They are counted here instead, with
//! a cap per source, so that no number of slow bodies from one address delays another's.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::source::source_key;

/// The counts, and their caps.
#[derive(Debug)]
pub(super) struct PendingBodies {
    total: AtomicUsize,
    max_total: usize,
    by_source: Mutex<HashMap<IpAddr, usize>>,
    max_per_source: usize,
}

impl PendingBodies {
    pub(super) fn new(max_total: usize, max_per_source: usize) -> PendingBodies {
        PendingBodies { total: AtomicUsize::new(0), max_total, by_source: Mutex::default(), max_per_source }
    }

    /// A place for one more body from `source`, or `None` when its source or everyone is at the cap.
    pub(super) fn enter(&self, source: Option<IpAddr>) -> Option<PendingSlot<'_>> {
        if self.total.fetch_add(1, Ordering::Relaxed) >= self.max_total {
            self.total.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        let source = source.map(source_key);
        if let Some(source) = source {
            let mut by_source = self.lock();
            let count = by_source.entry(source).or_insert(0);
            if *count >= self.max_per_source {
                drop(by_source);
                self.total.fetch_sub(1, Ordering::Relaxed);
                return None;
            }
            *count += 1;
        }
        Some(PendingSlot { pending: self, source })
    }

    /// How many bodies from `source` are arriving now (for tests and metrics).
    #[cfg(test)]
    fn from(&self, source: IpAddr) -> usize {
        self.lock().get(&source_key(source)).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.by_source.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One body arriving; its place is given back when dropped.
#[derive(Debug)]
pub(crate) struct PendingSlot<'a> {
    pending: &'a PendingBodies,
    source: Option<IpAddr>,
}

impl Drop for PendingSlot<'_> {
    fn drop(&mut self) {
        if let Some(source) = self.source {
            let mut by_source = self.pending.lock();
            if let Some(count) = by_source.get_mut(&source) {
                *count -= 1;
                if *count == 0 {
                    by_source.remove(&source);
                }
            }
        }
        self.pending.total.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_source_at_its_cap_leaves_room_for_another() {
        let pending = PendingBodies::new(10, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = pending.enter(Some(a)).unwrap();
        let _second = pending.enter(Some(a)).unwrap();
        assert!(pending.enter(Some(a)).is_none());
        assert!(pending.enter(Some(b)).is_some());
        drop(first);
        assert_eq!(pending.from(a), 1);
        assert!(pending.enter(Some(a)).is_some());
    }

    #[test]
    fn the_total_cap_holds_whatever_the_sources() {
        let pending = PendingBodies::new(2, 2);
        let _a = pending.enter(Some("10.0.0.1".parse().unwrap())).unwrap();
        let _b = pending.enter(None).unwrap();
        assert!(pending.enter(Some("10.0.0.3".parse().unwrap())).is_none());
    }

    #[test]
    fn ipv6_sources_count_by_their_64() {
        let pending = PendingBodies::new(10, 1);
        let _a = pending.enter(Some("2001:db8::1".parse().unwrap())).unwrap();
        assert!(pending.enter(Some("2001:db8::2".parse().unwrap())).is_none());
        assert!(pending.enter(Some("2001:db8:0:1::1".parse().unwrap())).is_some());
        assert_eq!(source_key("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1".parse::<IpAddr>().unwrap());
    }
}
