"""What a before-callback is answered when the app could not decide it.

The vendor treats every answer to a before-callback that is not HTTP 200 with a JSON body (a
refusal of the request, a server error, no answer within 2 s) as a failed delivery, and then
applies the failure policy set in its console, which by default lets the action through. A
receiver that answers 400 to a body it cannot decode therefore lets an unmoderated message
through. `FailurePolicy` decides this answer in the receiver instead, as in the Rust crate.
"""

from __future__ import annotations

import enum
import typing as _t

from ._log import clip


class FailurePolicy(str, enum.Enum):
    """How a before-callback is answered when it cannot be decided: the request failed
    authentication or came from a source not allowed, its body could not be decoded, the handler
    failed or missed its deadline, or the receiver is overloaded.

    After-callbacks are not affected: they always get the failure's own status, so that the
    vendor's retry (where it is turned on) can deliver them again."""

    VENDOR = "vendor"
    """Answer with the failure's own HTTP status (4xx, 5xx), so that the vendor's console policy
    decides (by default, allow). The default, because it changes nothing the vendor documents."""
    ALLOW = "allow"
    """Answer HTTP 200 with `ErrorCode` 0: allow the action (fail open, explicitly)."""
    REFUSE = "refuse"
    """Answer HTTP 200 with the command's refusal (`ErrorCode` 1): fail closed."""

    @classmethod
    def parse(cls, name: _t.Union[str, "FailurePolicy"]) -> "FailurePolicy":
        """`vendor`, `allow` or `refuse`, in any case; raises `ValueError` for anything else."""
        if isinstance(name, FailurePolicy):
            return name
        try:
            return cls(str(name).lower())
        except ValueError:
            raise ValueError(f"unknown failure policy `{clip(name)}`: expected `vendor`, `allow` or `refuse`") from None

    def __str__(self) -> str:
        return self.value
