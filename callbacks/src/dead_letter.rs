//! Dead letters: authenticated callbacks that were not handled, kept so none is lost.
//!
//! A callback that passed authentication but could not be decoded, whose handler failed or
//! panicked (also after its deadline), or that was still running when the server shut down, is
//! written to a [`DeadLetterSink`] with its raw body. Once the cause is fixed, the letters can be
//! sent again (`example-send --replay`). `Sign` and `RequestTime` are never stored: a replay is
//! signed afresh.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// One callback that was not handled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeadLetter {
    /// `CallbackCommand`, from the query string.
    pub command: String,
    /// Why it was not handled: `undecodable`, `handler_failed`, `handler_panicked`,
    /// `deadline_then_failed`, `overloaded`, `shutdown`, or `batch_item_undecodable`.
    pub reason: String,
    /// What went wrong, in words (for a handler error, its message).
    pub detail: String,
    /// `SdkAppid`.
    pub app_id: u64,
    /// `RequestID` (or, when the vendor sent none, the id the dispatcher gave the request).
    pub request_id: String,
    /// When the request arrived, in Unix milliseconds.
    pub received_at_ms: u64,
    /// `ClientIP`, when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// `OptPlatform`, when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// For one event of a batch (`Push.*`): its index in the batch; `body` is then that event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The body as received, when it is UTF-8 (the vendor's always is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The body as received, hex-encoded, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_hex: Option<String>,
}

impl DeadLetter {
    /// A letter for `body`, stored as text when it is UTF-8 and as hex otherwise.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        command: &str,
        reason: &str,
        detail: String,
        app_id: u64,
        request_id: &str,
        received_at: SystemTime,
        body: &[u8],
    ) -> DeadLetter {
        let (body, body_hex) = match std::str::from_utf8(body) {
            Ok(text) => (Some(text.to_owned()), None),
            Err(_) => (None, Some(hex::encode(body))),
        };
        DeadLetter {
            command: command.to_owned(),
            reason: reason.to_owned(),
            detail,
            app_id,
            request_id: request_id.to_owned(),
            received_at_ms: received_at.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64,
            client_ip: None,
            platform: None,
            index: None,
            body,
            body_hex,
        }
    }

    /// The body exactly as received.
    pub fn raw_body(&self) -> Bytes {
        match (&self.body, &self.body_hex) {
            (Some(text), _) => Bytes::from(text.clone()),
            (None, Some(hex)) => hex::decode(hex).map(Bytes::from).unwrap_or_default(),
            (None, None) => Bytes::new(),
        }
    }
}

/// Where dead letters go. Writing must not fail silently: an error is logged by the dispatcher
/// together with the letter's command and request id.
pub trait DeadLetterSink: Send + Sync + 'static {
    /// Stores one letter durably enough for the deployment (a file sink flushes each line).
    fn write(&self, letter: &DeadLetter) -> io::Result<()>;
}

/// Appends each letter as one JSON object per line to a file, flushing after each.
#[derive(Debug)]
pub struct JsonLinesSink {
    file: Mutex<File>,
}

impl JsonLinesSink {
    /// Opens `path` for appending, creating it if needed.
    pub fn open(path: impl AsRef<Path>) -> io::Result<JsonLinesSink> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(JsonLinesSink { file: Mutex::new(file) })
    }

    /// Reads every letter of a file written by this sink, in order.
    pub fn read(path: impl AsRef<Path>) -> io::Result<Vec<DeadLetter>> {
        let text = std::fs::read_to_string(path)?;
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).map_err(io::Error::other))
            .collect()
    }
}

impl DeadLetterSink for JsonLinesSink {
    fn write(&self, letter: &DeadLetter) -> io::Result<()> {
        let mut line = serde_json::to_vec(letter).map_err(io::Error::other)?;
        line.push(b'\n');
        // One `write_all` of a whole line on an append-mode file: concurrent writers (threads, or
        // processes sharing the file) never interleave inside a line.
        let mut file = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        file.write_all(&line)?;
        file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_sink_appends_lines_that_read_back() {
        let dir = std::env::temp_dir().join(format!("dead-letters-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("letters.jsonl");
        let _ = std::fs::remove_file(&path);
        let sink = JsonLinesSink::open(&path).unwrap();
        let text = DeadLetter::new("A.B", "undecodable", "x".into(), 1, "r1", UNIX_EPOCH, b"{\"a\":1}");
        let binary = DeadLetter::new("A.B", "handler_failed", "y".into(), 1, "r2", UNIX_EPOCH, &[0xff, 0x00]);
        sink.write(&text).unwrap();
        sink.write(&binary).unwrap();
        let read = JsonLinesSink::read(&path).unwrap();
        assert_eq!(read, vec![text, binary.clone()]);
        assert_eq!(binary.raw_body(), Bytes::from_static(&[0xff, 0x00]));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
