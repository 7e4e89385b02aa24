//! The envelope a relay publishes for each callback: the event as received, with what the query
//! string said about it.
//!
//! A relay (the `relay` example of the repository) verifies a callback and publishes one
//! envelope per event to a broker; a consumer in any language reads it back. Its JSON Schema is
//! `schema/envelope/envelope.schema.json`. In Rust, [`Envelope::event`] turns it back into the
//! typed [`Event`].

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::Event;

/// One callback as a relay publishes it: a JSON object, one per stream entry or message.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Envelope {
    /// `CallbackCommand` from the query string, e.g. `Group.CallbackAfterCreateGroup`.
    pub command: String,
    /// `SdkAppid`: the app the callback is for.
    pub app_id: u64,
    /// The vendor's `RequestID`, when the query string had one.
    pub request_id: Option<String>,
    /// When the relay received the request, Unix time in milliseconds.
    pub received_at: u64,
    /// The key the event was deduplicated by ([`crate::dedup::dedup_key`]); consumers can use it
    /// to make their own processing idempotent.
    pub dedup_key: String,
    /// The body exactly as received: the event's JSON, unchanged but for line breaks between
    /// tokens, which become spaces so an envelope fits on one line.
    pub body: Box<RawValue>,
}

/// Why an [`Envelope`] could not be built or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The body is not JSON.
    #[error("the body is not JSON: {0}")]
    BodyNotJson(#[source] serde_json::Error),
    /// The body is JSON, but not the command's event.
    #[error("the body is not a `{command}` event: {source}")]
    NotTheCommandsEvent {
        /// The envelope's command.
        command: String,
        /// What failed to decode.
        #[source]
        source: serde_json::Error,
    },
}

impl Envelope {
    /// An envelope for a body received as `body`; fails when the body is not JSON.
    pub fn new(
        command: impl Into<String>,
        app_id: u64,
        request_id: Option<String>,
        received_at: u64,
        dedup_key: impl Into<String>,
        body: &[u8],
    ) -> Result<Envelope, EnvelopeError> {
        // Outside strings, a line break in JSON is only whitespace (inside one it must be escaped),
        // so making it a space changes no value and keeps the envelope on one line.
        let text = String::from_utf8_lossy(body).replace(['\n', '\r'], " ");
        let body = RawValue::from_string(text).map_err(EnvelopeError::BodyNotJson)?;
        Ok(Envelope { command: command.into(), app_id, request_id, received_at, dedup_key: dedup_key.into(), body })
    }

    /// The typed event; [`Event::Unknown`] when this version does not know the command.
    // Inline, like `Event::from_json`, so neither is compiled unless a crate calls it.
    #[inline]
    pub fn event(&self) -> Result<Event, EnvelopeError> {
        Event::from_json(&self.command, self.body.get().as_bytes())
            .map_err(|source| EnvelopeError::NotTheCommandsEvent { command: self.command.clone(), source })
    }

    /// The envelope as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an envelope always encodes")
    }

    /// Reads an envelope from JSON.
    pub fn from_json(json: &[u8]) -> Result<Envelope, serde_json::Error> {
        serde_json::from_slice(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"{\r\n  \"CallbackCommand\": \"Group.CallbackAfterGroupDestroyed\",\n  \"GroupId\": \"@TGS#2J4SZEAEL\",\n  \"Type\": \"Public\", \"Owner_Account\": \"leckie\", \"Name\": \"MyFirstGroup\",\n  \"MemberList\": [], \"EventTime\": \"1670574414123\"\n}";

    #[test]
    fn round_trips_on_one_line_and_decodes_the_typed_event() {
        let envelope = Envelope::new(
            "Group.CallbackAfterGroupDestroyed",
            1400000000,
            Some("r-1".into()),
            1_700_000_000_000,
            "k",
            BODY,
        )
        .unwrap();
        let json = envelope.to_json();
        assert!(!json.contains('\n'), "{json}");
        let back = Envelope::from_json(json.as_bytes()).unwrap();
        assert_eq!(back.command, "Group.CallbackAfterGroupDestroyed");
        assert_eq!(back.request_id.as_deref(), Some("r-1"));
        assert_eq!(back.received_at, 1_700_000_000_000);
        let original: serde_json::Value = serde_json::from_slice(BODY).unwrap();
        let relayed: serde_json::Value = serde_json::from_str(back.body.get()).unwrap();
        assert_eq!(original, relayed);
        let Event::GroupAfterGroupDestroyed(event) = back.event().unwrap() else { panic!("typed event") };
        assert_eq!(event.group_id, "@TGS#2J4SZEAEL");
    }

    #[test]
    fn unknown_commands_and_wrong_bodies() {
        let unknown = Envelope::new("Future.CallbackNew", 1, None, 0, "k", br#"{"A":1}"#).unwrap();
        assert!(matches!(unknown.event().unwrap(), Event::Unknown(_)));
        let wrong = Envelope::new("Group.CallbackAfterGroupDestroyed", 1, None, 0, "k", br#"{"A":1}"#).unwrap();
        assert!(matches!(wrong.event(), Err(EnvelopeError::NotTheCommandsEvent { .. })));
        assert!(matches!(Envelope::new("X", 1, None, 0, "k", b"{oops"), Err(EnvelopeError::BodyNotJson(_))));
    }
}
