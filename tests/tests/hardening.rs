//! Hostile input and handler faults through the HTTP adapter: every case gets its documented
//! status and `FAIL` reason, nothing panics, and slow handlers meet the deadline without losing
//! their event.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tencent_chat_callbacks::{Context, Dispatcher, FailurePolicy, c2c, group};
use tests::{APP_ID, TOKEN, fixtures, now, sign, signed_query};
use tower::ServiceExt;

const CREATE: &str = "Group.CallbackAfterCreateGroup";

fn sample(command: &str) -> Vec<u8> {
    fixtures().into_iter().find(|f| f.command == command).unwrap().sample
}

async fn send(app: axum::Router, method: Method, query: &str, body: Vec<u8>) -> (u16, Value) {
    let request = Request::builder().method(method).uri(format!("/callback?{query}")).body(Body::from(body)).unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("reply is not JSON ({e}): {bytes:?}")))
}

fn app(dispatcher: Dispatcher) -> axum::Router {
    tencent_chat_callbacks::axum::router("/callback", dispatcher)
}

/// A name, the request (method, query, body), and the expected status and part of `ErrorInfo`.
type Case = (&'static str, Method, String, Vec<u8>, u16, &'static str);

#[tokio::test]
async fn the_bad_input_matrix() {
    let dispatcher = Dispatcher::builder()
        .app_id(APP_ID)
        .token(TOKEN)
        .max_body_bytes(16 * 1024)
        .on::<group::AfterCreateGroup, _>(|_: group::AfterCreateGroup, _: Context| async {})
        .build()
        .unwrap();
    let t = now();
    let good = signed_query(CREATE, t);
    let body = sample(CREATE);
    let mut wrong_type: Value = serde_json::from_slice(&body).unwrap();
    wrong_type["Name"] = json!(["not", "a", "string"]);
    let mut missing: Value = serde_json::from_slice(&body).unwrap();
    missing.as_object_mut().unwrap().remove("GroupId");
    let sign_of = |time: u64| sign(TOKEN, time);
    let with = |from: &str, to: &str| good.replace(from, to);
    let good_sign = sign_of(t);

    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("malformed JSON", Method::POST, good.clone(), b"{\"GroupId\": }".to_vec(), 400, "the body is not a valid"),
        ("truncated body", Method::POST, good.clone(), body[..body.len() / 2].to_vec(), 400, "EOF while parsing"),
        ("empty body", Method::POST, good.clone(), Vec::new(), 400, "EOF while parsing"),
        ("non-UTF-8 bytes", Method::POST, good.clone(), vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'], 400, "the body is not a valid"),
        ("a JSON array", Method::POST, good.clone(), b"[1,2,3]".to_vec(), 400, "expected a JSON object"),
        ("a JSON number", Method::POST, good.clone(), b"42".to_vec(), 400, "expected a JSON object"),
        ("a wrong field type", Method::POST, good.clone(), serde_json::to_vec(&wrong_type).unwrap(), 400, "at `Name`"),
        ("a missing required field", Method::POST, good.clone(), serde_json::to_vec(&missing).unwrap(), 400, "missing field `GroupId`"),
        ("deeply nested JSON", Method::POST, good.clone(), format!("{{\"MemberList\":{}{}}}", "[".repeat(4000), "]".repeat(4000)).into_bytes(), 400, "at `MemberList[0]"),
        ("an oversized body", Method::POST, good.clone(), vec![b' '; 16 * 1024 + 1], 413, "larger than the limit of 16384 bytes"),
        ("a wrong SdkAppid", Method::POST, with(&format!("SdkAppid={APP_ID}"), "SdkAppid=1400000001"), body.clone(), 403, "is not this app's"),
        ("a missing SdkAppid", Method::POST, with(&format!("SdkAppid={APP_ID}&"), ""), body.clone(), 400, "missing query parameter `SdkAppid`"),
        ("a bad Sign", Method::POST, with(&good_sign, &sign_of(t + 1)), body.clone(), 401, "`Sign` does not match"),
        ("a missing Sign", Method::POST, with(&format!("&Sign={good_sign}"), ""), body.clone(), 401, "missing `Sign` or `RequestTime`"),
        ("an uppercase Sign", Method::POST, with(&good_sign, &good_sign.to_uppercase()), body.clone(), 401, "`Sign` does not match"),
        ("a short Sign", Method::POST, with(&good_sign, &good_sign[..20]), body.clone(), 401, "`Sign` does not match"),
        ("a RequestTime outside the window", Method::POST, signed_query(CREATE, t - 3600), body.clone(), 401, "away from this server's clock"),
        ("a RequestTime that is not a number", Method::POST, with(&format!("RequestTime={t}"), "RequestTime=yesterday"), body.clone(), 401, "`RequestTime` is not a Unix time"),
        ("a query/body command mismatch", Method::POST, signed_query("Group.CallbackAfterGroupInfoChanged", t), body.clone(), 400, "differs from the query's"),
        ("repeated query parameters", Method::POST, format!("{good}&CallbackCommand={CREATE}"), body.clone(), 400, "appears more than once"),
        ("a method other than POST", Method::GET, good.clone(), Vec::new(), 405, "callbacks are sent with POST"),
        ("a method other than POST, with a body", Method::PUT, good.clone(), body.clone(), 405, "callbacks are sent with POST"),
    ];
    for (name, method, query, payload, status, reason) in cases {
        let (got, reply) = send(app(dispatcher.clone()), method, &query, payload).await;
        assert_eq!(got, status, "{name}: {reply}");
        assert_eq!(reply["ActionStatus"], "FAIL", "{name}: {reply}");
        let info = reply["ErrorInfo"].as_str().unwrap();
        assert!(info.contains(reason), "{name}: `{info}` should contain `{reason}`");
    }
    // Deep nesting where nothing reads it is skipped without recursion, and the event is kept.
    let mut deep: Value = serde_json::from_slice(&body).unwrap();
    deep["Unknown"] = json!("PLACEHOLDER");
    let deep = serde_json::to_string(&deep)
        .unwrap()
        .replace("\"PLACEHOLDER\"", &format!("{}{}", "[".repeat(4000), "]".repeat(4000)));
    let (status, reply) = send(app(dispatcher.clone()), Method::POST, &good, deep.into_bytes()).await;
    assert_eq!((status, reply["ActionStatus"].as_str()), (200, Some("OK")), "{reply}");

    // An unknown command is acknowledged, not refused.
    let (status, reply) =
        send(app(dispatcher.clone()), Method::POST, &signed_query("Brand.NewCallback", t), b"{}".to_vec()).await;
    assert_eq!((status, reply["ActionStatus"].as_str()), (200, Some("OK")));
}

