//! `catch_unwind` for a future, the one thing the crate took from `futures-util`: a panic while
//! the future is polled becomes an `Err` with the panic's payload, as with
//! [`std::panic::catch_unwind`] for a closure.

use std::any::Any;
use std::future::{Future, poll_fn};
use std::panic::{self, AssertUnwindSafe};
use std::pin::pin;
use std::task::Poll;

/// [`catch_unwind`](FutureExt::catch_unwind) on a future the caller asserts unwind safe, called
/// as `futures_util::FutureExt::catch_unwind` is.
pub(crate) trait FutureExt: Future + Sized {
    /// The future's output, or the payload of a panic raised while it was polled.
    fn catch_unwind(self) -> impl Future<Output = Result<Self::Output, Box<dyn Any + Send>>>;
}

impl<F: Future> FutureExt for AssertUnwindSafe<F> {
    async fn catch_unwind(self) -> Result<F::Output, Box<dyn Any + Send>> {
        let AssertUnwindSafe(future) = self;
        let mut future = pin!(future);
        poll_fn(|cx| match panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(payload) => Poll::Ready(Err(payload)),
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_while_polled_is_caught_and_an_output_passes_through() {
        assert_eq!(AssertUnwindSafe(async { 7 }).catch_unwind().await.unwrap(), 7);

        let payload = AssertUnwindSafe(async {
            tokio::task::yield_now().await; // the panic comes on a later poll, not the first
            panic!("boom");
        })
        .catch_unwind()
        .await
        .unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    }
}
