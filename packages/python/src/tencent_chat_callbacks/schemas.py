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
per-command schemas, shipped in this package too (`command_schemas`, `registry`)."""


def command_schemas() -> _t.Dict[str, _t.Dict[str, _t.Any]]:
    """Every per-command schema shipped in the package (self-contained, the request at the root
    and its reply in `$defs`), by command."""
    folder = resources.files(__package__).joinpath("commands")
    suffix = ".schema.json"
    return {
        entry.name[: -len(suffix)]: json.loads(entry.read_text(encoding="utf-8"))
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(suffix)
    }


def registry() -> _t.Any:
    """A `referencing.Registry` holding the bundle, the envelope and every per-command schema
    under their `$id`s, so references between them resolve without the network."""
    from referencing import Registry, Resource  # type: ignore[import-not-found,unused-ignore]

    found = [BUNDLE, ENVELOPE, *command_schemas().values()]
    return Registry().with_resources((document["$id"], Resource.from_contents(document)) for document in found)


def envelope_validator() -> _t.Any:
    """A `jsonschema.Draft202012Validator` for the relay's envelope, each body checked against
    its command's schema, all from the package."""
    import jsonschema  # type: ignore[import-untyped,unused-ignore]

    return jsonschema.Draft202012Validator(ENVELOPE, registry=registry())


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
