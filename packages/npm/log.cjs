// tencent-chat-callbacks: request values in logs.
//
// Anything taken from a request (query parameters, the command, error details quoting the body)
// is attacker input. Written raw, a `%0A` in `SdkAppid` forges a log line, escape bytes drive the
// operator's terminal, and a 60 KB parameter repeated per request floods the disk. So values are
// logged through `clip` (the Rust crate's `Clipped`), and refusals of requests that did not
// authenticate go through a `RefusalLimiter`.
"use strict";

/** How many characters of a request value a log line or an error message keeps. */
const MAX_LOGGED_CHARS = 64;
const SHORT_ESCAPES = { "\0": "\\0", "\t": "\\t", "\r": "\\r", "\n": "\\n" };
// Controls, and the format characters that change how a line is displayed (bidi, zero-width).
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/gu;

/**
 * `value` made safe to log: control and format characters escaped as Rust's `escape_debug`
 * writes them, cut after 64 characters with the number of bytes left out.
 */
function clip(value) {
  const text = typeof value === "string" ? value : String(value);
  const chars = Array.from(text);
  const kept = chars.length > MAX_LOGGED_CHARS ? chars.slice(0, MAX_LOGGED_CHARS).join("") : text;
  let out = kept.replace(UNSAFE, (c) => SHORT_ESCAPES[c] ?? `\\u{${c.codePointAt(0).toString(16)}}`);
  if (kept.length < text.length) out += `…(+${Buffer.byteLength(text) - Buffer.byteLength(kept)} bytes)`;
  return out;
}

/**
 * Lets through at most `perWindow` lines per `windowMs` and counts the rest; `admit()` returns
 * `null` to drop a line, or how many were dropped since the last one written.
 */
class RefusalLimiter {
  constructor(perWindow = 20, windowMs = 1000) {
    this.perWindow = perWindow;
    this.windowMs = windowMs;
    this.started = null;
    this.logged = 0;
    this.suppressed = 0;
  }

  admit() {
    const now = performance.now();
    if (this.started === null || now - this.started >= this.windowMs) {
      this.started = now;
      this.logged = 0;
    }
    if (this.logged < this.perWindow) {
      this.logged++;
      const suppressed = this.suppressed;
      this.suppressed = 0;
      return suppressed;
    }
    this.suppressed++;
    return null;
  }
}

/** The default logger: `console`, one line per message. */
const consoleLogger = {
  info: (message) => console.info(message),
  warn: (message) => console.warn(message),
  error: (message) => console.error(message),
};

module.exports = { MAX_LOGGED_CHARS, RefusalLimiter, clip, consoleLogger };
