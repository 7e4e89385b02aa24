// Run with: cargo run -p relay
//
//! A relay from Tencent Cloud Chat webhooks to whatever a team runs: it verifies, decodes,
//! deduplicates and checks each callback as any service built on the dispatcher does, and hands
//! each after-callback on as an envelope (see `tencent_chat_callbacks::envelope`): to an HTTP
//! service, signed the Standard Webhooks way and delivered at least once; to a broker (Redis
//! Streams, NATS JetStream); or to stdout. It answers `OK` only once the event is stored (or, with
//! no broker, delivered). Before-callbacks are answered by a decision endpoint or the failure
//! policy. See `relay/README.md` for every flag.
//!
//! Logs go to stderr; stdout carries only envelopes.

mod admin;
mod clip;
mod decide;
mod deliver;
mod forward;
mod nats_worker;
mod relay;
mod sign;
mod worker;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use tencent_chat_callbacks::{Dispatcher, FailurePolicy};
use tracing::{error, info, warn};

use crate::decide::Decider;
use crate::deliver::{Schedule, SignedClient, Target, http_url};
use crate::forward::{Destination, Forwarder, RedisStream, is_redis, redis_connection};
use crate::relay::Relay;
use crate::sign::Signer;

/// Verifies Tencent Cloud Chat webhooks and hands each event on: to an HTTP service, a broker or
/// stdout.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on for the vendor's callbacks (at /callback).
    #[arg(long, env = "TENCENT_CHAT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Serve /healthz, /readyz and /metrics on this address.
    #[arg(long, env = "TENCENT_CHAT_ADMIN")]
    admin: Option<SocketAddr>,
    /// Accept only callbacks for this SDKAppID; without it, every app id is accepted.
    #[arg(long, env = "TENCENT_CHAT_SDKAPPID")]
    sdkappid: Option<u64>,
    /// The webhook authentication token set in the console; without it, `Sign` is not checked.
    #[arg(long, env = "TENCENT_CHAT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Where events are stored: `redis://HOST:PORT` (a stream), `nats://HOST:PORT` (JetStream);
    /// without it, `--deliver` directly, or JSON lines on stdout.
    #[arg(long, env = "TENCENT_CHAT_FORWARD")]
    forward: Option<String>,
    /// The Redis stream, or the JetStream stream's name.
    #[arg(long, env = "TENCENT_CHAT_STREAM", default_value = "tencent-chat-callbacks")]
    stream: String,
    /// The Redis stream of dead letters: deliveries that failed by the schedule, and events whose
    /// dedup key came with another body. Default: the stream's name and `-dead`.
    #[arg(long, env = "TENCENT_CHAT_DEAD_STREAM")]
    dead_stream: Option<String>,
    /// Bound the stream to about this many entries (Redis `XADD MAXLEN ~`, JetStream
    /// `max_messages`); 0 for no bound.
    #[arg(long, env = "TENCENT_CHAT_MAXLEN", default_value_t = 1_000_000)]
    maxlen: u64,
    /// The NATS subject prefix: events are published on `SUBJECT.<CallbackCommand>`.
    #[arg(long, env = "TENCENT_CHAT_SUBJECT", default_value = "tencent-chat-callbacks")]
    subject: String,
    /// Publish events of commands this version does not know (by default they are acknowledged
    /// and dropped: anyone holding one signed URL could invent them).
    #[arg(long, env = "TENCENT_CHAT_PUBLISH_UNKNOWN")]
    publish_unknown: bool,
    /// Deliver every event to this HTTP service, signed (Standard Webhooks). With `--forward
    /// redis://…` through the stream, at least once; without a broker, within the publish timeout.
    #[arg(long, env = "TENCENT_CHAT_DELIVER")]
    deliver: Option<String>,
    /// The Standard Webhooks secret (`whsec_…`) signing `--deliver` and `--decide` requests.
    #[arg(long, env = "TENCENT_CHAT_DELIVER_SECRET", hide_env_values = true)]
    deliver_secret: Option<String>,
    /// How long one delivery attempt from the stream may take, in milliseconds.
    #[arg(long, env = "TENCENT_CHAT_DELIVER_TIMEOUT_MS", default_value_t = 10_000)]
    deliver_timeout_ms: u64,
    /// Attempts per event before it goes to the dead-letter stream.
    #[arg(long, env = "TENCENT_CHAT_DELIVER_ATTEMPTS", default_value_t = 20)]
    deliver_attempts: u32,
    /// The first retry's wait, in milliseconds; it doubles with each failure.
    #[arg(long, env = "TENCENT_CHAT_DELIVER_BACKOFF_MS", default_value_t = 500)]
    deliver_backoff_ms: u64,
    /// The longest wait between attempts, in seconds (a `Retry-After` may ask for more, up to an hour).
    #[arg(long, env = "TENCENT_CHAT_DELIVER_BACKOFF_MAX_SECS", default_value_t = 600)]
    deliver_backoff_max_secs: u64,
    /// Events delivered at once by this replica.
    #[arg(long, env = "TENCENT_CHAT_DELIVER_CONCURRENCY", default_value_t = 64)]
    deliver_concurrency: usize,
    /// The Redis consumer group of the delivery workers, shared by every replica.
    #[arg(long, env = "TENCENT_CHAT_GROUP", default_value = "tencent-chat-relay")]
    group: String,
    /// This replica's consumer name in the group. Default: the host name and the process id.
    #[arg(long, env = "TENCENT_CHAT_CONSUMER")]
    consumer: Option<String>,
    /// After how long without a sign of life another replica takes over an event a worker holds,
    /// in milliseconds.
    #[arg(long, env = "TENCENT_CHAT_CLAIM_IDLE_MS", default_value_t = 30_000)]
    claim_idle_ms: u64,
    /// Move every entry of the dead-letter stream back to the stream for delivery, then exit.
    #[arg(long)]
    replay_dead_letters: bool,
    /// An HTTP endpoint that decides before-callbacks: it gets the envelope as a signed POST and
    /// answers the command's reply JSON.
    #[arg(long, env = "TENCENT_CHAT_DECIDE")]
    decide: Option<String>,
    /// How long the decision endpoint gets, in milliseconds.
    #[arg(long, env = "TENCENT_CHAT_DECIDE_TIMEOUT_MS", default_value_t = 1000)]
    decide_timeout_ms: u64,
    /// How a before-callback is answered without a decision (no `--decide`, or it failed):
    /// `vendor` (a failure status; the console's policy applies, by default allow), `allow`, or
    /// `refuse`.
    #[arg(long, env = "TENCENT_CHAT_ON_FAILURE", default_value = "vendor")]
    on_failure: FailurePolicy,
    /// Sources, limits and the dead-letter file (an event the destination did not take, a bad
    /// item of a batch), as `example-server` takes them.
    #[command(flatten)]
    receive: tencent_chat_callbacks::cli::ReceiveArgs,
    /// How long the destination gets to acknowledge, in milliseconds; past it the vendor gets 500.
    #[arg(long, env = "TENCENT_CHAT_PUBLISH_TIMEOUT_MS", default_value_t = 1500)]
    publish_timeout_ms: u64,
    /// How long a published event is remembered to drop its duplicates, in seconds.
    #[arg(long, env = "TENCENT_CHAT_DEDUP_TTL_SECS", default_value_t = 24 * 60 * 60)]
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
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            error!("{error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let dedup_ttl = Duration::from_secs(args.dedup_ttl_secs.max(1));
    let publish_timeout = Duration::from_millis(args.publish_timeout_ms);
    let destination = Destination {
        url: args.forward.clone(),
        stream: args.stream.clone(),
        dead_stream: args.dead_stream.clone().unwrap_or_else(|| format!("{}-dead", args.stream)),
        maxlen: (args.maxlen > 0).then_some(args.maxlen),
        subject: args.subject.clone(),
        dedup_ttl,
    };
    let redis_url = args.forward.as_deref().filter(|url| is_redis(url));
    let nats = args.forward.as_deref().is_some_and(|url| url.starts_with("nats://"));
    if args.replay_dead_letters {
        let moved = if let Some(url) = redis_url {
            worker::replay_dead_letters(&redis_stream(url, &destination)?).await?
        } else if nats {
            let forwarder = Forwarder::connect(&destination, None).await?;
            let jetstream = forwarder.jetstream().expect("a NATS destination");
            let (dead, subject) = (&destination.dead_stream, &destination.subject);
            nats_worker::replay_dead_letters(jetstream, dead, subject, destination.maxlen).await?
        } else {
            return Err("--replay-dead-letters needs --forward redis://… or nats://…".into());
        };
        info!(moved, from = %destination.dead_stream, to = %destination.stream, "dead letters moved back for delivery");
        println!("moved {moved} dead letter(s) from {} back to {}", destination.dead_stream, destination.stream);
        return Ok(());
    }

    let signer = args
        .deliver_secret
        .as_deref()
        .map(Signer::from_secret)
        .transpose()
        .map_err(|e| format!("--deliver-secret: {e}"))?;
    let client = SignedClient::new(signer.clone());
    let target = match &args.deliver {
        Some(url) => {
            if signer.is_none() {
                return Err(
                    "--deliver needs --deliver-secret (or TENCENT_CHAT_DELIVER_SECRET): deliveries are signed".into()
                );
            }
            let timeout =
                if redis_url.is_some() { Duration::from_millis(args.deliver_timeout_ms) } else { publish_timeout };
            Some(Arc::new(Target { client: client.clone(), url: http_url("--deliver", url)?, timeout }))
        }
        None => None,
    };
    let brokered = redis_url.is_some() || nats;
    let sync_target = if brokered { None } else { target.clone() };
    let forwarder = Forwarder::connect(&destination, sync_target).await?;
    let decider =
        args.decide.as_deref().map(|url| Decider::new(url, Duration::from_millis(args.decide_timeout_ms), client));
    let relay = Arc::new(Relay {
        forwarder: Arc::clone(&forwarder),
        decider: decider.transpose()?,
        on_failure: args.on_failure,
        key_fields: args.dedup_fields.iter().cloned().collect::<HashMap<_, _>>(),
        dedup_ttl,
        publish_timeout,
        publish_unknown: args.publish_unknown,
    });

    let mut builder = relay::register(Dispatcher::builder(), relay)
        .on_failure(args.on_failure)
        // The relay answers only after the destination acknowledged, so the dispatcher's deadline
        // must not answer first: it lies beyond both timeouts, which bound the wait themselves.
        .handler_deadline(
            publish_timeout.max(Duration::from_millis(args.decide_timeout_ms)) + Duration::from_millis(500),
        );
    builder = args.receive.apply(builder)?;
    builder = match args.sdkappid {
        Some(app_id) => builder.app_id(app_id),
        None => builder.accept_any_app_id(),
    };
    if let Some(token) = &args.token {
        builder = builder.token(token);
    }
    let dispatcher = builder.build()?;

    if let (Some(url), Some(target)) = (redis_url, &target) {
        let worker = Arc::new(worker::Worker {
            redis: redis_stream(url, &destination)?,
            reader: redis_connection(url)?,
            group: args.group.clone(),
            consumer: args.consumer.clone().unwrap_or_else(default_consumer),
            target: Arc::clone(target),
            schedule: schedule(&args),
            claim_idle: Duration::from_millis(args.claim_idle_ms.max(100)),
            concurrency: args.deliver_concurrency,
            in_hand: Mutex::new(Default::default()),
        });
        tokio::spawn(worker.run());
    }
    if let (Some(jetstream), Some(target)) = (forwarder.jetstream(), &target) {
        nats_worker::ensure_dead_stream(jetstream, &destination.dead_stream, &args.subject, destination.maxlen).await?;
        let worker = Arc::new(nats_worker::NatsWorker {
            jetstream: jetstream.clone(),
            stream: destination.stream.clone(),
            subject: args.subject.clone(),
            group: args.group.clone(),
            target: Arc::clone(target),
            schedule: schedule(&args),
            claim_idle: Duration::from_millis(args.claim_idle_ms.max(100)),
            concurrency: args.deliver_concurrency,
        });
        tokio::spawn(worker.run());
    }
    if let Some(address) = args.admin {
        let metrics = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
        let upkeep = metrics.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                upkeep.run_upkeep();
            }
        });
        let listener = tokio::net::TcpListener::bind(address).await?;
        let admin = Arc::new(admin::Admin { forwarder, target: if brokered { target.clone() } else { None }, metrics });
        info!("admin endpoints at {}", admin::describe(listener.local_addr()?));
        tokio::spawn(async move {
            if let Err(error) = admin::serve(listener, admin).await {
                error!(%error, "the admin endpoints stopped");
            }
        });
    }

    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let address = listener.local_addr()?;
    match args.sdkappid {
        Some(app_id) => info!("accepting callbacks for SdkAppid {app_id}"),
        None => warn!("no --sdkappid given: accepting callbacks for ANY SdkAppid"),
    }
    if args.token.is_none() {
        warn!("no token given (TENCENT_CHAT_TOKEN): Sign is NOT checked");
    }
    match (&args.decide, args.on_failure) {
        (Some(_), policy) => {
            info!(on_failure = %policy, "before-callbacks are decided by --decide, else by this policy");
            if signer.is_none() {
                warn!("no --deliver-secret: requests to --decide are not signed");
            }
        }
        (None, FailurePolicy::Vendor) => warn!(
            "no --decide: every before-callback is answered 503 (policy vendor), so the vendor's default for a \
             failed callback (allow) applies; none is logged or dead-lettered"
        ),
        (None, policy) => warn!(on_failure = %policy, "no --decide: every before-callback is answered by this policy"),
    }
    let output = match (&args.forward, &args.deliver) {
        (Some(forward), Some(_)) => format!("{forward}, then delivered over HTTP"),
        (Some(forward), None) => forward.clone(),
        (None, Some(_)) => "HTTP, synchronously (no broker: no retry but the vendor's)".into(),
        (None, None) => "stdout".into(),
    };
    info!(forward = %output, "forwarding events");
    if !args.publish_unknown {
        info!("events of commands this version does not know are acknowledged and not published");
    }
    info!("listening on http://{address}/callback");

    args.receive.serve(tencent_chat_callbacks::axum::Server::new(dispatcher)).serve(listener).await?;
    Ok(())
}

/// The delivery retry schedule of the flags.
fn schedule(args: &Args) -> Schedule {
    Schedule {
        attempts: args.deliver_attempts.max(1),
        base: Duration::from_millis(args.deliver_backoff_ms.max(1)),
        max: Duration::from_secs(args.deliver_backoff_max_secs.max(1)),
    }
}

fn redis_stream(url: &str, destination: &Destination) -> Result<RedisStream, redis::RedisError> {
    Ok(RedisStream {
        connection: redis_connection(url)?,
        stream: destination.stream.clone(),
        dead_stream: destination.dead_stream.clone(),
        maxlen: destination.maxlen,
    })
}

/// The host name and the process id: unique among live replicas, and new after a restart, whose
/// pending entries another replica then takes over.
fn default_consumer() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "relay".into());
    format!("{host}-{}", std::process::id())
}
