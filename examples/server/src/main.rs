// Run with: cargo run -p example-server
//
//! A webhook receiver for Tencent Cloud Chat: it accepts every callback at `POST /callback` and
//! logs each decoded event as one line. Five commands have handlers of their own, registered with
//! the `#[handlers]` macro; every other known command is decoded through [`Event`] by the
//! fallback, and an unknown one is logged with its raw JSON.
//!
//! ```text
//! TENCENT_CHAT_TOKEN=secret cargo run -p example-server -- --listen 0.0.0.0:8080 --sdkappid 1400000000 \
//!     --on-failure refuse --dead-letter dead-letters.jsonl --metrics 127.0.0.1:9000
//! ```
//!
//! It serves with [`tencent_chat_callbacks::axum::Server`]: header and body timeouts, a connection
//! cap, and on SIGTERM or Ctrl-C a graceful shutdown that lets running handlers finish.

use std::net::SocketAddr;

use clap::Parser;

use tencent_chat_callbacks::{
    Context, Dispatcher, Event, FailurePolicy, Refusal, UnhandledEvent, group, handlers, official_account,
};
use tracing::{info, warn};

/// Receives Tencent Cloud Chat webhooks and logs each typed event.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Accept only callbacks for this SDKAppID; without it, every app id is accepted.
    #[arg(long, env = "TENCENT_CHAT_SDKAPPID")]
    sdkappid: Option<u64>,
    /// The webhook authentication token set in the console; without it, `Sign` is not checked.
    /// Prefer the environment variable: a command-line argument is visible to every user in `ps`.
    #[arg(long, env = "TENCENT_CHAT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// How a before-callback that cannot be decided is answered: `vendor` (the failure status;
    /// the console's policy applies, by default allow), `allow`, or `refuse`.
    #[arg(long, env = "TENCENT_CHAT_ON_FAILURE", default_value = "vendor")]
    on_failure: FailurePolicy,
    #[command(flatten)]
    receive: tencent_chat_callbacks::cli::ReceiveArgs,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, env = "TENCENT_CHAT_METRICS")]
    metrics: Option<SocketAddr>,
}

/// The handlers: each logs its typed event on one line.
struct EventLog;

#[handlers]
impl EventLog {
    #[on("Group.CallbackAfterCreateGroup")]
    async fn group_created(&self, event: group::AfterCreateGroup, ctx: Context) {
        log(&ctx, &event);
    }

    #[on("Group.CallbackAfterChangeGroupOwner")]
    async fn group_owner_changed(&self, event: group::AfterChangeGroupOwner, ctx: Context) {
        log(&ctx, &event);
    }

    #[on("Group.CallbackAfterGroupInfoChanged")]
    async fn group_info_changed(&self, event: group::AfterGroupInfoChanged, ctx: Context) {
        log(&ctx, &event);
    }

    #[on("Group.CallbackAfterGroupAttrChanged")]
    async fn group_attributes_changed(&self, event: group::AfterGroupAttrChanged, ctx: Context) {
        log(&ctx, &event);
    }

    #[on("OfficialAccount.CallbackAfterOfficialAccountInfoChanged")]
    async fn official_account_info_changed(
        &self,
        event: official_account::AfterOfficialAccountInfoChanged,
        ctx: Context,
    ) {
        log(&ctx, &event);
    }
}

/// One line per event. Every value is written with `Debug`, which escapes line breaks and
/// control characters: request values never reach the log raw.
fn log(ctx: &Context, event: &impl std::fmt::Debug) {
    let platform = ctx.platform().map_or("-", |p| p.as_str());
    let client_ip = ctx.client_ip().unwrap_or("-");
    info!(target: "event", command = ?ctx.command(), app = ctx.app_id(), ?platform, ?client_ip, "{event:?}");
}

/// Every command without a handler of its own: decoded into its type when this version knows it.
/// A body that is not its command's is the sender's fault, so it is refused with 400, not 500.
async fn log_other(event: UnhandledEvent, ctx: Context) -> Result<(), Refusal> {
    match Event::from_json(ctx.command(), ctx.raw_body()) {
        Ok(Event::Unknown(_)) => log(&ctx, &event.body),
        Ok(typed) => log(&ctx, &typed),
        Err(error) => {
            return Err(Refusal::invalid_body(ctx.command(), error.to_string()));
        }
    }
    Ok(())
}

fn dispatcher(args: &Args) -> Result<Dispatcher, Box<dyn std::error::Error>> {
    let builder = Dispatcher::builder().handlers(EventLog).fallback(log_other).on_failure(args.on_failure);
    let mut builder = args.receive.apply(builder)?;
    builder = match args.sdkappid {
        Some(app_id) => builder.app_id(app_id),
        None => builder.accept_any_app_id(),
    };
    if let Some(token) = &args.token {
        builder = builder.token(token);
    }
    Ok(builder.build()?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let args = Args::parse();
    if std::env::args().any(|arg| arg == "--token" || arg.starts_with("--token=")) {
        warn!("the token was given on the command line, where `ps` shows it; set TENCENT_CHAT_TOKEN instead");
    }
    if let Some(address) = args.metrics {
        metrics_exporter_prometheus::PrometheusBuilder::new().with_http_listener(address).install()?;
        info!("metrics at http://{address}/metrics");
    }
    let dispatcher = dispatcher(&args)?;

    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let address = listener.local_addr()?;
    match args.sdkappid {
        Some(app_id) => info!("accepting callbacks for SdkAppid {app_id}"),
        None => warn!("no --sdkappid given: accepting callbacks for ANY SdkAppid"),
    }
    match args.token {
        Some(_) => info!("webhook authentication on: Sign and RequestTime are required"),
        None => warn!(
            "no token given (TENCENT_CHAT_TOKEN): Sign is NOT checked, so anyone who can reach this port can post \
             callbacks; set the token configured in the console"
        ),
    }
    info!(on_failure = %args.on_failure, "before-callbacks that cannot be decided are answered by this policy");
    info!("listening on http://{address}/callback");

    args.receive.serve(tencent_chat_callbacks::axum::Server::new(dispatcher)).serve(listener).await?;
    Ok(())
}
