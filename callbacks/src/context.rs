//! What a handler learns about a request besides its typed body.

use bytes::Bytes;
use serde_json::Value;

use crate::common::ClientPlatform;

/// The request a callback arrived in: its query parameters and the raw body.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Context {
    /// `SdkAppid`: the app the callback is for (already checked when an app id is configured).
    pub app_id: u64,
    /// `CallbackCommand`, as sent.
    pub command: String,
    /// `ClientIP`: the IP of the client that caused the event; absent for some commands.
    pub client_ip: Option<String>,
    /// `OptPlatform`: the kind of client that caused the event; absent for some commands.
    pub platform: Option<ClientPlatform>,
    /// `RequestTime`: when the vendor signed the request, Unix seconds; absent without authentication.
    pub request_time: Option<u64>,
    /// `RequestID`: an undocumented per-request id seen in real traffic.
    pub request_id: Option<String>,
    /// The body exactly as received, for fields this version does not know yet.
    pub raw_body: Bytes,
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
