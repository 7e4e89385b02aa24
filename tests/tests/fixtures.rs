//! Every fixture against its schema and its generated type: valid under the schema, decodes,
//! re-encodes to the same JSON (a number the vendor sent as a string compares by value), and
//! one fixture per schema and command.

use std::collections::BTreeSet;
use std::fs;

use jsonschema::{Retrieve, Uri};
use serde_json::Value;
use tencent_chat_callbacks::{Command, Event};
use tests::{fixtures, workspace_root};

/// The `$id` prefix of every schema; `$ref`s resolve against it to files in `schema/`.
const ID_PREFIX: &str = "https://tencent-chat-callbacks.example/schema/";

/// Serves `$ref`s to other schema files from `schema/`, so validation never leaves the machine.
struct SchemaDir;

impl Retrieve for SchemaDir {
    fn retrieve(&self, uri: &Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let file = uri.as_str().strip_prefix(ID_PREFIX).ok_or_else(|| format!("unexpected reference {uri}"))?;
        Ok(serde_json::from_slice(&fs::read(workspace_root().join("schema").join(file))?)?)
    }
}

fn schema(command: &str) -> Value {
    let path = workspace_root().join("schema").join(format!("{command}.json"));
    serde_json::from_slice(&fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options().with_retriever(SchemaDir).build(schema).unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> =
        validator.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{what}:\n{}", errors.join("\n"));
}

/// Replaces strings of digits by numbers, so that `"1670574414123"` equals `1670574414123`.
fn numbers_by_value(value: Value) -> Value {
    match value {
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<u64>().map(Value::from).unwrap_or(Value::String(s))
        }
        Value::Array(items) => Value::Array(items.into_iter().map(numbers_by_value).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, numbers_by_value(v))).collect()),
        other => other,
    }
}

#[test]
fn every_fixture_is_valid_under_its_schema() {
    for fixture in fixtures() {
        let validator = validator(&schema(&fixture.command));
        assert_valid(&validator, &fixture.sample_json(), &fixture.command);
    }
}

#[test]
fn every_fixture_decodes_and_re_encodes_to_the_same_json() {
    for fixture in fixtures() {
        let event =
            Event::from_json(&fixture.command, &fixture.sample).unwrap_or_else(|e| panic!("{}: {e}", fixture.command));
        assert_eq!(event.command().map(Command::name), Some(fixture.command.as_str()), "a generated type");
        let encoded = serde_json::to_value(&event).unwrap();
        assert_eq!(numbers_by_value(encoded), numbers_by_value(fixture.sample_json()), "{}", fixture.command);
    }
}

/// The generated types' own `JsonSchema` (schemars) accepts every sample too, so code that
/// derives schemas from the types agrees with `schema/`.
#[test]
fn the_types_derived_schemas_accept_every_fixture() {
    for fixture in fixtures() {
        let command = Command::from_name(&fixture.command).unwrap();
        let schema = serde_json::to_value(command.json_schema()).unwrap();
        assert_valid(&jsonschema::validator_for(&schema).unwrap(), &fixture.sample_json(), &fixture.command);
    }
}

#[test]
fn the_vendor_samples_are_kept_as_published() {
    for fixture in fixtures() {
        // Some bodies carry no command (it is only in the query string, or inside batched events).
        if fixture.sample_json().get("CallbackCommand").is_some() {
            assert!(fixture.vendor_sample.contains(&format!("\"{}\"", fixture.command)), "{}", fixture.command);
        }
        // Every key of the cleaned sample is in the vendor's text: cleaning only removed defects.
        for key in fixture.sample_json().as_object().unwrap().keys() {
            assert!(fixture.vendor_sample.contains(&format!("\"{key}\"")), "{}: `{key}`", fixture.command);
        }
    }
}

