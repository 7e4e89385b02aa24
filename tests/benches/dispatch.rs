//! What the typed layer costs, per seed callback, measured in one run (see BENCHMARKS.md):
//!
//! - `floor`: `serde_json::from_slice` of the generated struct alone;
//! - `dispatch`: the whole dispatcher: query parsing, signature and clock check, decoding,
//!   a handler, and the encoded reply;
//! - `dispatch_without_token`: the same without webhook authentication;
//! - `untyped`: `serde_json::Value` plus `jsonschema` validation against the published schema.
//!
//! Run with: cargo bench -p tests --bench dispatch && python3 tests/benches/ratios.py

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tencent_chat_callbacks::{Callback, Context, Dispatcher, group, official_account};
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

fn bench_command<C: Callback + DeserializeOwned>(c: &mut Criterion, dispatcher: &Dispatcher) {
    let fixture = fixtures().into_iter().find(|f| f.command == C::COMMAND).unwrap();
    let body = bytes::Bytes::from(fixture.sample.clone());
    let query = signed_query(C::COMMAND, NOW);
    let schema: Value = serde_json::from_slice(
        &std::fs::read(workspace_root().join(format!("schema/dist/commands/{}.schema.json", C::COMMAND))).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert_eq!(dispatcher.dispatch(&query, body.clone()).now_or_never().unwrap().status, 200);

    let mut group = c.benchmark_group(C::COMMAND);
    group.bench_function("floor", |b| b.iter(|| serde_json::from_slice::<C>(black_box(&body)).unwrap()));
    group.bench_function("dispatch", |b| {
        b.iter(|| dispatcher.dispatch(black_box(&query), black_box(body.clone())).now_or_never().unwrap())
    });
    let unsigned = format!(
        "SdkAppid={APP_ID}&CallbackCommand={}&contenttype=json&ClientIP=203.0.113.7&OptPlatform=iOS",
        C::COMMAND
    );
    let without_token = without_token();
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
}

criterion_group! {
    name = dispatch;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(dispatch);
