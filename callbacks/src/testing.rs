//! Helpers for testing a service's handlers: a [`Context`] for a unit test, and requests signed
//! as Tencent signs them for an end-to-end test through a [`Dispatcher`].
//!
//! A handler is a plain async function, so its unit test calls it:
//!
//! ```
//! use tencent_chat_callbacks::{c2c, testing, Context};
//!
//! async fn moderate(event: c2c::BeforeSendMsg, _ctx: Context) -> c2c::BeforeSendMsgDecision {
//!     if event.from_account == "spammer" { c2c::BeforeSendMsgDecision::Refuse } else { c2c::BeforeSendMsgDecision::Allow }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let event: c2c::BeforeSendMsg = testing::event(serde_json::json!({"From_Account": "spammer", "To_Account": "b",
//!     "MsgSeq": 1, "MsgRandom": 2, "MsgTime": 3, "MsgKey": "k", "MsgBody": []}));
//! let decision = moderate(event.clone(), testing::context(&event)).await;
//! assert_eq!(decision, c2c::BeforeSendMsgDecision::Refuse);
//! # }
//! ```
//!
//! An end-to-end test sends the request the vendor would, through the dispatcher the service
//! builds, and reads the reply:
//!
//! ```
//! use tencent_chat_callbacks::{testing, Dispatcher};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let dispatcher = Dispatcher::builder().app_id(1400000000).token("secret").build().unwrap();
//! let reply = testing::Request::new("State.StateChange", serde_json::json!({"Info": {}}))
//!     .app_id(1400000000)
//!     .token("secret")
//!     .dispatch(&dispatcher)
//!     .await;
//! assert_eq!(reply.status, 200);
//! # }
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::Value;

use crate::{Callback, Context, Dispatcher, HttpReply};

/// Decodes `body` as the event `C`, adding its `CallbackCommand`; panics, naming the failing
/// field, when `body` is not such an event. For tests.
#[track_caller]
pub fn event<C: Callback>(mut body: Value) -> C {
    if let Value::Object(fields) = &mut body {
        fields.entry("CallbackCommand").or_insert_with(|| Value::from(C::COMMAND));
    }
    serde_path_to_error::deserialize(body)
        .unwrap_or_else(|e| panic!("not a `{}` event: {} at `{}`", C::COMMAND, e.inner(), e.path()))
}

/// The context the dispatcher would give a handler of `event`: its command, the event encoded as
/// the raw body, and app id [`Request::DEFAULT_APP_ID`]. Change fields with
/// [`Context::builder`] when a test needs other values.
pub fn context<C: Callback>(event: &C) -> Context {
    let body = serde_json::to_vec(event).expect("generated events always encode");
    Context::builder().app_id(Request::DEFAULT_APP_ID).command(C::COMMAND).raw_body(body).build()
}

/// A callback request as Tencent sends it: the query string (signed when a token is given) and
/// the JSON body.
#[derive(Debug, Clone)]
#[must_use]
pub struct Request {
    command: String,
    body: Bytes,
    app_id: u64,
    token: Option<String>,
    request_time: Option<u64>,
    extra: Vec<(String, String)>,
}

impl Request {
    /// The app id a request names unless [`Request::app_id`] says otherwise.
    pub const DEFAULT_APP_ID: u64 = 1400000000;

    /// A request of `command` carrying `body`; the body's `CallbackCommand` is set to `command`
    /// when it is an object without one.
    pub fn new(command: impl Into<String>, body: Value) -> Self {
        let command = command.into();
        let mut body = body;
        if let Value::Object(fields) = &mut body {
            fields.entry("CallbackCommand").or_insert_with(|| Value::from(command.clone()));
        }
        let body = Bytes::from(serde_json::to_vec(&body).expect("a JSON value always encodes"));
        Request { command, body, app_id: Self::DEFAULT_APP_ID, token: None, request_time: None, extra: Vec::new() }
    }

    /// A request of `C`'s command carrying `event`.
    pub fn from_event<C: Callback>(event: &C) -> Self {
        let body = serde_json::to_value(event).expect("generated events always encode");
        Request::new(C::COMMAND, body)
    }

    /// Replaces the body with raw bytes, as sent, for tests of malformed bodies.
    pub fn raw_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// `SdkAppid`. Default: [`Request::DEFAULT_APP_ID`].
    pub fn app_id(mut self, app_id: u64) -> Self {
        self.app_id = app_id;
        self
    }

