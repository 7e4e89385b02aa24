//! Delivery workers on NATS JetStream: a durable pull consumer (`--group`) that every replica
//! shares, so each message goes to one of them at a time. A message is acknowledged once the
//! service answered 2xx; a failure is answered with a delayed negative acknowledgement (`NAK`
//! with the back-off), so the server redelivers it, to any replica, and counts the attempts
//! (which therefore survive a crash). After the schedule the envelope is published to the
//! dead-letter stream and the message terminated. A replica that dies holding a message lets
//! its `ack_wait` (`--claim-idle-ms`) lapse, and the server redelivers it.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::pull};
use futures_util::StreamExt;
use tencent_chat_callbacks::envelope::Envelope;
use tokio::sync::Semaphore;
use tracing::{debug, error, info, warn};

use crate::deliver::{Attempt, Schedule, Target};
use crate::worker::DELIVERY_FAILED;

/// One replica's delivery workers on JetStream.
pub(crate) struct NatsWorker {
    pub(crate) jetstream: jetstream::Context,
    pub(crate) stream: String,
    pub(crate) subject: String,
    pub(crate) group: String,
    pub(crate) target: Arc<Target>,
    pub(crate) schedule: Schedule,
    pub(crate) claim_idle: Duration,
    pub(crate) concurrency: usize,
}

/// Stops a task when the function that started it returns.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The subject prefix of the dead-letter stream.
pub(crate) fn dead_subject(subject: &str) -> String {
    format!("{subject}-dead")
}

/// Ensures the dead-letter stream (`<dead stream>` on `<subject>-dead.>`).
pub(crate) async fn ensure_dead_stream(
    jetstream: &jetstream::Context,
    name: &str,
    subject: &str,
    maxlen: Option<u64>,
) -> Result<jetstream::stream::Stream, String> {
    let mut config = jetstream::stream::Config {
        name: name.to_owned(),
        subjects: vec![format!("{}.>", dead_subject(subject))],
        ..Default::default()
    };
    if let Some(maxlen) = maxlen {
        config.max_messages = i64::try_from(maxlen).unwrap_or(i64::MAX);
    }
    jetstream.get_or_create_stream(config).await.map_err(|e| format!("cannot ensure the dead-letter stream: {e}"))
}

