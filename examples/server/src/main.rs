// Run with: cargo run -p example-server
//
//! A webhook receiver for Tencent Cloud Chat: it accepts every callback at `POST /callback` and
//! logs each decoded event as one line. Five commands have handlers of their own, registered with
//! the `#[handlers]` macro; every other known command is decoded through [`Event`] by the
//! fallback, and an unknown one is logged with its raw JSON.
//!
//! ```text
//! cargo run -p example-server -- --listen 0.0.0.0:8080 --sdkappid 1400000000 --token secret
//! ```

use std::net::SocketAddr;

use clap::Parser;
use tencent_chat_callbacks::{
    Context, DispatchError, Dispatcher, Event, UnhandledEvent, group, handlers, official_account,
};
use tracing::info;

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
    #[arg(long, env = "TENCENT_CHAT_TOKEN", hide_env_values = true)]
    token: Option<String>,
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

fn log(ctx: &Context, event: &impl std::fmt::Debug) {
    let platform = ctx.platform.as_ref().map(|p| p.as_str()).unwrap_or("-");
    let client_ip = ctx.client_ip.as_deref().unwrap_or("-");
    info!(target: "event", "{} app={} platform={platform} ip={client_ip} {event:?}", ctx.command, ctx.app_id);
}

/// Every command without a handler of its own: decoded into its type when this version knows it.
/// A body that is not its command's is the sender's fault, so it is refused with 400, not 500.
async fn log_other(event: UnhandledEvent, ctx: Context) -> Result<(), DispatchError> {
    match Event::from_json(&ctx.command, &ctx.raw_body) {
        Ok(Event::Unknown(_)) => log(&ctx, &event.body),
        Ok(typed) => log(&ctx, &typed),
        Err(error) => {
            let (command, message) = (ctx.command, error.to_string());
            return Err(DispatchError::InvalidBody { command, path: ".".into(), message });
        }
    }
    Ok(())
}

fn dispatcher(args: &Args) -> Result<Dispatcher, tencent_chat_callbacks::BuildError> {
    let mut builder = Dispatcher::builder().handlers(EventLog).fallback(log_other);
    builder = match args.sdkappid {
        Some(app_id) => builder.app_id(app_id),
        None => builder.accept_any_app_id(),
    };
    if let Some(token) = &args.token {
        builder = builder.token(token);
    }
    builder.build()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let args = Args::parse();
    let dispatcher = dispatcher(&args)?;

    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let address = listener.local_addr()?;
    match args.sdkappid {
        Some(app_id) => info!("accepting callbacks for SdkAppid {app_id}"),
        None => info!("no --sdkappid given: accepting callbacks for ANY SdkAppid"),
    }
    match args.token {
        Some(_) => info!("webhook authentication on: Sign and RequestTime are required"),
        None => info!("no --token given: Sign is not checked"),
    }
    info!("listening on http://{address}/callback");

    let app = tencent_chat_callbacks::axum::router("/callback", dispatcher);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            tokio::signal::ctrl_c().await.ok();
        })
        .await?;
    Ok(())
}
