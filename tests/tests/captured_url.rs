//! What someone who saw one signed URL can do to the gate, on real sockets (issue 17): each test
//! is one attack, and the defence that stops it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tencent_chat_callbacks::dead_letter::{DeadLetter, JsonLinesSink};
use tencent_chat_callbacks::dedup::{Deduplicator, MemoryStore};
use tencent_chat_callbacks::{Context, Dispatcher, DispatcherBuilder, FailurePolicy, IpNet, c2c, group, push};
use tests::serve::{PATIENCE, post_json, serve};
use tests::{APP_ID, TOKEN, fixtures, now, signed_query};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const BEFORE_SEND: &str = "Group.CallbackBeforeSendMsg";
const CREATE: &str = "Group.CallbackAfterCreateGroup";
const C2C_AFTER_SEND: &str = "C2C.CallbackAfterSendMsg";
fn sample(command: &str) -> Value {
    fixtures().into_iter().find(|f| f.command == command).unwrap().sample_json()
}

fn builder() -> DispatcherBuilder {
    Dispatcher::builder().app_id(APP_ID).token(TOKEN)
}

/// A connection from `source` (any 127/8 address reaches the loopback server).
async fn connect_from(source: &str, address: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(address).await.unwrap()
}

/// Sends a POST's head announcing `length` bytes of body, and none of it yet.
async fn start_post(stream: &mut TcpStream, query: &str, length: usize) {
    let head = format!("POST /callback?{query} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
}

/// What the server sends until it closes the connection, and how long that took.
async fn until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut seen)).await.expect("closed in time");
    (String::from_utf8_lossy(&seen).into_owned(), started.elapsed())
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("captured-url-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_trickled_or_endless_body_is_cut_off_at_the_request_timeout() {
    let dispatcher = builder().accept_any_app_id().build().unwrap();
    let (address, _stop) = serve(dispatcher, |s| s.request_timeout(Duration::from_secs(1))).await;
    let query = signed_query(CREATE, now());

    // One byte every 200 ms: each arrives well inside any per-frame timeout, the whole never does.
    let mut trickle = TcpStream::connect(address).await.unwrap();
    start_post(&mut trickle, &query, 1000).await;
    let writer = tokio::spawn(async move {
        for _ in 0..100 {
            if trickle.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        trickle
    });
    // An endless chunked body.
    let mut chunked = TcpStream::connect(address).await.unwrap();
    let head = format!("POST /callback?{query} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    chunked.write_all(head.as_bytes()).await.unwrap();
    let chunker = tokio::spawn(async move {
        for _ in 0..100 {
            if chunked.write_all(b"1\r\n \r\n").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        chunked
    });
    for mut stream in [writer.await.unwrap(), chunker.await.unwrap()] {
        let (seen, _) = until_closed(&mut stream).await;
        assert!(seen.starts_with("HTTP/1.1 408"), "{seen}");
        assert!(seen.to_ascii_lowercase().contains("connection: close"), "{seen}");
    }
}

#[tokio::test]
async fn slow_bodies_from_one_address_do_not_shed_another_s_moderation() {
    let decided = Arc::new(AtomicUsize::new(0));
    let counter = decided.clone();
    let dispatcher = builder()
        .on_failure(FailurePolicy::Refuse)
        .max_in_flight(16)
        .max_pending_per_source(8)
        .on::<group::BeforeSendMsg, _>(move |_: group::BeforeSendMsg, _: Context| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { group::BeforeSendMsgDecision::Allow }
        })
        .build()
        .unwrap();
    let (address, _stop) = serve(dispatcher, |s| s).await;
    let query = signed_query(BEFORE_SEND, now());
    // 40 connections from 127.0.0.2 with the captured URL, each announcing a body it never sends.
    let mut slow = Vec::new();
    for _ in 0..40 {
        let mut stream = connect_from("127.0.0.2", address).await;
        start_post(&mut stream, &query, 1000).await;
        slow.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The vendor, from another address: every message is decided by the handler, none shed.
    let body = serde_json::to_vec(&sample(BEFORE_SEND)).unwrap();
    for _ in 0..7 {
        let (status, reply) = post_json(address, &signed_query(BEFORE_SEND, now()), &body).await;
        assert_eq!((status, reply["ErrorCode"].as_i64()), (200, Some(0)), "{reply}");
    }
    assert_eq!(decided.load(Ordering::SeqCst), 7);
    // Past the source's cap of 8, the slow ones were refused before their body, and told to close.
    let mut refused = 0;
    for stream in &mut slow[8..] {
        let (seen, _) = until_closed(stream).await;
        assert!(seen.to_ascii_lowercase().contains("connection: close"), "{seen}");
        refused += 1;
    }
    assert_eq!(refused, 32);
}

#[tokio::test]
async fn undecodable_bodies_cannot_fill_the_disk() {
    let dir = scratch("budget");
    let path = dir.join("letters.jsonl");
    let budget = 1 << 20;
    let dispatcher = builder()
        .dead_letters(JsonLinesSink::open(&path).unwrap().max_bytes(budget))
        .on::<group::AfterCreateGroup, _>(|_: group::AfterCreateGroup| async {})
        .build()
        .unwrap();
    let (address, _stop) = serve(dispatcher, |s| s).await;
    // 64 KiB bodies that are not UTF-8, through one captured URL.
    let body = vec![0xffu8; 64 * 1024];
    for _ in 0..40 {
        assert_eq!(tests::post(address, &format!("/callback?{}", signed_query(CREATE, now())), &body).await.0, 400);
    }
    let on_disk: u64 = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
    assert!(on_disk <= budget, "{on_disk} bytes written against a budget of {budget}");
    let letters = JsonLinesSink::read(&path).unwrap();
    assert!(!letters.is_empty() && letters.len() < 40, "{} letters kept", letters.len());
    // Base64, not hex: a letter is about 4/3 of its body, not twice it.
    let base64 = letters[0].body_base64.as_ref().expect("a body that is not UTF-8 is kept as base64");
    assert!(base64.len() < body.len() * 3 / 2);
    assert_eq!(letters[0].raw_body(), body);
}

/// A push batch with `bad` undecodable events among `good` ones, and a large extra field.
fn batch(good: usize, bad: usize, extra_bytes: usize) -> Vec<u8> {
    let mut body = sample("Push.OfflinePush");
    let events = body["Events"].as_array().unwrap().clone();
    let event = events[0].clone();
    let mut items = Vec::new();
    for n in 0..good + bad {
        let mut item = event.clone();
        if n % (good + bad).max(1) >= good {
            item["EventTime"] = json!({"not": "a time"});
        }
        items.push(item);
    }
    body["Events"] = Value::Array(items);
    body["Padding"] = json!("p".repeat(extra_bytes));
    serde_json::to_vec(&body).unwrap()
}

#[tokio::test]
async fn a_bad_batch_cannot_amplify_dead_letters_nor_stall_a_before_callback() {
    let dir = scratch("batch");
    let path = dir.join("letters.jsonl");
    let handled = Arc::new(Mutex::new(Vec::new()));
    let seen = handled.clone();
    let dispatcher = builder()
        .on_failure(FailurePolicy::Refuse)
        .dead_letters(JsonLinesSink::open(&path).unwrap())
        .on::<push::OfflinePush, _>(move |event: push::OfflinePush| {
            seen.lock().unwrap().push(event.events.len());
            async {}
        })
        .on::<group::BeforeSendMsg, _>(|_: group::BeforeSendMsg| async { group::BeforeSendMsgDecision::Allow })
        .build()
        .unwrap();
    let (address, _stop) = serve(dispatcher, |s| s).await;
    let body = batch(2, 200, 500 * 1024);
    let query = signed_query("Push.OfflinePush", now());
    let batches: Vec<_> =
        (0..2).map(|_| tokio::spawn(tests::post_owned(address, format!("/callback?{query}"), body.clone()))).collect();
    // Meanwhile, a genuine before-callback is decided by its handler within the vendor's 2 s.
    let started = Instant::now();
    let (status, reply) =
        post_json(address, &signed_query(BEFORE_SEND, now()), &serde_json::to_vec(&sample(BEFORE_SEND)).unwrap()).await;
    assert_eq!((status, reply["ErrorCode"].as_i64()), (200, Some(0)), "{reply}");
    assert!(started.elapsed() < Duration::from_secs(2), "answered after {:?}", started.elapsed());
    for batch in batches {
        assert_eq!(batch.await.unwrap().0, 200);
    }
    assert_eq!(*handled.lock().unwrap(), vec![2, 2], "each handler call got the good events");
    let letters: Vec<DeadLetter> = JsonLinesSink::read(&path).unwrap();
    assert_eq!(letters.len(), 400, "one letter per bad event");
    let on_disk = std::fs::metadata(&path).unwrap().len();
    assert!(on_disk < 2 << 20, "{on_disk} bytes of dead letters for 400 small bad events");
    assert!(
        letters.iter().all(|l| !l.body.as_deref().unwrap_or_default().contains("ppp")),
        "no letter holds the padding"
    );
}

/// A forged delivery with a chosen `MsgKey`, then the genuine event with the same key.
async fn forged_then_genuine(dedup: Deduplicator) {
    let handled = Arc::new(Mutex::new(Vec::new()));
    let seen = handled.clone();
    let dispatcher = builder()
        .dedup(dedup)
        .on::<c2c::AfterSendMsg, _>(move |event: c2c::AfterSendMsg| {
            // Recorded when the handler's future runs: dedup decides whether it does.
            let seen = seen.clone();
            async move { seen.lock().unwrap().push(event.from_account.clone()) }
        })
        .build()
        .unwrap();
    let (address, _stop) = serve(dispatcher, |s| s).await;
    let genuine = sample(C2C_AFTER_SEND);
    let mut forged = genuine.clone();
    forged["From_Account"] = json!("attacker");
    for body in [&forged, &genuine, &genuine] {
        let (status, _) =
            post_json(address, &signed_query(C2C_AFTER_SEND, now()), &serde_json::to_vec(body).unwrap()).await;
        assert_eq!(status, 200);
    }
    let genuine_sender = genuine["From_Account"].as_str().unwrap().to_owned();
    assert_eq!(
        *handled.lock().unwrap(),
        vec!["attacker".to_owned(), genuine_sender],
        "the genuine event is handled once"
    );
}

#[tokio::test]
async fn a_forged_msg_key_cannot_suppress_the_genuine_event_in_memory() {
    forged_then_genuine(Deduplicator::new(MemoryStore::default())).await;
}

tests::needs! { [redis]
    #[tokio::test]
    async fn a_forged_msg_key_cannot_suppress_the_genuine_event_on_redis() {
        let redis = tests::servers::RedisServer::start();
        let store = tencent_chat_callbacks::dedup::RedisStore::connect(&redis.url()).await.unwrap();
        forged_then_genuine(Deduplicator::new(store)).await;
    }
}

#[tokio::test]
async fn sources_outside_the_allow_list_are_refused_before_their_body() {
    let allowed: IpNet = "127.0.0.1/32".parse().unwrap();
    let dispatcher = builder()
        .allow_sources([allowed])
        .on_failure(FailurePolicy::Refuse)
        .on::<group::BeforeSendMsg, _>(|_: group::BeforeSendMsg| async { group::BeforeSendMsgDecision::Allow })
        .build()
        .unwrap();
    let (address, _stop) = serve(dispatcher, |s| s).await;
    // From 127.0.0.3, with a valid signature: refused at once, the body never read.
    let mut stranger = connect_from("127.0.0.3", address).await;
    start_post(&mut stranger, &signed_query(CREATE, now()), 100).await;
    let (seen, _) = until_closed(&mut stranger).await;
    assert!(seen.starts_with("HTTP/1.1 403"), "{seen}");
    assert!(!seen.contains("100 Continue"));
    // A before-callback from there follows the failure policy.
    let mut stranger = connect_from("127.0.0.3", address).await;
    start_post(&mut stranger, &signed_query(BEFORE_SEND, now()), 100).await;
    let (seen, _) = until_closed(&mut stranger).await;
    assert!(seen.starts_with("HTTP/1.1 200") && seen.contains("\"ErrorCode\":1"), "{seen}");
    // From the allowed address it is handled.
    let body = serde_json::to_vec(&sample(BEFORE_SEND)).unwrap();
    assert_eq!(post_json(address, &signed_query(BEFORE_SEND, now()), &body).await.0, 200);
}

#[tokio::test]
async fn the_edges_answer_as_the_policy_says_and_say_nothing_internal() {
    let dispatcher = builder().on_failure(FailurePolicy::Refuse).build().unwrap();
    let (address, _stop) = serve(dispatcher, |s| s).await;
    // A duplicated parameter on a before-callback follows the policy.
    let query = format!("{}&ClientIP=1.2.3.4", signed_query(BEFORE_SEND, now()));
    let (status, reply) = post_json(address, &query, b"{}").await;
    assert_eq!((status, reply["ErrorCode"].as_i64()), (200, Some(1)), "{reply}");
    // A refusal before the body says `Connection: close`, so a client reusing it loses nothing.
    let mut stream = TcpStream::connect(address).await.unwrap();
    start_post(&mut stream, "SdkAppid=1&CallbackCommand=Group.CallbackAfterCreateGroup", 10).await;
    let (seen, _) = until_closed(&mut stream).await;
    assert!(seen.starts_with("HTTP/1.1 40") && seen.to_ascii_lowercase().contains("connection: close"), "{seen}");

    // A dedup store that fails is answered without its error's words.
    struct Down;
    impl tencent_chat_callbacks::dedup::DedupStore for Down {
        fn claim<'a>(
            &'a self,
            _: &'a str,
            _: Duration,
        ) -> tencent_chat_callbacks::dedup::BoxFuture<
            'a,
            Result<tencent_chat_callbacks::dedup::Claim, tencent_chat_callbacks::dedup::DedupError>,
        > {
            Box::pin(async {
                Err(tencent_chat_callbacks::dedup::DedupError::Backend("broken pipe at 10.0.0.7:6379".into()))
            })
        }
        fn complete<'a>(
            &'a self,
            _: &'a tencent_chat_callbacks::dedup::Lease,
            _: Duration,
        ) -> tencent_chat_callbacks::dedup::BoxFuture<'a, Result<(), tencent_chat_callbacks::dedup::DedupError>>
        {
            Box::pin(async { Ok(()) })
        }
        fn release<'a>(
            &'a self,
            _: &'a tencent_chat_callbacks::dedup::Lease,
        ) -> tencent_chat_callbacks::dedup::BoxFuture<'a, Result<(), tencent_chat_callbacks::dedup::DedupError>>
        {
            Box::pin(async { Ok(()) })
        }
    }
    let dispatcher = builder()
        .dedup(Deduplicator::new(Down))
        .on::<group::AfterCreateGroup, _>(|_: group::AfterCreateGroup| async {})
        .build()
        .unwrap();
    let (address, _stop) = serve(dispatcher, |s| s).await;
    let (status, reply) =
        post_json(address, &signed_query(CREATE, now()), &serde_json::to_vec(&sample(CREATE)).unwrap()).await;
    let info = reply["ErrorInfo"].as_str().unwrap();
    assert_eq!(status, 503);
    assert!(
        info.starts_with("the deduplication store is unavailable (request ") && !info.contains("broken pipe"),
        "{info}"
    );
}
