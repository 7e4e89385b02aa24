// tencent-chat-callbacks: dead letters.
//
// A callback that passed authentication but could not be decoded, whose handler failed (also
// after its deadline), that was shed under overload, or that was still running at shutdown, is
// written to a sink with its raw body, in the Rust crate's format: one JSON object per line, so
// `example-send --replay` sends it again. `Sign` and `RequestTime` are never stored. A file sink
// keeps within a size budget; past it letters are dropped, counted, and reported as lost.
"use strict";

const fs = require("node:fs");

/** The default size budget of a dead-letter file: 1 GiB. */
const DEFAULT_DEAD_LETTER_MAX_BYTES = 2 ** 30;
const FIELDS = ["command", "reason", "detail", "app_id", "request_id", "received_at_ms", "client_ip", "platform", "index", "body", "body_base64"];

/** A letter for `rawBody` (a Buffer), stored as text when it is UTF-8 and as base64 otherwise. */
function deadLetter(rawBody, fields) {
  const letter = { ...fields };
  try {
    letter.body = new TextDecoder("utf-8", { fatal: true }).decode(rawBody);
  } catch {
    letter.body_base64 = Buffer.from(rawBody).toString("base64");
  }
  return letter;
}

/** One letter as a line of JSON, fields in the Rust crate's order, absent ones left out. */
function letterLine(letter) {
  const ordered = {};
  for (const key of FIELDS) if (letter[key] !== undefined && letter[key] !== null) ordered[key] = letter[key];
  return JSON.stringify(ordered);
}

/** Appends each letter as one JSON line to `path`, within `maxBytes` for the whole file. */
class JsonLinesSink {
  constructor(path, options = {}) {
    this.path = path;
    this.maxBytes = options.maxBytes ?? DEFAULT_DEAD_LETTER_MAX_BYTES;
    this.dropped = 0;
    // Opened at once, so a path that cannot be written fails at start-up, not at the first loss.
    this.fd = fs.openSync(path, "a");
    this.size = fs.fstatSync(this.fd).size;
  }

  /** Writes one letter (synchronously, a whole line at once); `false` when over the budget. */
  write(letter) {
    const line = Buffer.from(`${letterLine(letter)}\n`, "utf8");
    if (this.size + line.length > this.maxBytes) {
      this.dropped++;
      return false;
    }
    fs.writeSync(this.fd, line);
    this.size += line.length;
    return true;
  }

  close() {
    fs.closeSync(this.fd);
  }

  /** Every letter of a file written by a sink, in order. */
  static read(path) {
    return fs
      .readFileSync(path, "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line));
  }
}

/** Keeps letters in `letters`: for tests, and for apps that forward them elsewhere. */
class MemorySink {
  constructor() {
    this.letters = [];
  }

  write(letter) {
    this.letters.push(letter);
    return true;
  }
}

module.exports = { DEFAULT_DEAD_LETTER_MAX_BYTES, JsonLinesSink, MemorySink, deadLetter };
