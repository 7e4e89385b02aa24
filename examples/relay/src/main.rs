// Run with: cargo run -p relay
//
//! A relay from Tencent Cloud Chat webhooks to a broker: it verifies, decodes and checks each
//! callback as any service built on the dispatcher does, publishes each after-callback as an
//! envelope (see `tencent_chat_callbacks::envelope`), and answers `OK` only once the destination
//! acknowledged it. Before-callbacks are answered by a decision endpoint or the failure policy.
//!
//! ```text
//! cargo run -p relay -- --sdkappid 1400000000 --token secret                       # JSON lines on stdout
//! cargo run -p relay -- --forward redis://127.0.0.1:6379 --stream tencent-chat-callbacks --maxlen 1000000
//! cargo run -p relay -- --forward nats://127.0.0.1:4222 --subject tencent-chat-callbacks
//! cargo run -p relay -- --forward redis://127.0.0.1:6379 --decide http://127.0.0.1:9000/decide
//! ```
//!
//! Logs go to stderr; stdout carries only envelopes.

mod decide;
mod forward;
mod relay;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tencent_chat_callbacks::dead_letter::JsonLinesSink;
use tencent_chat_callbacks::{Dispatcher, FailurePolicy};
use tracing::{info, warn};

use crate::decide::Decider;
use crate::forward::{Destination, Forwarder};
use crate::relay::Relay;

/// Verifies Tencent Cloud Chat webhooks and publishes each event to a broker.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Accept only callbacks for this SDKAppID; without it, every app id is accepted.
    #[arg(long, env = "TENCENT_CHAT_SDKAPPID")]
    sdkappid: Option<u64>,
    /// The webhook authentication token set in the console; without it, `Sign` is not checked.
    #[arg(long, env = "TENCENT_CHAT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Where events go: `redis://HOST:PORT` (a stream), `nats://HOST:PORT` (JetStream); without
    /// it, JSON lines on stdout.
    #[arg(long, env = "TENCENT_CHAT_FORWARD")]
    forward: Option<String>,
    /// The Redis stream, or the JetStream stream's name.
    #[arg(long, default_value = "tencent-chat-callbacks")]
    stream: String,
    /// Trim the Redis stream to about this many entries (`XADD MAXLEN ~`).
    #[arg(long)]
    maxlen: Option<u64>,
    /// The NATS subject prefix: events are published on `SUBJECT.<CallbackCommand>`.
    #[arg(long, default_value = "tencent-chat-callbacks")]
    subject: String,
    /// An HTTP endpoint that decides before-callbacks: it gets the envelope as a POST and answers
    /// the command's reply JSON.
    #[arg(long, env = "TENCENT_CHAT_DECIDE")]
    decide: Option<String>,
    /// How long the decision endpoint gets, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    decide_timeout_ms: u64,
    /// How a before-callback is answered without a decision (no `--decide`, or it failed):
    /// `vendor` (a failure status; the console's policy applies, by default allow), `allow`, or
    /// `refuse`.
    #[arg(long, env = "TENCENT_CHAT_ON_FAILURE", default_value = "vendor")]
    on_failure: FailurePolicy,
    /// Append callbacks that could not be handled (an after-callback the destination did not
    /// take, a before-callback without a decision) to this JSON-lines file, to replay them later
    /// with `example-send --replay`.
    #[arg(long, env = "TENCENT_CHAT_DEAD_LETTER")]
    dead_letter: Option<PathBuf>,
    /// How long the destination gets to acknowledge, in milliseconds; past it the vendor gets 500.
    #[arg(long, default_value_t = 1500)]
    publish_timeout_ms: u64,
    /// How long a published event is remembered to drop its duplicates, in seconds.
    #[arg(long, default_value_t = 24 * 60 * 60)]
    dedup_ttl_secs: u64,
    /// `COMMAND=FIELD`: deduplicate COMMAND by the body's FIELD (e.g. `C2C.CallbackAfterSendMsg=MsgKey`)
    /// instead of the hash of the whole body. Repeatable.
    #[arg(long = "dedup-field", value_parser = parse_key_field)]
    dedup_fields: Vec<(String, String)>,
}

fn parse_key_field(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((command, field)) if !command.is_empty() && !field.is_empty() => Ok((command.into(), field.into())),
        _ => Err(format!("`{value}`: expected COMMAND=FIELD")),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();

    let dedup_ttl = Duration::from_secs(args.dedup_ttl_secs.max(1));
    let publish_timeout = Duration::from_millis(args.publish_timeout_ms);
    let destination = Destination {
        url: args.forward.clone(),
        stream: args.stream.clone(),
        maxlen: args.maxlen,
        subject: args.subject.clone(),
        dedup_ttl,
    };
    let forwarder = Forwarder::connect(&destination).await?;
    let decider = args.decide.as_deref().map(|url| Decider::new(url, Duration::from_millis(args.decide_timeout_ms)));
    let relay = Arc::new(Relay {
        forwarder,
        decider: decider.transpose()?,
        key_fields: args.dedup_fields.iter().cloned().collect::<HashMap<_, _>>(),
        dedup_ttl,
        publish_timeout,
    });

    let mut builder = relay::register(Dispatcher::builder(), relay)
        .on_failure(args.on_failure)
        // The relay answers only after the destination acknowledged, so the dispatcher's deadline
        // must not answer first: it lies beyond both timeouts, which bound the wait themselves.
        .handler_deadline(
            publish_timeout.max(Duration::from_millis(args.decide_timeout_ms)) + Duration::from_millis(500),
        );
    if let Some(path) = &args.dead_letter {
        builder = builder.dead_letters(JsonLinesSink::open(path).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    builder = match args.sdkappid {
        Some(app_id) => builder.app_id(app_id),
        None => builder.accept_any_app_id(),
    };
    if let Some(token) = &args.token {
        builder = builder.token(token);
    }
    let dispatcher = builder.build()?;

    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let address = listener.local_addr()?;
    match args.sdkappid {
        Some(app_id) => info!("accepting callbacks for SdkAppid {app_id}"),
        None => warn!("no --sdkappid given: accepting callbacks for ANY SdkAppid"),
    }
    if args.token.is_none() {
        warn!("no token given (TENCENT_CHAT_TOKEN): Sign is NOT checked");
    }
    info!(forward = args.forward.as_deref().unwrap_or("stdout"), "forwarding events");
    info!(on_failure = %args.on_failure, "before-callbacks without a decision are answered by this policy");
    info!("listening on http://{address}/callback");

    tencent_chat_callbacks::axum::Server::new(dispatcher).serve(listener).await?;
    Ok(())
}
