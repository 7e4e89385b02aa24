//! The shared table of dispatcher cases, `tests/cases/dispatch.json`, through the Rust
//! `Dispatcher`. The Python and TypeScript packages run the same table (tests/tests/packages.rs),
//! so all three give the same status, `ActionStatus`, `ErrorCode` (and, where a case gives them,
//! `ErrorInfo`, dead letters and handled batch events) to every request.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use tencent_chat_callbacks::common::MsgBodyElement;
use tencent_chat_callbacks::dead_letter::{DeadLetter, DeadLetterSink};
use tencent_chat_callbacks::{BoxError, Context, Dispatcher, FailurePolicy, Refusal, c2c, group, push};
use tests::{fixtures, workspace_root};

/// The dead letters a case's dispatcher wrote, as `{"reason", "index"?}`.
#[derive(Clone, Default)]
struct Letters(Arc<Mutex<Vec<Value>>>);

impl DeadLetterSink for Letters {
    fn write(&self, letter: &DeadLetter) -> io::Result<()> {
        let mut entry = json!({ "reason": letter.reason });
        if let Some(index) = letter.index {
            entry["index"] = json!(index);
        }
        self.0.lock().unwrap().push(entry);
        Ok(())
    }

    /// The `in_progress` journal of an event acknowledged while its handler runs is the Rust
    /// crate's alone (the packages do not resume after a crash); the table compares dead letters.
    fn write_durable(&self, _letter: &DeadLetter) -> io::Result<()> {
        Ok(())
    }
}

/// The table, with its defaults.
fn table() -> Value {
    let text = std::fs::read_to_string(workspace_root().join("tests/cases/dispatch.json")).expect("the case table");
    serde_json::from_str(&text).expect("the case table is JSON")
}

/// The body a case sends: a fixture with its top-level keys patched, a body as written, or bytes.
fn case_body(case: &Value) -> Vec<u8> {
    if let Some(body) = case.get("body").and_then(Value::as_str) {
        return body.as_bytes().to_vec();
    }
    if let Some(bytes) = case.get("body_bytes").and_then(Value::as_array) {
        return bytes.iter().map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()).expect("a byte")).collect();
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
async fn decide(event: c2c::BeforeSendMsg, ctx: Context) -> Result<c2c::BeforeSendMsgDecision, BoxError> {
    let Some(MsgBodyElement::Text(text)) = event.msg_body.first() else {
        return Ok(c2c::BeforeSendMsgDecision::Allow);
    };
    if text.text.contains("fail") {
        return Err("this handler fails on purpose".into());
    }
    if text.text.contains("undecided") {
        return Err(Box::new(Refusal::Undecided));
    }
    if text.text.contains("invalid") {
        return Err(Box::new(Refusal::invalid_body(ctx.command(), "the handler refuses this body")));
    }
    if text.text.contains("slow") {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(if text.text.contains("refuse") {
        c2c::BeforeSendMsgDecision::Refuse
    } else if text.text.contains("drop") {
        c2c::BeforeSendMsgDecision::Drop
    } else if text.text.contains("code") {
        c2c::BeforeSendMsgDecision::refuse_with(120001, "refused by the app").expect("in range")
    } else {
        c2c::BeforeSendMsgDecision::Allow
    })
}

fn policy(value: &Value) -> FailurePolicy {
    value.as_str().expect("a policy is a string").parse().expect("a known policy")
}

fn dispatcher(config: &Map<String, Value>, letters: &Letters, batches: &Arc<Mutex<Vec<usize>>>) -> Dispatcher {
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
    if let Some(max) = config["max_in_flight"].as_u64() {
        builder = builder.max_in_flight(max as usize);
    }
    if let Some(deadline) = config["handler_deadline_ms"].as_u64() {
        builder = builder.handler_deadline(Duration::from_millis(deadline));
    }
    builder = builder.on_failure(policy(&config["on_failure"]));
    for (command, value) in config["on_failure_of"].as_object().expect("on_failure_of is an object") {
        let command = tencent_chat_callbacks::Command::from_name(command).expect("a known command");
        builder = builder.on_failure_of(command, policy(value));
    }
    let batches = Arc::clone(batches);
    let now = config["now"].as_u64().expect("`now` is Unix seconds");
    builder
        .clock(move || UNIX_EPOCH + Duration::from_secs(now))
        .dead_letters(letters.clone())
        .on::<group::AfterNewMemberJoin, _>(|_event: group::AfterNewMemberJoin, _ctx: Context| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
        })
        .on::<push::OfflinePush, _>(move |event: push::OfflinePush, _ctx: Context| {
            batches.lock().unwrap().push(event.events.len());
            async {}
        })
        .on::<group::AfterCreateGroup, _>(|_event: group::AfterCreateGroup, _ctx: Context| async {})
        .on::<group::AfterGroupDestroyed, _>(|_event: group::AfterGroupDestroyed, _ctx: Context| async {
            Err::<(), _>("this handler fails on purpose")
        })
        .on::<group::AfterMemberExit, _>(|_event: group::AfterMemberExit, _ctx: Context| async {
            Err::<(), _>(Refusal::Undecided)
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
        let (letters, batches) = (Letters::default(), Arc::default());
        let reply = dispatcher(&config, &letters, &batches).dispatch(&query, case_body(case).into()).await;
        let body: Value = serde_json::from_slice(&reply.body).expect("every reply is JSON");
        let got = (u64::from(reply.status.as_u16()), body["ActionStatus"].clone(), body["ErrorCode"].clone());
        let expected = (case["status"].as_u64().unwrap(), case["ActionStatus"].clone(), case["ErrorCode"].clone());
        let name = &case["name"];
        if got != expected {
            failures.push(format!("{name}: expected {expected:?}, got {got:?} ({body})"));
        }
        let info = body["ErrorInfo"].as_str().unwrap_or_default();
        if let Some(expected) = case.get("ErrorInfo").and_then(Value::as_str).filter(|e| *e != info) {
            failures.push(format!("{name}: expected ErrorInfo {expected:?}, got {info:?}"));
        }
        if let Some(prefix) = case.get("ErrorInfo_prefix").and_then(Value::as_str).filter(|p| !info.starts_with(p)) {
            failures.push(format!("{name}: expected ErrorInfo starting {prefix:?}, got {info:?}"));
        }
        let written = Value::Array(letters.0.lock().unwrap().clone());
        if let Some(expected) = case.get("dead_letters").filter(|e| **e != written) {
            failures.push(format!("{name}: expected dead letters {expected}, got {written}"));
        }
        let handled = batches.lock().unwrap().first().copied();
        if let Some(expected) = case.get("handled_events").and_then(Value::as_u64)
            && handled != Some(expected as usize)
        {
            failures.push(format!("{name}: expected {expected} batch events handled, got {handled:?}"));
        }
    }
    assert!(failures.is_empty(), "{} case(s) differ:\n{}", failures.len(), failures.join("\n"));
}
