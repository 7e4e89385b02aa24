//! Delivery workers on a Redis stream: a consumer group, so any number of replicas share the
//! work and each event goes to one of them at a time. An entry is acknowledged (`XACK`) only once
//! the service answered 2xx; failures are retried with back-off, and after the schedule the entry
//! moves to the dead-letter stream, from which `--replay-dead-letters` moves it back.
//!
//! At least once, across crashes: an entry being retried stays pending under its worker, which
//! refreshes its claim on it (`XCLAIM … JUSTID`) while it holds it; a worker that died stops doing
//! so, and after `--claim-idle` another takes its entries over (`XAUTOCLAIM`), its schedule
//! starting afresh.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use redis::aio::ConnectionManager;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use tencent_chat_callbacks::envelope::Envelope;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{debug, error, info, warn};

use crate::clip::Clip;
use crate::deliver::{Attempt, Schedule, Target};
use crate::forward::RedisStream;

/// How long one blocking read waits for new entries.
const READ_BLOCK: Duration = Duration::from_millis(500);

/// The dead-letter reason of an event the service never took.
pub(crate) const DELIVERY_FAILED: &str = "delivery_failed";

/// One replica's delivery workers.
pub(crate) struct Worker {
    /// For everything but the blocking read, which would hold up a shared connection.
    pub(crate) redis: RedisStream,
    pub(crate) reader: ConnectionManager,
    pub(crate) group: String,
    pub(crate) consumer: String,
    pub(crate) target: Arc<Target>,
    pub(crate) schedule: Schedule,
    pub(crate) claim_idle: Duration,
    pub(crate) concurrency: usize,
    /// The entry ids this worker is delivering now.
    pub(crate) in_hand: Mutex<HashSet<String>>,
}

