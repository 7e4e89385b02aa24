//! What the typed layer costs, per seed callback, measured in one run (see BENCHMARKS.md):
//!
//! - `floor`: `serde_json::from_slice` of the generated struct alone;
//! - `dispatch`: the whole dispatcher: query parsing, signature and clock check, decoding,
//!   a handler, and the encoded reply;
//! - `dispatch_without_token`: the same without webhook authentication;
//! - `untyped`: `serde_json::Value` plus `jsonschema` validation against the published schema.
//!
//! The seed callbacks are rare group-admin events; the traffic that matters is messages, so the
//! four message callbacks (C2C and group, before and after sending) are measured too, with a
//! body as apps send them: a text, a custom and an image element, and `CloudCustomData`.
//!
//! Run with: cargo bench -p tests --bench dispatch && python3 tests/benches/ratios.py

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tencent_chat_callbacks::{
    Callback, Context, Dispatcher, DispatcherBuilder, IntoReply, c2c, group, official_account,
};
use tests::{APP_ID, TOKEN, fixtures, signed_query, workspace_root};

const NOW: u64 = 1_700_000_000;

/// The same handlers, without webhook authentication.
fn without_token() -> Dispatcher {
    Dispatcher::builder()
        .app_id(APP_ID)
        .on::<group::AfterCreateGroup, _>(|e: group::AfterCreateGroup, _: Context| async move {
            black_box(e);
        })
        .on::<group::AfterChangeGroupOwner, _>(|e: group::AfterChangeGroupOwner, _: Context| async move {
            black_box(e);
        })
        .on::<group::AfterGroupInfoChanged, _>(|e: group::AfterGroupInfoChanged, _: Context| async move {
            black_box(e);
        })
        .on::<group::AfterGroupAttrChanged, _>(|e: group::AfterGroupAttrChanged, _: Context| async move {
            black_box(e);
        })
        .on::<official_account::AfterOfficialAccountInfoChanged, _>(
            |e: official_account::AfterOfficialAccountInfoChanged, _: Context| async move {
                black_box(e);
            },
        )
        .build()
        .unwrap()
}

fn dispatcher() -> Dispatcher {
    fn noop<C: Callback>(
        builder: tencent_chat_callbacks::DispatcherBuilder,
    ) -> tencent_chat_callbacks::DispatcherBuilder
    where
        (): tencent_chat_callbacks::IntoReply<C::Reply>,
    {
        builder.on::<C, _>(|event: C, _: Context| async move {
            black_box(event);
        })
    }
    let builder = Dispatcher::builder().app_id(APP_ID).token(TOKEN).clock(|| UNIX_EPOCH + Duration::from_secs(NOW));
    let builder = noop::<group::AfterCreateGroup>(builder);
    let builder = noop::<group::AfterChangeGroupOwner>(builder);
    let builder = noop::<group::AfterGroupInfoChanged>(builder);
    let builder = noop::<group::AfterGroupAttrChanged>(builder);
    let builder = noop::<official_account::AfterOfficialAccountInfoChanged>(builder);
    builder.build().unwrap()
}

/// A message body as apps send them: text, custom data and an image, with `CloudCustomData`.
fn message_body(command: &str) -> Vec<u8> {
    let fixture = fixtures().into_iter().find(|f| f.command == command).unwrap();
    let mut body = fixture.sample_json();
    body["MsgBody"] = serde_json::json!([
        {"MsgType": "TIMTextElem", "MsgContent": {"Text": "Are we still on for dinner at 7? I booked the place near the station."}},
        {"MsgType": "TIMCustomElem", "MsgContent": {
            "Data": "{\"type\":\"order\",\"id\":\"A-20261202-0042\",\"amount\":129.5}",
            "Desc": "order card", "Ext": "v2", "Sound": ""}},
        {"MsgType": "TIMImageElem", "MsgContent": {
            "UUID": "1853095_D61040894AC3DE44CDFFFB3EC7EB720F",
            "ImageFormat": 1,
            "ImageInfoArray": [
                {"Type": 1, "Size": 1853095, "Width": 2448, "Height": 3264, "URL": "https://example.com/img/origin.jpg"},
                {"Type": 2, "Size": 0, "Width": 720, "Height": 960, "URL": "https://example.com/img/large.jpg"},
                {"Type": 3, "Size": 0, "Width": 150, "Height": 200, "URL": "https://example.com/img/thumb.jpg"}
            ]}}
    ]);
    body["CloudCustomData"] = serde_json::json!("{\"replyTo\":\"msg-8812\",\"mentions\":[\"user7\"]}");
    serde_json::to_vec(&body).unwrap()
}

