//! The generator's expected output for `codegen/tests/cases/basic` compiles and behaves: an open
//! enum keeps unknown values, aliases decode, quoted integers are read by value, and a body of
//! another command is refused.

// The snapshot's `schemars` impls are behind a feature of the runtime crate, which this crate lacks.
#![allow(unexpected_cfgs)]

#[rustfmt::skip]
#[path = "../../codegen/tests/cases/basic/expected/mod.rs"]
#[allow(dead_code, unreachable_pub, missing_docs)]
mod basic;

use basic::common::{Colour, Part, PartText, Stamp};
use basic::demo::{AfterThing, Mode};
use basic::other::{StateChangeAnswer, StateChangeChanges, StateChangeDecision, StateChangeReply};
use basic::{Command, Event};
use serde_json::json;
use tencent_chat_callbacks::{Callback, CallbackKind};

#[test]
fn the_snapshot_decodes_every_field_form() {
    let body = json!({
        "CallbackCommand": "Demo.CallbackAfterThing", "Name": "n", "Type": "t", "Count": 3, "Delta": -2,
        "Ratio": 0.5, "Tags": ["a"], "EventTime": "17", "LaterTime": 18, "Colour": "green",
        "Pairs": [{"Key": "k"}], "Mode": "sideways", "Unknown": true, "OldTotal": 4, "Texts": "one",
        "Notes": ["a", "b"], "Modified_Account": "m", "Small": 4_000_000_000_u32, "Signed": -1, "Tally": {"a": 1}
    });
    let event: AfterThing = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(event.member_account, "m", "a required field decodes from its other spelling");
    assert_eq!((event.small, event.signed), (Some(4_000_000_000_u32), Some(-1_i32)), "widths from `format`");
    assert_eq!(event.tally, Some(basic::demo::Tally::PerKey([("a".to_owned(), 1)].into())), "told apart by type");
    let mut too_wide = body.clone();
    too_wide["Small"] = json!(u64::from(u32::MAX) + 1);
    assert!(serde_json::from_value::<AfterThing>(too_wide).is_err(), "a uint32 refuses 2^32");
    let mut neither = body;
    neither.as_object_mut().unwrap().remove("Modified_Account");
    assert!(serde_json::from_value::<AfterThing>(neither).is_err(), "required under one of its names");
    assert_eq!(event.type_, "t");
    assert_eq!((event.event_time, event.later_time), (Stamp(17), Some(Stamp(18))));
    assert_eq!(event.event_time, 17, "a named scalar compares with its value");
    assert_eq!(event.colour, Colour::Green, "an alias decodes to its variant");
    assert_eq!(event.mode, Some(Mode::Other("sideways".into())));
    assert_eq!(event.flag, None);
    assert_eq!(serde_json::to_value(&event).unwrap()["Colour"], "GREEN", "encodes the canonical value");
    assert_eq!(event.total, Some(4), "a property's alias decodes to its field");
    assert_eq!(event.texts, Some(vec!["one".to_owned()]), "one string decodes as a list of one");
    assert_eq!(event.notes, ["a", "b"]);
    let encoded = serde_json::to_value(&event).unwrap();
    assert_eq!((&encoded["Total"], &encoded["Texts"]), (&json!(4), &json!(["one"])), "encodes the canonical forms");
    assert!(encoded.get("OldTotal").is_none());
    assert_eq!(event.label, "", "a missing defaulted string reads as empty");

    let other = json!({"CallbackCommand": "Other.StateChange", "Name": "n", "Type": "t", "Count": 3, "EventTime": 1, "Colour": "red", "Notes": []});
    assert!(serde_json::from_value::<AfterThing>(other).is_err());
}

