//! Before-callbacks through `--decide`: the endpoint's reply is passed through when it is the
//! command's reply; a malformed, failing or late reply gets the failure policy. Each request is
//! signed the Standard Webhooks way, as deliveries are.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use crate::service::SECRET;
use crate::support::{Relay, deliver, fixture_event};

/// Whether `headers` carry the Standard Webhooks signature of `body` under [`SECRET`].
fn signed(headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let key = STANDARD.decode(SECRET.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", header("webhook-id"), header("webhook-timestamp")).as_bytes());
    mac.update(body);
    header("webhook-signature") == format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// A decision endpoint on a loopback port that answers by command and records what it got.
async fn decision_endpoint(seen: Arc<Mutex<Vec<Value>>>) -> String {
    let app = axum::Router::new().route(
        "/decide",
        post(move |headers: HeaderMap, body: bytes::Bytes| {
            let seen = Arc::clone(&seen);
            async move {
                let envelope: Value = serde_json::from_slice(&body).expect("the relay posts JSON");
                let id = headers.get("webhook-id").and_then(|v| v.to_str().ok());
                if !signed(&headers, &body) || id != envelope["dedup_key"].as_str() {
                    return (StatusCode::UNAUTHORIZED, "{}".to_owned());
                }
                seen.lock().unwrap().push(envelope.clone());
                let reply = match envelope["command"].as_str().unwrap_or_default() {
                    "C2C.CallbackBeforeSendMsg" => json!({
                        "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "",
                        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "filtered"}}]
                    }),
                    "Group.CallbackBeforeCreateGroup" => {
                        json!({"ActionStatus": "OK", "ErrorCode": 1, "ErrorInfo": "not today"})
                    }
                    "Group.CallbackBeforeApplyJoinGroup" => json!({"ActionStatus": "OK", "ErrorCode": "zero"}),
                    "Group.CallbackBeforeInviteJoinGroup" => {
                        return (StatusCode::INTERNAL_SERVER_ERROR, "{}".to_owned());
                    }
                    "Group.CallbackBeforeSendMsg" => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})
                    }
                    _ => json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}),
                };
                (StatusCode::OK, reply.to_string())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/decide")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_are_passed_through_and_failures_get_the_policy() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let url = decision_endpoint(Arc::clone(&seen)).await;
    let relay = Relay::start(&[
        "--decide",
        &url,
        "--decide-timeout-ms",
        "300",
        "--on-failure",
        "refuse",
        "--deliver-secret",
        SECRET,
    ]);
    let fixture = |command: &str| {
        let fixture = tests::fixtures().into_iter().find(|f| f.command == command).unwrap();
        fixture_event(&fixture)
    };
    let answer = |command: &'static str| {
        let event = fixture(command);
        let address = relay.address;
        async move {
            let (status, body) = deliver(address, &event).await.expect("a reply");
            assert_eq!(status, 200, "{command}: {body}");
            serde_json::from_str::<Value>(&body).unwrap()
        }
    };

    let modified = answer("C2C.CallbackBeforeSendMsg").await;
    assert_eq!(modified["ErrorCode"], 0);
    assert_eq!(modified["MsgBody"][0]["MsgContent"]["Text"], "filtered", "{modified}");
    let refused = answer("Group.CallbackBeforeCreateGroup").await;
    assert_eq!((&refused["ErrorCode"], &refused["ErrorInfo"]), (&json!(1), &json!("not today")));
    assert_eq!(answer("OfficialAccount.CallbackBeforeSendMsg").await["ErrorCode"], 0);
    // Not the command's reply, a failure status, too late: the policy (refuse).
    for command in
        ["Group.CallbackBeforeApplyJoinGroup", "Group.CallbackBeforeInviteJoinGroup", "Group.CallbackBeforeSendMsg"]
    {
        assert_eq!(answer(command).await["ErrorCode"], 1, "{command}");
    }

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 6);
    assert_eq!(seen[0]["command"], "C2C.CallbackBeforeSendMsg");
    assert_eq!(seen[0]["app_id"], tests::APP_ID);
    let body: Value = serde_json::from_slice(&fixture("C2C.CallbackBeforeSendMsg").body).unwrap();
    assert_eq!(seen[0]["body"], body);
    assert!(relay.printed().is_empty(), "before-callbacks are not published");
}

/// Without `--decide`, `allow` and `refuse` answer every before-callback quietly: one warning at
/// start-up, no error and no dead letter per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_endpoint_the_policy_answers_with_one_warning_at_start_up() {
    let dir = tests::servers::ScratchDir::new("relay-no-decide");
    let dead_letters = dir.path().join("dead.jsonl");
    for (policy, code) in [("allow", 0), ("refuse", 1)] {
        let relay = Relay::start(&["--on-failure", policy, "--dead-letter", dead_letters.to_str().unwrap()]);
        for command in ["Sns.CallbackPrevFriendAdd", "C2C.CallbackBeforeSendMsg", "Group.CallbackBeforeCreateGroup"] {
            let fixture = tests::fixtures().into_iter().find(|f| f.command == command).unwrap();
            for _ in 0..3 {
                let (status, body) = deliver(relay.address, &fixture_event(&fixture)).await.expect("a reply");
                let body: Value = serde_json::from_str(&body).unwrap();
                assert_eq!((status, &body["ErrorCode"]), (200, &json!(code)), "{policy} {command}");
            }
        }
        let log = relay.log.lock().unwrap().join("\n");
        assert_eq!(log.matches("no --decide").count(), 1, "{log}");
        assert!(!log.contains("ERROR"), "{log}");
    }
    assert_eq!(std::fs::read_to_string(&dead_letters).unwrap_or_default(), "", "no dead letters");
}

/// `--on-failure vendor` answers a failure status, leaving the decision to the vendor's default,
/// as quietly: one warning at start-up, no error and no dead letter per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_endpoint_the_vendor_policy_answers_a_failure_status_quietly() {
    let dir = tests::servers::ScratchDir::new("relay-no-decide-vendor");
    let dead_letters = dir.path().join("dead.jsonl");
    let relay = Relay::start(&["--on-failure", "vendor", "--dead-letter", dead_letters.to_str().unwrap()]);
    let fixture = tests::fixtures().into_iter().find(|f| f.command == "Sns.CallbackPrevFriendAdd").unwrap();
    for _ in 0..3 {
        let (status, _) = deliver(relay.address, &fixture_event(&fixture)).await.expect("a reply");
        assert_eq!(status, 503);
    }
    let log = relay.log.lock().unwrap().join("\n");
    assert_eq!(log.matches("no --decide").count(), 1, "{log}");
    assert!(!log.contains("ERROR"), "{log}");
    assert_eq!(std::fs::read_to_string(&dead_letters).unwrap_or_default(), "", "no dead letters");
}