/// A schema without a fixture, a fixture without a schema, or a command without either fails.
#[test]
fn schemas_fixtures_and_commands_match_one_to_one() {
    let schemas: BTreeSet<String> = fs::read_dir(workspace_root().join("schema"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|name| name.strip_suffix(".json").map(str::to_owned))
        .filter(|name| name != "common")
        .collect();
    let fixtures: BTreeSet<String> = fixtures().into_iter().map(|f| f.command).collect();
    let commands: BTreeSet<String> = Command::ALL.iter().map(|c| c.name().to_owned()).collect();
    assert_eq!(schemas, fixtures, "schema/ and tests/fixtures/ disagree");
    assert_eq!(schemas, commands, "schema/ and the generated commands disagree; run `cargo codegen`");
}

#[test]
fn schemas_reject_what_the_types_reject() {
    let validator = validator(&schema("Group.CallbackAfterCreateGroup"));
    let mut sample =
        fixtures().into_iter().find(|f| f.command == "Group.CallbackAfterCreateGroup").unwrap().sample_json();
    sample["EventTime"] = Value::from("12a");
    assert!(!validator.is_valid(&sample), "a non-digit EventTime string");
    sample["EventTime"] = Value::from(-1);
    assert!(!validator.is_valid(&sample), "a negative EventTime");
    sample["EventTime"] = Value::from(1);
    sample["CallbackCommand"] = Value::from("Group.CallbackAfterGroupInfoChanged");
    assert!(!validator.is_valid(&sample), "another command");
    sample["CallbackCommand"] = Value::from("Group.CallbackAfterCreateGroup");
    sample.as_object_mut().unwrap().remove("GroupId");
    assert!(!validator.is_valid(&sample), "a missing GroupId");
}

/// One element of every message type the schema knows, plus one it does not: valid under the
/// schema, decoded into the right variants, re-encoded unchanged.
#[test]
fn every_message_element_type_decodes_by_its_tag() {
    use tencent_chat_callbacks::common::MsgBodyElement;
    let elements: Value =
        serde_json::from_slice(&fs::read(workspace_root().join("tests/data/msg-body-elements.json")).unwrap()).unwrap();
    let schema = serde_json::json!({ "type": "array", "items": { "$ref": format!("{ID_PREFIX}common.json#/$defs/MsgBodyElement") } });
    assert_valid(&validator(&schema), &elements, "msg-body-elements.json");

    let decoded: Vec<MsgBodyElement> = serde_json::from_value(elements.clone()).unwrap();
    let tags: Vec<&str> = decoded.iter().map(MsgBodyElement::tag).collect();
    let expected: Vec<&str> = elements.as_array().unwrap().iter().map(|e| e["MsgType"].as_str().unwrap()).collect();
    assert_eq!(tags, expected);
    assert!(matches!(decoded[0], MsgBodyElement::Text(_)), "{:?}", decoded[0]);
    let stream = decoded.iter().find(|e| e.tag() == "TIMStreamElem").expect("a streamed element in the data");
    let MsgBodyElement::Stream(stream) = stream else { panic!("TIMStreamElem is a known type: {stream:?}") };
    assert_eq!(stream.stream_msg_id.as_deref(), Some("stream-1"));
    assert_eq!(stream.chunks.as_ref().unwrap()[0].markdown.as_deref(), Some("First part of the answer"));
    let last = decoded.last().unwrap();
    assert!(matches!(last, MsgBodyElement::Other { .. }), "an unknown type is kept: {last:?}");
    assert_eq!(numbers_by_value(serde_json::to_value(&decoded).unwrap()), numbers_by_value(elements));
}

/// A vendor sample from another copy of a command's page (another language, mirror or date):
/// `variants/<name>.json`, the payload as valid JSON, and `variants/<name>.txt`, as published.
struct Variant {
    command: String,
    name: String,
    sample: Value,
    text: String,
}

fn variants() -> Vec<Variant> {
    let mut out = Vec::new();
    for fixture in fixtures() {
        let dir = workspace_root().join("tests/fixtures").join(&fixture.command).join("variants");
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        let mut names: Vec<String> = entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|n| n.strip_suffix(".json").map(str::to_owned))
            .collect();
        names.sort();
        for name in names {
            let read =
                |ext: &str| fs::read(dir.join(format!("{name}.{ext}"))).unwrap_or_else(|e| panic!("{name}.{ext}: {e}"));
            out.push(Variant {
                command: fixture.command.clone(),
                sample: serde_json::from_slice(&read("json")).unwrap(),
                text: String::from_utf8(read("txt")).unwrap(),
                name,
            });
        }
    }
    out
}