#[test]
fn the_snapshot_tables_agree() {
    assert_eq!(Command::ALL.len(), 2);
    assert_eq!(Command::from_name("Other.StateChange"), Some(Command::OtherStateChange));
    assert_eq!(Command::OtherStateChange.kind(), CallbackKind::Before);
    assert_eq!(<AfterThing as Callback>::COMMAND, "Demo.CallbackAfterThing");
    let event = Event::from_json("Other.StateChange", br#"{"CallbackCommand":"Other.StateChange","Who":"w"}"#).unwrap();
    assert_eq!(event.command(), Some(Command::OtherStateChange));
    assert_eq!(event.name(), "Other.StateChange");
    let batch =
        br#"{"CallbackCommand":"Other.StateChange","Who":"w","Changes":[{"CallbackCommand":"Other.StateChange"}]}"#;
    assert!(Event::from_json("Other.StateChange", batch).unwrap().command().is_some(), "a nested command tag");
    let wrong = br#"{"CallbackCommand":"Other.StateChange","Who":"w","Changes":[{"CallbackCommand":"Demo.CallbackAfterThing"}]}"#;
    assert!(Event::from_json("Other.StateChange", wrong).is_err(), "a nested tag of another command");
    match Event::from_json("Nope.Nope", br#"{"A":1}"#).unwrap() {
        Event::Unknown(event) => assert_eq!((event.command.as_str(), event.body), ("Nope.Nope", json!({"A": 1}))),
        other => panic!("an unknown command decoded as {other:?}"),
    }
    assert!(Event::from_json("Nope.Nope", b"not json").is_err());
    assert_eq!(Command::DemoAfterThing.dedup_field(), Some("Name"), "from `x-callback.dedupKey`");
    assert_eq!(Command::OtherStateChange.dedup_field(), None);
    let reply = |decision: StateChangeDecision| serde_json::to_value(StateChangeReply::from(decision)).unwrap();
    assert_eq!(reply(StateChangeDecision::Allow), json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}));
    assert_eq!(reply(StateChangeDecision::Refuse), json!({"ActionStatus": "OK", "ErrorCode": 1, "ErrorInfo": ""}));
    assert_eq!(reply(StateChangeDecision::Drop), json!({"ActionStatus": "OK", "ErrorCode": 2, "ErrorInfo": ""}));
    let changes = StateChangeChanges::default().note("n".into());
    assert_eq!(reply(StateChangeDecision::Modify(changes))["Note"], "n");
    let answer = StateChangeAnswer::default().refused(vec!["u".into()]);
    assert_eq!(reply(StateChangeDecision::AllowWith(answer))["Refused"], json!(["u"]));
    let coded = StateChangeDecision::refuse_with(150, "not now").unwrap();
    assert_eq!(reply(coded), json!({"ActionStatus": "OK", "ErrorCode": 150, "ErrorInfo": "not now"}));
    assert_eq!(StateChangeDecision::refuse_with(201, "").unwrap_err().max, 200);
}

#[test]
fn a_tagged_union_reads_its_tag_and_keeps_unknown_content() {
    let parts: Vec<Part> = serde_json::from_value(json!([
        {"Kind": "text", "Body": {"Text": "hi"}},
        {"Body": 7, "Kind": "count"},
        {"Kind": "picture", "Body": {"Url": "u"}, "Extra": 1},
        {"Kind": "count", "Body": 8, "Ignored": [1]}
    ]))
    .unwrap();
    assert_eq!(parts[0], Part::Text(PartText { text: "hi".into() }));
    assert_eq!(parts[1], Part::Count(7), "content before the tag is buffered");
    assert_eq!(parts[2], Part::Other { kind: "picture".into(), body: json!({"Url": "u"}) });
    assert_eq!(parts[3].tag(), "count");
    assert_eq!(
        serde_json::to_value(&parts[..3]).unwrap(),
        json!([{"Kind": "text", "Body": {"Text": "hi"}}, {"Kind": "count", "Body": 7}, {"Kind": "picture", "Body": {"Url": "u"}}])
    );

    // The tag decides the type; the content's shape is never guessed from.
    let wrong = serde_json::from_value::<Part>(json!({"Kind": "count", "Body": {"Text": "hi"}})).unwrap_err();
    assert!(wrong.to_string().contains("invalid type: map, expected u64"), "{wrong}");
    let untagged = serde_json::from_value::<Part>(json!({"Body": 1})).unwrap_err();
    assert!(untagged.to_string().contains("missing field `Kind`"), "{untagged}");
}
