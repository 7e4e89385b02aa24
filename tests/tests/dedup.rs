//! Idempotency through the dispatcher: an after-callback's handler runs once per event, across
//! deliveries and across replicas sharing a Redis store; a failure releases the event for the
//! retry; before-callbacks are never deduplicated.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use tencent_chat_callbacks::dedup::{Deduplicator, MemoryStore, RedisStore};
use tencent_chat_callbacks::{Context, Dispatcher, c2c, group};
use tests::servers::RedisServer;
use tests::{APP_ID, TOKEN, fixtures, now, signed_query};

const CREATE: &str = "Group.CallbackAfterCreateGroup";

fn body(command: &str, name: &str) -> bytes::Bytes {
    let mut body = fixtures().into_iter().find(|f| f.command == command).unwrap().sample_json();
    body["Name"] = json!(name);
    serde_json::to_vec(&body).unwrap().into()
}

/// A dispatcher counting its group-creation handler's runs; a group named `fail` fails while
/// `failing` is set, one named `slow` takes a second.
fn replica(dedup: Deduplicator, runs: Arc<AtomicUsize>, failing: Arc<AtomicUsize>) -> Dispatcher {
    Dispatcher::builder()
        .app_id(APP_ID)
        .token(TOKEN)
        .handler_deadline(Duration::from_secs(5))
        .dedup(dedup)
        .on(move |event: group::AfterCreateGroup, _: Context| {
            let (runs, failing) = (runs.clone(), failing.clone());
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                if event.name == "slow" {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                if event.name == "fail" && failing.load(Ordering::SeqCst) > 0 {
                    return Err("the database is down");
                }
                Ok(())
            }
        })
        .on(|_: c2c::BeforeSendMsg| async { c2c::BeforeSendMsgDecision::Allow })
        .build()
        .unwrap()
}

async fn status(dispatcher: &Dispatcher, command: &str, body: bytes::Bytes) -> u16 {
    dispatcher.dispatch(&signed_query(command, now()), body).await.status.as_u16()
}

#[tokio::test]
async fn a_redelivered_event_runs_once_and_a_failed_one_runs_again() {
    let (runs, failing) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(1)));
    let dispatcher = replica(Deduplicator::new(MemoryStore::default()), runs.clone(), failing.clone());

    assert_eq!(status(&dispatcher, CREATE, body(CREATE, "once")).await, 200);
    assert_eq!(status(&dispatcher, CREATE, body(CREATE, "once")).await, 200, "the duplicate is acknowledged");
    assert_eq!(runs.load(Ordering::SeqCst), 1, "…without running the handler again");

    assert_eq!(status(&dispatcher, CREATE, body(CREATE, "fail")).await, 500);
    failing.store(0, Ordering::SeqCst);
    assert_eq!(status(&dispatcher, CREATE, body(CREATE, "fail")).await, 200, "the retry runs: the failure released it");
    assert_eq!(status(&dispatcher, CREATE, body(CREATE, "fail")).await, 200);
    assert_eq!(runs.load(Ordering::SeqCst), 3);

    // Before-callbacks ask for a fresh decision each time.
    let message = fixtures().into_iter().find(|f| f.command == "C2C.CallbackBeforeSendMsg").unwrap().sample;
    for _ in 0..2 {
        assert_eq!(status(&dispatcher, "C2C.CallbackBeforeSendMsg", message.clone().into()).await, 200);
    }
}

#[tokio::test]
async fn a_delivery_while_the_first_still_runs_gets_409() {
    let runs = Arc::new(AtomicUsize::new(0));
    let dispatcher = replica(Deduplicator::new(MemoryStore::default()), runs.clone(), Arc::default());
    let first = {
        let dispatcher = dispatcher.clone();
        tokio::spawn(async move { status(&dispatcher, CREATE, body(CREATE, "slow")).await })
    };
    while runs.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    assert_eq!(status(&dispatcher, CREATE, body(CREATE, "slow")).await, 409, "the vendor retries later");
    assert_eq!(first.await.unwrap(), 200);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

tests::needs! { [redis]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_replicas_on_one_redis_run_an_event_once() {
        let server = RedisServer::start();
        let runs = Arc::new(AtomicUsize::new(0));
        let mut replicas = Vec::new();
        for _ in 0..2 {
            let store = RedisStore::connect(&server.url()).await.expect("redis answers");
            replicas.push(replica(Deduplicator::new(store), runs.clone(), Arc::default()));
        }
        for n in 0..20 {
            let name = format!("group-{n}");
            // The vendor's retry lands on the other replica.
            assert_eq!(status(&replicas[n % 2], CREATE, body(CREATE, &name)).await, 200);
            assert_eq!(status(&replicas[(n + 1) % 2], CREATE, body(CREATE, &name)).await, 200);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 20);
    }
}
