//! Requests per second over loopback HTTP: the axum adapter (signature check, typed decoding, a
//! handler, the vendor's reply) against two baselines with the same load generator in the same
//! run: a bare axum handler that only parses the same JSON into the same struct, and a constant
//! answer that does not even read the body (the limit of the HTTP stack and the load generator on
//! this machine). Rounds alternate between the three so that drift on a busy machine affects all
//! (see BENCHMARKS.md).
//!
//! Run with: cargo bench -p tests --bench http        (ROUNDS and SECONDS adjust the run)

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tencent_chat_callbacks::{Context, Dispatcher, group};
use tests::{APP_ID, TOKEN, fixtures, now, signed_query};

const COMMAND: &str = "Group.CallbackAfterChangeGroupOwner";
const CONNECTIONS: usize = 32;

/// The bare floor: parse the body into the generated struct and answer the fixed JSON.
async fn bare(RawQuery(_query): RawQuery, body: Bytes) -> impl IntoResponse {
    match serde_json::from_slice::<group::AfterChangeGroupOwner>(&body) {
        Ok(event) => {
            std::hint::black_box(event);
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                r#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}"#,
            )
        }
        Err(_) => (StatusCode::BAD_REQUEST, [("content-type", "application/json")], r#"{"ActionStatus":"FAIL"}"#),
    }
}

/// The limit of the stack: the fixed OK JSON, the body never read.
async fn constant() -> impl IntoResponse {
    (StatusCode::OK, [("content-type", "application/json")], r#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}"#)
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

/// Requests per second from `CONNECTIONS` concurrent senders during `seconds`.
async fn load(address: SocketAddr, body: Bytes, seconds: f64) -> f64 {
    let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(CONNECTIONS).build_http::<Full<Bytes>>();
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (client, body, done, stop) = (client.clone(), body.clone(), done.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    // Signed per request, as the vendor does; the same for both servers.
                    let uri = format!("http://{address}/callback?{}", signed_query(COMMAND, now()));
                    let request = hyper::Request::post(uri).body(Full::new(body.clone())).unwrap();
                    let response = client.request(request).await.expect("the server answers");
                    assert_eq!(response.status(), 200);
                    response.into_body().collect().await.unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let seconds: f64 = std::env::var("SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let body = Bytes::from(fixtures().into_iter().find(|f| f.command == COMMAND).unwrap().sample);
        let dispatcher = Dispatcher::builder()
            .app_id(APP_ID)
            .token(TOKEN)
            .on::<group::AfterChangeGroupOwner, _>(|event: group::AfterChangeGroupOwner, _: Context| async move {
                std::hint::black_box(event);
            })
            .build()
            .unwrap();
        let adapter = serve(tencent_chat_callbacks::axum::router("/callback", dispatcher)).await;
        let floor = serve(Router::new().route("/callback", post(bare))).await;
        let limit = serve(Router::new().route("/callback", post(constant))).await;

        let servers = [("axum adapter", adapter), ("bare axum", floor), ("constant answer", limit)];
        for (_, address) in servers {
            load(address, body.clone(), 0.5).await; // warm-up
        }
        let mut rates = vec![Vec::new(); servers.len()];
        for round in 1..=rounds {
            let mut line = format!("round {round}:");
            for (i, (name, address)) in servers.iter().enumerate() {
                rates[i].push(load(*address, body.clone(), seconds).await);
                line.push_str(&format!(" {name} {:.0} req/s;", rates[i][round - 1]));
            }
            println!("{line}");
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (ours, bare, limit) = (mean(&rates[0]), mean(&rates[1]), mean(&rates[2]));
        println!(
            "{COMMAND}, {CONNECTIONS} connections, {rounds} x {seconds} s each: axum adapter {ours:.0} req/s, \
             bare axum {bare:.0} req/s, constant answer {limit:.0} req/s; adapter / bare {:.3}, adapter / constant {:.3}",
            ours / bare,
            ours / limit
        );
    });
}
