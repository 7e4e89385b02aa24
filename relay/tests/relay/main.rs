//! The relay binary end to end: started as a process, fed signed vendor fixtures over loopback,
//! its output read back from stdout, a real `redis-server` or a real `nats-server` (started here
//! on free ports; a test whose server is missing is reported as ignored, see `tests::needs!`).

mod decide;
mod delivery;
mod nats;
mod operate;
mod redis_stream;
mod service;
mod support;

use std::collections::BTreeMap;

use support::{Relay, deliver, fixture_event, is_ok};
use tencent_chat_callbacks::envelope::Envelope;
use tencent_chat_callbacks::{CallbackKind, Command};

/// With no broker the relay prints one envelope per after-callback, once however often it is
/// delivered; before-callbacks without `--decide` get the failure policy and are not printed;
/// what the dispatcher refuses is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_by_default_every_fixture_once_and_before_callbacks_by_the_policy() {
    let relay = Relay::start(&["--on-failure", "refuse"]);
    let mut expected = BTreeMap::new();
    for fixture in tests::fixtures() {
        let event = fixture_event(&fixture);
        let kind = Command::from_name(&fixture.command).expect("fixtures are known commands").kind();
        for _ in 0..2 {
            let reply = deliver(relay.address, &event).await;
            match kind {
                CallbackKind::After => assert!(is_ok(&reply), "{}: {reply:?}", fixture.command),
                CallbackKind::Before => {
                    let (status, body) = reply.unwrap_or_else(|| panic!("{}: no reply", fixture.command));
                    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
                    assert_eq!((status, &body["ErrorCode"]), (200, &serde_json::json!(1)), "{}", fixture.command);
                }
            }
        }
        if kind == CallbackKind::After {
            expected.insert(event.key.clone(), fixture);
        }
    }

    // Refusals: a wrong signature, a body of another command, a body that is not the event, an
    // unknown command whose body is not an object. None of them is printed.
    let sample = tests::fixtures().into_iter().find(|f| f.command == "Group.CallbackAfterCreateGroup").unwrap();
    let good = tests::signed_query(&sample.command, tests::now());
    let bad_sign = good.replace("Sign=", "Sign=0");
    let other = tests::signed_query("Group.CallbackAfterGroupDestroyed", tests::now());
    let unknown = tests::signed_query("Future.CallbackSomethingNew", tests::now());
    for (query, body, status) in [
        (&bad_sign, &sample.sample[..], 401),
        (&other, &sample.sample[..], 400),
        (&good, &br#"{"GroupId": 7}"#[..], 400),
        (&unknown, &b"[1, 2]"[..], 400),
    ] {
        let reply = support::post(relay.address, &format!("/callback?{query}"), body).await;
        assert_eq!(reply.as_ref().map(|r| r.0), Some(status), "{query}: {reply:?}");
    }
    // An unknown command with an object body is acknowledged but not published: anyone holding
    // one signed URL can invent commands (`--publish-unknown` relays them).
    let reply = support::post(relay.address, &format!("/callback?{unknown}"), br#"{"New": true}"#).await;
    assert!(is_ok(&reply), "{reply:?}");

    relay.printed_at_least(expected.len()).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await; // nothing more comes
    let printed = relay.printed();
    assert_eq!(printed.len(), expected.len(), "{printed:#?}");
    for line in &printed[..expected.len()] {
        let envelope = Envelope::from_json(line.to_string().as_bytes()).expect("an envelope");
        let fixture = expected.remove(&envelope.dedup_key).unwrap_or_else(|| panic!("unexpected {line}"));
        assert_eq!(envelope.command, fixture.command);
        assert_eq!(envelope.app_id, tests::APP_ID);
        assert_eq!(envelope.request_id.as_deref(), Some("52c68065-ed12-41c1-8661-045ea5d16695"));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(envelope.body.get()).unwrap(),
            fixture.sample_json(),
            "{}: the body as received",
            fixture.command
        );
        assert!(envelope.event().expect("decodes").command().is_some(), "{}", fixture.command);
    }
    assert!(expected.is_empty(), "never printed: {:?}", expected.keys());
    assert!(printed.iter().all(|e| e["command"] != "Future.CallbackSomethingNew"));
}

/// With `--publish-unknown`, an unknown command with an object body is relayed, so new vendor
/// callbacks can reach a service that knows them before this version does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_unknown_relays_commands_the_catalogue_does_not_know() {
    let relay = Relay::start(&["--publish-unknown"]);
    let unknown = tests::signed_query("Future.CallbackSomethingNew", tests::now());
    let reply = support::post(relay.address, &format!("/callback?{unknown}"), br#"{"New": true}"#).await;
    assert!(is_ok(&reply), "{reply:?}");
    let printed = relay.printed_at_least(1).await;
    assert_eq!(printed.len(), 1, "{printed:#?}");
    assert_eq!(printed[0]["command"], "Future.CallbackSomethingNew");
}

