//! Handlers: async functions from a typed event, and optionally its [`Context`], to a reply.

use std::future::Future;

use crate::context::{Context, UnhandledEvent};
use crate::{Callback, IntoReply};

/// A handler for callback `C`: an async function (or a closure returning a future) taking the
/// event, or the event and its [`Context`], that can be shared between threads.
///
/// `M` tells the two shapes apart, as axum's handlers do; it is inferred, so registering is
/// `builder.on(handler)`, with the command taken from the handler's event type.
///
/// ```
/// use tencent_chat_callbacks::{group, Context, Dispatcher};
///
/// async fn on_group_created(event: group::AfterCreateGroup, ctx: Context) {
///     println!("{} created {} in app {}", event.operator_account, event.group_id, ctx.app_id());
/// }
///
/// async fn on_owner_changed(event: group::AfterChangeGroupOwner) {
///     println!("{} now owns {}", event.new_owner_account, event.group_id);
/// }
///
/// let dispatcher = Dispatcher::builder()
///     .app_id(1400000000)
///     .on(on_group_created)
///     .on(on_owner_changed)
///     .build()?;
/// # Ok::<(), tencent_chat_callbacks::BuildError>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a handler for `{C}`",
    label = "not a handler for `{C}`",
    note = "a handler is an async fn (or closure returning a future) taking `{C}` or `({C}, Context)`, returning `()`, a reply, or a `Result` of either"
)]
pub trait Handler<C: Callback, M>: Send + Sync + 'static {
    /// What the handler returns.
    type Output: IntoReply<C::Reply>;
    /// The future the handler returns.
    type Future: Future<Output = Self::Output> + Send + 'static;

    /// Handles one event.
    fn call(&self, event: C, ctx: Context) -> Self::Future;
}

/// The marker of handlers taking the event and its [`Context`].
#[derive(Debug)]
#[non_exhaustive]
pub struct WithContext;

/// The marker of handlers taking only the event.
#[derive(Debug)]
#[non_exhaustive]
pub struct EventOnly;

impl<C, F, Fut> Handler<C, WithContext> for F
where
    C: Callback,
    F: Fn(C, Context) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoReply<C::Reply>,
{
    type Output = Fut::Output;
    type Future = Fut;

    fn call(&self, event: C, ctx: Context) -> Fut {
        self(event, ctx)
    }
}

impl<C, F, Fut> Handler<C, EventOnly> for F
where
    C: Callback,
    F: Fn(C) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoReply<C::Reply>,
{
    type Output = Fut::Output;
    type Future = Fut;

    fn call(&self, event: C, _ctx: Context) -> Fut {
        self(event)
    }
}

/// A handler for callbacks no typed handler takes; see [`DispatcherBuilder::fallback`].
///
/// [`DispatcherBuilder::fallback`]: crate::DispatcherBuilder::fallback
pub trait FallbackHandler: Send + Sync + 'static {
    /// What the handler returns.
    type Output: IntoReply<crate::Reply>;
    /// The future the handler returns.
    type Future: Future<Output = Self::Output> + Send + 'static;

    /// Handles one event.
    fn call(&self, event: UnhandledEvent, ctx: Context) -> Self::Future;
}

impl<F, Fut> FallbackHandler for F
where
    F: Fn(UnhandledEvent, Context) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoReply<crate::Reply>,
{
    type Output = Fut::Output;
    type Future = Fut;

    fn call(&self, event: UnhandledEvent, ctx: Context) -> Fut {
        self(event, ctx)
    }
}