impl Worker {
    /// Delivers until the process ends.
    pub(crate) async fn run(self: Arc<Self>) {
        while let Err(error) = self.create_group().await {
            warn!(%error, stream = %self.redis.stream, "cannot create the delivery group yet; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        info!(stream = %self.redis.stream, group = %self.group, consumer = %self.consumer, "delivering");
        tokio::spawn(Arc::clone(&self).refresh_claims());
        tokio::spawn(Arc::clone(&self).report_depth());
        let permits = Arc::new(Semaphore::new(self.concurrency.max(1)));
        let mut next_takeover = tokio::time::Instant::now();
        loop {
            let first = Arc::clone(&permits).acquire_owned().await.expect("the semaphore stays open");
            let free = 1 + permits.available_permits();
            let mut entries = Ok(Vec::new());
            if tokio::time::Instant::now() >= next_takeover {
                next_takeover = tokio::time::Instant::now() + self.claim_idle / 2;
                entries = self.take_over(free).await;
            }
            if matches!(&entries, Ok(e) if e.is_empty()) {
                entries = self.read(free).await;
            }
            let entries = match entries {
                Ok(entries) => entries,
                Err(error) => {
                    warn!(%error, "reading the stream failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let mut first = Some(first);
            for entry in entries {
                let permit = match first.take() {
                    Some(permit) => permit,
                    None => Arc::clone(&permits).acquire_owned().await.expect("the semaphore stays open"),
                };
                // A takeover can return an entry this worker holds itself, when a refresh was late.
                if !self.in_hand.lock().unwrap_or_else(|p| p.into_inner()).insert(entry.id.clone()) {
                    first = Some(permit);
                    continue;
                }
                tokio::spawn(Arc::clone(&self).deliver(entry, permit));
            }
        }
    }

    /// `XGROUP CREATE … 0 MKSTREAM`: from the stream's start, so events stored before the first
    /// worker ran are delivered too. An existing group is kept.
    async fn create_group(&self) -> redis::RedisResult<()> {
        let mut connection = self.redis.connection.clone();
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.redis.stream)
            .arg(&self.group)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut connection)
            .await;
        match created {
            Err(error) if error.code() == Some("BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    /// New entries for this consumer.
    async fn read(&self, count: usize) -> redis::RedisResult<Vec<StreamId>> {
        let mut connection = self.reader.clone();
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(&self.group)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(READ_BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&self.redis.stream)
            .arg(">")
            .query_async(&mut connection)
            .await?;
        Ok(reply.map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect()).unwrap_or_default())
    }

    /// Entries other workers held past `--claim-idle` without refreshing their claim: theirs died.
    async fn take_over(&self, count: usize) -> redis::RedisResult<Vec<StreamId>> {
        let mut connection = self.redis.connection.clone();
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&self.redis.stream)
            .arg(&self.group)
            .arg(&self.consumer)
            .arg(self.claim_idle.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut connection)
            .await?;
        if !reply.deleted_ids.is_empty() {
            // Trimmed by MAXLEN before any worker delivered them: the stream bound is too small
            // for the backlog.
            metrics::counter!("relay_delivery_lost_total").increment(reply.deleted_ids.len() as u64);
            error!(
                count = reply.deleted_ids.len(),
                "pending entries were trimmed from the stream before delivery (raise --maxlen): these events are lost"
            );
            let _: redis::RedisResult<()> = redis::cmd("XACK")
                .arg(&self.redis.stream)
                .arg(&self.group)
                .arg(&reply.deleted_ids)
                .query_async(&mut connection)
                .await;
        }
        if !reply.claimed.is_empty() {
            info!(count = reply.claimed.len(), "took over entries of a worker that stopped");
        }
        Ok(reply.claimed)
    }

    /// Keeps the entries in hand from looking abandoned.
    async fn refresh_claims(self: Arc<Self>) {
        let mut every = tokio::time::interval((self.claim_idle / 3).max(Duration::from_millis(100)));
        loop {
            every.tick().await;
            let ids: Vec<String> = self.in_hand.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect();
            if ids.is_empty() {
                continue;
            }
            let mut connection = self.redis.connection.clone();
            let refreshed: redis::RedisResult<redis::Value> = redis::cmd("XCLAIM")
                .arg(&self.redis.stream)
                .arg(&self.group)
                .arg(&self.consumer)
                .arg(0)
                .arg(&ids)
                .arg("JUSTID")
                .query_async(&mut connection)
                .await;
            if let Err(error) = refreshed {
                debug!(%error, "refreshing the claims failed");
            }
        }
    }

    /// The gauges of `/metrics`: entries not yet read by the group, and read but not delivered.
    async fn report_depth(self: Arc<Self>) {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            let mut connection = self.redis.connection.clone();
            let groups: redis::RedisResult<Vec<redis::Value>> =
                redis::cmd("XINFO").arg("GROUPS").arg(&self.redis.stream).query_async(&mut connection).await;
            for group in groups.unwrap_or_default() {
                let Ok(fields) = redis::from_redis_value::<std::collections::HashMap<String, redis::Value>>(group)
                else {
                    continue;
                };
                let field = |name: &str| fields.get(name).and_then(|v| redis::from_redis_value::<i64>(v.clone()).ok());
                let name = fields.get("name").and_then(|v| redis::from_redis_value::<String>(v.clone()).ok());
                if name.as_deref() == Some(self.group.as_str()) {
                    metrics::gauge!("relay_delivery_pending").set(field("pending").unwrap_or_default() as f64);
                    metrics::gauge!("relay_delivery_lag").set(field("lag").unwrap_or_default() as f64);
                }
            }
            let dead: redis::RedisResult<u64> =
                redis::cmd("XLEN").arg(&self.redis.dead_stream).query_async(&mut connection).await;
            metrics::gauge!("relay_dead_letter_stream_length").set(dead.unwrap_or_default() as f64);
        }
    }

    /// Delivers one entry by the schedule, then acknowledges it (delivered or dead-lettered).
    async fn deliver(self: Arc<Self>, entry: StreamId, permit: OwnedSemaphorePermit) {
        let json: Option<String> = entry.get("envelope");
        let key = json.as_deref().and_then(|j| Envelope::from_json(j.as_bytes()).ok()).map(|e| e.dedup_key);
        let (Some(json), Some(key)) = (json, key) else {
            error!(id = %entry.id, "a stream entry without a readable envelope; moved to the dead letters");
            self.dead_letter(&entry.id, "", "undecodable", "no readable envelope field", 0).await;
            return self.done(&entry.id, permit);
        };
        let body = Bytes::from(json);
        let mut failed = 0;
        loop {
            let (detail, retry_after) = match self.target.attempt(&key, body.clone()).await {
                Attempt::Delivered => {
                    debug!(id = %entry.id, key = %Clip(&key), attempts = failed + 1, "delivered");
                    break;
                }
                Attempt::Failed { detail, retry_after } => (detail, retry_after),
            };
            failed += 1;
            if failed >= self.schedule.attempts {
                warn!(id = %entry.id, key = %Clip(&key), attempts = failed, %detail, "not delivered; moved to the dead letters");
                metrics::counter!("relay_dead_letters_total", "reason" => DELIVERY_FAILED).increment(1);
                let body = String::from_utf8_lossy(&body).into_owned();
                self.dead_letter(&entry.id, &body, DELIVERY_FAILED, &detail, failed).await;
                break;
            }
            metrics::counter!("relay_delivery_retries_total").increment(1);
            let wait = self.schedule.wait(failed, retry_after);
            debug!(id = %entry.id, key = %Clip(&key), attempt = failed, %detail, ?wait, "delivery failed; retrying");
            tokio::time::sleep(wait).await;
        }
        self.acknowledge(&entry.id).await;
        self.done(&entry.id, permit);
    }

    fn done(&self, id: &str, permit: OwnedSemaphorePermit) {
        self.in_hand.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
        drop(permit);
    }

    /// `XACK`, retried while Redis is away: an entry left pending would be delivered again after
    /// a takeover, which is allowed (at least once) but avoidable.
    async fn acknowledge(&self, id: &str) {
        for attempt in 0..30 {
            let mut connection = self.redis.connection.clone();
            let acked: redis::RedisResult<u64> =
                redis::cmd("XACK").arg(&self.redis.stream).arg(&self.group).arg(id).query_async(&mut connection).await;
            match acked {
                Ok(_) => return,
                Err(error) if attempt == 29 => warn!(%id, %error, "cannot acknowledge; it will be delivered again"),
                Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    }

    /// Appends an entry to the dead-letter stream, retried while Redis is away; the caller
    /// acknowledges the original afterwards, so a crash in between leaves it pending, not lost.
    async fn dead_letter(&self, id: &str, envelope: &str, reason: &str, detail: &str, attempts: u32) {
        loop {
            let mut connection = self.redis.connection.clone();
            let mut xadd = redis::cmd("XADD");
            xadd.arg(&self.redis.dead_stream);
            if let Some(maxlen) = self.redis.maxlen {
                xadd.arg("MAXLEN").arg("~").arg(maxlen);
            }
            xadd.arg("*").arg("envelope").arg(envelope).arg("reason").arg(reason).arg("detail").arg(detail);
            xadd.arg("attempts").arg(attempts).arg("entry").arg(id);
            match xadd.query_async::<String>(&mut connection).await {
                Ok(_) => return,
                Err(error) => {
                    warn!(%id, %error, "cannot write the dead letter yet; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// `--replay-dead-letters`: moves every entry of the dead-letter stream back to the stream, where
/// the delivery workers take it again. Each is appended before it is deleted, so a crash half-way
/// delivers some twice (the same `webhook-id`) and loses none. Returns how many moved.
pub(crate) async fn replay_dead_letters(redis: &RedisStream) -> redis::RedisResult<usize> {
    let mut connection = redis.connection.clone();
    let mut moved = 0;
    loop {
        let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(&redis.dead_stream)
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(100)
            .query_async(&mut connection)
            .await?;
        if entries.ids.is_empty() {
            return Ok(moved);
        }
        for entry in entries.ids {
            let envelope: Option<String> = entry.get("envelope");
            match envelope.filter(|e| !e.is_empty()) {
                Some(envelope) => {
                    let mut xadd = redis::cmd("XADD");
                    xadd.arg(&redis.stream);
                    if let Some(maxlen) = redis.maxlen {
                        xadd.arg("MAXLEN").arg("~").arg(maxlen);
                    }
                    xadd.arg("*").arg("envelope").arg(envelope).query_async::<String>(&mut connection).await?;
                    moved += 1;
                }
                None => warn!(id = %entry.id, "a dead letter without an envelope is dropped"),
            }
            redis::cmd("XDEL").arg(&redis.dead_stream).arg(&entry.id).query_async::<u64>(&mut connection).await?;
        }
    }
}