/// The samples of other copies of a page are valid, decode, re-encode to the same values, and
/// were only cleaned of their comments.
#[test]
fn every_variant_from_another_copy_of_a_page_is_valid_and_decodes() {
    let variants = variants();
    assert!(variants.len() >= 5, "the member join and exit and the group before-send variants are found");
    for variant in variants {
        let what = format!("{}/variants/{}", variant.command, variant.name);
        assert_valid(&validator(&schema(&variant.command)), &variant.sample, &what);
        let event = Event::from_json(&variant.command, &serde_json::to_vec(&variant.sample).unwrap())
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(event.command().is_some(), "{what}: no generated type");
        assert_eq!(numbers_by_value(serde_json::to_value(&event).unwrap()), numbers_by_value(variant.sample.clone()));
        for key in variant.sample.as_object().unwrap().keys() {
            assert!(variant.text.contains(&format!("\"{key}\"")), "{what}: `{key}`");
        }
    }
}

/// The two group membership callbacks decode every copy of their vendor sample: `EventTime` as a
/// string of digits (English copies), as a number (Chinese copies) and missing (2022 copies).
#[test]
fn member_join_and_exit_decode_event_time_as_string_number_or_missing() {
    use tencent_chat_callbacks::group::{AfterMemberExit, AfterNewMemberJoin, MemberExitType, MemberJoinType};
    let sample = |command: &str| fixtures().into_iter().find(|f| f.command == command).unwrap().sample_json();
    let variant = |command: &str, name: &str| {
        variants().into_iter().find(|v| v.command == command && v.name == name).unwrap().sample
    };
    for command in ["Group.CallbackAfterNewMemberJoin", "Group.CallbackAfterMemberExit"] {
        let forms = [
            (sample(command), Some(1670574414123)),
            (variant(command, "eventtime-number"), Some(1670574414123)),
            (variant(command, "no-eventtime"), None),
        ];
        assert!(forms[0].0["EventTime"].is_string() && forms[1].0["EventTime"].is_number());
        assert!(forms[2].0.get("EventTime").is_none());
        for (body, time) in forms {
            if command == "Group.CallbackAfterNewMemberJoin" {
                let event: AfterNewMemberJoin = serde_json::from_value(body).unwrap();
                assert_eq!((event.event_time.map(u64::from), event.join_type), (time, Some(MemberJoinType::Apply)));
                let members: Vec<&str> = event.new_member_list.iter().map(|m| m.member_account.as_str()).collect();
                assert_eq!((event.group_id.as_str(), members), ("@TGS#2J4SZEAEL", vec!["jared", "tommy"]));
            } else {
                let event: AfterMemberExit = serde_json::from_value(body).unwrap();
                assert_eq!((event.event_time.map(u64::from), event.exit_type), (time, Some(MemberExitType::Kicked)));
                let members: Vec<&str> = event.exit_member_list.iter().map(|m| m.member_account.as_str()).collect();
                assert_eq!((event.operator_account.as_str(), members), ("leckie", vec!["jared", "tommy"]));
            }
        }
    }
}

