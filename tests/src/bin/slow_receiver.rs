//! A receiver whose `Group.CallbackAfterCreateGroup` handler is slow, for the shutdown tests: it
//! serves with the library's `Server` (deadline 200 ms), prints `listening on ADDR` when ready and
//! `finished GROUP` when a handler completes.
//!
//! Environment: `HANDLER_MS` (how long a handler takes), `DRAIN_MS` (the drain timeout),
//! `DEAD_LETTERS` (a JSON-lines file for dead letters).
//!
//! The dispatcher is built before logging is set up (the server's default logging, on stderr),
//! as an application may do: its build warnings must still reach the log.

use std::io::Write;
use std::time::Duration;

use tencent_chat_callbacks::dead_letter::JsonLinesSink;
use tencent_chat_callbacks::{Context, Dispatcher, group};

fn millis(name: &str) -> Duration {
    Duration::from_millis(std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(1000))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let handler_time = millis("HANDLER_MS");
    let dead_letters = std::env::var("DEAD_LETTERS").expect("DEAD_LETTERS is set");
    let dispatcher = Dispatcher::builder()
        .accept_any_app_id()
        .handler_deadline(Duration::from_millis(200))
        .dead_letters(JsonLinesSink::open(dead_letters)?)
        .on::<group::AfterCreateGroup, _>(move |event: group::AfterCreateGroup, _: Context| async move {
            tokio::time::sleep(handler_time).await;
            println!("finished {}", event.group_id);
            std::io::stdout().flush().ok();
        })
        .build()
        .expect("a valid configuration");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    tencent_chat_callbacks::axum::Server::new(dispatcher)
        .drain_timeout(millis("DRAIN_MS"))
        .default_logging()
        .serve(listener)
        .await
}
