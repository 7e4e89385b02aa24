//! Handlers that outlived their deadline: tracked until they finish, so a shutdown can wait for
//! them and dead-letter the ones it cannot wait for.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::dead_letter::DeadLetter;

/// The handlers running past their deadline.
#[derive(Default)]
pub(crate) struct Background {
    next_id: AtomicU64,
    running: Mutex<HashMap<u64, Running>>,
    finished: Notify,
}

struct Running {
    task: AbortHandle,
    /// What to dead-letter if the task is still running when the drain gives up.
    letter: DeadLetter,
}

impl Background {
    /// Runs `work` on its own task, remembered with the letter to write if it must be abandoned.
    pub(crate) fn spawn<F>(self: &Arc<Self>, letter: DeadLetter, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let this = Arc::clone(self);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // The lock is held across the spawn, so the task cannot finish and unregister itself
        // before it is registered.
        let mut running = self.lock();
        let task = tokio::spawn(async move {
            work.await;
            this.lock().remove(&id);
            this.finished.notify_waiters();
        });
        running.insert(id, Running { task: task.abort_handle(), letter });
    }

    /// How many handlers are still running.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Waits up to `timeout` for every handler to finish; aborts the rest and returns their letters.
    pub(crate) async fn drain(&self, timeout: Duration) -> Vec<DeadLetter> {
        let all_finished = async {
            loop {
                let finished = self.finished.notified();
                if self.len() == 0 {
                    return;
                }
                finished.await;
            }
        };
        if tokio::time::timeout(timeout, all_finished).await.is_ok() {
            return Vec::new();
        }
        self.lock()
            .drain()
            .map(|(_, running)| {
                running.task.abort();
                running.letter
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Running>> {
        self.running.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
