//! Throughput and latency of the acknowledgement: distinct, signed after-callback events (every
//! fixture in turn, each made unique by an extra field) posted over loopback HTTP to one or more
//! receivers, round-robin, with a fixed number of connections in flight.
//!
//! Run by `relay/bench.sh`, which starts the receivers (example-server in memory, the
//! relay on Redis, two relays on one Redis) and passes them as `TARGETS` (comma-separated URLs);
//! `REQUESTS` (default 20 000) and `CONCURRENCY` (default 32) shape the run. With `RATE`, requests
//! are sent at that many per second (each at its own time, however many are in flight) instead of
//! as fast as the connections allow. With `SINK_PORT`, a local HTTP service on that port counts the
//! relay's deliveries (`--deliver http://127.0.0.1:SINK_PORT/`), and the run also reports how fast
//! every event was delivered.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tencent_chat_callbacks::{CallbackKind, Command};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let Ok(targets) = std::env::var("TARGETS") else {
        eprintln!("skipped: set TARGETS (see relay/bench.sh)");
        return;
    };
    let targets: Vec<String> = targets.split(',').map(str::to_owned).collect();
    let (requests, concurrency) = (env_or("REQUESTS", 20_000), env_or("CONCURRENCY", 32));
    let fixtures: Vec<_> = tests::fixtures()
        .into_iter()
        .filter(|f| Command::from_name(&f.command).is_some_and(|c| c.kind() == CallbackKind::After))
        .collect();
    // A run-unique salt, so a second run on the same Redis is not all duplicates.
    let salt = tests::now();
    let bodies: Vec<(String, Bytes)> = (0..requests)
        .map(|i| {
            let fixture = &fixtures[i % fixtures.len()];
            let mut body = fixture.sample_json();
            let object = body.as_object_mut().unwrap();
            object.insert("BenchSeq".into(), format!("{salt}-{i}").into());
            // A command keyed by a field of its body needs its own value of it to be distinct.
            if let Some(field) = Command::from_name(&fixture.command).and_then(Command::dedup_field) {
                object.insert(field.into(), format!("bench-{salt}-{i}").into());
            }
            (fixture.command.clone(), Bytes::from(serde_json::to_vec(&body).unwrap()))
        })
        .collect();

    let delivered = std::env::var("SINK_PORT").ok().map(|port| sink(port.parse().expect("SINK_PORT is a port")));
    let rate = std::env::var("RATE").ok().and_then(|r| r.parse::<f64>().ok());
    let in_flight = if rate.is_some() { concurrency.max(1024) } else { concurrency };
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let started = Instant::now();
    let results: Vec<(bool, Duration)> = futures_util::stream::iter(bodies.into_iter().enumerate())
        .map(|(i, (command, body))| {
            let client = client.clone();
            let targets = &targets;
            async move {
                if let Some(rate) = rate {
                    tokio::time::sleep_until((started + Duration::from_secs_f64(i as f64 / rate)).into()).await;
                }
                let url = format!("{}?{}", targets[i % targets.len()], tests::signed_query(&command, tests::now()));
                let sent = Instant::now();
                let request = hyper::Request::post(url).body(Full::new(body)).unwrap();
                let ok = match client.request(request).await {
                    Ok(response) => {
                        let status = response.status();
                        let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        status == 200 && body.starts_with(br#"{"ActionStatus":"OK","ErrorCode":0"#)
                    }
                    Err(_) => false,
                };
                (ok, sent.elapsed())
            }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let failed = results.iter().filter(|(ok, _)| !ok).count();
    let mut latencies: Vec<Duration> = results.iter().map(|(_, l)| *l).collect();
    latencies.sort();
    let at = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64() * 1e3;
    let shape = match rate {
        Some(rate) => format!("at {rate:.0}/s"),
        None => format!("{concurrency} in flight"),
    };
    println!(
        "{} targets, {requests} events, {shape}: {:.0} events/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {failed} not acknowledged",
        targets.len(),
        requests as f64 / elapsed.as_secs_f64(),
        at(0.50),
        at(0.99),
        at(1.0),
    );
    if let Some(delivered) = delivered {
        let deadline = Instant::now() + Duration::from_secs(300);
        while delivered.load(std::sync::atomic::Ordering::SeqCst) < requests && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let count = delivered.load(std::sync::atomic::Ordering::SeqCst);
        println!(
            "delivered {count} of {requests} to the local service in {:.2} s: {:.0} events/s from the first request",
            started.elapsed().as_secs_f64(),
            count as f64 / started.elapsed().as_secs_f64()
        );
    }
}

/// A local service that answers 204 to every delivery and counts them.
fn sink(port: u16) -> std::sync::Arc<std::sync::atomic::AtomicUsize> {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&count);
    let app = axum::Router::new().fallback(move |_body: Bytes| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async { axum::http::StatusCode::NO_CONTENT }
    });
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("the sink's port is free");
    listener.set_nonblocking(true).unwrap();
    tokio::spawn(async move { axum::serve(tokio::net::TcpListener::from_std(listener).unwrap(), app).await });
    count
}
