//! Dead letters: authenticated callbacks that were not handled, kept so none is lost.
//!
//! A callback that passed authentication but could not be decoded, whose handler failed or
//! panicked (also after its deadline), or that was still running when the server shut down, is
//! written to a [`DeadLetterSink`] with its raw body. Once the cause is fixed, the letters can be
//! sent again (`example-send --replay`). `Sign` and `RequestTime` are never stored: a replay is
//! signed afresh.
//!
//! An after-callback acknowledged at its deadline while its handler still runs is written first,
//! durably, with reason [`IN_PROGRESS`]; when the handler finishes, a [`DONE`] line follows. The
//! letters of the ones never finished (the process died) are what
//! [`DeadLetterSink::unfinished`] returns, and what a dispatcher hands on again at start-up.
//!
//! Anyone who saw one signed URL can make requests fail on purpose, so the file sink keeps a
//! total size budget: past it a letter is dropped (the dispatcher counts and logs the loss)
//! rather than filling the disk.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The reason of a letter written when an after-callback was acknowledged while its handler ran.
pub const IN_PROGRESS: &str = "in_progress";

/// The reason of the line that marks an [`IN_PROGRESS`] letter's handler as finished.
pub const DONE: &str = "done";

/// The default total size of a [`JsonLinesSink`]'s files: 1 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// One callback that was not handled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeadLetter {
    /// `CallbackCommand`, from the query string.
    pub command: String,
    /// Why it was not handled: `undecodable`, `command_mismatch`, `handler_failed`,
    /// `handler_panicked`, `deadline_then_failed`, `overloaded`, `dedup_unavailable`, `shutdown`,
    /// `batch_item_undecodable`, or [`IN_PROGRESS`] (and [`DONE`] for its marker).
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
    /// The body as received, base64-encoded (standard alphabet, padded), when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// The body hex-encoded, as versions up to 0.2 wrote a body that is not UTF-8; read only.
    #[serde(default, skip_serializing)]
    pub body_hex: Option<String>,
}

impl DeadLetter {
    /// A letter for `body`, stored as text when it is UTF-8 and as base64 otherwise.
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
        let (body, body_base64) = match std::str::from_utf8(body) {
            Ok(text) => (Some(text.to_owned()), None),
            Err(_) => (None, Some(BASE64.encode(body))),
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
            body_base64,
            body_hex: None,
        }
    }

    /// The body exactly as received.
    pub fn raw_body(&self) -> Bytes {
        if let Some(text) = &self.body {
            return Bytes::from(text.clone());
        }
        let decoded = match (&self.body_base64, &self.body_hex) {
            (Some(base64), _) => BASE64.decode(base64).ok(),
            (None, Some(hex)) => hex::decode(hex).ok(),
            (None, None) => None,
        };
        decoded.map(Bytes::from).unwrap_or_default()
    }

    /// The line that marks this `in_progress` letter's handler as finished.
    fn done_marker(&self) -> DeadLetter {
        DeadLetter {
            reason: DONE.to_owned(),
            detail: "the handler finished".to_owned(),
            body: None,
            body_base64: None,
            body_hex: None,
            ..self.clone()
        }
    }

    /// What identifies one request across its `in_progress` letter and its marker.
    fn identity(&self) -> (String, String, u64) {
        (self.command.clone(), self.request_id.clone(), self.received_at_ms)
    }
}

/// Where dead letters go. Writing must not fail silently: an error is logged by the dispatcher
/// together with the letter's command and request id.
pub trait DeadLetterSink: Send + Sync + 'static {
    /// Stores one letter durably enough for the deployment (a file sink flushes each line).
    fn write(&self, letter: &DeadLetter) -> io::Result<()>;

    /// Stores the letter of an event acknowledged while its handler runs: it must survive the
    /// process being killed (the file sink syncs it to disk). By default, [`Self::write`].
    fn write_durable(&self, letter: &DeadLetter) -> io::Result<()> {
        self.write(letter)
    }

    /// Records that the handler of an [`IN_PROGRESS`] letter finished. By default, nothing: a
    /// sink that does not track this returns no [`Self::unfinished`] letters.
    fn mark_done(&self, letter: &DeadLetter) -> io::Result<()> {
        let _ = letter;
        Ok(())
    }

    /// The [`IN_PROGRESS`] letters never marked done. By default, none.
    fn unfinished(&self) -> io::Result<Vec<DeadLetter>> {
        Ok(Vec::new())
    }
}