/// The hand-written envelope schema has one entry per command this version knows, so every known
/// body is checked against its command's published schema.
#[test]
fn the_envelope_schema_covers_every_command() {
    let path = tests::workspace_root().join("schema/envelope/envelope.schema.json");
    let schema: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let covered: Vec<&str> = schema["allOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let command = entry["if"]["properties"]["command"]["const"].as_str().unwrap();
            let reference = format!("commands/{command}.schema.json");
            assert_eq!(entry["then"]["properties"]["body"]["$ref"], reference.as_str());
            command
        })
        .collect();
    let commands: Vec<&str> = Command::ALL.iter().map(|c| c.name()).collect();
    let mut sorted = commands.clone();
    sorted.sort_unstable();
    assert_eq!(covered, sorted, "schema/envelope/envelope.schema.json: add an allOf entry per command");
    // Its references resolve against its `$id`: the same base as the per-command schemas.
    let base = schema["$id"].as_str().unwrap().strip_suffix("envelope.schema.json").expect("the $id's file name");
    for command in commands {
        let published = tests::workspace_root().join(format!("schema/dist/commands/{command}.schema.json"));
        let published: serde_json::Value = serde_json::from_slice(&std::fs::read(&published).unwrap()).unwrap();
        assert_eq!(published["$id"], format!("{base}commands/{command}.schema.json"), "$id of {command}");
    }
}

/// A command whose schema names a dedup field (`MsgKey` for `C2C.CallbackAfterSendMsg`) is keyed
/// by it, and `--dedup-field COMMAND=FIELD` names one for another; the envelope carries that key.
/// A redelivery of the same body is a duplicate; one whose body differs is not dropped (it may be
/// the genuine event after a forgery): it is published too, with a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_keyed_by_the_schemas_dedup_field_or_the_configured_one() {
    let relay = Relay::start(&["--dedup-field", "Group.CallbackAfterSendMsg=MsgSeq"]);
    for (n, (command, field)) in
        [("C2C.CallbackAfterSendMsg", "MsgKey"), ("Group.CallbackAfterSendMsg", "MsgSeq")].into_iter().enumerate()
    {
        let fixture = tests::fixtures().into_iter().find(|f| f.command == command).unwrap();
        let mut sample = fixture.sample_json();
        let value = sample[field].to_string().trim_matches('"').to_owned();
        for retry in [0, 0, 1] {
            sample["RelayTestSeq"] = retry.into();
            let body = serde_json::to_vec(&sample).unwrap();
            let event = support::Event { command: command.into(), key: String::new(), body };
            assert!(is_ok(&deliver(relay.address, &event).await), "{command}");
        }
        let printed = relay.printed_at_least(2 * (n + 1)).await;
        let mine: Vec<_> = printed.iter().filter(|e| e["command"] == command).collect();
        assert_eq!(mine.len(), 2, "the exact redelivery dropped, the other body kept: {printed:#?}");
        assert_eq!(mine[0]["body"]["RelayTestSeq"], 0);
        assert_eq!(mine[1]["body"]["RelayTestSeq"], 1);
        for envelope in mine {
            assert_eq!(envelope["dedup_key"], format!("{command}:{field}={value}"));
        }
    }
    let log = relay.log_once_it_has("another body was published before", 2).await;
    assert_eq!(log.matches("another body was published before").count(), 2, "{log}");
}

/// A `Push` batch with one bad event among good ones: the good ones are published (as one
/// envelope, each as received), the bad one is dead-lettered alone, and the vendor gets OK.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_split_each_good_item_published_each_bad_one_dead_lettered_alone() {
    let dir = tests::servers::ScratchDir::new("relay-batch");
    let dead_letters = dir.path().join("dead.jsonl");
    let relay = Relay::start(&["--dead-letter", dead_letters.to_str().unwrap()]);
    let fixture = tests::fixtures().into_iter().find(|f| f.command == "Push.AllMemberPush").unwrap();
    let mut body = fixture.sample_json();
    let good = body["Events"][0].clone();
    let mut bad = good.clone();
    bad["TaskTime"] = "yesterday".into();
    body["Events"] = serde_json::json!([good, bad, good]);
    let event = support::Event { command: fixture.command.clone(), key: String::new(), body: body.to_string().into() };
    assert!(is_ok(&deliver(relay.address, &event).await));

    let printed = relay.printed_at_least(1).await;
    assert_eq!(printed.len(), 1, "{printed:#?}");
    assert_eq!(printed[0]["body"]["Events"], serde_json::json!([good, good]));
    let letters = tencent_chat_callbacks::dead_letter::JsonLinesSink::read(&dead_letters).expect("a letter");
    assert_eq!(letters.len(), 1, "{letters:#?}");
    assert_eq!((letters[0].reason.as_str(), letters[0].index), ("batch_item_undecodable", Some(1)));
    let kept: serde_json::Value = serde_json::from_slice(&letters[0].raw_body()).unwrap();
    assert_eq!(kept["Events"], serde_json::json!([bad]), "the bad item alone");
}

/// relay/README.md has one row per flag of `--help`, with the flag's environment variable.
#[test]
fn the_readme_documents_every_flag_and_its_environment_variable() {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_relay")).arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let readme = std::fs::read_to_string(tests::workspace_root().join("relay/README.md")).unwrap();
    let mut flags = 0;
    for chunk in help.split("\n      --").skip(1) {
        let flag = chunk.split([' ', '\n']).next().unwrap();
        let row = readme.lines().find(|l| l.starts_with(&format!("| `--{flag}"))).unwrap_or_else(|| {
            panic!("relay/README.md has no row for --{flag}");
        });
        if let Some(env) = chunk.split("[env: ").nth(1) {
            let env = env.split(['=', ']']).next().unwrap();
            assert!(row.contains(&format!("`{env}`")), "--{flag}: its row names {env}: {row}");
        }
        flags += 1;
    }
    assert!(flags > 20, "{help}");
}
