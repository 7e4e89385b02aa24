"""Request values in logs: escaped, clipped, and refusals of strangers rate-limited, with the same
rules as the Rust crate (`log_safe.rs`).

Anything taken from a request (query parameters, the command, error details quoting the body) is
attacker input. Written raw, a `%0A` in `SdkAppid` forges a log line, escape bytes drive the
operator's terminal, and a 60 KB parameter repeated per request floods the disk. So values are
logged through `clip`, and refusals of requests that did not authenticate go through
`RefusalLimiter`. Log lines go to the `tencent_chat_callbacks` logger of `logging`.
"""

from __future__ import annotations

import logging
import threading
import time
import typing as _t
import unicodedata

LOGGER = logging.getLogger("tencent_chat_callbacks")
"""Where the package logs: refusals (WARNING), failures (ERROR), late handlers."""

MAX_LOGGED_CHARS = 64
"""How many characters of a request value a log line or an error message keeps."""

_SHORT_ESCAPES = {"\0": "\\0", "\t": "\\t", "\r": "\\r", "\n": "\\n"}
# Unicode format characters that change how a line is displayed (bidi controls, zero-width).
_FORMAT_RANGES = ((0xAD, 0xAD), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x2069), (0xFEFF, 0xFEFF))


def _escaped(char: str) -> str:
    code = ord(char)
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    if unicodedata.category(char) == "Cc" or any(low <= code <= high for low, high in _FORMAT_RANGES):
        return f"\\u{{{code:x}}}"
    return char


def clip(value: object) -> str:
    """`value` made safe to log: control and format characters escaped (as Rust's `escape_debug`
    writes them), cut after `MAX_LOGGED_CHARS` characters with the number of bytes left out."""
    text = value if isinstance(value, str) else str(value)
    kept = text[:MAX_LOGGED_CHARS]
    out = "".join(_escaped(c) for c in kept) if not kept.isprintable() or not kept.isascii() else kept
    if len(kept) < len(text):
        left = len(text.encode("utf-8", "surrogatepass")) - len(kept.encode("utf-8", "surrogatepass"))
        out += f"…(+{left} bytes)"
    return out


class RefusalLimiter:
    """Lets through at most `per_window` lines per `window` seconds and counts the rest, so one
    client hammering the endpoint cannot turn the log into a flood; the first line written after
    a suppression reports how many were dropped."""

    def __init__(self, per_window: int = 20, window: float = 1.0, clock: _t.Callable[[], float] = time.monotonic):
        self.per_window = per_window
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._started: _t.Optional[float] = None
        self._logged = 0
        self._suppressed = 0

    def admit(self) -> _t.Optional[int]:
        """`None` to drop this line; otherwise how many lines were dropped since the last one."""
        with self._lock:
            now = self._clock()
            if self._started is None or now - self._started >= self.window:
                self._started = now
                self._logged = 0
            if self._logged < self.per_window:
                self._logged += 1
                suppressed, self._suppressed = self._suppressed, 0
                return suppressed
            self._suppressed += 1
            return None
