//! The receive path on the real wire: the library's `Server` on a loopback socket, driven by raw
//! TCP where the attack needs it (slow headers, announced bodies never sent, `Expect:
//! 100-continue`, idle connections), and by plain requests for the failure policy, overload, dead
//! letters and batches.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tencent_chat_callbacks::dead_letter::{DeadLetter, JsonLinesSink};
use tencent_chat_callbacks::{
    BoxError, Command, Context, Dispatcher, DispatcherBuilder, FailurePolicy, c2c, group, push,
};
use tests::serve::{PATIENCE, post_json, serve};
use tests::{APP_ID, TOKEN, fixtures, now, sign, signed_query};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BEFORE_SEND: &str = "Group.CallbackBeforeSendMsg";
const CREATE: &str = "Group.CallbackAfterCreateGroup";
fn sample(command: &str) -> Value {
    fixtures().into_iter().find(|f| f.command == command).unwrap().sample_json()
}

/// A before-send message whose text steers the handler: `error`, `panic`, `slow`, or anything.
fn message(text: &str) -> Vec<u8> {
    let mut body = sample(BEFORE_SEND);
    body["MsgBody"][0]["MsgContent"]["Text"] = json!(text);
    serde_json::to_vec(&body).unwrap()
}

/// A before-send handler steered by the message text.
async fn moderate(event: group::BeforeSendMsg, _: Context) -> Result<group::BeforeSendMsgDecision, BoxError> {
    let text = serde_json::to_value(&event.msg_body).unwrap().to_string();
    if text.contains("error") {
        return Err("the moderation service is down".into());
    }
    assert!(!text.contains("panic"), "a bug in the handler");
    if text.contains("slow") {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    Ok(group::BeforeSendMsgDecision::Allow)
}

fn builder() -> DispatcherBuilder {
    Dispatcher::builder().app_id(APP_ID).token(TOKEN).handler_deadline(Duration::from_millis(300))
}

/// Reads from a raw connection until the server closes it or `PATIENCE` runs out.
async fn read_until_closed(stream: &mut TcpStream) -> Option<String> {
    let mut seen = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut seen)).await;
    closed.ok().map(|_| String::from_utf8_lossy(&seen).into_owned())
}

