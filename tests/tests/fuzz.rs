//! Property-based fuzzing of the dispatcher's entry point, on the stable toolchain: query strings
//! and bodies derived from the vendor fixtures by random mutations. Whatever the input, the
//! dispatcher returns (never panics) a reply with a documented status and a JSON body in the
//! vendor's format, and an unmutated fixture is always accepted.
//!
//! The number of cases is bounded: `FUZZ_CASES` (default 20 000), so CI spends a few seconds here.
//! Run longer with e.g. `FUZZ_CASES=200000 cargo test -p tests --test fuzz --release`.

use std::time::{Duration, UNIX_EPOCH};

use futures_util::FutureExt;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use tencent_chat_callbacks::{Context, Dispatcher, Event, UnhandledEvent, c2c, group, profile, push};
use tests::{APP_ID, Fixture, TOKEN, fixtures, signed_query};

const NOW: u64 = 1_700_000_000;

fn dispatcher() -> Dispatcher {
    Dispatcher::builder()
        .app_id(APP_ID)
        .token(TOKEN)
        .clock(|| UNIX_EPOCH + Duration::from_secs(NOW))
        .max_body_bytes(64 * 1024)
        .on::<c2c::BeforeSendMsg, _>(|event: c2c::BeforeSendMsg, _: Context| async move {
            if event.msg_body.is_empty() {
                c2c::BeforeSendMsgDecision::Refuse
            } else {
                c2c::BeforeSendMsgDecision::Allow
            }
        })
        .on::<group::AfterCreateGroup, _>(|_: group::AfterCreateGroup, _: Context| async {})
        .on::<push::OfflinePush, _>(|_: push::OfflinePush, _: Context| async {})
        .on::<profile::PortraitSet, _>(|_: profile::PortraitSet, _: Context| async {})
        // Every other command is decoded through `Event` too, to look for panics there; what it
        // cannot decode is this handler's business, not the dispatcher's, so it is not an error.
        .fallback(|_: UnhandledEvent, ctx: Context| async move {
            let _ = Event::from_json(ctx.command(), ctx.raw_body());
        })
        .build()
        .unwrap()
}

/// One change to a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bits: u8 },
    Delete { at: usize, len: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Truncate { at: usize },
    Duplicate { at: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let json_ish = prop::sample::select(b"{}[]\",:0123456789-.eE \\/tfnul\x00\xff\xc3".to_vec());
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, bits)| Mutation::Flip { at, bits }),
        (any::<usize>(), 1usize..16).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), prop::collection::vec(json_ish, 1..8)).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let n = bytes.len().max(1);
        match m {
            Mutation::Flip { at, bits } => {
                if !bytes.is_empty() {
                    bytes[at % n] ^= bits;
                }
            }
            Mutation::Delete { at, len } => {
                let start = (at % n).min(bytes.len());
                let end = (start + len).min(bytes.len());
                bytes.drain(start..end);
            }
            Mutation::Insert { at, bytes: new } => {
                let at = (at % n).min(bytes.len());
                bytes.splice(at..at, new.iter().copied());
            }
            Mutation::Truncate { at } => bytes.truncate(at % n),
            Mutation::Duplicate { at, len } => {
                let start = (at % n).min(bytes.len());
                let end = (start + len).min(bytes.len());
                let copy = bytes[start..end].to_vec();
                bytes.splice(end..end, copy);
            }
        }
    }
    bytes
}

/// A fixture's signed query and body, each mutated or not.
fn request(fixtures: Vec<Fixture>) -> impl Strategy<Value = (String, Vec<u8>, bool)> {
    let count = fixtures.len();
    (0..count, prop::collection::vec(mutation(), 0..4), prop::collection::vec(mutation(), 0..3), any::<bool>())
        .prop_map(move |(i, body_mutations, query_mutations, mutate_query)| {
            let fixture = &fixtures[i];
            let query = signed_query(&fixture.command, NOW);
            let query_mutations = if mutate_query { query_mutations } else { Vec::new() };
            let pristine = body_mutations.is_empty() && query_mutations.is_empty();
            let query = String::from_utf8_lossy(&apply(query.into_bytes(), &query_mutations)).into_owned();
            (query, apply(fixture.sample.clone(), &body_mutations), pristine)
        })
}

#[test]
fn any_mutation_of_a_vendor_request_gets_a_well_formed_reply() {
    let cases = std::env::var("FUZZ_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(20_000);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let dispatcher = dispatcher();
    runner
        .run(&request(fixtures()), |(query, body, pristine)| {
            let reply =
                dispatcher.dispatch(&query, body.clone().into()).now_or_never().expect("the handlers never wait");
            prop_assert!(
                [200, 400, 401, 403, 413].contains(&reply.status.as_u16()),
                "status {} for {query:?}",
                reply.status
            );
            let json: Value = serde_json::from_slice(&reply.body).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let status = json["ActionStatus"].as_str().unwrap_or_default();
            prop_assert!(status == "OK" || status == "FAIL", "{json}");
            prop_assert!(json["ErrorCode"].is_i64() && json["ErrorInfo"].is_string(), "{json}");
            prop_assert_eq!(status == "OK", reply.status == 200, "{}", json);
            if pristine {
                prop_assert_eq!(reply.status, 200, "a vendor sample was refused: {}", json);
            }
            Ok(())
        })
        .unwrap();
}
