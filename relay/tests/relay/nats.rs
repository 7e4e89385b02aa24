//! The relay on a real `nats-server` with JetStream: two replicas, duplicates spread over both,
//! each event stored once thanks to the `Nats-Msg-Id` header and the stream's duplicate window.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tencent_chat_callbacks::envelope::Envelope;
use tests::servers::NatsServer;

use crate::support::{Event, Relay, after_events, deliver, is_ok};

tests::needs! { [nats]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jetstream_two_replicas_each_event_stored_once() {
        let nats = NatsServer::start();
        let url = nats.url();
        let relays = [
            Relay::start(&["--forward", &url, "--stream", "callbacks", "--subject", "tencent.chat"]),
            Relay::start(&["--forward", &url, "--stream", "callbacks", "--subject", "tencent.chat"]),
        ];
        let events = after_events(400);
        let deliveries: Vec<(usize, usize)> =
            (0..events.len()).flat_map(|i| (0..1 + usize::from(i % 4 == 0)).map(move |copy| (i, (i + copy) % 2))).collect();
        let replies: Vec<bool> = futures_util::stream::iter(deliveries)
            .map(|(i, relay)| {
                let (events, address) = (&events, relays[relay].address);
                async move { is_ok(&deliver(address, &events[i]).await) }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        assert!(replies.iter().all(|ok| *ok), "every delivery acknowledged: {:#?}", relays[0].log.lock().unwrap());

        assert_stored_once(&url, "callbacks", "tencent.chat", &events).await;
    }
}

tests::needs! { [nats]
    /// Through a captured URL a forged event with a chosen `MsgKey` is stored first; the genuine
    /// event with that key must not be dropped as its duplicate (a redelivery of either still is).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_forged_event_cannot_make_jetstream_drop_the_genuine_one() {
        let nats = NatsServer::start();
        let url = nats.url();
        let relay = Relay::start(&["--forward", &url, "--stream", "forged", "--subject", "tencent.chat"]);
        let fixture = tests::fixtures().into_iter().find(|f| f.command == "C2C.CallbackAfterSendMsg").unwrap();
        let event = |text: &str| {
            let mut body = fixture.sample_json();
            body["MsgKey"] = "poisoned-key-1".into();
            body["MsgBody"][0]["MsgContent"]["Text"] = text.into();
            Event { command: fixture.command.clone(), key: String::new(), body: serde_json::to_vec(&body).unwrap() }
        };
        let (forged, genuine) = (event("forged"), event("genuine"));
        for delivery in [&forged, &forged, &genuine, &genuine] {
            assert!(is_ok(&deliver(relay.address, delivery).await));
        }
        let client = async_nats::connect(&url).await.expect("nats answers");
        let mut stream = async_nats::jetstream::new(client).get_stream("forged").await.expect("created");
        let stored = stream.info().await.unwrap().state.messages;
        let mut texts = Vec::new();
        for sequence in 1..=stored {
            let message = stream.get_raw_message(sequence).await.expect("stored");
            let envelope = Envelope::from_json(&message.payload).expect("an envelope");
            let body: serde_json::Value = serde_json::from_str(envelope.body.get()).unwrap();
            texts.push(body["MsgBody"][0]["MsgContent"]["Text"].as_str().unwrap().to_owned());
        }
        assert_eq!(texts, ["forged", "genuine"], "each body once, the genuine one kept");
    }
}

/// The stream holds exactly one message per event, on its command's subject, with the dedup key
/// and the body's hash as its `Nats-Msg-Id`.
async fn assert_stored_once(url: &str, stream: &str, subject: &str, events: &[Event]) {
    let client = async_nats::connect(url).await.expect("nats answers");
    let jetstream = async_nats::jetstream::new(client);
    let mut stream = jetstream.get_stream(stream).await.expect("the relay created the stream");
    let stored = stream.info().await.unwrap().state.messages;
    let mut by_key = BTreeMap::new();
    for sequence in 1..=stored {
        let message = stream.get_raw_message(sequence).await.expect("stored");
        let envelope = Envelope::from_json(&message.payload).expect("an envelope");
        assert_eq!(message.subject.as_str(), format!("{subject}.{}", envelope.command));
        let id = message.headers.get("Nats-Msg-Id").map(|v| v.as_str().to_owned()).unwrap_or_default();
        assert!(id.starts_with(&format!("{}#", envelope.dedup_key)), "{id}");
        assert!(envelope.event().expect("decodes").command().is_some());
        *by_key.entry(envelope.dedup_key).or_insert(0) += 1;
    }
    let duplicated: Vec<_> = by_key.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(duplicated.is_empty(), "stored more than once, e.g. {duplicated:?}");
    let missing: Vec<_> = events.iter().filter(|e| !by_key.contains_key(&e.key)).take(5).map(|e| &e.key).collect();
    assert!(missing.is_empty(), "never stored, e.g. {missing:?}");
    assert_eq!(by_key.len(), events.len(), "one message per event");
}

tests::needs! { [nats]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_nats_restart_mid_run_loses_nothing_acknowledged() {
        let mut nats = NatsServer::start();
        let url = nats.url();
        let relay = Relay::start(&["--forward", &url, "--publish-timeout-ms", "1000"]);
        let events = after_events(300);

        // Killed (SIGKILL) and started again once a third of the events were delivered.
        let (done, third) = (AtomicUsize::new(0), tokio::sync::Notify::new());
        let deliveries = futures_util::stream::iter(0..events.len())
            .map(|i| {
                let (events, address, done, third) = (&events, relay.address, &done, &third);
                async move {
                    let ok = is_ok(&deliver(address, &events[i]).await);
                    if done.fetch_add(1, Ordering::SeqCst) + 1 == events.len() / 3 {
                        third.notify_one();
                    }
                    (i, ok)
                }
            })
            .buffer_unordered(8)
            .collect::<Vec<_>>();
        let restart = async {
            third.notified().await;
            nats.restart();
            assert!(done.load(Ordering::SeqCst) < events.len(), "restarted mid-run");
        };
        let (replies, ()) = tokio::join!(deliveries, restart);
        let mut acknowledged: BTreeSet<String> =
            replies.iter().filter(|(_, ok)| *ok).map(|(i, _)| events[*i].key.clone()).collect();

        println!("{} of {} acknowledged during the run", acknowledged.len(), events.len());
        // The vendor's retries: the relay reconnected by itself.
        for _ in 0..50 {
            let missing: Vec<&Event> = events.iter().filter(|e| !acknowledged.contains(&e.key)).collect();
            if missing.is_empty() {
                break;
            }
            for event in missing {
                if is_ok(&deliver(relay.address, event).await) {
                    acknowledged.insert(event.key.clone());
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(acknowledged.len(), events.len(), "every event acknowledged after the restart");
        assert_stored_once(&url, "tencent-chat-callbacks", "tencent-chat-callbacks", &events).await;
    }
}
