//! HTTP delivery, at least once: a Python service verifying with `standardwebhooks` from PyPI and
//! a Node one verifying with `standardwebhooks` from npm get every event the relay acknowledged,
//! each with a valid signature and a `webhook-id` that is the event's dedup key on every attempt,
//! across a relay replica's SIGKILL, a broker restart (Redis, and NATS JetStream) and an outage of
//! the service (it answers 503; 5 s here, `RELAY_TEST_OUTAGE_SECS=30` for the issue's 30 s).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tests::servers::{NatsServer, RedisServer};

use crate::service::{Language, SECRET, Service};
use crate::support::{Event, Relay, after_events, deliver, is_ok};

/// How long the service answers 503.
fn outage() -> Duration {
    let secs = std::env::var("RELAY_TEST_OUTAGE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    Duration::from_secs(secs)
}

/// Delivers `events[range]` eight at a time, to `to(i)`; runs `at_half` once half are answered.
async fn send(
    events: &[Event],
    range: std::ops::Range<usize>,
    to: impl Fn(usize) -> SocketAddr,
    at_half: impl Fn(),
) -> BTreeSet<String> {
    let (half, done) = (range.len() / 2, AtomicUsize::new(0));
    let replies: Vec<(usize, bool)> = futures_util::stream::iter(range)
        .map(|i| {
            let (address, done, at_half) = (to(i), &done, &at_half);
            async move {
                let ok = is_ok(&deliver(address, &events[i]).await);
                if done.fetch_add(1, Ordering::SeqCst) + 1 == half {
                    at_half();
                }
                (i, ok)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    replies.into_iter().filter(|(_, ok)| *ok).map(|(i, _)| events[i].key.clone()).collect()
}

/// The broker the relay stores events in.
enum Broker {
    Redis(RedisServer),
    Nats(NatsServer),
}

impl Broker {
    fn url(&self) -> String {
        match self {
            Broker::Redis(redis) => redis.url(),
            Broker::Nats(nats) => nats.url(),
        }
    }

    fn kill(&mut self) {
        match self {
            Broker::Redis(redis) => redis.kill(),
            Broker::Nats(nats) => nats.kill(),
        }
    }

    fn restart(&mut self) {
        match self {
            Broker::Redis(redis) => redis.restart(),
            Broker::Nats(nats) => nats.restart(),
        }
    }
}

async fn every_acknowledged_event_reaches(language: Language, nats: bool) {
    let service = Service::start(language);
    let mut redis = if nats { Broker::Nats(NatsServer::start()) } else { Broker::Redis(RedisServer::start()) };
    let (redis_url, service_url) = (redis.url(), service.url());
    let args = [
        "--forward",
        &redis_url,
        "--deliver",
        &service_url,
        "--deliver-secret",
        SECRET,
        "--claim-idle-ms",
        "1500",
        "--deliver-backoff-ms",
        "100",
        "--deliver-backoff-max-secs",
        "1",
        "--deliver-attempts",
        "100000",
        "--deliver-timeout-ms",
        "2000",
        "--publish-timeout-ms",
        "1000",
    ];
    // The verifier is not a rubber stamp: an unsigned request is refused.
    let reply = crate::support::post(service.address, "/hook", b"{}").await;
    assert_eq!(reply.map(|r| r.0), Some(401), "an unsigned request");

    let a = Relay::start(&args);
    let b = Arc::new(Mutex::new(Relay::start(&args)));
    let b_address = b.lock().unwrap().address;
    let events = after_events(300);
    let mut acknowledged = BTreeSet::new();

    // The service answers 503 for a while. Meanwhile events keep coming to two replicas, one of
    // them is SIGKILLed half-way (with requests in flight and deliveries in hand, which the other
    // takes over), and Redis is restarted.
    service.answer(503).await;
    let outage_started = Instant::now();
    let to = |i: usize| if i.is_multiple_of(2) { a.address } else { b_address };
    acknowledged.extend(send(&events, 0..100, to, || b.lock().unwrap().kill()).await);
    acknowledged.extend(send(&events, 100..150, |_| a.address, || {}).await);
    redis.kill();
    let reply = deliver(a.address, &events[150]).await;
    assert!(matches!(reply, Some((500, _))), "the broker down: {reply:?}");
    redis.restart();
    acknowledged.extend(send(&events, 150..200, |_| a.address, || {}).await);
    let b = Relay::start(&args); // a new replica in place of the killed one
    tokio::time::sleep(outage().saturating_sub(outage_started.elapsed())).await;
    let refused = service.seen().iter().filter(|s| s.status == 503).count();
    assert!(refused > 0, "the outage was seen by the relay's workers");
    service.answer(200).await;
    acknowledged
        .extend(send(&events, 200..300, |i| if i.is_multiple_of(2) { a.address } else { b.address }, || {}).await);

    // The vendor's retries for what was not acknowledged (Redis down, the killed replica).
    for _ in 0..50 {
        let missing: Vec<&Event> = events.iter().filter(|e| !acknowledged.contains(&e.key)).collect();
        if missing.is_empty() {
            break;
        }
        for event in missing {
            if is_ok(&deliver(a.address, event).await) {
                acknowledged.insert(event.key.clone());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(acknowledged.len(), events.len(), "every event acknowledged in the end");

    // Every acknowledged event reaches the service, signed, under its dedup key on every attempt.
    let deadline = Instant::now() + Duration::from_secs(120);
    let delivered = loop {
        let seen = service.seen();
        let delivered: BTreeSet<String> =
            seen.iter().filter(|s| s.status == 200).filter_map(|s| s.dedup_key.clone()).collect();
        if acknowledged.is_subset(&delivered) || Instant::now() > deadline {
            break seen;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let invalid: Vec<_> = delivered.iter().filter(|s| !s.valid).collect();
    assert_eq!(invalid.len(), 1, "only the unsigned request failed verification: {invalid:?}");
    let mut attempts: BTreeMap<&str, usize> = BTreeMap::new();
    for seen in delivered.iter().filter(|s| s.valid) {
        let key = seen.dedup_key.as_deref().expect("a verified delivery is an envelope");
        assert_eq!(seen.id.as_deref(), Some(key), "webhook-id is the dedup key");
        *attempts.entry(key).or_default() += 1;
    }
    let ok: BTreeSet<&str> =
        delivered.iter().filter(|s| s.status == 200).filter_map(|s| s.dedup_key.as_deref()).collect();
    let lost: Vec<_> = acknowledged.iter().filter(|k| !ok.contains(k.as_str())).take(5).collect();
    assert!(lost.is_empty(), "acknowledged but never delivered, e.g. {lost:?}");
    let retried = attempts.values().filter(|n| **n > 1).count();
    println!(
        "{language:?} (nats: {nats}): {} events, {} deliveries ({} answered 503), {retried} events delivered more than once",
        acknowledged.len(),
        delivered.len() - 1,
        delivered.iter().filter(|s| s.status == 503).count(),
    );
    assert!(retried > 0, "events refused during the outage were attempted again");
    if !nats {
        // JetStream redelivers what a dead replica held by itself, after `ack_wait`.
        let logs = [a.log.lock().unwrap().join("\n"), b.log.lock().unwrap().join("\n")].join("\n");
        assert!(logs.contains("took over entries of a worker that stopped"), "the killed replica's entries: {logs}");
    }
}

tests::needs! { [redis, python_webhooks]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_python_service_verifying_with_standardwebhooks_gets_every_acknowledged_event() {
        every_acknowledged_event_reaches(Language::Python, false).await;
    }
}

tests::needs! { [redis, node_webhooks]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_node_service_verifying_with_standardwebhooks_gets_every_acknowledged_event() {
        every_acknowledged_event_reaches(Language::Node, false).await;
    }
}

tests::needs! { [nats, python_webhooks]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn through_jetstream_a_python_service_gets_every_acknowledged_event() {
        every_acknowledged_event_reaches(Language::Python, true).await;
    }
}

tests::needs! { [redis, python_webhooks]
    /// Events the service refuses by the whole schedule go to the dead-letter stream (after waits
    /// that honour its `Retry-After: 1`), are counted in `/metrics`, and one command moves them back
    /// for delivery once the service is fixed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failed_deliveries_are_dead_lettered_by_the_schedule_and_replayed_by_one_command() {
        dead_letters_and_replay(false).await;
    }
}

tests::needs! { [nats, python_webhooks]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn through_jetstream_failed_deliveries_are_dead_lettered_and_replayed() {
        dead_letters_and_replay(true).await;
    }
}

async fn dead_letters_and_replay(nats: bool) {
    let service = Service::start(Language::Python);
    let redis = if nats { Broker::Nats(NatsServer::start()) } else { Broker::Redis(RedisServer::start()) };
    let (redis_url, service_url) = (redis.url(), service.url());
    service.answer(503).await;
    let relay = Relay::start(&[
        "--forward",
        &redis_url,
        "--deliver",
        &service_url,
        "--deliver-secret",
        SECRET,
        "--deliver-attempts",
        "3",
        "--deliver-backoff-ms",
        "10",
        "--admin",
        "127.0.0.1:0",
    ]);
    let admin = relay.admin_address();
    let events = after_events(5);
    let started = Instant::now();
    for event in &events {
        assert!(is_ok(&deliver(relay.address, event).await));
    }
    let metrics = loop {
        let (_, metrics) = crate::support::get(admin, "/metrics").await.expect("metrics");
        if metrics.contains(r#"relay_dead_letters_total{reason="delivery_failed"} 5"#) {
            break metrics;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never dead-lettered: {metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Three attempts with two waits of at least the `Retry-After` second, though the back-off is 10 ms.
    assert!(started.elapsed() >= Duration::from_secs(2), "{:?}", started.elapsed());
    assert!(metrics.contains(r#"relay_delivery_attempts_total{outcome="failed"} 15"#), "{metrics}");
    assert!(metrics.contains("relay_delivery_retries_total 10"), "{metrics}");
    assert_eq!(service.seen().iter().filter(|s| s.status == 503).count(), 15);

    service.answer(200).await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_relay"))
        .args(["--forward", &redis_url, "--replay-dead-letters"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("moved 5 dead letter(s)"), "{output:?}");
    let keys: BTreeSet<String> = events.iter().map(|e| e.key.clone()).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let delivered: BTreeSet<String> =
            service.seen().into_iter().filter(|s| s.status == 200).filter_map(|s| s.dedup_key).collect();
        if delivered == keys {
            break;
        }
        assert!(Instant::now() < deadline, "replayed but not delivered: {delivered:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(service.seen().iter().all(|s| s.valid && s.id == s.dedup_key));
}

tests::needs! { [node_webhooks]
    /// Without a broker, `--deliver` is a hand-off within the publish timeout: the vendor gets OK only
    /// once the service took the event, and a failure status when it did not (for the vendor's retry).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_a_broker_delivery_is_synchronous() {
        let service = Service::start(Language::Node);
        let url = service.url();
        let relay = Relay::start(&["--deliver", &url, "--deliver-secret", SECRET]);
        let events = after_events(2);
        assert!(is_ok(&deliver(relay.address, &events[0]).await));
        // The service wrote its line before answering; only this side's pipe reader may lag.
        let seen = service.seen_at_least(1).await;
        assert_eq!(seen.len(), 1, "delivered before the answer: {seen:?}");
        assert!(seen[0].valid && seen[0].status == 200 && seen[0].dedup_key.as_deref() == Some(events[0].key.as_str()));
        assert!(is_ok(&deliver(relay.address, &events[0]).await), "a redelivery is a duplicate");
        assert_eq!(service.seen().len(), 1);

        service.answer(503).await;
        let reply = deliver(relay.address, &events[1]).await;
        assert!(matches!(reply, Some((500, _))), "{reply:?}");
        service.answer(200).await;
        assert!(is_ok(&deliver(relay.address, &events[1]).await), "the vendor's retry goes through");
        assert!(relay.printed().is_empty(), "nothing on stdout with --deliver");
    }
}
