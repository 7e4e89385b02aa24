//! Typed, signature-checked receivers for Tencent Cloud Chat (IM) webhook callbacks.
//!
//! Tencent Cloud Chat calls an app's backend with an HTTP POST per event: the query string says
//! which app and command (`SdkAppid`, `CallbackCommand`, …) and, with authentication on, carries a
//! `Sign`; the JSON body is the event. This crate turns such a request into a typed event, calls
//! your handler, and answers in the vendor's format, refusing what is not for you.
//!
//! Every event type is generated from the JSON Schemas in the repository's `schema/` directory:
//! one module per namespace ([`group`], [`official_account`], …), one type per command
//! (`Group.CallbackAfterCreateGroup` → [`group::AfterCreateGroup`]), shared types in [`common`].
//!
//! # Handlers with the macro
//!
//! ```
//! use tencent_chat_callbacks::{group, handlers, Context, Dispatcher};
//!
//! struct App;
//!
//! #[handlers]
//! impl App {
//!     #[on("Group.CallbackAfterCreateGroup")]
//!     async fn group_created(&self, event: group::AfterCreateGroup, ctx: Context) {
//!         println!("{} created {} (app {})", event.operator_account, event.group_id, ctx.app_id());
//!     }
//!
//!     #[on("Group.CallbackAfterChangeGroupOwner")]
//!     async fn owner_changed(&self, event: group::AfterChangeGroupOwner) {
//!         println!("{} now owns {}", event.new_owner_account, event.group_id);
//!     }
//! }
//!
//! let dispatcher = Dispatcher::builder().app_id(1400000000).token("secret").handlers(App).build()?;
//! # Ok::<(), tencent_chat_callbacks::BuildError>(())
//! ```
//!
//! The macro checks at compile time that each command exists (suggesting the closest name when
//! it does not), that the handler's event type is the command's, and that no command has two
//! handlers. Without it, register handlers one by one with [`DispatcherBuilder::on`].
//!
//! # Before-callbacks
//!
//! A before-callback lets the app decide an action. Its handler returns the command's decision
//! type, which offers only the answers that command accepts:
//!
//! ```
//! use tencent_chat_callbacks::common::{MsgBodyElement, TextContent};
//! use tencent_chat_callbacks::{c2c, Context, Dispatcher};
//!
//! async fn moderate(event: c2c::BeforeSendMsg, _ctx: Context) -> c2c::BeforeSendMsgDecision {
//!     match event.msg_body.first() {
//!         Some(MsgBodyElement::Text(t)) if t.text.contains("spam") => c2c::BeforeSendMsgDecision::Refuse,
//!         Some(MsgBodyElement::Text(t)) if t.text.contains("darn") => {
//!             let text = TextContent::new(t.text.replace("darn", "d**n"));
//!             c2c::BeforeSendMsgDecision::Modify(c2c::BeforeSendMsgChanges::default().msg_body(vec![MsgBodyElement::Text(text)]))
//!         }
//!         Some(MsgBodyElement::Text(t)) if t.text.contains("muted") => {
//!             c2c::BeforeSendMsgDecision::refuse_with(120001, "you are muted").expect("in 120001..=130000")
//!         }
//!         _ => c2c::BeforeSendMsgDecision::Allow,
//!     }
//! }
//!
//! let dispatcher = Dispatcher::builder().app_id(1400000000).on(moderate).build()?;
//! # Ok::<(), tencent_chat_callbacks::BuildError>(())
//! ```
//!
//! A before-callback without a handler is answered allow (`ErrorCode` 0).
//!
//! # Serving
//!
//! [`axum::Server`] serves a dispatcher with a whole-request timeout, connection caps in all and
//! per source, and a graceful shutdown on SIGTERM or Ctrl-C. To host it in another server, call
//! [`Dispatcher::admit_from`] with the query string and the peer's address before reading the
//! body, then [`Admitted::dispatch`] with the body ([`Dispatcher::dispatch`] does both, for a
//! request whose source is unknown).
//!
//! # Testing handlers
//!
//! A handler is a plain async function: a unit test calls it with an event and
//! [`testing::context`]; [`testing::Request`] sends a request signed as Tencent signs it through
//! a [`Dispatcher`]. See [`testing`].
//!
//! # What is refused, and how
//!
//! Every refusal has its status and `FAIL` body ([`DispatchError`] lists them); for a
//! before-callback, the [`FailurePolicy`] may answer 200 instead. The repository's README has the
//! table of conditions, the failure policy, the production limits and the security notes.
//!
//! # Authentication
//!
//! With [`DispatcherBuilder::token`], `Sign` must be the lowercase hex SHA-256 of the token
//! followed by `RequestTime` (see [`signature`]), compared in constant time, and `RequestTime`
//! must be within [`DispatcherBuilder::max_clock_skew`] of the clock (default ±5 minutes; the
//! vendor documents no window, and the signature does not cover the body, so the window bounds
//! replays). Without a token, `Sign` is not checked.
//!
//! # Features
//!
//! | feature | what | default |
//! |---|---|---|
//! | `axum` | [`axum::Server`], a hardened server with graceful shutdown, and [`axum::router`] | yes |
//! | `macros` | the [`handlers`] attribute macro | yes |
//! | `metrics` | metrics through the `metrics` facade (without it nothing is recorded) | yes |
//! | `schemars` | `Command::json_schema` and `schemars::JsonSchema` on every generated type | no |
//! | `redis` | `dedup::RedisStore`, the idempotency store replicas share on Redis | no |
//!
//! With no features the crate has no web framework and no proc-macro of its own.

