//! The relay on a real `nats-server` with JetStream: two replicas, duplicates spread over both,
//! each event stored once thanks to the `Nats-Msg-Id` header and the stream's duplicate window.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use tencent_chat_callbacks::envelope::Envelope;
use tests::servers::NatsServer;

use crate::support::{Relay, after_events, deliver, is_ok};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_two_replicas_each_event_stored_once() {
    let Some(nats) = NatsServer::start() else { return };
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

    let client = async_nats::connect(&url).await.expect("nats answers");
    let jetstream = async_nats::jetstream::new(client);
    let mut stream = jetstream.get_stream("callbacks").await.expect("the relay created the stream");
    let stored = stream.info().await.unwrap().state.messages;
    assert_eq!(stored, events.len() as u64, "one message per event");

    let mut by_key = BTreeMap::new();
    for sequence in 1..=stored {
        let message = stream.get_raw_message(sequence).await.expect("stored");
        let envelope = Envelope::from_json(&message.payload).expect("an envelope");
        assert_eq!(message.subject.as_str(), format!("tencent.chat.{}", envelope.command));
        assert_eq!(message.headers.get("Nats-Msg-Id").map(|v| v.as_str()), Some(envelope.dedup_key.as_str()));
        assert!(envelope.event().expect("decodes").is_some());
        *by_key.entry(envelope.dedup_key).or_insert(0) += 1;
    }
    let expected: BTreeMap<String, i32> = events.iter().map(|e| (e.key.clone(), 1)).collect();
    assert_eq!(by_key, expected);
}
