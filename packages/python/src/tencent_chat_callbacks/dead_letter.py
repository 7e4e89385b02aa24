"""Dead letters: authenticated callbacks that were not handled, kept so none is lost.

A callback that passed authentication but could not be decoded, whose handler failed (also after
its deadline), that was shed under overload, or that was still running when the server shut
down, is written to a sink with its raw body, in the Rust crate's format (`dead_letter.rs`): one
JSON object per line, so `example-send --replay` sends it again. `Sign` and `RequestTime` are
never stored: a replay is signed afresh.

A file sink keeps within a size budget (`max_bytes`, default 1 GiB): past it, letters are
dropped, counted and reported to the dispatcher, which logs the loss through its rate limit.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import threading
import typing as _t

DEFAULT_DEAD_LETTER_MAX_BYTES = 1 << 30
"""The default size budget of a dead-letter file: 1 GiB."""


@dataclasses.dataclass
class DeadLetter:
    """One callback that was not handled."""

    command: str
    """`CallbackCommand`, from the query string."""
    reason: str
    """Why: `undecodable`, `command_mismatch`, `handler_failed`, `deadline_then_failed`,
    `overloaded`, `shutdown` or `batch_item_undecodable`."""
    detail: str
    """What went wrong, in words (for a handler error, its message, clipped)."""
    app_id: int
    """`SdkAppid`."""
    request_id: str
    """`RequestID` (or, when the vendor sent none, the id the dispatcher gave the request)."""
    received_at_ms: int
    """When the request arrived, in Unix milliseconds."""
    client_ip: _t.Optional[str] = None
    """`ClientIP`, when sent."""
    platform: _t.Optional[str] = None
    """`OptPlatform`, when sent."""
    index: _t.Optional[int] = None
    """For one event of a batch (`Push.*`): its index in the batch; `body` then holds that event alone."""
    body: _t.Optional[str] = None
    """The body as received, when it is UTF-8 (the vendor's always is)."""
    body_base64: _t.Optional[str] = None
    """The body as received, base64-encoded, when it is not UTF-8."""

    @classmethod
    def of(cls, raw_body: bytes, **fields: _t.Any) -> "DeadLetter":
        """A letter for `raw_body`, stored as text when it is UTF-8 and as base64 otherwise."""
        try:
            return cls(body=raw_body.decode("utf-8"), **fields)
        except UnicodeDecodeError:
            return cls(body_base64=base64.b64encode(raw_body).decode("ascii"), **fields)

    def raw_body(self) -> bytes:
        """The body exactly as received."""
        if self.body is not None:
            return self.body.encode("utf-8")
        return base64.b64decode(self.body_base64 or "")

    def to_json(self) -> str:
        """The letter as one line of JSON, fields in the Rust crate's order, absent ones left out."""
        return json.dumps(
            {k: v for k, v in dataclasses.asdict(self).items() if v is not None}, ensure_ascii=False, separators=(",", ":")
        )


class DeadLetterSink(_t.Protocol):
    """Where dead letters go: `write` stores one letter, returning `False` when it was dropped
    (over a budget) and raising `OSError` when it could not be written; either is logged."""

    def write(self, letter: DeadLetter) -> bool: ...


class JsonLinesSink:
    """Appends each letter as one JSON line to `path` (created if needed), flushed after each,
    within `max_bytes` for the whole file; `dropped` counts the letters left out past it."""

    def __init__(self, path: _t.Union[str, "os.PathLike[str]"], *, max_bytes: int = DEFAULT_DEAD_LETTER_MAX_BYTES):
        self.path = os.fspath(path)
        self.max_bytes = max_bytes
        self.dropped = 0
        self._lock = threading.Lock()
        # Opened at once, so a path that cannot be written fails at start-up, not at the first loss.
        self._file = open(self.path, "ab")  # noqa: SIM115 - kept open for the sink's life
        self._size = self._file.seek(0, os.SEEK_END)

    def write(self, letter: DeadLetter) -> bool:
        line = (letter.to_json() + "\n").encode("utf-8")
        with self._lock:
            if self._size + len(line) > self.max_bytes:
                self.dropped += 1
                return False
            # One write of a whole line on an append-mode file: concurrent writers never interleave.
            self._file.write(line)
            self._file.flush()
            self._size += len(line)
            return True

    def close(self) -> None:
        with self._lock:
            self._file.close()

    @staticmethod
    def read(path: _t.Union[str, "os.PathLike[str]"]) -> _t.List[DeadLetter]:
        """Every letter of a file written by a sink, in order."""
        with open(path, encoding="utf-8") as file:
            return [DeadLetter(**json.loads(line)) for line in file if line.strip()]


class MemorySink:
    """Keeps letters in a list (`letters`): for tests, and for apps that forward them elsewhere."""

    def __init__(self) -> None:
        self.letters: _t.List[DeadLetter] = []
        self._lock = threading.Lock()

    def write(self, letter: DeadLetter) -> bool:
        with self._lock:
            self.letters.append(letter)
        return True