impl NatsWorker {
    /// Delivers until the process ends.
    pub(crate) async fn run(self: Arc<Self>) {
        loop {
            if let Err(error) = Arc::clone(&self).consume().await {
                warn!(%error, "the JetStream consumer stopped; starting again");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn consume(self: Arc<Self>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let stream = self.jetstream.get_stream(&self.stream).await?;
        let config = pull::Config {
            durable_name: Some(self.group.clone()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ack_wait: self.claim_idle,
            filter_subject: format!("{}.>", self.subject),
            max_ack_pending: i64::try_from(self.concurrency.max(1) * 16).unwrap_or(i64::MAX),
            ..Default::default()
        };
        let consumer: jetstream::consumer::PullConsumer = stream.get_or_create_consumer(&self.group, config).await?;
        info!(stream = %self.stream, group = %self.group, "delivering");
        let mut probe = consumer.clone();
        let depth = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(5));
            loop {
                every.tick().await;
                if let Ok(info) = probe.info().await {
                    metrics::gauge!("relay_delivery_pending").set(info.num_ack_pending as f64);
                    metrics::gauge!("relay_delivery_lag").set(info.num_pending as f64);
                }
            }
        });
        let _stop_depth = AbortOnDrop(depth);
        let permits = Arc::new(Semaphore::new(self.concurrency.max(1)));
        let mut messages = consumer.messages().await?;
        while let Some(message) = messages.next().await {
            let message = message?;
            let permit = Arc::clone(&permits).acquire_owned().await.expect("the semaphore stays open");
            let this = Arc::clone(&self);
            tokio::spawn(async move {
                this.deliver(message).await;
                drop(permit);
            });
        }
        Ok(())
    }

    /// One attempt for one message, then its acknowledgement of the right kind.
    async fn deliver(&self, message: jetstream::Message) {
        let attempt = u32::try_from(message.info().map(|i| i.delivered).unwrap_or(1)).unwrap_or(u32::MAX).max(1);
        let Ok(envelope) = Envelope::from_json(&message.payload) else {
            error!(subject = %message.subject, "a message without a readable envelope; terminated");
            let _ = message.ack_with(AckKind::Term).await;
            return;
        };
        let ack = match self.target.attempt(&envelope.dedup_key, message.payload.clone()).await {
            Attempt::Delivered => {
                debug!(key = %crate::clip::Clip(&envelope.dedup_key), attempt, "delivered");
                AckKind::Ack
            }
            Attempt::Failed { detail, .. } if attempt >= self.schedule.attempts => {
                warn!(key = %crate::clip::Clip(&envelope.dedup_key), attempt, %detail, "not delivered; moved to the dead letters");
                metrics::counter!("relay_dead_letters_total", "reason" => DELIVERY_FAILED).increment(1);
                match self.dead_letter(&envelope, message.payload.clone(), &detail).await {
                    Ok(()) => AckKind::Term,
                    // Not stored as a dead letter: let the server deliver it again.
                    Err(error) => {
                        warn!(%error, "cannot write the dead letter; retrying the delivery");
                        AckKind::Nak(Some(self.schedule.max))
                    }
                }
            }
            Attempt::Failed { detail, retry_after } => {
                metrics::counter!("relay_delivery_retries_total").increment(1);
                let wait = self.schedule.wait(attempt, retry_after);
                debug!(key = %crate::clip::Clip(&envelope.dedup_key), attempt, %detail, ?wait, "delivery failed; retrying");
                AckKind::Nak(Some(wait))
            }
        };
        // A lost acknowledgement means a redelivery after `ack_wait`: at least once still holds.
        if let Err(error) = message.ack_with(ack).await {
            debug!(%error, "the acknowledgement was not sent");
        }
    }

    async fn dead_letter(&self, envelope: &Envelope, payload: bytes::Bytes, detail: &str) -> Result<(), String> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Relay-Reason", DELIVERY_FAILED);
        headers.insert("Relay-Detail", detail.replace(['\r', '\n'], " ").as_str());
        let subject = format!("{}.{}", dead_subject(&self.subject), crate::forward::subject_token(&envelope.command));
        let ack = self.jetstream.publish_with_headers(subject, headers, payload).await.map_err(|e| e.to_string())?;
        ack.await.map(|_| ()).map_err(|e| e.to_string())
    }
}

/// `--replay-dead-letters` on NATS: publishes every message of the dead-letter stream to the
/// stream again (under a message id of its own, so the duplicate window does not drop it), then
/// deletes it. Returns how many moved.
pub(crate) async fn replay_dead_letters(
    jetstream: &jetstream::Context,
    dead_stream: &str,
    subject: &str,
    maxlen: Option<u64>,
) -> Result<usize, Box<dyn std::error::Error>> {
    let mut stream = ensure_dead_stream(jetstream, dead_stream, subject, maxlen).await?;
    let state = stream.info().await?.state.clone();
    let mut moved = 0;
    for sequence in state.first_sequence..=state.last_sequence {
        let Ok(message) = stream.get_raw_message(sequence).await else { continue };
        let Ok(envelope) = Envelope::from_json(&message.payload) else {
            warn!(sequence, "a dead letter without an envelope is dropped");
            stream.delete_message(sequence).await?;
            continue;
        };
        let mut headers = async_nats::HeaderMap::new();
        let id = format!("{}#replay-{sequence}-{}", envelope.dedup_key, std::process::id());
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
        let to = format!("{subject}.{}", crate::forward::subject_token(&envelope.command));
        jetstream.publish_with_headers(to, headers, message.payload).await?.await?;
        stream.delete_message(sequence).await?;
        moved += 1;
    }
    Ok(moved)
}
