"""Batched callbacks (`Push.*`): an undecodable event costs only itself, not the whole batch, as
in the Rust crate (`batch.rs`).

A batch body holds an array of events, each naming the batch's command in its own
`CallbackCommand`. When the batch as a whole does not decode, each event is tried alone; the
batch is rebuilt from those that decode and handed to the handler, and the others are returned
to be dead-lettered, each holding that event alone (never the rest of the batch, so one large
field cannot be copied into every letter).
"""

from __future__ import annotations

import dataclasses
import json
import typing as _t

import pydantic

from ._base import Callback

C = _t.TypeVar("C", bound=Callback)


@dataclasses.dataclass(frozen=True)
class RejectedItem:
    """An event left out of its batch."""

    index: int
    """Its position in the batch as received."""
    body: bytes
    """A batch body holding this event alone."""
    reason: str
    """Why it does not decode."""


def batch_field(value: _t.Mapping[str, _t.Any], command: str) -> _t.Optional[str]:
    """The top-level array whose items are events of `command`, if the body has one."""
    for name, items in value.items():
        if isinstance(items, list) and any(isinstance(i, dict) and i.get("CallbackCommand") == command for i in items):
            return name
    return None


def decode_partially(
    model: _t.Type[C], value: _t.Any, describe: _t.Callable[[pydantic.ValidationError, _t.Any], str]
) -> _t.Optional[_t.Tuple[C, _t.List[RejectedItem]]]:
    """The good events of a batch body that does not decode as a whole, and the bad ones. `None`
    when the body is not a batch, or when nothing but its bad events was wrong with it."""
    if not isinstance(value, dict):
        return None
    field = batch_field(value, model.COMMAND)
    if field is None:
        return None
    rest = {k: v for k, v in value.items() if k != field}
    good: _t.List[_t.Any] = []
    rejected: _t.List[RejectedItem] = []
    for index, item in enumerate(value[field]):
        alone = {**rest, field: [item]}
        try:
            model.model_validate(alone)
            good.append(item)
        except pydantic.ValidationError as error:
            body = json.dumps({field: [item]}, ensure_ascii=False, separators=(",", ":")).encode()
            rejected.append(RejectedItem(index, body, describe(error, alone)))
    if not rejected:
        return None
    try:
        return model.model_validate({**rest, field: good}), rejected
    except pydantic.ValidationError:
        return None
