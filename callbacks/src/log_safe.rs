//! Request values in logs: escaped, clipped, and refusals of strangers rate-limited.
//!
//! Anything taken from a request (query parameters, the command, error details quoting the body)
//! is attacker input. Written raw, a `%0A` in `SdkAppid` forges a log line, escape bytes drive the
//! operator's terminal, and a 60 KB parameter repeated per request floods the disk. So values are
//! logged through [`Clipped`], and refusals of requests that did not authenticate go through
//! [`RefusalLimiter`].

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many characters of a request value a log line or an error message keeps.
pub(crate) const MAX_LOGGED_CHARS: usize = 64;

/// A request value made safe to log: control and format characters escaped (as Rust's
/// `escape_debug` writes them), cut after [`MAX_LOGGED_CHARS`] characters with the number of
/// bytes left out.
#[derive(Clone, Copy)]
pub(crate) struct Clipped<'a>(pub(crate) &'a str);

impl fmt::Display for Clipped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.0;
        let end = value.char_indices().nth(MAX_LOGGED_CHARS).map_or(value.len(), |(at, _)| at);
        for c in value[..end].chars() {
            // Controls (line breaks, escape sequences) are written escaped, as are bidirectional
            // overrides and other format characters, so nothing starts a line or reorders one on
            // screen; printable text, quotes included, is kept as it is, to stay readable.
            if c.is_control() || is_format_char(c) {
                fmt::Display::fmt(&c.escape_debug(), f)?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        if end < value.len() {
            write!(f, "…(+{} bytes)", value.len() - end)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Clipped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Unicode format characters that change how a line is displayed (bidi controls, zero-width).
fn is_format_char(c: char) -> bool {
    matches!(c, '\u{00ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// `value` clipped and escaped, as an owned string (for error messages built from request input).
pub(crate) fn clip(value: &str) -> String {
    Clipped(value).to_string()
}

/// Lets through at most `per_window` refusals per window and counts the rest, so one client
/// hammering the endpoint cannot turn the log into a flood. Each window's first line after a
/// suppression reports how many lines were dropped.
pub(crate) struct RefusalLimiter {
    per_window: u32,
    window: Duration,
    state: Mutex<LimiterState>,
}

struct LimiterState {
    started: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

/// Whether to write a refusal, and how many were suppressed before it.
pub(crate) enum Admit {
    /// Write it; `suppressed` lines were dropped since the last one written.
    Log { suppressed: u64 },
    /// Drop it (it is counted).
    Suppress,
}

impl RefusalLimiter {
    pub(crate) const fn new(per_window: u32, window: Duration) -> Self {
        RefusalLimiter {
            per_window,
            window,
            state: Mutex::new(LimiterState { started: None, logged: 0, suppressed: 0 }),
        }
    }

    pub(crate) fn admit(&self) -> Admit {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        if state.started.is_none_or(|started| now.duration_since(started) >= self.window) {
            state.started = Some(now);
            state.logged = 0;
        }
        if state.logged < self.per_window {
            state.logged += 1;
            Admit::Log { suppressed: std::mem::take(&mut state.suppressed) }
        } else {
            state.suppressed += 1;
            Admit::Suppress
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_line_breaks_and_terminal_controls() {
        assert_eq!(clip("1\nINFO forged"), "1\\nINFO forged");
        assert_eq!(clip("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(clip("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(clip("群组 ok"), "群组 ok");
    }

    #[test]
    fn clips_long_values_and_says_how_much_was_left_out() {
        let long = "x".repeat(60_000);
        let clipped = clip(&long);
        assert_eq!(clipped, format!("{}…(+{} bytes)", "x".repeat(MAX_LOGGED_CHARS), 60_000 - MAX_LOGGED_CHARS));
    }

    #[test]
    fn the_limiter_counts_what_it_suppresses() {
        let limiter = RefusalLimiter::new(2, Duration::from_secs(3600));
        assert!(matches!(limiter.admit(), Admit::Log { suppressed: 0 }));
        assert!(matches!(limiter.admit(), Admit::Log { suppressed: 0 }));
        for _ in 0..5 {
            assert!(matches!(limiter.admit(), Admit::Suppress));
        }
        let zero = RefusalLimiter::new(0, Duration::ZERO);
        assert!(matches!(zero.admit(), Admit::Suppress));
        // A window of zero restarts at every call: the count of what was dropped comes back.
        let limiter = RefusalLimiter::new(1, Duration::ZERO);
        assert!(matches!(limiter.admit(), Admit::Log { suppressed: 0 }));
    }
}
