//! Handlers: async functions from a typed event and its [`Context`] to a reply.

use std::future::Future;

use crate::context::{Context, UnhandledEvent};
use crate::{Callback, IntoResponse};

/// A handler for callback `C`: any `Fn(C, Context) -> impl Future<Output = impl IntoResponse>`
/// that can be shared between threads, such as an `async fn`.
///
/// ```
/// use tencent_chat_callbacks::{group, Context};
///
/// async fn on_group_created(event: group::AfterCreateGroup, ctx: Context) {
///     println!("{} created {} in app {}", event.operator_account, event.group_id, ctx.app_id);
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a handler for `{C}`",
    label = "not a handler for `{C}`",
    note = "a handler is an async fn (or closure returning a future) taking `({C}, Context)`, returning `()`, a response, or a `Result` of either"
)]
pub trait Handler<C: Callback>: Send + Sync + 'static {
    /// What the handler returns.
    type Output: IntoResponse<C::Response>;
    /// The future the handler returns.
    type Future: Future<Output = Self::Output> + Send + 'static;

    /// Handles one event.
    fn call(&self, event: C, ctx: Context) -> Self::Future;
}

impl<C, F, Fut> Handler<C> for F
where
    C: Callback,
    F: Fn(C, Context) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoResponse<C::Response>,
{
    type Output = Fut::Output;
    type Future = Fut;

    fn call(&self, event: C, ctx: Context) -> Fut {
        self(event, ctx)
    }
}

/// A handler for callbacks no typed handler takes; see [`DispatcherBuilder::fallback`].
///
/// [`DispatcherBuilder::fallback`]: crate::DispatcherBuilder::fallback
pub trait FallbackHandler: Send + Sync + 'static {
    /// What the handler returns.
    type Output: IntoResponse<crate::Response>;
    /// The future the handler returns.
    type Future: Future<Output = Self::Output> + Send + 'static;

    /// Handles one event.
    fn call(&self, event: UnhandledEvent, ctx: Context) -> Self::Future;
}

impl<F, Fut> FallbackHandler for F
where
    F: Fn(UnhandledEvent, Context) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoResponse<crate::Response>,
{
    type Output = Fut::Output;
    type Future = Fut;

    fn call(&self, event: UnhandledEvent, ctx: Context) -> Fut {
        self(event, ctx)
    }
}