/// Required means guaranteed: a before-callback body without `EventTime`, as older copies of
/// the pages show it, is valid and decodes (a refused before-callback would let the action through).
#[test]
fn before_callbacks_decode_without_event_time() {
    let mut checked = BTreeSet::new();
    for fixture in fixtures() {
        let command = Command::from_name(&fixture.command).unwrap();
        let mut body = fixture.sample_json();
        if command.kind() != tencent_chat_callbacks::CallbackKind::Before || body.get("EventTime").is_none() {
            continue;
        }
        body.as_object_mut().unwrap().remove("EventTime");
        assert_valid(&validator(&schema(&fixture.command)), &body, &fixture.command);
        Event::from_json(&fixture.command, &serde_json::to_vec(&body).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", fixture.command));
        checked.insert(fixture.command);
    }
    for named in
        ["Group.CallbackBeforeSendMsg", "Group.CallbackBeforeCreateGroup", "Group.CallbackBeforeInviteJoinGroup"]
    {
        assert!(checked.contains(named), "{named}");
    }
    // And the genuine older copy of page 34374, which has no `EventTime`.
    let old = variants().into_iter().find(|v| v.command == "Group.CallbackBeforeSendMsg" && v.name == "no-eventtime");
    let old = old.expect("the older copy's sample").sample;
    assert!(old.get("EventTime").is_none());
    let event: tencent_chat_callbacks::group::BeforeSendMsg = serde_json::from_value(old).unwrap();
    assert_eq!((event.event_time, event.random), (None, Some(123456)));
}

/// Fields of before-callbacks that identify nothing the app decides on (sequence and random
/// numbers, the text of an element) may be missing without the body being refused.
#[test]
fn before_send_bodies_decode_without_sequence_numbers_or_text() {
    let sample = |command: &str| fixtures().into_iter().find(|f| f.command == command).unwrap().sample_json();
    let mut c2c = sample("C2C.CallbackBeforeSendMsg");
    for key in ["MsgSeq", "MsgRandom", "MsgTime", "MsgKey"] {
        c2c.as_object_mut().unwrap().remove(key);
    }
    let mut group = sample("Group.CallbackBeforeSendMsg");
    group.as_object_mut().unwrap().remove("Random");
    group["MsgBody"][0]["MsgContent"].as_object_mut().unwrap().remove("Text");
    for (command, body) in [("C2C.CallbackBeforeSendMsg", c2c), ("Group.CallbackBeforeSendMsg", group)] {
        assert_valid(&validator(&schema(command)), &body, command);
        Event::from_json(command, &serde_json::to_vec(&body).unwrap()).unwrap_or_else(|e| panic!("{command}: {e}"));
    }
    let element: tencent_chat_callbacks::common::MsgBodyElement =
        serde_json::from_value(serde_json::json!({"MsgType": "TIMTextElem", "MsgContent": {}})).unwrap();
    let tencent_chat_callbacks::common::MsgBodyElement::Text(text) = element else { panic!("{element:?}") };
    assert_eq!(text.text, "", "a missing text reads as empty");
}

/// Issue 10's audit: the reply to a before-friend callback always carries `ResultItem`, which the
/// vendor requires, and the reply schema requires it.
#[test]
fn before_friend_replies_always_carry_result_item() {
    use tencent_chat_callbacks::sns::{
        PrevFriendAddDecision, PrevFriendAddReply, PrevFriendResponseDecision, PrevFriendResponseReply,
    };
    let add = serde_json::to_value(PrevFriendAddReply::from(PrevFriendAddDecision::Allow)).unwrap();
    let response = serde_json::to_value(PrevFriendResponseReply::from(PrevFriendResponseDecision::Allow)).unwrap();
    for (command, reply) in [("Sns.CallbackPrevFriendAdd", add), ("Sns.CallbackPrevFriendResponse", response)] {
        assert_eq!(reply["ResultItem"], serde_json::json!([]), "{command}: {reply}");
        let reply_schema = serde_json::json!({ "$ref": format!("{ID_PREFIX}{command}.json#/$defs/Reply") });
        let validator = validator(&reply_schema);
        assert_valid(&validator, &reply, command);
        let mut without = reply.clone();
        without.as_object_mut().unwrap().remove("ResultItem");
        assert!(!validator.is_valid(&without), "{command}: a reply without ResultItem");
    }
}

/// Issue 10's audit: the legacy spelling `CreatedNum` of `CreateGroupNum` decodes to it, and
/// bodies that use it are valid. Issue 19: `CreatedGroupNum` is read on its own, as one number
/// or as a number per group type.
#[test]
fn legacy_spellings_of_create_group_num_decode() {
    use std::collections::BTreeMap;
    use tencent_chat_callbacks::group::{BeforeCreateGroup, CreatedGroupCount};
    let command = "Group.CallbackBeforeCreateGroup";
    let sample = fixtures().into_iter().find(|f| f.command == command).unwrap().sample_json();
    for spelling in ["CreateGroupNum", "CreatedNum"] {
        let mut body = sample.clone();
        body.as_object_mut().unwrap().remove("CreateGroupNum");
        body[spelling] = Value::from(7);
        assert_valid(&validator(&schema(command)), &body, spelling);
        let event: BeforeCreateGroup = serde_json::from_value(body).unwrap();
        assert_eq!(event.create_group_num, Some(7), "{spelling}");
        assert_eq!(serde_json::to_value(&event).unwrap()["CreateGroupNum"], 7, "encodes the current spelling");
    }
    let by_type = serde_json::json!({"Public": 2, "Private": 5});
    for (value, expected) in [
        (Value::from(7), CreatedGroupCount::Total(7)),
        (by_type.clone(), CreatedGroupCount::ByType(BTreeMap::from([("Private".into(), 5), ("Public".into(), 2)]))),
    ] {
        let mut body = sample.clone();
        body["CreatedGroupNum"] = value.clone();
        assert_valid(&validator(&schema(command)), &body, "CreatedGroupNum");
        let event: BeforeCreateGroup = serde_json::from_value(body).unwrap();
        assert_eq!(event.created_group_num.as_ref(), Some(&expected));
        assert_eq!(serde_json::to_value(&event).unwrap()["CreatedGroupNum"], value, "re-encodes as sent");
    }
    let validator = validator(&schema(command));
    for wrong in [serde_json::json!("7"), serde_json::json!({"Public": -1}), serde_json::json!({"Public": "2"})] {
        let mut body = sample.clone();
        body["CreatedGroupNum"] = wrong.clone();
        assert!(!validator.is_valid(&body), "{wrong}");
        assert!(serde_json::from_value::<BeforeCreateGroup>(body).is_err(), "{wrong}");
    }
}

/// Issue 10's audit: moderation results carry `TextContent` as a list (the samples) or a single
/// string (one field table); both are valid and decode to a list.
#[test]
fn moderation_text_content_is_a_list_or_a_string() {
    use tencent_chat_callbacks::content_callback::ResultNotify;
    let command = "ContentCallback.ResultNotify";
    let mut body = fixtures().into_iter().find(|f| f.command == command).unwrap().sample_json();
    let validator = validator(&schema(command));
    let list: ResultNotify = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(list.text_content.as_deref(), Some(&["aaabbbccc".to_owned(), "1234567".to_owned()][..]));
    body["TextContent"] = Value::from("aaabbbccc");
    assert_valid(&validator, &body, "a string");
    let one: ResultNotify = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(one.text_content, Some(vec!["aaabbbccc".to_owned()]));
    body["TextContent"] = Value::from(5);
    assert!(!validator.is_valid(&body), "a number is neither");
    assert!(serde_json::from_value::<ResultNotify>(body).is_err());
}

/// Issue 10's audit: every group before-callback that can refuse documents the client error the
/// refusal gives, 10016, including the invitation callback.
#[test]
fn group_before_callbacks_document_the_refusal_error() {
    let mut seen = Vec::new();
    for fixture in fixtures().into_iter().filter(|f| f.command.starts_with("Group.CallbackBefore")) {
        let decision = schema(&fixture.command)["x-callback"]["decision"].clone();
        if decision["refuse"] == true {
            assert_eq!(decision["refusedClientError"], 10016, "{}", fixture.command);
            seen.push(fixture.command);
        }
    }
    assert!(seen.iter().any(|c| c == "Group.CallbackBeforeInviteJoinGroup"), "{seen:?}");
}

/// Issue 19: the 2026 commands, seen only on the mainland-China pages, and the call commands
/// decode with `EventTime`
/// as those pages send it (a number), as the English pages of other commands send it (a string
/// of digits) and without it (as pages written before the field existed show bodies).
#[test]
fn the_2026_commands_decode_event_time_as_number_string_or_missing() {
    let commands = [
        "C2C.CallbackAfterModifyMsg",
        "C2C.CallbackAfterMsgReadReceipt",
        "C2C.CallbackAfterMsgReadAll",
        "Group.CallbackAfterModifyMsg",
        "Call.CallbackAfterStartCall",
        "Call.CallbackAfterEndCall",
        "Call.CallbackAfterMemberChanged",
    ];
    for command in commands {
        let sample = fixtures().into_iter().find(|f| f.command == command).expect(command).sample_json();
        let time = sample["EventTime"].as_u64().unwrap_or_else(|| panic!("{command}: the page sends a number"));
        let mut as_string = sample.clone();
        as_string["EventTime"] = Value::from(time.to_string());
        let mut missing = sample.clone();
        missing.as_object_mut().unwrap().remove("EventTime");
        let validator = validator(&schema(command));
        for (body, expected) in [(sample, Some(time)), (as_string, Some(time)), (missing, None)] {
            assert_valid(&validator, &body, command);
            let event = Event::from_json(command, &serde_json::to_vec(&body).unwrap()).unwrap();
            let encoded = serde_json::to_value(&event).unwrap();
            assert_eq!(encoded.get("EventTime").and_then(Value::as_u64), expected, "{command}");
        }
    }
}

/// Issue 19: what the new commands' types carry, read from the pages' samples.
#[test]
fn the_2026_commands_carry_what_their_pages_show() {
    use tencent_chat_callbacks::c2c::{AfterModifyMsg, AfterMsgReadAll, AfterMsgReadReceipt};
    use tencent_chat_callbacks::common::MsgBodyElement;
    use tencent_chat_callbacks::group::AfterModifyMsg as GroupAfterModifyMsg;
    let sample = |command: &str| fixtures().into_iter().find(|f| f.command == command).unwrap().sample_json();

    let edit: AfterModifyMsg = serde_json::from_value(sample("C2C.CallbackAfterModifyMsg")).unwrap();
    assert_eq!((edit.operator_account.as_str(), edit.msg_key.as_str()), ("jared", "609_690_1769771529"));
    assert_eq!(
        (edit.msg_seq, edit.msg_random, edit.cloud_custom_data.as_deref()),
        (Some(609), Some(690), Some("1769772027"))
    );
    assert!(matches!(edit.msg_body.as_deref(), Some([MsgBodyElement::Text(_)])));
    // The one-line copy of the same page carries the same event.
    let one_line = variants().into_iter().find(|v| v.command == "C2C.CallbackAfterModifyMsg" && v.name == "one-line");
    let one_line: AfterModifyMsg = serde_json::from_value(one_line.expect("the one-line copy").sample).unwrap();
    assert_eq!(one_line, edit);

    let group: GroupAfterModifyMsg = serde_json::from_value(sample("Group.CallbackAfterModifyMsg")).unwrap();
    assert_eq!((group.group_id.as_str(), group.msg_seq, group.topic_id.as_deref()), ("group-test-2", 53, Some("")));

    let receipt: AfterMsgReadReceipt = serde_json::from_value(sample("C2C.CallbackAfterMsgReadReceipt")).unwrap();
    let keys: Vec<&str> = receipt.c2c_msg_info.iter().map(|m| m.msg_key.as_str()).collect();
    assert_eq!((receipt.peer_account.as_str(), keys), ("Jonh", vec!["33973751_24064952_1769139583"]));
    assert_eq!(receipt.c2c_msg_info[0].msg_id.as_deref(), Some("144115433090395387-1769139578-24064952"));

    let read_all: AfterMsgReadAll = serde_json::from_value(sample("C2C.CallbackAfterMsgReadAll")).unwrap();
    let groups = read_all.group_read_info.expect("the sample lists a group");
    assert_eq!((groups[0].group_id.as_str(), groups[0].msg_seq), ("groupid", Some(100)));
    // A user with no unread group messages: only the user.
    let bare = serde_json::json!({"CallbackCommand": "C2C.CallbackAfterMsgReadAll", "Report_Account": "Jonh"});
    assert_valid(&validator(&schema("C2C.CallbackAfterMsgReadAll")), &bare, "no groups");
    assert!(serde_json::from_value::<AfterMsgReadAll>(bare).unwrap().group_read_info.is_none());
}

/// Issue 19: fields of the newest mainland-China copies. `MsgId` in both before-sends,
/// `Modified_Account` for the member in a member-field change, and an after-send body without
/// `UnreadMsgNum`, as page 269/2716 shows it.
#[test]
fn the_newest_mainland_copies_decode() {
    use tencent_chat_callbacks::c2c::{AfterSendMsg, BeforeSendMsg};
    use tencent_chat_callbacks::group::{AfterMemberFieldChanged, BeforeSendMsg as GroupBeforeSendMsg};
    let sample = |command: &str| fixtures().into_iter().find(|f| f.command == command).unwrap().sample_json();
    let msg_id = "144115233406643804-1727580296-4026038328";

    let mut c2c = sample("C2C.CallbackBeforeSendMsg");
    c2c["MsgId"] = Value::from(msg_id);
    assert_valid(&validator(&schema("C2C.CallbackBeforeSendMsg")), &c2c, "C2C MsgId");
    assert_eq!(serde_json::from_value::<BeforeSendMsg>(c2c).unwrap().msg_id.as_deref(), Some(msg_id));
    let mut group = sample("Group.CallbackBeforeSendMsg");
    group["MsgId"] = Value::from(msg_id);
    assert_valid(&validator(&schema("Group.CallbackBeforeSendMsg")), &group, "group MsgId");
    assert_eq!(serde_json::from_value::<GroupBeforeSendMsg>(group).unwrap().msg_id.as_deref(), Some(msg_id));

    // The sample of cloud.tencent.com 269/105353, cleaned of its comments.
    let changed = serde_json::json!({
        "CallbackCommand": "Group.CallbackAfterMemberFieldChanged", "GroupId": "@TGS#xxxx", "Type": "Community",
        "Operator_Account": "admin", "Modified_Account": "123456", "Role": "Admin", "NameCard": "jacky",
        "EventTime": "1670574414123"
    });
    assert_valid(&validator(&schema("Group.CallbackAfterMemberFieldChanged")), &changed, "Modified_Account");
    let event: AfterMemberFieldChanged = serde_json::from_value(changed).unwrap();
    assert_eq!(event.member_account, "123456");
    assert_eq!(serde_json::to_value(&event).unwrap()["Member_Account"], "123456", "encodes the main name");

    let mut sent = sample("C2C.CallbackAfterSendMsg");
    sent.as_object_mut().unwrap().remove("UnreadMsgNum");
    sent["MsgId"] = Value::from(msg_id);
    assert_valid(&validator(&schema("C2C.CallbackAfterSendMsg")), &sent, "no UnreadMsgNum");
    let event: AfterSendMsg = serde_json::from_value(sent).unwrap();
    assert_eq!((event.unread_msg_num, event.msg_id.as_deref()), (None, Some(msg_id)));
}

/// Issue 19: every integer of every schema states its width, so no generator has to guess:
/// a `format` the generator maps to a Rust type, and `minimum` and `maximum` within it.
#[test]
fn every_integer_states_its_width() {
    fn walk(node: &Value, pointer: &str, file: &str, seen: &mut usize) {
        match node {
            Value::Object(map) => {
                if map.get("type").and_then(Value::as_str) == Some("integer") {
                    *seen += 1;
                    let (low, high): (i128, i128) = match map.get("format").and_then(Value::as_str) {
                        Some("int32") => (i32::MIN.into(), i32::MAX.into()),
                        Some("uint32") => (0, u32::MAX.into()),
                        Some("int64") => (i64::MIN.into(), i64::MAX.into()),
                        Some("uint64") => (0, u64::MAX.into()),
                        other => panic!("{file}{pointer}: an integer without a known width: {other:?}"),
                    };
                    let bound = |key: &str| -> i128 {
                        let value = map.get(key).unwrap_or_else(|| panic!("{file}{pointer}: no `{key}`"));
                        value.as_i64().map(i128::from).or(value.as_u64().map(i128::from)).unwrap()
                    };
                    let (minimum, maximum) = (bound("minimum"), bound("maximum"));
                    assert!(
                        low <= minimum && minimum <= maximum && maximum <= high,
                        "{file}{pointer}: out of its format"
                    );
                }
                for (key, value) in map {
                    walk(value, &format!("{pointer}/{key}"), file, seen);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{pointer}/{i}"), file, seen);
                }
            }
            _ => {}
        }
    }
    let mut seen = 0;
    for entry in fs::read_dir(workspace_root().join("schema")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            walk(&serde_json::from_slice(&fs::read(&path).unwrap()).unwrap(), "", &file, &mut seen);
        }
    }
    assert!(seen > 100, "found only {seen} integers");
}

