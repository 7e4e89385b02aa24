//! The shared table of dispatcher cases, `tests/cases/dispatch.json`, through the Rust
//! `Dispatcher`. The Python and TypeScript packages run the same table (tests/tests/packages.rs),
//! so all three give the same status, `ActionStatus` and `ErrorCode` to every request.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Map, Value};
use tencent_chat_callbacks::common::MsgBodyElement;
use tencent_chat_callbacks::{Context, Dispatcher, c2c, group};
use tests::{fixtures, workspace_root};

/// The table, with its defaults.
fn table() -> Value {
    let text = std::fs::read_to_string(workspace_root().join("tests/cases/dispatch.json")).expect("the case table");
    serde_json::from_str(&text).expect("the case table is JSON")
}

/// The body a case sends: a fixture with its top-level keys patched, or a body as written.
fn case_body(case: &Value) -> Vec<u8> {
    if let Some(body) = case.get("body").and_then(Value::as_str) {
        return body.as_bytes().to_vec();
    }
    let name = case["fixture"].as_str().expect("a case has `fixture` or `body`");
    let fixture = fixtures().into_iter().find(|f| f.command == name).unwrap_or_else(|| panic!("no fixture {name}"));
    let mut body: Map<String, Value> = serde_json::from_slice(&fixture.sample).expect("a fixture is an object");
    for (key, value) in case.get("patch").and_then(Value::as_object).into_iter().flatten() {
        match value {
            Value::Null => {
                body.remove(key);
            }
            Value::String(s) if s == "__null__" => {
                body.insert(key.clone(), Value::Null);
            }
            other => {
                body.insert(key.clone(), other.clone());
            }
        }
    }
    serde_json::to_vec(&body).expect("JSON encodes")
}

/// The handler of the table's before-callback: decides from the first text element.
async fn decide(event: c2c::BeforeSendMsg, _ctx: Context) -> c2c::BeforeSendMsgDecision {
    let Some(MsgBodyElement::Text(text)) = event.msg_body.first() else {
        return c2c::BeforeSendMsgDecision::Allow;
    };
    if text.text.contains("refuse") {
        c2c::BeforeSendMsgDecision::Refuse
    } else if text.text.contains("drop") {
        c2c::BeforeSendMsgDecision::Drop
    } else if text.text.contains("code") {
        c2c::BeforeSendMsgDecision::refuse_with(120001, "refused by the app").expect("in range")
    } else {
        c2c::BeforeSendMsgDecision::Allow
    }
}

fn dispatcher(config: &Map<String, Value>) -> Dispatcher {
    let mut builder = Dispatcher::builder();
    builder = match config["app_id"].as_u64() {
        Some(app_id) => builder.app_id(app_id),
        None => builder.accept_any_app_id(),
    };
    if let Some(token) = config["token"].as_str() {
        builder = builder.token(token);
    }
    if let Some(max) = config["max_body_bytes"].as_u64() {
        builder = builder.max_body_bytes(max as usize);
    }
    let now = config["now"].as_u64().expect("`now` is Unix seconds");
    builder
        .clock(move || UNIX_EPOCH + Duration::from_secs(now))
        .on::<group::AfterCreateGroup, _>(|_event: group::AfterCreateGroup, _ctx: Context| async {})
        .on::<group::AfterGroupDestroyed, _>(|_event: group::AfterGroupDestroyed, _ctx: Context| async {
            Err::<(), _>("this handler fails on purpose")
        })
        .on::<c2c::BeforeSendMsg, _>(decide)
        .build()
        .expect("the dispatcher builds")
}

#[tokio::test]
async fn the_rust_dispatcher_gives_every_answer_of_the_shared_case_table() {
    let table = table();
    let auth = table["placeholders"]["{auth}"]["value"].as_str().expect("the {auth} placeholder");
    let cases = table["cases"].as_array().expect("cases");
    assert!(cases.len() >= 40, "the table lost cases");
    let mut failures = Vec::new();
    for case in cases {
        let mut config = table["defaults"].as_object().expect("defaults").clone();
        for (key, value) in case.get("config").and_then(Value::as_object).into_iter().flatten() {
            config.insert(key.clone(), value.clone());
        }
        let query = case["query"].as_str().expect("query").replace("{auth}", auth);
        let reply = dispatcher(&config).dispatch(&query, case_body(case).into()).await;
        let body: Value = serde_json::from_slice(&reply.body).expect("every reply is JSON");
        let got = (u64::from(reply.status.as_u16()), body["ActionStatus"].clone(), body["ErrorCode"].clone());
        let expected = (case["status"].as_u64().unwrap(), case["ActionStatus"].clone(), case["ErrorCode"].clone());
        if got != expected {
            failures.push(format!("{}: expected {expected:?}, got {got:?} ({body})", case["name"]));
        }
    }
    assert!(failures.is_empty(), "{} case(s) differ:\n{}", failures.len(), failures.join("\n"));
}
