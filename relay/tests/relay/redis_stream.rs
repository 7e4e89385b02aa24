//! The relay on a real `redis-server`: two replicas with duplicates spread over both and one
//! killed half-way; a Redis restart mid-run; Redis down answered with a failure status.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tests::servers::{RedisServer, free_port};

use crate::support::{Event, Relay, after_events, deliver, is_ok, python_consumer, read_stream, shuffle};

const STREAM: &str = "tencent-chat-callbacks";

/// Counts the stream's envelopes by dedup key.
async fn stream_keys(url: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for envelope in read_stream(url, STREAM).await {
        *counts.entry(envelope["dedup_key"].as_str().unwrap().to_owned()).or_insert(0) += 1;
    }
    counts
}

/// Redelivers every event not yet acknowledged to `relay` until each is, as the vendor's retries
/// would; fails after `rounds` rounds.
async fn redeliver_until_acknowledged(
    relay: &Relay,
    events: &[Event],
    acknowledged: &mut BTreeSet<String>,
    rounds: usize,
) {
    for _ in 0..rounds {
        let missing: Vec<&Event> = events.iter().filter(|e| !acknowledged.contains(&e.key)).collect();
        if missing.is_empty() {
            return;
        }
        for event in missing {
            if is_ok(&deliver(relay.address, event).await) {
                acknowledged.insert(event.key.clone());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("some events were never acknowledged: {:#?}", relay.log.lock().unwrap());
}

/// Delivers `events[range]`, eight at a time; says which were acknowledged.
async fn send_range(
    address: std::net::SocketAddr,
    events: &[Event],
    range: std::ops::Range<usize>,
) -> Vec<(usize, bool)> {
    futures_util::stream::iter(range)
        .map(|i| async move { (i, is_ok(&deliver(address, &events[i]).await)) })
        .buffer_unordered(8)
        .collect()
        .await
}

/// Every acknowledged event is in the stream exactly once, and nothing is in it twice.
fn assert_exactly_once(counts: &BTreeMap<String, usize>, acknowledged: &BTreeSet<String>) {
    let duplicated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    let some = &duplicated[..duplicated.len().min(5)];
    assert!(duplicated.is_empty(), "{} events published more than once, e.g. {some:?}", duplicated.len());
    let lost: Vec<_> = acknowledged.iter().filter(|k| !counts.contains_key(*k)).collect();
    let some = &lost[..lost.len().min(5)];
    assert!(lost.is_empty(), "{} events acknowledged but not in the stream, e.g. {some:?}", lost.len());
}

tests::needs! { [redis, python_redis]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_replicas_one_killed_half_way_every_acknowledged_event_exactly_once() {
        let redis = RedisServer::start();
        let url = redis.url();
        let a = Relay::start(&["--forward", &url, "--maxlen", "100000"]);
        let b = Arc::new(std::sync::Mutex::new(Relay::start(&["--forward", &url, "--maxlen", "100000"])));
        let b_address = b.lock().unwrap().address;

        // 2000 events; about a third delivered twice, some three times, copies alternating replicas.
        let events = after_events(2000);
        let mut deliveries: Vec<(usize, std::net::SocketAddr)> = Vec::new();
        for i in 0..events.len() {
            let copies = 1 + usize::from(i % 3 == 0) + usize::from(i % 7 == 0);
            for copy in 0..copies {
                deliveries.push((i, if (i + copy) % 2 == 0 { a.address } else { b_address }));
            }
        }
        shuffle(&mut deliveries, 13);

        let half = deliveries.len() / 2;
        let done = AtomicUsize::new(0);
        let replies: Vec<(usize, bool)> = futures_util::stream::iter(deliveries)
            .map(|(i, address)| {
                let (events, done, b) = (&events, &done, Arc::clone(&b));
                async move {
                    let reply = deliver(address, &events[i]).await;
                    if done.fetch_add(1, Ordering::SeqCst) + 1 == half {
                        b.lock().unwrap().kill(); // SIGKILL, with requests in flight
                    }
                    if let Some((status, body)) = &reply {
                        assert!(*status == 200 || *status >= 500, "event {i}: {status} {body}");
                    }
                    (i, is_ok(&reply))
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;

        let mut acknowledged: BTreeSet<String> =
            replies.iter().filter(|(_, ok)| *ok).map(|(i, _)| events[*i].key.clone()).collect();
        let failed = replies.iter().filter(|(_, ok)| !ok).count();
        assert!(failed > 0, "deliveries to the killed replica failed");
        assert_exactly_once(&stream_keys(&url).await, &acknowledged);

        // The vendor's retries reach the surviving replica: then every event is there, once.
        redeliver_until_acknowledged(&a, &events, &mut acknowledged, 5).await;
        let counts = stream_keys(&url).await;
        assert_exactly_once(&counts, &acknowledged);
        assert_eq!(counts.len(), events.len());
        python_consumer(&url, STREAM, events.len());
    }
}

tests::needs! { [redis]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_redis_restart_mid_run_loses_nothing_acknowledged() {
        let mut redis = RedisServer::start();
        let url = redis.url();
        let relay = Relay::start(&["--forward", &url, "--publish-timeout-ms", "1000"]);
        let events = after_events(600);
        let mut acknowledged = BTreeSet::new();

        let first = send_range(relay.address, &events, 0..300).await;
        acknowledged.extend(first.iter().filter(|(_, ok)| *ok).map(|(i, _)| events[*i].key.clone()));
        assert_eq!(acknowledged.len(), 300, "all acknowledged while Redis is up");

        // Killed (SIGKILL) while the second half is being delivered, then started again.
        let restart = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            redis.kill();
            // While Redis is down an event gets a failure status, not OK.
            let reply = deliver(relay.address, &events[599]).await;
            assert!(matches!(reply, Some((500, _))), "Redis down: {reply:?}");
            redis.restart();
        };
        let (second, ()) = tokio::join!(send_range(relay.address, &events, 300..600), restart);
        acknowledged.extend(second.iter().filter(|(_, ok)| *ok).map(|(i, _)| events[*i].key.clone()));
        assert_exactly_once(&stream_keys(&url).await, &acknowledged);

        // The relay reconnected by itself: the retries go through the same process.
        redeliver_until_acknowledged(&relay, &events, &mut acknowledged, 50).await;
        let counts = stream_keys(&url).await;
        assert_exactly_once(&counts, &acknowledged);
        assert_eq!(counts.len(), events.len());
    }
}

tests::needs! { [redis]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_relay_started_before_redis_fails_and_dead_letters_then_serves_once_it_is_up() {
        let port = free_port();
        let url = format!("redis://127.0.0.1:{port}");
        let dir = tests::servers::ScratchDir::new("relay-dead-letters");
        let dead_letters = dir.path().join("dead.jsonl");
        let relay = Relay::start(&["--forward", &url, "--dead-letter", dead_letters.to_str().unwrap()]);
        let event = &after_events(1)[0];
        let reply = deliver(relay.address, event).await;
        assert!(matches!(reply, Some((500, _))), "no Redis yet: {reply:?}");
        // The event the broker did not take is kept as a dead letter, with its body.
        let letters = std::fs::read_to_string(&dead_letters).expect("a dead-letter file");
        let letter: serde_json::Value = serde_json::from_str(letters.lines().next().expect("one letter")).unwrap();
        assert_eq!(letter["command"], event.command.as_str());
        assert_eq!(letter["reason"], "handler_failed");
        assert_eq!(letter["body"], String::from_utf8(event.body.clone()).unwrap());
        let _redis = RedisServer::start_on(port);
        let mut acknowledged = BTreeSet::new();
        redeliver_until_acknowledged(&relay, std::slice::from_ref(event), &mut acknowledged, 50).await;
        assert_eq!(stream_keys(&url).await.len(), 1);
    }
}

tests::needs! { [redis]
    /// Dedup that cannot be poisoned: a forged event with a genuine event's `MsgKey`, sent first
    /// through a captured URL, does not make the genuine one (another body, same key) be dropped as
    /// its duplicate. The genuine one is kept in the dead-letter stream, reason `dedup_conflict`,
    /// with a warning, and one command moves it back to the stream.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_forged_event_cannot_make_the_genuine_one_with_its_key_be_dropped() {
        let redis = RedisServer::start();
        let url = redis.url();
        let relay = Relay::start(&["--forward", &url]);
        let fixture = tests::fixtures().into_iter().find(|f| f.command == "C2C.CallbackAfterSendMsg").unwrap();
        let event = |text: &str| {
            let mut body = fixture.sample_json();
            body["MsgKey"] = "poisoned-key-1".into();
            body["MsgBody"][0]["MsgContent"]["Text"] = text.into();
            Event { command: fixture.command.clone(), key: String::new(), body: serde_json::to_vec(&body).unwrap() }
        };
        let (forged, genuine) = (event("forged"), event("genuine"));
        for delivery in [&forged, &forged, &genuine] {
            assert!(is_ok(&deliver(relay.address, delivery).await));
        }

        let stream = read_stream(&url, STREAM).await;
        assert_eq!(stream.len(), 1, "the forgery once, its redelivery dropped: {stream:#?}");
        assert_eq!(stream[0]["body"]["MsgBody"][0]["MsgContent"]["Text"], "forged");
        let dead = dead_letters(&url).await;
        assert_eq!(dead.len(), 1, "{dead:#?}");
        assert_eq!(dead[0]["reason"], "dedup_conflict");
        let envelope: serde_json::Value = serde_json::from_str(dead[0]["envelope"].as_str().unwrap()).unwrap();
        assert_eq!(envelope["body"]["MsgBody"][0]["MsgContent"]["Text"], "genuine");
        assert_eq!(envelope["dedup_key"], "C2C.CallbackAfterSendMsg:MsgKey=poisoned-key-1");
        let log = relay.log_once_it_has("dedup_conflict", 1).await;
        assert!(log.lines().any(|l| l.contains("WARN") && l.contains("dedup_conflict")), "{log}");

        // The operator replays it: then both are in the stream, for the service to tell apart.
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_relay"))
            .args(["--forward", &url, "--replay-dead-letters"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert!(String::from_utf8_lossy(&output.stdout).contains("moved 1 dead letter(s)"));
        let stream = read_stream(&url, STREAM).await;
        let texts: Vec<_> = stream.iter().map(|e| e["body"]["MsgBody"][0]["MsgContent"]["Text"].clone()).collect();
        assert_eq!(texts, ["forged", "genuine"]);
        assert!(dead_letters(&url).await.is_empty());
    }
}

tests::needs! { [redis]
    /// The stream is bounded by default (`--maxlen` 1,000,000), and the bound trims it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_stream_is_bounded_by_default_and_the_bound_trims() {
        let help = std::process::Command::new(env!("CARGO_BIN_EXE_relay")).arg("--help").output().unwrap();
        let help = String::from_utf8_lossy(&help.stdout);
        let maxlen = help.split("--maxlen").nth(1).expect("a --maxlen flag");
        assert!(maxlen.split("--").next().unwrap().contains("[default: 1000000]"), "{maxlen}");

        let redis = RedisServer::start();
        let url = redis.url();
        let relay = Relay::start(&["--forward", &url, "--maxlen", "50"]);
        let events = after_events(400);
        assert_eq!(send_range(relay.address, &events, 0..400).await.iter().filter(|(_, ok)| *ok).count(), 400);
        let length = read_stream(&url, STREAM).await.len();
        // `MAXLEN ~` trims whole macro nodes (100 entries by default), so a little over the bound.
        assert!(length < 250, "{length} entries kept");
    }
}

/// The dead-letter stream's entries, each as its fields.
async fn dead_letters(url: &str) -> Vec<serde_json::Value> {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.expect("redis answers");
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(format!("{STREAM}-dead"))
        .arg("-")
        .arg("+")
        .query_async(&mut connection)
        .await
        .expect("XRANGE");
    entries
        .into_iter()
        .map(|(_, fields)| fields.into_iter().map(|(k, v)| (k, v.into())).collect::<serde_json::Map<_, _>>().into())
        .collect()
}