/// Issue 19: the call commands. The English start-call sample sends UserIDs as JSON numbers
/// beyond 2^53, the Chinese one as strings; both decode, each to its own variant, and re-encode
/// as sent. The end-call result is a word in the sample and an integer in the table.
#[test]
fn call_user_ids_are_strings_or_numbers() {
    use tencent_chat_callbacks::call::{AfterEndCall, AfterMemberChanged, AfterStartCall, CallResult};
    use tencent_chat_callbacks::common::CallUserId;
    let sample = |command: &str| fixtures().into_iter().find(|f| f.command == command).unwrap().sample_json();
    let numbers: AfterStartCall = serde_json::from_value(sample("Call.CallbackAfterStartCall")).unwrap();
    let ids: Vec<&CallUserId> = numbers.user_list.iter().map(|m| &m.user_account).collect();
    assert_eq!(ids, [&CallUserId::Number(144115212830834855), &CallUserId::Number(144115212948889925)]);
    assert_eq!(numbers.call_info.call_media_type.as_deref(), Some("Audio"));
    let strings = variants().into_iter().find(|v| v.name == "string-user-ids").expect("the Chinese copy").sample;
    let strings: AfterStartCall = serde_json::from_value(strings).unwrap();
    assert_eq!(strings.user_list[0].user_account, CallUserId::Text("user1".into()));
    // The field tables' spelling of the media type decodes too.
    let mut table_spelling = sample("Call.CallbackAfterStartCall");
    let media = table_spelling["CallInfo"].as_object_mut().unwrap().remove("CallMediaType").unwrap();
    table_spelling["CallInfo"]["MediaType"] = media;
    let event: AfterStartCall = serde_json::from_value(table_spelling).unwrap();
    assert_eq!(event.call_info.call_media_type.as_deref(), Some("Audio"));

    let ended: AfterEndCall = serde_json::from_value(sample("Call.CallbackAfterEndCall")).unwrap();
    assert_eq!(ended.call_record.call_result, Some(CallResult::Word("NotAnswer".into())));
    assert_eq!(ended.call_record.accept_time, Some(0));
    let mut coded = sample("Call.CallbackAfterEndCall");
    coded["CallRecord"]["CallResult"] = Value::from(3);
    assert_valid(&validator(&schema("Call.CallbackAfterEndCall")), &coded, "an integer CallResult");
    let coded: AfterEndCall = serde_json::from_value(coded).unwrap();
    assert_eq!(coded.call_record.call_result, Some(CallResult::Code(3)));

    let changed: AfterMemberChanged = serde_json::from_value(sample("Call.CallbackAfterMemberChanged")).unwrap();
    assert_eq!(changed.changed_user_list[0].action_type.as_deref(), Some("Answer"));
    let mut wrong = sample("Call.CallbackAfterMemberChanged");
    wrong["ChangedUserList"][0]["User_Account"] = Value::from(true);
    assert!(
        !validator(&schema("Call.CallbackAfterMemberChanged")).is_valid(&wrong),
        "a UserID is a string or a number"
    );
    assert!(serde_json::from_value::<AfterMemberChanged>(wrong).is_err());
}
