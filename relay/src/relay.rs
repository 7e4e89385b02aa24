//! The relay's handlers: a typed handler per before-callback (the decision endpoint's answer, or
//! the failure policy), one per batch command (so the library splits a batch and dead-letters
//! each bad item alone), and a fallback that publishes every other callback. The dispatcher in
//! front of them verifies, decodes and refuses exactly as it does for any service.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde_json::Value;
use tencent_chat_callbacks::dedup::dedup_key;
use tencent_chat_callbacks::envelope::Envelope;
use tencent_chat_callbacks::{
    BoxError, Callback, CallbackKind, Command, Context, DispatcherBuilder, Event, FailurePolicy, Handler, IntoReply,
    Refusal, Reply, UnhandledEvent, WithContext, c2c, group, official_account, push, sns,
};
use tracing::{debug, warn};

use crate::clip::Clip;
use crate::decide::Decider;
use crate::forward::{CONFLICT_REASON, Forwarder, Published};

/// Everything the handlers share.
pub(crate) struct Relay {
    pub(crate) forwarder: Arc<Forwarder>,
    pub(crate) decider: Option<Decider>,
    /// How before-callbacks are answered without `--decide`.
    pub(crate) on_failure: FailurePolicy,
    /// Per command, the body field naming the event (`--dedup-field`).
    pub(crate) key_fields: HashMap<String, String>,
    pub(crate) dedup_ttl: Duration,
    pub(crate) publish_timeout: Duration,
    /// Whether events of commands this version does not know are published (`--publish-unknown`).
    pub(crate) publish_unknown: bool,
}

