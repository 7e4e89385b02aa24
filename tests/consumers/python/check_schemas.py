"""Proves the published schemas with Python's own `jsonschema`.

Every fixture is valid under its command's schema, both through the PyPI package's loader (the
bundle) and through the self-contained per-command file, and under the bundle's top-level
`oneOf` when it carries its command; a set of bad payloads is rejected.

Run with: pip install -r requirements.txt && python3 check_schemas.py   (from this directory)
"""

import copy
import json
import pathlib
import sys

import jsonschema

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "schema/dist/python/src"))
import tencent_chat_callbacks_schema as schemas  # noqa: E402  (the package under test)

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAILED {name}{': ' + detail if detail else ''}")


def errors(validator, instance):
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


bundle_validator = jsonschema.Draft202012Validator(schemas.BUNDLE)
fixtures = sorted(p for p in (ROOT / "tests/fixtures").iterdir() if p.is_dir())
check("every fixture has a published schema", sorted(p.name for p in fixtures) == schemas.COMMANDS)

for directory in fixtures:
    command = directory.name
    sample = json.loads((directory / "sample.json").read_text(encoding="utf-8"))
    problems = errors(schemas.validator(command), sample)
    check(f"{command}: valid under the bundle", not problems, "; ".join(problems))
    own = json.loads((ROOT / f"schema/dist/commands/{command}.schema.json").read_text(encoding="utf-8"))
    problems = errors(jsonschema.Draft202012Validator(own), sample)
    check(f"{command}: valid under its self-contained schema", not problems, "; ".join(problems))
    if "CallbackCommand" in sample:
        problems = errors(bundle_validator, sample)
        check(f"{command}: valid under the bundle's oneOf", not problems, "; ".join(problems))


def bad(name, command, edit, also_bundle=True):
    sample = json.loads((ROOT / f"tests/fixtures/{command}/sample.json").read_text(encoding="utf-8"))
    payload = copy.deepcopy(sample)
    edit(payload)
    check(f"rejects {name}", not schemas.validator(command).is_valid(payload))
    if also_bundle and "CallbackCommand" in payload:
        check(f"the bundle's oneOf rejects {name}", not bundle_validator.is_valid(payload))


create, send = "Group.CallbackAfterCreateGroup", "C2C.CallbackBeforeSendMsg"
# (Relabelled, this body is a valid profile-change body, so only the per-command check applies.)
bad("another command's body", create, lambda p: p.update(CallbackCommand="Group.CallbackAfterGroupInfoChanged"), False)
bad("a missing GroupId", create, lambda p: p.pop("GroupId"))
bad("an EventTime that is not digits", create, lambda p: p.update(EventTime="12:00"))
bad("a negative EventTime", create, lambda p: p.update(EventTime=-1))
bad("a member that is a number", create, lambda p: p["MemberList"].append({"Member_Account": 7}))
bad("a text element whose text is a number", send, lambda p: p["MsgBody"].append({"MsgType": "TIMTextElem", "MsgContent": {"Text": 5}}))
bad("an element without a type", send, lambda p: p["MsgBody"].append({"MsgContent": {"Text": "x"}}))
check("rejects a body that is a list", not schemas.validator(create).is_valid([1, 2]))
check("rejects a batch with no events", not schemas.validator("Push.OfflinePush").is_valid({"Events": []}))

# Forward compatibility: new fields, new enum values and new element types are accepted.
sample = json.loads((ROOT / f"tests/fixtures/{send}/sample.json").read_text(encoding="utf-8"))
sample["NewVendorField"] = {"any": "thing"}
sample["MsgBody"].append({"MsgType": "TIMStreamElem", "MsgContent": {"Chunks": []}})
check("accepts new fields and element types", schemas.validator(send).is_valid(sample), "; ".join(errors(schemas.validator(send), sample)))

# Required means guaranteed: what older copies of the pages leave out is accepted.
sample = json.loads((ROOT / f"tests/fixtures/{send}/sample.json").read_text(encoding="utf-8"))
for key in ("MsgSeq", "MsgRandom", "MsgTime", "MsgKey"):
    sample.pop(key)
sample["MsgBody"].append({"MsgType": "TIMTextElem", "MsgContent": {}})
check("accepts a before-send body without sequence numbers or text", schemas.validator(send).is_valid(sample), "; ".join(errors(schemas.validator(send), sample)))
sample = json.loads((ROOT / f"tests/fixtures/{create}/sample.json").read_text(encoding="utf-8"))
sample.pop("EventTime")
check("accepts a body without EventTime", schemas.validator(create).is_valid(sample), "; ".join(errors(schemas.validator(create), sample)))

print(f"{passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