/// Reads one response head (up to the blank line) from a raw connection.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut byte)).await.expect("a response in time").unwrap();
        assert_eq!(n, 1, "the connection closed before a response: {}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

#[tokio::test]
async fn before_callback_failures_are_answered_by_the_policy_in_each_mode() {
    let t = now();
    let good = signed_query(BEFORE_SEND, t);
    let cases: Vec<(&str, String, Vec<u8>, u16)> = vec![
        ("a bad Sign", good.replace(&sign(TOKEN, t), &sign(TOKEN, t + 1)), message("hi"), 401),
        ("no Sign", good.replace(&format!("&Sign={}", sign(TOKEN, t)), ""), message("hi"), 401),
        ("a stale RequestTime", signed_query(BEFORE_SEND, t - 3600), message("hi"), 401),
        ("another app's id", good.replace(&APP_ID.to_string(), "1400000001"), message("hi"), 403),
        (
            "an undecodable body",
            good.clone(),
            b"{\"CallbackCommand\": \"Group.CallbackBeforeSendMsg\", \"MsgBody\": 7}".to_vec(),
            400,
        ),
        ("a handler error", good.clone(), message("error"), 500),
        ("a handler panic", good.clone(), message("panic"), 500),
        ("a missed deadline", good.clone(), message("slow"), 504),
    ];
    for policy in [FailurePolicy::Vendor, FailurePolicy::Allow, FailurePolicy::Refuse] {
        let dispatcher = builder().on_failure(policy).on::<group::BeforeSendMsg, _>(moderate).build().unwrap();
        let (address, _stop) = serve(dispatcher, |s| s).await;
        for (name, query, body, vendor_status) in &cases {
            let (status, reply) = post_json(address, query, body).await;
            let expected = match policy {
                FailurePolicy::Vendor => (*vendor_status, "FAIL", 1),
                FailurePolicy::Allow => (200, "OK", 0),
                _ => (200, "OK", 1),
            };
            let got = (status, reply["ActionStatus"].as_str().unwrap(), reply["ErrorCode"].as_i64().unwrap());
            assert_eq!(got, expected, "{policy} / {name}: {reply}");
            assert!(!reply.to_string().contains("moderation service"), "the handler's words stay in the log: {reply}");
        }
        // A decided message is answered as the handler decided, whatever the policy.
        let (status, reply) = post_json(address, &good, &message("hello")).await;
        assert_eq!((status, reply["ErrorCode"].as_i64()), (200, Some(0)), "{policy}");
    }
}

#[tokio::test]
async fn a_per_command_policy_overrides_the_global_one_and_after_callbacks_keep_their_status() {
    let dispatcher = builder()
        .on_failure(FailurePolicy::Allow)
        .on_failure_of(Command::from_name(BEFORE_SEND).unwrap(), FailurePolicy::Refuse)
        .on::<group::BeforeSendMsg, _>(moderate)
        .on::<group::AfterCreateGroup, _>(|_: group::AfterCreateGroup, _: Context| async {})
        .build()
        .unwrap();
    let (address, _stop) = serve(dispatcher, |s| s).await;
    let (status, reply) = post_json(address, &signed_query(BEFORE_SEND, now()), &message("error")).await;
    assert_eq!((status, reply["ErrorCode"].as_i64()), (200, Some(1)), "{reply}");
    // An after-callback never goes through the policy: its failure status lets a retry redeliver it.
    let (status, _) = post_json(address, &signed_query(CREATE, now()), b"{\"GroupId\": 7}").await;
    assert_eq!(status, 400);
    // A policy for a command that is not a before-callback is a configuration mistake.
    assert!(
        Dispatcher::builder()
            .accept_any_app_id()
            .on_failure_of(Command::from_name(CREATE).unwrap(), FailurePolicy::Refuse)
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn overload_is_shed_at_once_and_before_callbacks_get_the_policy() {
    let started = Arc::new(tokio::sync::Notify::new());
    let notify = started.clone();
    let dispatcher = builder()
        .handler_deadline(Duration::from_secs(5))
        .max_in_flight(1)
        .on_failure(FailurePolicy::Refuse)
        .on::<group::BeforeSendMsg, _>(moderate)
        .on::<group::AfterCreateGroup, _>(move |_: group::AfterCreateGroup, _: Context| {
            let notify = notify.clone();
            async move {
                notify.notify_one();
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        })
        .build()
        .unwrap();
    let (address, _stop) = serve(dispatcher, |s| s).await;
    let body = serde_json::to_vec(&sample(CREATE)).unwrap();
    let busy = tokio::spawn(async move { post_json(address, &signed_query(CREATE, now()), &body).await });
    started.notified().await;

    let (status, reply) = post_json(address, &signed_query(BEFORE_SEND, now()), &message("hi")).await;
    assert_eq!((status, reply["ErrorCode"].as_i64()), (200, Some(1)), "shed, and refused by the policy: {reply}");
    let (status, reply) = post_json(address, &signed_query(CREATE, now()), b"{}").await;
    assert_eq!(status, 503, "{reply}");
    assert_eq!(busy.await.unwrap().0, 200);
}

#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed_by_the_header_timeout() {
    let dispatcher = builder().build().unwrap();
    let (address, _stop) = serve(dispatcher, |s| s.request_timeout(Duration::from_millis(300))).await;

    // Slowloris: a request head that never ends.
    let mut slow = TcpStream::connect(address).await.unwrap();
    slow.write_all(b"POST /callback?SdkAppid=1 HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
    assert!(read_until_closed(&mut slow).await.is_some(), "a trickled head is cut off");

    // A keep-alive connection that goes idle after one request.
    let mut idle = TcpStream::connect(address).await.unwrap();
    let query = signed_query(CREATE, now());
    let body = serde_json::to_vec(&sample(CREATE)).unwrap();
    let head = format!("POST /callback?{query} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", body.len());
    idle.write_all(head.as_bytes()).await.unwrap();
    idle.write_all(&body).await.unwrap();
    let answered = read_until_closed(&mut idle).await.expect("the idle connection is closed");
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
}

#[tokio::test]
async fn a_forged_request_is_refused_before_its_body_and_without_100_continue() {
    let dispatcher = builder().build().unwrap();
    let (address, _stop) = serve(dispatcher, |s| s).await;
    let t = now();
    let forged = signed_query(CREATE, t).replace(&sign(TOKEN, t), &sign("guess", t));

    // A 1 MB body announced, none sent: the answer comes without waiting for it.
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!("POST /callback?{forged} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    assert!(read_head(&mut stream).await.starts_with("HTTP/1.1 401"));

    // `Expect: 100-continue`: a forged request gets its refusal, never a `100 Continue`.
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head =
        format!("POST /callback?{forged} HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\nExpect: 100-continue\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    assert!(read_head(&mut stream).await.starts_with("HTTP/1.1 401"));

    // A genuine one gets `100 Continue`, then its answer once the body is sent.
    let body = serde_json::to_vec(&sample(CREATE)).unwrap();
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /callback?{} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        signed_query(CREATE, t),
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    assert!(read_head(&mut stream).await.starts_with("HTTP/1.1 100"));
    stream.write_all(&body).await.unwrap();
    assert!(read_head(&mut stream).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn an_announced_body_over_the_limit_gets_413_at_once() {
    let dispatcher = builder().build().unwrap();
    let (address, _stop) = serve(dispatcher, |s| s).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /callback?{} HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n",
        signed_query(CREATE, now())
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"{\"GroupId\": ").await.unwrap();
    assert!(read_head(&mut stream).await.starts_with("HTTP/1.1 413"));
}

#[tokio::test]
async fn connections_past_the_cap_are_closed_and_service_resumes() {
    let dispatcher = builder().build().unwrap();
    let (address, _stop) =
        serve(dispatcher, |s| s.max_connections(3).request_timeout(Duration::from_millis(500))).await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(address).await.unwrap());
    }
    // Give the server a moment to accept the three before the fourth arrives.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = TcpStream::connect(address).await.unwrap();
    assert_eq!(read_until_closed(&mut extra).await.as_deref(), Some(""), "closed at once, unanswered");
    // The idle ones time out; then a genuine request is served.
    for stream in &mut idle {
        assert!(read_until_closed(stream).await.is_some());
    }
    let (status, _) =
        post_json(address, &signed_query(CREATE, now()), &serde_json::to_vec(&sample(CREATE)).unwrap()).await;
    assert_eq!(status, 200);
}

fn temp_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("receive-path-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dead-letters.jsonl");
    let _ = std::fs::remove_file(&path);
    path
}

#[tokio::test]
async fn authenticated_failures_are_dead_lettered_with_their_body_and_never_the_sign() {
    let path = temp_file("letters");
    let dispatcher = builder()
        .dead_letters(JsonLinesSink::open(&path).unwrap())
        .on::<group::AfterCreateGroup, _>(|event: group::AfterCreateGroup, _: Context| async move {
            if event.name == "fail" { Err("the database is down") } else { Ok(()) }
        })
        .build()
        .unwrap();
    let (address, _stop) = serve(dispatcher, |s| s).await;
    let query = signed_query(CREATE, now());
    let mut failing = sample(CREATE);
    failing["Name"] = json!("fail");
    let failing = serde_json::to_vec(&failing).unwrap();
    let undecodable = br#"{"CallbackCommand": "Group.CallbackAfterCreateGroup", "GroupId": 7}"#.to_vec();
    assert_eq!(post_json(address, &query, &failing).await.0, 500);
    assert_eq!(post_json(address, &query, &undecodable).await.0, 400);
    // Strangers are refused without a letter: nothing vouches for their body.
    assert_eq!(post_json(address, &query.replace("Sign=", "Sign=0"), &failing).await.0, 401);

    let letters = JsonLinesSink::read(&path).unwrap();
    let summary: Vec<_> = letters.iter().map(|l| (l.reason.as_str(), l.raw_body())).collect();
    assert_eq!(summary, vec![("handler_failed", failing.into()), ("undecodable", undecodable.into())]);
    let letter = &letters[0];
    assert_eq!((letter.command.as_str(), letter.app_id), (CREATE, APP_ID));
    assert_eq!(letter.request_id, "52c68065-ed12-41c1-8661-045ea5d16695");
    assert_eq!(letter.client_ip.as_deref(), Some("203.0.113.7"));
    assert!(letter.detail.contains("the database is down"), "{letter:?}");
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(!file.contains(&sign(TOKEN, now())) && !file.contains("Sign"), "{file}");
}

#[tokio::test]
async fn a_partly_bad_batch_delivers_the_good_events_and_dead_letters_the_rest() {
    let path = temp_file("batch");
    let delivered = Arc::new(Mutex::new(Vec::new()));
    let seen = delivered.clone();
    let dispatcher = builder()
        .dead_letters(JsonLinesSink::open(&path).unwrap())
        .on::<push::OfflinePush, _>(move |batch: push::OfflinePush, _: Context| {
            seen.lock().unwrap().push(batch.events.len());
            async {}
        })
        .build()
        .unwrap();
    let (address, _stop) = serve(dispatcher, |s| s).await;
    let template = sample("Push.OfflinePush")["Events"][0].clone();
    let mut events: Vec<Value> = (0..100).map(|_| template.clone()).collect();
    events[17]["EventTime"] = json!("yesterday");
    events[64]["To_Account"] = json!({"not": "an account"});
    let body = serde_json::to_vec(&json!({ "Events": events })).unwrap();
    let (status, reply) = post_json(address, &signed_query("Push.OfflinePush", now()), &body).await;
    assert_eq!((status, reply["ErrorCode"].as_i64()), (200, Some(0)), "{reply}");
    assert_eq!(*delivered.lock().unwrap(), vec![98]);

    let letters: Vec<DeadLetter> = JsonLinesSink::read(&path).unwrap();
    let indices: Vec<_> = letters.iter().map(|l| (l.index, l.reason.as_str())).collect();
    assert_eq!(indices, vec![(Some(17), "batch_item_undecodable"), (Some(64), "batch_item_undecodable")]);
    // Each letter is a batch of its one event, ready to be sent again.
    let alone: Value = serde_json::from_slice(&letters[0].raw_body()).unwrap();
    assert_eq!(alone, json!({ "Events": [events[17]] }));
}

#[tokio::test]
async fn a_handler_that_fails_after_its_deadline_is_dead_lettered() {
    let path = temp_file("late");
    let finished = Arc::new(AtomicUsize::new(0));
    let count = finished.clone();
    let dispatcher = builder()
        .dead_letters(JsonLinesSink::open(&path).unwrap())
        .on::<group::AfterCreateGroup, _>(move |_: group::AfterCreateGroup, _: Context| {
            let count = count.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(600)).await;
                count.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>("failed late")
            }
        })
        .build()
        .unwrap();
    let (address, _stop) = serve(dispatcher, |s| s).await;
    let body = serde_json::to_vec(&sample(CREATE)).unwrap();
    let (status, reply) = post_json(address, &signed_query(CREATE, now()), &body).await;
    assert_eq!((status, reply["ErrorCode"].as_i64()), (200, Some(0)), "answered OK at the deadline");
    let letters = tokio::time::timeout(PATIENCE, async {
        loop {
            let letters = JsonLinesSink::read(&path).unwrap_or_default();
            if letters.iter().any(|letter| letter.reason == "deadline_then_failed") {
                return letters;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the late failure is dead-lettered");
    // The acknowledgement was preceded by a durable `in_progress` letter, marked done when the
    // handler finished: only the failure remains.
    let reasons: Vec<_> = letters.iter().map(|letter| letter.reason.as_str()).collect();
    assert_eq!((reasons, finished.load(Ordering::SeqCst)), (vec!["deadline_then_failed"], 1));
}

#[tokio::test]
async fn ordinary_deviations_of_genuine_before_callbacks_reach_the_handler() {
    // The handlers refuse everything and the policy allows: a refusal proves the handler decided.
    let dispatcher = builder()
        .on_failure(FailurePolicy::Allow)
        .on::<group::BeforeSendMsg, _>(|_: group::BeforeSendMsg, _: Context| async {
            group::BeforeSendMsgDecision::Refuse
        })
        .on::<c2c::BeforeSendMsg, _>(|_: c2c::BeforeSendMsg, _: Context| async { c2c::BeforeSendMsgDecision::Refuse })
        .build()
        .unwrap();
    let (address, _stop) = serve(dispatcher, |s| s).await;
    let mut without_time = sample(BEFORE_SEND);
    without_time.as_object_mut().unwrap().remove("EventTime");
    let mut random_as_text = sample(BEFORE_SEND);
    random_as_text["Random"] = json!("123456");
    let mut no_text = sample("C2C.CallbackBeforeSendMsg");
    no_text["MsgBody"] = json!([{"MsgType": "TIMTextElem", "MsgContent": {}}]);
    let cases = [
        ("no EventTime", BEFORE_SEND, without_time),
        ("Random as a digit string", BEFORE_SEND, random_as_text),
        ("a text element without Text", "C2C.CallbackBeforeSendMsg", no_text),
    ];
    for (name, command, body) in cases {
        let (status, reply) =
            post_json(address, &signed_query(command, now()), &serde_json::to_vec(&body).unwrap()).await;
        assert_eq!((status, reply["ErrorCode"].as_i64()), (200, Some(1)), "{name}: {reply}");
    }
}

#[tokio::test]
async fn a_thousand_idle_connections_from_one_address_do_not_lock_out_another() {
    let dispatcher = builder().build().unwrap();
    let (address, _stop) = serve(dispatcher, |s| s.raise_open_file_limit().max_connections_per_source(64)).await;
    let body = serde_json::to_vec(&sample(CREATE)).unwrap();
    assert_eq!(post_json(address, &signed_query(CREATE, now()), &body).await.0, 200);
    // 1,100 idle connections from 127.0.0.2 (loopback answers every 127/8 address): past its cap
    // of 64, each is closed at once, so they neither exhaust the server's files nor its cap.
    let mut idle = Vec::new();
    for _ in 0..1_100 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        idle.push(socket.connect(address).await.unwrap());
    }
    let mut closed = 0;
    for stream in &mut idle[64..] {
        let mut byte = [0u8; 1];
        if matches!(tokio::time::timeout(PATIENCE, stream.read(&mut byte)).await, Ok(Ok(0) | Err(_))) {
            closed += 1;
        }
    }
    assert_eq!(closed, 1_100 - 64, "every connection past the source's cap is closed");
    assert_eq!(post_json(address, &signed_query(CREATE, now()), &body).await.0, 200, "served despite them");
    drop(idle);
}

#[tokio::test]
async fn a_request_without_a_request_id_gets_one_id_in_reply_and_dead_letter() {
    let path = temp_file("local-id");
    let dispatcher = builder()
        .dead_letters(JsonLinesSink::open(&path).unwrap())
        .on::<group::AfterCreateGroup, _>(|_: group::AfterCreateGroup, _: Context| async { Err::<(), _>("down") })
        .build()
        .unwrap();
    let (address, _stop) = serve(dispatcher, |s| s).await;
    let query = signed_query(CREATE, now()).replace("&RequestID=52c68065-ed12-41c1-8661-045ea5d16695", "");
    let (status, reply) = post_json(address, &query, &serde_json::to_vec(&sample(CREATE)).unwrap()).await;
    assert_eq!(status, 500);
    let info = reply["ErrorInfo"].as_str().unwrap();
    let id = info.strip_prefix("the callback could not be handled (request ").and_then(|rest| rest.strip_suffix(')'));
    let letters = JsonLinesSink::read(&path).unwrap();
    assert_eq!(Some(letters[0].request_id.as_str()), id, "{info}");
    assert!(letters[0].request_id.starts_with("local-"));
}
