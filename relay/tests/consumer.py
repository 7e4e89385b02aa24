"""A consumer of the relay's Redis stream, as a Python service would write one: it reads every
envelope with XREAD and validates it with `jsonschema` against the envelope schema, whose `body`
refers to the published per-command schemas.

    python3 consumer.py redis://127.0.0.1:6379 STREAM EXPECTED_COUNT

Exits 0 when the stream holds exactly EXPECTED_COUNT envelopes, all valid, with distinct dedup
keys; it also checks that a broken envelope is rejected, so a schema that accepts anything fails.
"""

import copy
import json
import pathlib
import sys

import redis
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

ROOT = pathlib.Path(__file__).resolve().parents[2]


def validator():
    envelope = json.loads((ROOT / "schema/dist/envelope.schema.json").read_text(encoding="utf-8"))
    resources = [(envelope["$id"], Resource.from_contents(envelope))]
    for path in sorted((ROOT / "schema/dist/commands").glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Draft202012Validator(envelope, registry=Registry().with_resources(resources))


def read_stream(url, stream):
    client = redis.Redis.from_url(url)
    last, envelopes = "0-0", []
    while True:
        batch = client.xread({stream: last}, count=500)
        if not batch:
            return envelopes
        for entry_id, fields in batch[0][1]:
            last = entry_id
            envelopes.append(json.loads(fields[b"envelope"]))


def main():
    url, stream, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
    check = validator()
    envelopes = read_stream(url, stream)
    errors = [f"{e.get('command')}: {err.message}" for e in envelopes for err in check.iter_errors(e)]
    if errors:
        sys.exit("invalid envelopes:\n" + "\n".join(errors[:20]))
    keys = [e["dedup_key"] for e in envelopes]
    if len(set(keys)) != len(keys):
        sys.exit(f"{len(keys) - len(set(keys))} duplicate envelopes in the stream")
    if len(envelopes) != expected:
        sys.exit(f"expected {expected} envelopes, read {len(envelopes)}")

    # The schema must reject a body that is not its command's event, and a missing field.
    broken = copy.deepcopy(next(e for e in envelopes if e["command"] == "Group.CallbackAfterCreateGroup"))
    broken["body"]["GroupId"] = 42
    missing = copy.deepcopy(envelopes[0])
    del missing["dedup_key"]
    for bad in (broken, missing):
        if check.is_valid(bad):
            sys.exit(f"the envelope schema accepted a broken envelope: {json.dumps(bad)[:200]}")
    print(f"{len(envelopes)} envelopes read from {stream}, all valid, no duplicates")


if __name__ == "__main__":
    main()
