//! The dispatcher's fixed cost per request in instructions, which load does not change: run under
//! callgrind, each mode makes the same requests, so the difference of two modes' totals divided
//! by the number of requests is what the dispatcher adds to decoding the body.
//!
//! ```sh
//! tests/benches/instructions.sh    # builds this, runs each mode under callgrind, prints per request
//! ```
//!
//! Modes: `floor` (`serde_json::from_slice` of `group::AfterChangeGroupOwner`), `dispatch` (the
//! whole dispatcher with a token), `dispatch-without-token`, `setup` (the same set-up, no
//! requests: subtracted from the others).

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use futures_util::FutureExt;
use tencent_chat_callbacks::{Context, Dispatcher, group};
use tests::{APP_ID, TOKEN, fixtures, signed_query};

const NOW: u64 = 1_700_000_000;

fn dispatcher(token: bool) -> Dispatcher {
    let mut builder = Dispatcher::builder().app_id(APP_ID).clock(|| UNIX_EPOCH + Duration::from_secs(NOW));
    if token {
        builder = builder.token(TOKEN);
    }
    builder
        .on::<group::AfterChangeGroupOwner, _>(|e: group::AfterChangeGroupOwner, _: Context| async move {
            black_box(e);
        })
        .build()
        .unwrap()
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let mode = args.next().unwrap_or_else(|| "dispatch".into());
    let requests: usize = args.next().map_or(10_000, |n| n.parse().expect("a number of requests"));
    let command = "Group.CallbackAfterChangeGroupOwner";
    let body = bytes::Bytes::from(fixtures().into_iter().find(|f| f.command == command).unwrap().sample);
    let signed = signed_query(command, NOW);
    let unsigned =
        format!("SdkAppid={APP_ID}&CallbackCommand={command}&contenttype=json&ClientIP=203.0.113.7&OptPlatform=iOS");
    let (with_token, without_token) = (dispatcher(true), dispatcher(false));
    let dispatch = |d: &Dispatcher, query: &str| {
        let reply = d.dispatch(black_box(query), black_box(body.clone())).now_or_never().unwrap();
        assert_eq!(reply.status, 200);
    };
    // One request each before counting, so that lazily initialised state is not in the totals.
    dispatch(&with_token, &signed);
    dispatch(&without_token, &unsigned);
    for _ in 0..requests {
        match mode.as_str() {
            "floor" => {
                drop(black_box(serde_json::from_slice::<group::AfterChangeGroupOwner>(black_box(&body)).unwrap()))
            }
            "dispatch" => dispatch(&with_token, &signed),
            "dispatch-without-token" => dispatch(&without_token, &unsigned),
            "setup" => {}
            other => panic!("unknown mode {other}: floor, dispatch, dispatch-without-token, setup"),
        }
    }
}