#![deny(missing_docs)]

// Generated code names this crate by its absolute path, also from inside it.
extern crate self as tencent_chat_callbacks;

mod app_id;
mod background;
mod batch;
mod callback;
mod catalogue;
#[cfg(feature = "cli")]
pub mod cli;
mod context;
pub mod dead_letter;
mod decision;
pub mod dedup;
mod digits;
mod dispatcher;
pub mod envelope;
mod error;
mod log_safe;
mod policy;
mod telemetry;
mod unwind;
#[rustfmt::skip]
mod generated;
mod handler;
mod lenient;
mod query;
mod refusal;
mod reply;
pub mod signature;
mod source;
pub mod testing;

#[cfg(feature = "axum")]
pub mod axum;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use app_id::AppId;
pub use callback::{Callback, CallbackKind, CommandTag};
pub use common::Reply;
pub use context::{Context, ContextBuilder, UnhandledEvent};
pub use decision::{AppErrorCode, ErrorCodeOutOfRange};
pub use dispatcher::{
    Admitted, BuildError, DEFAULT_HANDLER_DEADLINE, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_PENDING,
    DEFAULT_MAX_PENDING_PER_SOURCE, Dispatcher, DispatcherBuilder, Handlers,
};
pub use error::{DecodeError, DispatchError, HandlerError, HandlerFailure, QueryError};
pub use generated::*;
pub use handler::{EventOnly, FallbackHandler, Handler, WithContext};
/// A network in CIDR notation (`203.0.113.0/24`), as [`DispatcherBuilder::allow_sources`] takes it:
/// re-exported from [`ipnet`](https://docs.rs/ipnet) so that callers need not depend on it.
pub use ipnet::IpNet;
pub use policy::{FailurePolicy, UnknownFailurePolicy};
pub use refusal::Refusal;
pub use reply::{BoxError, HttpReply, IntoReply};

/// The old name of [`Reply`], kept so that code written against 0.1 still compiles, with a
/// warning. It was renamed because it clashed with `axum::response::Response` (and, in the
/// TypeScript package, with the global `Response` of `fetch`).
#[deprecated(note = "renamed to Reply")]
pub type Response = Reply;

/// Registers the handler methods of an impl block; see the crate documentation.
///
/// Each method marked `#[on("Command")]` takes `&self`, the command's event type and optionally a
/// [`Context`], and returns what [`IntoReply`] allows: for a before-callback, its decision
/// type (e.g. [`c2c::BeforeSendMsgDecision`](crate::c2c)). The block gains an implementation of
/// [`Handlers`], so `Dispatcher::builder().handlers(value)` registers them all. It expands to one
/// [`DispatcherBuilder::on`] call per method.
///
/// One method may be marked `#[fallback]` instead: it takes `&self`, an [`UnhandledEvent`] and
/// optionally a [`Context`], and receives every callback no `#[on]` method takes, including
/// commands this version does not know ([`DispatcherBuilder::fallback`]).
///
/// `#[handlers(exhaustive, ignore("Sns.*", "Group.CallbackAfterGroupFull", …))]` also asks that
/// every command this version knows has a handler or is ignored on purpose, one by one or by
/// namespace (`"Sns.*"`, or `"*"` for all); the compile error lists the commands missing, so
/// upgrading the crate points at the callbacks that are new.
///
/// A crate that re-exports this one names its path with `#[handlers(crate = "my_sdk::chat")]`.
#[cfg(feature = "macros")]
pub use tencent_chat_callbacks_macros::handlers;

// Every Rust block of the repository's README is compiled and run as a doctest.
#[cfg(all(doctest, feature = "axum", feature = "macros"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