/// Appends each letter as one JSON object per line to a file, flushing after each, within a
/// total size budget.
///
/// When the file reaches an eighth of the budget it is renamed `<name>.<n>` (n = 1, 2, …) and a
/// new one is started, so that finished files can be moved away; the budget counts the file and
/// every `<name>.<n>` beside it. A letter that would exceed the budget is not written, and
/// [`DeadLetterSink::write`] returns an error of kind [`io::ErrorKind::StorageFull`].
#[derive(Debug)]
pub struct JsonLinesSink {
    path: PathBuf,
    max_bytes: u64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    file: File,
    /// The size of the current file.
    written: u64,
    /// The size of the rotated files, as last counted.
    rotated: u64,
}

impl JsonLinesSink {
    /// Opens `path` for appending, creating it if needed, with a budget of [`DEFAULT_MAX_BYTES`].
    pub fn open(path: impl AsRef<Path>) -> io::Result<JsonLinesSink> {
        let path = path.as_ref().to_owned();
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let written = file.metadata()?.len();
        let rotated = segments(&path)?.iter().map(|(_, size, _)| size).sum();
        Ok(JsonLinesSink { path, max_bytes: DEFAULT_MAX_BYTES, state: Mutex::new(State { file, written, rotated }) })
    }

    /// The total size the sink's files may take. Default: [`DEFAULT_MAX_BYTES`].
    pub fn max_bytes(mut self, max: u64) -> Self {
        self.max_bytes = max;
        self
    }

    /// Reads the letters of a file written by this sink, in order: its rotated files
    /// (`<name>.1`, `<name>.2`, …) first, then the file itself. Done markers, and the
    /// `in_progress` letters they mark, are left out: what remains is what was not handled.
    pub fn read(path: impl AsRef<Path>) -> io::Result<Vec<DeadLetter>> {
        let all = read_all(path.as_ref())?;
        let done: HashSet<_> = all.iter().filter(|l| l.reason == DONE).map(DeadLetter::identity).collect();
        Ok(all
            .into_iter()
            .filter(|l| l.reason != DONE && !(l.reason == IN_PROGRESS && done.contains(&l.identity())))
            .collect())
    }

    fn append(&self, letter: &DeadLetter, sync: bool) -> io::Result<()> {
        let mut line = serde_json::to_vec(letter).map_err(io::Error::other)?;
        line.push(b'\n');
        let length = line.len() as u64;
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let segment = (self.max_bytes / 8).max(1);
        if state.written > 0 && state.written + length > segment {
            self.rotate(&mut state)?;
        }
        if state.rotated + state.written + length > self.max_bytes {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                format!("the dead-letter budget of {} bytes is used up", self.max_bytes),
            ));
        }
        // One `write_all` of a whole line on an append-mode file: concurrent writers (threads, or
        // processes sharing the file) never interleave inside a line.
        state.file.write_all(&line)?;
        state.file.flush()?;
        state.written += length;
        if sync {
            state.file.sync_data()?;
        }
        Ok(())
    }

    /// Renames the current file to the next free `<name>.<n>` and starts a new one; counts the
    /// rotated files again, so that files moved away free their share of the budget.
    fn rotate(&self, state: &mut State) -> io::Result<()> {
        let next = segments(&self.path)?.last().map_or(1, |(n, _, _)| n + 1);
        let mut rotated = self.path.clone().into_os_string();
        rotated.push(format!(".{next}"));
        fs::rename(&self.path, &rotated)?;
        state.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        state.written = 0;
        state.rotated = segments(&self.path)?.iter().map(|(_, size, _)| size).sum();
        Ok(())
    }
}

impl DeadLetterSink for JsonLinesSink {
    fn write(&self, letter: &DeadLetter) -> io::Result<()> {
        self.append(letter, false)
    }

    fn write_durable(&self, letter: &DeadLetter) -> io::Result<()> {
        self.append(letter, true)
    }

    fn mark_done(&self, letter: &DeadLetter) -> io::Result<()> {
        self.append(&letter.done_marker(), false)
    }

    fn unfinished(&self) -> io::Result<Vec<DeadLetter>> {
        let _state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(JsonLinesSink::read(&self.path)?.into_iter().filter(|l| l.reason == IN_PROGRESS).collect())
    }
}

