//! The relay's handlers: a typed handler per before-callback that asks the decision endpoint, and a
//! fallback that publishes every other callback. The dispatcher in front of them verifies, decodes
//! and refuses exactly as it does for any service.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use tencent_chat_callbacks::dedup::dedup_key;
use tencent_chat_callbacks::envelope::Envelope;
use tencent_chat_callbacks::{
    BoxError, Callback, Command, Context, DecodeError, DispatchError, DispatcherBuilder, Event, Handler, IntoReply,
    Reply, UnhandledEvent, WithContext, c2c, group, official_account, sns,
};
use tracing::debug;

use crate::decide::Decider;
use crate::forward::{Forwarder, Published};

/// Everything the handlers share.
pub(crate) struct Relay {
    pub(crate) forwarder: Arc<Forwarder>,
    pub(crate) decider: Option<Decider>,
    /// Per command, the body field naming the event (`--dedup-field`).
    pub(crate) key_fields: HashMap<String, String>,
    pub(crate) dedup_ttl: Duration,
    pub(crate) publish_timeout: Duration,
}

/// Registers the relay's handlers: one per before-callback this version knows, the fallback for
/// the rest.
pub(crate) fn register(builder: DispatcherBuilder, relay: Arc<Relay>) -> DispatcherBuilder {
    macro_rules! before_callbacks {
        ($builder:expr; $($callback:ty),* $(,)?) => {
            $builder $(.on::<$callback, WithContext>(before::<$callback>(Arc::clone(&relay))))*
        };
    }
    let builder = before_callbacks!(builder;
        c2c::BeforeSendMsg,
        group::BeforeApplyJoinGroup,
        group::BeforeCreateGroup,
        group::BeforeCreateTopic,
        group::BeforeInviteJoinGroup,
        group::BeforeSendMsg,
        official_account::BeforeAddSubscriber,
        official_account::BeforeCreateOfficialAccount,
        official_account::BeforeSendMsg,
        sns::PrevFriendAdd,
        sns::PrevFriendResponse,
    );
    builder.fallback(move |_event: UnhandledEvent, ctx: Context| {
        let relay = Arc::clone(&relay);
        async move { relay.forward(ctx).await }
    })
}

/// The handler of before-callback `C`: the decision endpoint's reply, read as `C`'s reply type.
fn before<C>(relay: Arc<Relay>) -> impl Handler<C, WithContext>
where
    C: Callback,
    C::Reply: DeserializeOwned + IntoReply<C::Reply>,
{
    move |_event: C, ctx: Context| {
        let relay = Arc::clone(&relay);
        async move { relay.decide::<C::Reply>(ctx).await }
    }
}

impl Relay {
    fn envelope(&self, ctx: &Context) -> Result<Envelope, BoxError> {
        // A configured field first, else the one the command's schema names.
        let key_field = self.key_fields.get(ctx.command()).map(String::as_str);
        let key_field = key_field.or_else(|| Command::from_name(ctx.command()).and_then(Command::dedup_field));
        let received_at = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis();
        Ok(Envelope::new(
            ctx.command().to_owned(),
            ctx.app_id(),
            ctx.request_id().map(str::to_owned),
            u64::try_from(received_at).unwrap_or(u64::MAX),
            dedup_key(ctx.command(), ctx.raw_body(), key_field),
            ctx.raw_body(),
        )?)
    }

    /// Publishes an after-callback (or one this version does not know) and answers `OK` once the
    /// destination acknowledged it; a failure or a timeout answers 500, so the vendor may retry.
    async fn forward(&self, ctx: Context) -> Result<Reply, BoxError> {
        // A known command's body must be its event, as for a typed handler; any body an object.
        let refusal = match Event::from_json(ctx.command(), ctx.raw_body()) {
            Err(error) => Some(error.to_string()),
            Ok(_) if ctx.raw_body().iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') => {
                Some("expected a JSON object".to_owned())
            }
            Ok(_) => None,
        };
        if let Some(message) = refusal {
            return Err(Box::new(DispatchError::from(DecodeError::invalid_body(ctx.command(), message))));
        }
        let envelope = self.envelope(&ctx)?;
        let published = tokio::time::timeout(self.publish_timeout, self.forwarder.publish(&envelope, self.dedup_ttl))
            .await
            .map_err(|_| format!("the destination did not acknowledge within {:?}", self.publish_timeout))??;
        match published {
            Published::New(id) => debug!(command = %ctx.command(), key = %envelope.dedup_key, id = ?id, "published"),
            Published::Duplicate => {
                debug!(command = %ctx.command(), key = %envelope.dedup_key, "duplicate; not published again")
            }
        }
        Ok(Reply::ok())
    }

    /// Asks the decision endpoint, checking that its reply is `R`. Without an endpoint, or when it
    /// fails, the error goes to the dispatcher, which answers by its failure policy and keeps a
    /// dead letter.
    async fn decide<R: DeserializeOwned>(&self, ctx: Context) -> Result<R, BoxError> {
        let Some(decider) = &self.decider else {
            return Err("no --decide endpoint is configured".into());
        };
        let envelope = self.envelope(&ctx)?;
        let reply = decider.decide(&envelope).await?;
        serde_json::from_slice::<R>(&reply)
            .map_err(|e| format!("the decision is not a `{}` reply: {e}", ctx.command()).into())
    }
}