/// `builder` with a handler for `C` that answers what `answer` gives.
fn with<C: Callback, R: IntoReply<C::Reply> + Send + 'static>(
    builder: DispatcherBuilder,
    answer: fn() -> R,
) -> DispatcherBuilder {
    builder.on::<C, _>(move |event: C, _: Context| async move {
        black_box(event);
        answer()
    })
}

/// A dispatcher for the message callbacks, with or without a token.
fn messages(token: bool) -> Dispatcher {
    let mut builder = Dispatcher::builder().app_id(APP_ID).clock(|| UNIX_EPOCH + Duration::from_secs(NOW));
    if token {
        builder = builder.token(TOKEN);
    }
    let builder = with::<c2c::BeforeSendMsg, _>(builder, || c2c::BeforeSendMsgDecision::Allow);
    let builder = with::<c2c::AfterSendMsg, _>(builder, || ());
    let builder = with::<group::BeforeSendMsg, _>(builder, || group::BeforeSendMsgDecision::Allow);
    let builder = with::<group::AfterSendMsg, _>(builder, || ());
    builder.build().unwrap()
}

fn bench_command<C: Callback + DeserializeOwned>(c: &mut Criterion, dispatcher: &Dispatcher) {
    let fixture = fixtures().into_iter().find(|f| f.command == C::COMMAND).unwrap();
    bench_body::<C>(c, C::COMMAND, fixture.sample.clone(), dispatcher, &without_token());
}

fn bench_message<C: Callback + DeserializeOwned>(c: &mut Criterion, signed: &Dispatcher, unsigned: &Dispatcher) {
    bench_body::<C>(c, &format!("{} (message)", C::COMMAND), message_body(C::COMMAND), signed, unsigned);
}

fn bench_body<C: Callback + DeserializeOwned>(
    c: &mut Criterion,
    name: &str,
    body: Vec<u8>,
    dispatcher: &Dispatcher,
    without_token: &Dispatcher,
) {
    let body = bytes::Bytes::from(body);
    let query = signed_query(C::COMMAND, NOW);
    let schema: Value = serde_json::from_slice(
        &std::fs::read(workspace_root().join(format!("schema/dist/commands/{}.schema.json", C::COMMAND))).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert_eq!(dispatcher.dispatch(&query, body.clone()).now_or_never().unwrap().status, 200);

    let mut group = c.benchmark_group(name);
    group.bench_function("floor", |b| b.iter(|| serde_json::from_slice::<C>(black_box(&body)).unwrap()));
    group.bench_function("dispatch", |b| {
        b.iter(|| dispatcher.dispatch(black_box(&query), black_box(body.clone())).now_or_never().unwrap())
    });
    let unsigned = format!(
        "SdkAppid={APP_ID}&CallbackCommand={}&contenttype=json&ClientIP=203.0.113.7&OptPlatform=iOS",
        C::COMMAND
    );
    assert_eq!(without_token.dispatch(&unsigned, body.clone()).now_or_never().unwrap().status, 200);
    group.bench_function("dispatch_without_token", |b| {
        b.iter(|| without_token.dispatch(black_box(&unsigned), black_box(body.clone())).now_or_never().unwrap())
    });
    group.bench_function("untyped", |b| {
        b.iter(|| {
            let value: Value = serde_json::from_slice(black_box(&body)).unwrap();
            assert!(validator.is_valid(&value));
            value
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let dispatcher = dispatcher();
    bench_command::<group::AfterCreateGroup>(c, &dispatcher);
    bench_command::<group::AfterChangeGroupOwner>(c, &dispatcher);
    bench_command::<group::AfterGroupInfoChanged>(c, &dispatcher);
    bench_command::<group::AfterGroupAttrChanged>(c, &dispatcher);
    bench_command::<official_account::AfterOfficialAccountInfoChanged>(c, &dispatcher);
    let (signed, unsigned) = (messages(true), messages(false));
    bench_message::<c2c::BeforeSendMsg>(c, &signed, &unsigned);
    bench_message::<c2c::AfterSendMsg>(c, &signed, &unsigned);
    bench_message::<group::BeforeSendMsg>(c, &signed, &unsigned);
    bench_message::<group::AfterSendMsg>(c, &signed, &unsigned);
}

criterion_group! {
    name = dispatch;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(dispatch);