/// Registers the relay's handlers: one per before-callback and batch command this version
/// knows, the fallback for the rest.
pub(crate) fn register(builder: DispatcherBuilder, relay: Arc<Relay>) -> DispatcherBuilder {
    macro_rules! before_callbacks {
        ($builder:expr; $($callback:ty),* $(,)?) => {
            $builder $(.on::<$callback, WithContext>(before::<$callback>(Arc::clone(&relay))))*
        };
    }
    // Without a decision endpoint, before-callbacks reach the fallback, which answers them by the
    // policy with the plain reply the dispatcher's own policy answers with.
    let builder = if relay.decider.is_none() {
        builder
    } else {
        before_callbacks!(builder;
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
        )
    };
    let builder = builder
        .on::<push::AllMemberPush, WithContext>(batch::<push::AllMemberPush>(Arc::clone(&relay)))
        .on::<push::OfflinePush, WithContext>(batch::<push::OfflinePush>(Arc::clone(&relay)));
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

/// The handler of batch command `C`: the library hands it the batch's good items (and has
/// dead-lettered each bad one alone); those are published as one envelope.
fn batch<C: Callback<Reply = Reply>>(relay: Arc<Relay>) -> impl Handler<C, WithContext> {
    move |_event: C, ctx: Context| {
        let relay = Arc::clone(&relay);
        async move {
            let body = good_items(ctx.command(), ctx.raw_body());
            relay.publish(&ctx, &body).await
        }
    }
}

/// The body of a batch with only the items that decode, each kept as received. The check is the
/// one the library made to split the batch, so both agree on which items are bad; a body that
/// decodes as a whole is returned as it is.
fn good_items(command: &str, body: &[u8]) -> Vec<u8> {
    if Event::from_json(command, body).is_ok() {
        return body.to_vec();
    }
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(body) else { return body.to_vec() };
    let field = object.iter().find_map(|(name, value)| {
        let is_batch = value.as_array().is_some_and(|items| {
            items.iter().any(|i| i.get("CallbackCommand").and_then(Value::as_str) == Some(command))
        });
        is_batch.then(|| name.clone())
    });
    let Some(field) = field else { return body.to_vec() };
    let Some(Value::Array(items)) = object.remove(&field) else { return body.to_vec() };
    let alone = |item: &Value| {
        let mut single = object.clone();
        single.insert(field.clone(), Value::Array(vec![item.clone()]));
        serde_json::to_vec(&single).unwrap_or_default()
    };
    let good: Vec<Value> = items.into_iter().filter(|item| Event::from_json(command, &alone(item)).is_ok()).collect();
    object.insert(field, Value::Array(good));
    serde_json::to_vec(&object).unwrap_or_else(|_| body.to_vec())
}

impl Relay {
    fn envelope(&self, ctx: &Context, body: &[u8]) -> Result<Envelope, BoxError> {
        // A configured field first, else the one the command's schema names.
        let key_field = self.key_fields.get(ctx.command()).map(String::as_str);
        let key_field = key_field.or_else(|| Command::from_name(ctx.command()).and_then(Command::dedup_field));
        let received_at = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis();
        Ok(Envelope::new(
            ctx.command().to_owned(),
            ctx.app_id(),
            ctx.request_id().map(str::to_owned),
            u64::try_from(received_at).unwrap_or(u64::MAX),
            dedup_key(ctx.command(), body, key_field),
            body,
        )?)
    }

    /// Publishes an after-callback (or, with `--publish-unknown`, one this version does not
    /// know) and answers `OK` once the destination acknowledged it; a failure or a timeout
    /// answers 500, so the vendor may retry.
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
            return Err(Box::new(Refusal::invalid_body(ctx.command(), message)));
        }
        let command = Command::from_name(ctx.command());
        if command.is_some_and(|c| c.kind() == CallbackKind::Before) {
            return self.by_policy();
        }
        if command.is_none() && !self.publish_unknown {
            // Anyone who saw one signed URL can invent commands; only the catalogue's are relayed.
            metrics::counter!("relay_unknown_commands_total").increment(1);
            debug!(command = %Clip(ctx.command()), "a command this version does not know; acknowledged, not published");
            return Ok(Reply::ok());
        }
        self.publish(&ctx, &ctx.raw_body().clone()).await
    }

    async fn publish(&self, ctx: &Context, body: &[u8]) -> Result<Reply, BoxError> {
        let envelope = self.envelope(ctx, body)?;
        let published = tokio::time::timeout(self.publish_timeout, self.forwarder.publish(&envelope, self.dedup_ttl))
            .await
            .map_err(|_| format!("the destination did not acknowledge within {:?}", self.publish_timeout))??;
        let (command, key) = (Clip(ctx.command()), Clip(&envelope.dedup_key));
        match published {
            Published::New(id) => debug!(%command, %key, id = ?id, "published"),
            Published::Duplicate => debug!(%command, %key, "duplicate; not published again"),
            Published::Conflict(Some(id)) => {
                metrics::counter!("relay_dead_letters_total", "reason" => CONFLICT_REASON).increment(1);
                warn!(
                    %command, %key, dead_letter = %id,
                    "an event with this dedup key but another body was published before (a forgery, or the genuine \
                     event after one); this one is kept in the dead-letter stream, reason dedup_conflict"
                );
            }
            Published::Conflict(None) => warn!(
                %command, %key,
                "an event with this dedup key but another body was published before; published this one too"
            ),
        }
        Ok(Reply::ok())
    }

    /// A before-callback without a decision endpoint, answered by the policy here, quietly:
    /// start-up said so once.
    fn by_policy(&self) -> Result<Reply, BoxError> {
        match self.on_failure {
            FailurePolicy::Allow => Ok(Reply::ok()),
            FailurePolicy::Refuse => {
                let mut reply = Reply::ok();
                reply.error_code = 1;
                reply.error_info = "refused: the relay has no decision endpoint".into();
                Ok(reply)
            }
            // The vendor's own behaviour for a failed callback: a failure status, quietly.
            _ => Err(Box::new(Refusal::Undecided)),
        }
    }

    /// Asks the decision endpoint, checking that its reply is `R`. When it fails, the error goes
    /// to the dispatcher, which answers by its failure policy and keeps a dead letter.
    async fn decide<R: DeserializeOwned>(&self, ctx: Context) -> Result<R, BoxError> {
        let Some(decider) = &self.decider else { return Err("no --decide endpoint is configured".into()) };
        let envelope = self.envelope(&ctx, ctx.raw_body())?;
        let reply = decider.decide(&envelope).await?;
        serde_json::from_slice::<R>(&reply)
            .map_err(|e| format!("the decision is not a `{}` reply: {e}", ctx.command()).into())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn a_batch_keeps_its_good_items_as_received() {
        let fixture = tests_fixture();
        let mut body: serde_json::Value = serde_json::from_slice(&fixture).unwrap();
        let good = body["Events"][0].clone();
        let mut bad = good.clone();
        bad["TaskTime"] = json!("not a time");
        let mut odd = good.clone();
        odd["Extra"] = json!({"kept": true});
        body["Events"] = json!([good, bad, odd]);
        let kept: serde_json::Value =
            serde_json::from_slice(&super::good_items("Push.AllMemberPush", &serde_json::to_vec(&body).unwrap()))
                .unwrap();
        assert_eq!(kept["Events"], json!([good, odd]));
        let whole = serde_json::to_vec(&json!({"Events": [good]})).unwrap();
        assert_eq!(super::good_items("Push.AllMemberPush", &whole), whole, "a good batch as it is");
    }

    fn tests_fixture() -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/Push.AllMemberPush/sample.json");
        std::fs::read(path).unwrap()
    }
}
