//! Before-callbacks answer with typed decisions; each kind is checked in the reply body the
//! dispatcher sends, which is what the vendor reads.

use serde_json::{Value, json};
use tencent_chat_callbacks::common::{MsgBodyElement, TextContent};
use tencent_chat_callbacks::{Context, Dispatcher, c2c, group, official_account, sns};
use tests::fixtures;

fn sample(command: &str) -> Vec<u8> {
    fixtures().into_iter().find(|f| f.command == command).unwrap().sample
}

async fn reply(dispatcher: &Dispatcher, command: &str, body: Vec<u8>) -> (u16, Value) {
    let reply = dispatcher.dispatch(&format!("SdkAppid=1&CallbackCommand={command}"), body.into()).await;
    (reply.status.as_u16(), serde_json::from_slice(&reply.body).unwrap())
}

const C2C_SEND: &str = "C2C.CallbackBeforeSendMsg";

/// A moderation handler: rewrites a word, refuses or drops some messages, and passes an app code.
async fn moderate(event: c2c::BeforeSendMsg, _ctx: Context) -> c2c::BeforeSendMsgDecision {
    let text = match event.msg_body.first() {
        Some(MsgBodyElement::Text(content)) => content.text.clone(),
        _ => return c2c::BeforeSendMsgDecision::Allow,
    };
    match text.as_str() {
        "spam" => c2c::BeforeSendMsgDecision::Refuse,
        "noise" => c2c::BeforeSendMsgDecision::Drop,
        "banned" => c2c::BeforeSendMsgDecision::refuse_with(120099, "you are muted").unwrap(),
        _ if text.contains("red packet") => c2c::BeforeSendMsgDecision::Modify(
            c2c::BeforeSendMsgChanges::default()
                .msg_body(vec![MsgBodyElement::Text(TextContent::new(text.replace("red packet", "[gift]")))]),
        ),
        _ => c2c::BeforeSendMsgDecision::Allow,
    }
}

fn with_text(text: &str) -> Vec<u8> {
    let mut body: Value = serde_json::from_slice(&sample(C2C_SEND)).unwrap();
    body["MsgBody"][0]["MsgContent"]["Text"] = json!(text);
    serde_json::to_vec(&body).unwrap()
}

#[tokio::test]
async fn a_c2c_message_can_be_rewritten_refused_dropped_or_refused_with_a_code() {
    let dispatcher = Dispatcher::builder().accept_any_app_id().on(moderate).build().unwrap();

    // The vendor's sample says "red packet": the reply carries the rewritten body with ErrorCode 0,
    // the only code with which the vendor applies a change.
    let (status, body) = reply(&dispatcher, C2C_SEND, sample(C2C_SEND)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "",
            "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "[gift]"}}]
        })
    );
    let cases = [
        ("hello", json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})),
        ("spam", json!({"ActionStatus": "OK", "ErrorCode": 1, "ErrorInfo": ""})),
        ("noise", json!({"ActionStatus": "OK", "ErrorCode": 2, "ErrorInfo": ""})),
        ("banned", json!({"ActionStatus": "OK", "ErrorCode": 120099, "ErrorInfo": "you are muted"})),
    ];
    for (text, expected) in cases {
        assert_eq!(reply(&dispatcher, C2C_SEND, with_text(text)).await, (200, expected), "{text}");
    }
}

#[test]
fn app_codes_outside_the_documented_range_cannot_be_built() {
    let error = c2c::BeforeSendMsgDecision::refuse_with(20006, "").unwrap_err();
    assert_eq!((error.min, error.max), (120001, 130000));
    assert!(group::BeforeSendMsgDecision::refuse_with(10100, "").is_ok());
    assert!(group::BeforeSendMsgDecision::refuse_with(10201, "").is_err());
}

#[tokio::test]
async fn a_before_callback_without_a_handler_is_allowed() {
    let dispatcher = Dispatcher::builder().accept_any_app_id().build().unwrap();
    for fixture in fixtures() {
        let (status, body) = reply(&dispatcher, &fixture.command, fixture.sample).await;
        assert_eq!(
            (status, body),
            (200, json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})),
            "{}",
            fixture.command
        );
    }
}

#[tokio::test]
async fn per_command_answers_reach_the_reply() {
    let dispatcher = Dispatcher::builder()
        .accept_any_app_id()
        .on::<group::BeforeInviteJoinGroup, _>(|event: group::BeforeInviteJoinGroup, _: Context| async move {
            let first = event.destination_members.first().map(|m| m.member_account.clone());
            group::BeforeInviteJoinGroupDecision::AllowWith(
                group::BeforeInviteJoinGroupAnswer::default().refused_members_account(first.into_iter().collect()),
            )
        })
        .on::<official_account::BeforeAddSubscriber, _>(|_: official_account::BeforeAddSubscriber, _: Context| async {
            official_account::BeforeAddSubscriberDecision::AllowWith(
                official_account::BeforeAddSubscriberAnswer::default()
                    .refused_subscribers_account(vec!["troll".into()]),
            )
        })
        .on::<sns::PrevFriendAdd, _>(|event: sns::PrevFriendAdd, _: Context| async move {
            let results = event
                .friend_item
                .iter()
                .map(|item| {
                    let code = if item.to_account == "Peter" { 38001 } else { 0 };
                    sns::PrevFriendAddResultItem::new(item.to_account.clone(), code, String::new())
                })
                .collect();
            sns::PrevFriendAddDecision::AllowWith(sns::PrevFriendAddAnswer::default().result_item(results))
        })
        .on::<group::BeforeCreateGroup, _>(|_: group::BeforeCreateGroup, _: Context| async {
            group::BeforeCreateGroupDecision::refuse_with(10150, "quota used up")
        })
        .build()
        .unwrap();

    let (_, invite) =
        reply(&dispatcher, "Group.CallbackBeforeInviteJoinGroup", sample("Group.CallbackBeforeInviteJoinGroup")).await;
    assert_eq!(invite["ErrorCode"], 0);
    assert_eq!(invite["RefusedMembers_Account"].as_array().unwrap().len(), 1, "{invite}");

    let (_, subscribe) = reply(
        &dispatcher,
        "OfficialAccount.CallbackBeforeAddSubscriber",
        sample("OfficialAccount.CallbackBeforeAddSubscriber"),
    )
    .await;
    assert_eq!(
        subscribe,
        json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "RefusedSubscribers_Account": ["troll"]})
    );

    let (_, friends) = reply(&dispatcher, "Sns.CallbackPrevFriendAdd", sample("Sns.CallbackPrevFriendAdd")).await;
    assert_eq!(friends["ErrorCode"], 0);
    let items = friends["ResultItem"].as_array().unwrap();
    assert!(!items.is_empty(), "{friends}");
    assert!(items.iter().all(|i| i["ResultCode"] == 0 || i["ResultCode"] == 38001), "{friends}");

    let (status, create) =
        reply(&dispatcher, "Group.CallbackBeforeCreateGroup", sample("Group.CallbackBeforeCreateGroup")).await;
    assert_eq!(
        (status, create),
        (200, json!({"ActionStatus": "OK", "ErrorCode": 10150, "ErrorInfo": "quota used up"}))
    );
}