/// The rotated files beside `path`: `(n, size, path)` sorted by `n`.
fn segments(path: &Path) -> io::Result<Vec<(u64, u64, PathBuf)>> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Ok(Vec::new());
    };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let prefix = format!("{name}.");
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(n) = file_name.to_str().and_then(|f| f.strip_prefix(&prefix)).and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        found.push((n, entry.metadata()?.len(), entry.path()));
    }
    found.sort();
    Ok(found)
}

fn read_all(path: &Path) -> io::Result<Vec<DeadLetter>> {
    let mut files: Vec<PathBuf> = segments(path)?.into_iter().map(|(_, _, p)| p).collect();
    files.push(path.to_owned());
    let mut letters = Vec::new();
    for file in files {
        let text = match fs::read_to_string(&file) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            letters.push(serde_json::from_str(line).map_err(io::Error::other)?);
        }
    }
    Ok(letters)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dead-letters-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_file_sink_appends_lines_that_read_back() {
        let dir = scratch("lines");
        let path = dir.join("letters.jsonl");
        let sink = JsonLinesSink::open(&path).unwrap();
        let text = DeadLetter::new("A.B", "undecodable", "x".into(), 1, "r1", UNIX_EPOCH, b"{\"a\":1}");
        let binary = DeadLetter::new("A.B", "handler_failed", "y".into(), 1, "r2", UNIX_EPOCH, &[0xff, 0x00]);
        sink.write(&text).unwrap();
        sink.write(&binary).unwrap();
        let read = JsonLinesSink::read(&path).unwrap();
        assert_eq!(read, vec![text, binary.clone()]);
        assert_eq!(binary.body_base64.as_deref(), Some("/wA="));
        assert_eq!(binary.raw_body(), Bytes::from_static(&[0xff, 0x00]));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn old_hex_bodies_still_read() {
        let letter: DeadLetter = serde_json::from_str(
            r#"{"command":"A.B","reason":"x","detail":"","app_id":1,"request_id":"r","received_at_ms":0,"body_hex":"ff00"}"#,
        )
        .unwrap();
        assert_eq!(letter.raw_body(), Bytes::from_static(&[0xff, 0x00]));
    }

    #[test]
    fn the_budget_rotates_files_and_then_drops_letters() {
        let dir = scratch("budget");
        let path = dir.join("letters.jsonl");
        let sink = JsonLinesSink::open(&path).unwrap().max_bytes(8 * 1024);
        let body = "x".repeat(700);
        let mut written = 0;
        let mut full = 0;
        for n in 0..40 {
            let letter =
                DeadLetter::new("A.B", "undecodable", String::new(), 1, &format!("r{n}"), UNIX_EPOCH, body.as_bytes());
            match sink.write(&letter) {
                Ok(()) => written += 1,
                Err(error) => {
                    assert_eq!(error.kind(), io::ErrorKind::StorageFull);
                    full += 1;
                }
            }
        }
        assert!(written > 0 && full > 0, "{written} written, {full} refused");
        let total: u64 = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
        assert!(total <= 8 * 1024, "{total} bytes on disk");
        assert!(segments(&path).unwrap().len() > 1, "the file was rotated");
        assert_eq!(JsonLinesSink::read(&path).unwrap().len(), written);
        // Moving the rotated files away frees the budget.
        for (_, _, file) in segments(&path).unwrap() {
            fs::remove_file(file).unwrap();
        }
        let sink = JsonLinesSink::open(&path).unwrap().max_bytes(8 * 1024);
        let letter = DeadLetter::new("A.B", "undecodable", String::new(), 1, "again", UNIX_EPOCH, body.as_bytes());
        sink.write(&letter).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn in_progress_letters_are_unfinished_until_marked_done() {
        let dir = scratch("progress");
        let path = dir.join("letters.jsonl");
        let sink = JsonLinesSink::open(&path).unwrap();
        let first = DeadLetter::new("A.B", IN_PROGRESS, String::new(), 1, "r1", UNIX_EPOCH, b"{}");
        let second = DeadLetter::new("A.B", IN_PROGRESS, String::new(), 1, "r2", UNIX_EPOCH, b"{}");
        sink.write_durable(&first).unwrap();
        sink.write_durable(&second).unwrap();
        sink.mark_done(&first).unwrap();
        assert_eq!(sink.unfinished().unwrap(), vec![second.clone()]);
        assert_eq!(JsonLinesSink::read(&path).unwrap(), vec![second]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