#[tokio::test]
async fn a_panicking_handler_fails_its_request_and_the_server_keeps_serving() {
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let dispatcher = Dispatcher::builder()
        .accept_any_app_id()
        .on::<group::AfterCreateGroup, _>(move |event: group::AfterCreateGroup, _: Context| {
            let counter = counter.clone();
            async move {
                assert!(event.name != "boom", "handler bug");
                counter.fetch_add(1, Ordering::SeqCst);
            }
        })
        .build()
        .unwrap();
    let query = format!("SdkAppid=1&CallbackCommand={CREATE}");
    let mut boom: Value = serde_json::from_slice(&sample(CREATE)).unwrap();
    boom["Name"] = json!("boom");
    for round in 0..3 {
        let (status, reply) =
            send(app(dispatcher.clone()), Method::POST, &query, serde_json::to_vec(&boom).unwrap()).await;
        assert_eq!(status, 500, "round {round}");
        let info = reply["ErrorInfo"].as_str().unwrap();
        assert!(info.starts_with("the callback could not be handled (request "), "round {round}: {info}");
        let (status, _) = send(app(dispatcher.clone()), Method::POST, &query, sample(CREATE)).await;
        assert_eq!(status, 200, "round {round}");
    }
    assert_eq!(served.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn slow_handlers_meet_the_deadline_and_still_finish() {
    let finished = Arc::new(AtomicUsize::new(0));
    let (after, before) = (finished.clone(), finished.clone());
    let build = |policy| {
        let (after, before) = (after.clone(), before.clone());
        Dispatcher::builder()
            .accept_any_app_id()
            .handler_deadline(Duration::from_millis(100))
            .on_failure(policy)
            .on::<group::AfterCreateGroup, _>(move |_: group::AfterCreateGroup, _: Context| {
                let after = after.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    after.fetch_add(1, Ordering::SeqCst);
                }
            })
            .on::<c2c::BeforeSendMsg, _>(move |_: c2c::BeforeSendMsg, _: Context| {
                let before = before.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    before.fetch_add(1, Ordering::SeqCst);
                    c2c::BeforeSendMsgDecision::Drop
                }
            })
            .build()
            .unwrap()
    };
    let ok = json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""});
    let started = tokio::time::Instant::now();
    let create = format!("SdkAppid=1&CallbackCommand={CREATE}");
    assert_eq!(send(app(build(FailurePolicy::Refuse)), Method::POST, &create, sample(CREATE)).await, (200, ok.clone()));
    let send_msg = "SdkAppid=1&CallbackCommand=C2C.CallbackBeforeSendMsg";
    let message = sample("C2C.CallbackBeforeSendMsg");
    assert_eq!(send(app(build(FailurePolicy::Allow)), Method::POST, send_msg, message.clone()).await, (200, ok));
    let (status, refused) = send(app(build(FailurePolicy::Refuse)), Method::POST, send_msg, message.clone()).await;
    assert_eq!((status, &refused["ActionStatus"], &refused["ErrorCode"]), (200, &json!("OK"), &json!(1)), "{refused}");
    let (status, vendor) = send(app(build(FailurePolicy::Vendor)), Method::POST, send_msg, message).await;
    assert_eq!(status, 504, "{vendor}");
    // Time is paused: each answer came at the 100 ms deadline exactly, not after the handler.
    assert_eq!(started.elapsed(), Duration::from_millis(400));

    // The handlers were not cancelled: each still finishes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(finished.load(Ordering::SeqCst), 4);
}
