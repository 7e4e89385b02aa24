//! What a handler learns about a request besides its typed body.

use std::borrow::Cow;

use bytes::Bytes;
use serde_json::Value;

use crate::common::ClientPlatform;

/// The request a callback arrived in: its query parameters and the raw body.
///
/// The dispatcher builds it for each request; a handler's unit test builds one with
/// [`Context::builder`] or [`testing::context`](crate::testing::context).
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    pub(crate) app_id: u64,
    /// The catalogue's own name when the command is known, so most requests copy nothing.
    pub(crate) command: Cow<'static, str>,
    pub(crate) client_ip: Option<String>,
    pub(crate) platform: Option<ClientPlatform>,
    pub(crate) request_time: Option<u64>,
    pub(crate) request_id: Option<String>,
    pub(crate) raw_body: Bytes,
}

impl Context {
    /// Starts a context for a test, with app id 0, an empty command and body, and no optional
    /// parameter.
    ///
    /// ```
    /// use tencent_chat_callbacks::Context;
    ///
    /// let ctx = Context::builder().app_id(1400000000).command("State.StateChange").build();
    /// assert_eq!(ctx.command(), "State.StateChange");
    /// ```
    pub fn builder() -> ContextBuilder {
        ContextBuilder(Context {
            app_id: 0,
            command: Cow::Borrowed(""),
            client_ip: None,
            platform: None,
            request_time: None,
            request_id: None,
            raw_body: Bytes::new(),
        })
    }

    /// `SdkAppid`: the app the callback is for (already checked when an app id is configured).
    pub fn app_id(&self) -> u64 {
        self.app_id
    }

    /// `CallbackCommand`, as sent.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// `ClientIP`: the IP of the client that caused the event; absent for some commands.
    pub fn client_ip(&self) -> Option<&str> {
        self.client_ip.as_deref()
    }

    /// `OptPlatform`: the kind of client that caused the event; absent for some commands.
    pub fn platform(&self) -> Option<&ClientPlatform> {
        self.platform.as_ref()
    }

    /// `RequestTime`: when the vendor signed the request, Unix seconds; absent without
    /// authentication.
    pub fn request_time(&self) -> Option<u64> {
        self.request_time
    }

    /// `RequestID`: an undocumented per-request id seen in real traffic.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The body exactly as received, for fields this version does not know yet.
    pub fn raw_body(&self) -> &Bytes {
        &self.raw_body
    }
}

/// Builds a [`Context`]; see [`Context::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ContextBuilder(Context);

impl ContextBuilder {
    /// `SdkAppid`.
    pub fn app_id(mut self, app_id: u64) -> Self {
        self.0.app_id = app_id;
        self
    }

    /// `CallbackCommand`.
    pub fn command(mut self, command: impl Into<String>) -> Self {
        self.0.command = Cow::Owned(command.into());
        self
    }

    /// `ClientIP`.
    pub fn client_ip(mut self, client_ip: impl Into<String>) -> Self {
        self.0.client_ip = Some(client_ip.into());
        self
    }

    /// `OptPlatform`.
    pub fn platform(mut self, platform: ClientPlatform) -> Self {
        self.0.platform = Some(platform);
        self
    }

    /// `RequestTime`, Unix seconds.
    pub fn request_time(mut self, request_time: u64) -> Self {
        self.0.request_time = Some(request_time);
        self
    }

    /// `RequestID`.
    pub fn request_id(mut self, request_id: impl Into<String>) -> Self {
        self.0.request_id = Some(request_id.into());
        self
    }

    /// The raw body.
    pub fn raw_body(mut self, raw_body: impl Into<Bytes>) -> Self {
        self.0.raw_body = raw_body.into();
        self
    }

    /// The context.
    pub fn build(self) -> Context {
        self.0
    }
}

/// A callback no typed handler took: an unknown command, or a known one without a handler.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UnhandledEvent {
    /// `CallbackCommand` from the query string.
    pub command: String,
    /// The body, parsed as JSON.
    pub body: Value,
}

impl UnhandledEvent {
    /// The event of `command` with `body`.
    pub fn new(command: impl Into<String>, body: Value) -> Self {
        UnhandledEvent { command: command.into(), body }
    }
}
