"""Webhook authentication: `Sign` is the lowercase hex SHA-256 of the token followed directly by
`RequestTime` (Unix seconds). The vendor signs neither the body nor the URL, so a receiver also
bounds how far `RequestTime` may be from its own clock, which limits replays of a captured URL.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import typing as _t

DEFAULT_MAX_SKEW = 60
"""The default largest distance, in seconds, between `RequestTime` and the receiver's clock."""

_DIGITS = re.compile(r"[0-9]{1,19}")
_SIGN = re.compile(r"[0-9a-f]{64}")


def sign(token: str, request_time: _t.Union[str, int]) -> str:
    """The `Sign` the vendor sends for `token` and `request_time`: 64 lowercase hex digits."""
    return hashlib.sha256(f"{token}{request_time}".encode()).hexdigest()


def parse_request_time(request_time: str) -> _t.Optional[int]:
    """`RequestTime` as Unix seconds, or `None` unless it is 1 to 19 ASCII digits."""
    return int(request_time) if _DIGITS.fullmatch(request_time) else None


def check(
    token: str, request_time: str, sign_param: str, *, now: _t.Optional[float] = None, max_skew: _t.Optional[float] = DEFAULT_MAX_SKEW
) -> _t.Optional[str]:
    """Why `sign_param` and `request_time` do not authenticate a request, or `None` when they do:
    `"invalid-request-time"`, `"stale-request-time"` or `"bad-signature"`."""
    sent_at = parse_request_time(request_time)
    if sent_at is None:
        return "invalid-request-time"
    if max_skew is not None:
        clock = time.time() if now is None else now
        if abs(int(clock) - sent_at) > max_skew:
            return "stale-request-time"
    # Only 64 lowercase hex digits can match; that is public, so checking it first leaks nothing.
    if not _SIGN.fullmatch(sign_param):
        return "bad-signature"
    expected = hashlib.sha256(f"{token}{request_time}".encode()).digest()
    return None if hmac.compare_digest(expected, bytes.fromhex(sign_param)) else "bad-signature"


def verify_sign(
    token: str, request_time: str, sign: str, *, now: _t.Optional[float] = None, max_skew: _t.Optional[float] = DEFAULT_MAX_SKEW
) -> bool:
    """Whether `sign` is the signature of `token` and `request_time`, compared in constant time,
    with `request_time` (the query's `RequestTime`, Unix seconds as digits) at most `max_skew`
    seconds from `now` (default: the system clock; `max_skew=None` skips that check)."""
    return check(token, request_time, sign, now=now, max_skew=max_skew) is None
