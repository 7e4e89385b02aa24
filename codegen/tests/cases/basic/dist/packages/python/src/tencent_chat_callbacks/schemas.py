"""The JSON Schemas the models come from, for validating bodies with `jsonschema` (an optional
dependency: `pip install tencent-chat-callbacks[validate]`)."""

from __future__ import annotations

import json
import typing as _t
from importlib import resources

BUNDLE: _t.Dict[str, _t.Any] = json.loads(
    resources.files(__package__).joinpath("callbacks.schema.json").read_text(encoding="utf-8")
)
"""The bundled JSON Schema (draft 2020-12) of every callback."""


ENVELOPE: _t.Dict[str, _t.Any] = json.loads(
    resources.files(__package__).joinpath("envelope.schema.json").read_text(encoding="utf-8")
)
"""The JSON Schema of the relay's envelope (`docs/replicas.md`); its `body` refers to the
per-command schemas by `$id`."""


def schema(command: str) -> _t.Dict[str, _t.Any]:
    """The schema of one command's body (or, as `<Command>.Reply`, of its reply): a reference
    into the bundle, carrying the bundle's definitions."""
    is_reply = command.endswith(".Reply")
    name = command[: -len(".Reply")] if is_reply else command
    table = BUNDLE["$defs"]["CallbackReplies" if is_reply else "CallbackBodies"]
    target = table["properties"].get(name)
    if target is None:
        raise KeyError(f"no schema for {command!r}")
    return {"$ref": target["$ref"], "$defs": BUNDLE["$defs"]}


def validator(command: str) -> _t.Any:
    """A `jsonschema.Draft202012Validator` for one command's body, or `<Command>.Reply`."""
    import jsonschema  # type: ignore[import-untyped,unused-ignore]

    return jsonschema.Draft202012Validator(schema(command))
