//! `dedup::RedisStore` against a real `redis-server` that the test starts on a free port (skipped
//! with a notice when `redis-server` is missing, unless `CONSUMER_CHECKS=required`).

#![cfg(feature = "redis")]

use std::sync::Arc;
use std::time::Duration;

use tencent_chat_callbacks::dedup::{Claim, DedupStore, Lease, RedisStore};
use tests::servers::RedisServer;

const TTL: Duration = Duration::from_secs(60);

async fn claimed(store: &RedisStore, key: &str) -> Lease {
    match store.claim(key, TTL).await.expect("redis answers") {
        Claim::Claimed(lease) => lease,
        other => panic!("{key}: expected a claim, got {other:?}"),
    }
}

tests::needs! { [redis]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn claim_complete_release_and_ownership_on_a_real_server() {
        let server = RedisServer::start();
        let store = RedisStore::connect(&server.url()).await.expect("connected");

        // claim → in flight → complete → done.
        let lease = claimed(&store, "a").await;
        assert_eq!(store.claim("a", TTL).await.unwrap(), Claim::InFlight);
        store.complete(&lease, TTL).await.unwrap();
        assert_eq!(store.claim("a", TTL).await.unwrap(), Claim::Done);

        // claim → release → claimable again.
        let lease = claimed(&store, "b").await;
        store.release(&lease).await.unwrap();
        let lease = claimed(&store, "b").await;

        // A stale lease (its key released and claimed again) cannot release or complete the new claim.
        store.release(&lease).await.unwrap();
        let fresh = claimed(&store, "b").await;
        store.release(&lease).await.unwrap();
        store.complete(&lease, TTL).await.unwrap();
        assert_eq!(store.claim("b", TTL).await.unwrap(), Claim::InFlight);
        store.complete(&fresh, TTL).await.unwrap();
        assert_eq!(store.claim("b", TTL).await.unwrap(), Claim::Done);

        // Keys carry the TTL as their expiry, so Redis forgets them itself.
        let client = redis::Client::open(server.url()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        let ttl: i64 = redis::cmd("PTTL").arg("dedup:a").query_async(&mut connection).await.unwrap();
        assert!(ttl > 0 && ttl <= 60_000, "PTTL dedup:a = {ttl}");
        let value: String = redis::cmd("GET").arg("dedup:a").query_async(&mut connection).await.unwrap();
        assert_eq!(value, "done");
    }
}

tests::needs! { [redis]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_claim_expires() {
        let server = RedisServer::start();
        let store = RedisStore::with_prefix(
            redis::aio::ConnectionManager::new(redis::Client::open(server.url()).unwrap()).await.unwrap(),
            "test:",
        );
        let Claim::Claimed(_abandoned) = store.claim("k", Duration::from_millis(50)).await.unwrap() else {
            panic!("first claim")
        };
        // Redis expires the key on its own clock; poll instead of asserting on elapsed time.
        let mut claimed_again = false;
        for _ in 0..200 {
            if let Claim::Claimed(_) = store.claim("k", TTL).await.unwrap() {
                claimed_again = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(claimed_again, "the abandoned claim never expired");
    }
}

tests::needs! { [redis]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_claims_of_one_key_have_one_winner() {
        let server = RedisServer::start();
        let store = Arc::new(RedisStore::connect(&server.url()).await.expect("connected"));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.claim("contended", TTL).await.unwrap() })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            if let Claim::Claimed(_) = task.await.unwrap() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1);
    }
}

tests::needs! { [redis]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_down_is_an_error_and_the_store_recovers_after_a_restart() {
        let mut server = RedisServer::start();
        let store = RedisStore::connect(&server.url()).await.expect("connected");
        let lease = claimed(&store, "kept").await;
        store.complete(&lease, TTL).await.unwrap();

        server.kill();
        assert!(store.claim("x", TTL).await.is_err(), "a claim while Redis is down fails");
        server.restart();
        // The connection manager reconnects in the background; the first calls may still fail.
        let mut answer = None;
        for _ in 0..100 {
            if let Ok(claim) = store.claim("kept", TTL).await {
                answer = Some(claim);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(answer, Some(Claim::Done), "the completed key survived the restart (append-only file)");
    }
}