    /// Signs the request with `token`: adds `RequestTime` and `Sign` as the vendor computes them.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// `RequestTime`, Unix seconds. Default: now, when the request is signed.
    pub fn request_time(mut self, request_time: u64) -> Self {
        self.request_time = Some(request_time);
        self
    }

    /// Adds another query parameter, such as `ClientIP` or `OptPlatform`.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }

    /// The query string, without `?`: `SdkAppid`, `CallbackCommand`, `contenttype`, then
    /// `RequestTime` and `Sign` when signed, then the extra parameters.
    pub fn query(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("SdkAppid", &self.app_id.to_string());
        query.append_pair("CallbackCommand", &self.command);
        query.append_pair("contenttype", "json");
        if let Some(token) = &self.token {
            let time = self.request_time.unwrap_or_else(now).to_string();
            query.append_pair("RequestTime", &time);
            query.append_pair("Sign", &crate::signature::sign(token, &time));
        } else if let Some(time) = self.request_time {
            query.append_pair("RequestTime", &time.to_string());
        }
        for (name, value) in &self.extra {
            query.append_pair(name, value);
        }
        query.finish()
    }

    /// The body.
    pub fn body(&self) -> Bytes {
        self.body.clone()
    }

    /// Runs the request through `dispatcher` and returns its reply.
    pub async fn dispatch(&self, dispatcher: &Dispatcher) -> HttpReply {
        dispatcher.dispatch(&self.query(), self.body()).await
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group;

    #[test]
    fn a_signed_query_carries_the_vendor_signature() {
        let request = Request::new("State.StateChange", serde_json::json!({})).token("t").request_time(1700000000);
        let query = request.query();
        let sign = crate::signature::sign("t", "1700000000");
        assert_eq!(
            query,
            format!(
                "SdkAppid=1400000000&CallbackCommand=State.StateChange&contenttype=json&RequestTime=1700000000&Sign={sign}"
            )
        );
        assert_eq!(&request.body()[..], br#"{"CallbackCommand":"State.StateChange"}"#);
    }

    #[test]
    fn an_unsigned_query_has_no_sign() {
        let query =
            Request::new("State.StateChange", serde_json::json!({})).app_id(7).param("ClientIP", "1.2.3.4").query();
        assert_eq!(query, "SdkAppid=7&CallbackCommand=State.StateChange&contenttype=json&ClientIP=1.2.3.4");
    }

    #[test]
    fn a_context_carries_the_event_as_its_body() {
        let event: group::AfterChangeGroupOwner = event(serde_json::json!({
            "GroupId": "g", "Type": "Public", "Operator_Account": "a", "NewOwner_Account": "n", "OldOwner_Account": "o",
            "EventTime": 1
        }));
        let ctx = context(&event);
        assert_eq!((ctx.app_id(), ctx.command()), (Request::DEFAULT_APP_ID, "Group.CallbackAfterChangeGroupOwner"));
        assert_eq!(serde_json::from_slice::<group::AfterChangeGroupOwner>(ctx.raw_body()).unwrap(), event);
    }

    #[tokio::test]
    async fn a_signed_request_reaches_a_handler_without_context() {
        async fn refuse(_: crate::c2c::BeforeSendMsg) -> crate::c2c::BeforeSendMsgDecision {
            crate::c2c::BeforeSendMsgDecision::Refuse
        }
        let dispatcher = Dispatcher::builder().app_id(7).token("t").on(refuse).build().unwrap();
        let body = serde_json::json!({"From_Account": "a", "To_Account": "b", "MsgSeq": 1, "MsgRandom": 2,
            "MsgTime": 3, "MsgKey": "k", "MsgBody": []});
        let request = Request::new("C2C.CallbackBeforeSendMsg", body).app_id(7).token("t");
        let reply = request.dispatch(&dispatcher).await;
        assert_eq!(
            (reply.status.as_u16(), &reply.body[..]),
            (200, &br#"{"ActionStatus":"OK","ErrorCode":1,"ErrorInfo":""}"#[..])
        );
        let wrongly_signed = request.clone().token("wrong").dispatch(&dispatcher).await;
        assert_eq!(wrongly_signed.status, 401, "the signature is checked");
    }

    #[test]
    #[should_panic(expected = "not a `Group.CallbackAfterChangeGroupOwner` event")]
    fn a_wrong_event_panics_naming_the_command() {
        let _: group::AfterChangeGroupOwner = event(serde_json::json!({"GroupId": 1}));
    }
}
