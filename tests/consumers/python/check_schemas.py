"""Proves the published schemas with Python's own `jsonschema` (Draft 2020-12).

Every published file is a valid schema; every fixture is valid under its command's
self-contained file, under its type in the bundle, and under the bundle's top-level union when
it carries its command; every reply schema accepts a standard reply; bad payloads are rejected
and forward-compatible ones accepted.

Run with: pip install -r requirements.txt && python3 check_schemas.py   (from this directory)
"""

import copy
import json
import pathlib
import sys

import jsonschema
from referencing import Registry, Resource

ROOT = pathlib.Path(__file__).resolve().parents[3]
DIST = ROOT / "schema/dist"


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


catalogue = load(DIST / "catalogue.json")
bundle = load(DIST / catalogue["bundle"])
commands = catalogue["commands"]
fixtures = {p.name: load(p / "sample.json") for p in sorted((ROOT / "tests/fixtures").iterdir()) if p.is_dir()}
own_files = {command: load(DIST / entry["request"]["schema"]) for command, entry in commands.items()}
registry = Registry().with_resources(
    (schema["$id"], Resource.from_contents(schema)) for schema in [bundle, *own_files.values()]
)

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAILED {name}{': ' + detail if detail else ''}")


def validator(schema):
    return jsonschema.Draft202012Validator(schema, registry=registry)


def ref(base, name):
    """A validator for one definition of a published file."""
    return validator({"$ref": f"{base['$id']}#/$defs/{name}"})


def errors(v, instance):
    return "; ".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(instance))


for name, schema in [("the bundle", bundle), *own_files.items()]:
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
        check(f"{name} is a valid schema", True)
    except jsonschema.SchemaError as error:
        check(f"{name} is a valid schema", False, error.message)

check("every fixture has a command in the catalogue", sorted(fixtures) == sorted(commands))
whole = validator(bundle)
own_validators = {}
for command, entry in commands.items():
    own = own_files[command]
    own_validators[command] = validator(own)
    reply_schema = bundle["$defs"][entry["reply"]["type"]]
    reply = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
    # Extra required fields get their empty value: "" for text, [] for a list (`ResultItem`).
    extras = [k for k in reply_schema.get("required", []) if k not in reply]
    reply.update({k: [] if reply_schema["properties"][k].get("type") == "array" else "" for k in extras})
    for where, v in [("its own file", ref(own, entry["reply"]["type"])), ("the bundle", ref(bundle, entry["reply"]["type"]))]:
        check(f"{command}: a standard reply is valid in {where}", v.is_valid(reply), errors(v, reply))
    sample = fixtures.get(command)
    if sample is None:
        continue
    for where, v in [("its own file", own_validators[command]), ("the bundle", ref(bundle, entry["request"]["type"]))]:
        check(f"{command}: valid under {where}", v.is_valid(sample), errors(v, sample))
    if "CallbackCommand" in sample:
        check(f"{command}: valid under the bundle's union", whole.is_valid(sample), errors(whole, sample))

elements = load(ROOT / "tests/data/msg-body-elements.json")
element = ref(bundle, "MsgBodyElement")
check("every kind of message element is valid", all(element.is_valid(e) for e in elements))


def edited(command, edit):
    payload = copy.deepcopy(fixtures[command])
    edit(payload)
    return payload


def rejects(name, command, edit):
    payload = edited(command, edit)
    check(f"rejects {name}", not own_validators[command].is_valid(payload))
    if "CallbackCommand" in payload:
        check(f"the bundle's union rejects {name}", not whole.is_valid(payload))


create, send = "Group.CallbackAfterCreateGroup", "C2C.CallbackBeforeSendMsg"
check("rejects another command's body", not own_validators[create].is_valid(
    edited(create, lambda p: p.update(CallbackCommand="Group.CallbackAfterGroupInfoChanged"))))
rejects("a missing GroupId", create, lambda p: p.pop("GroupId"))
rejects("an EventTime that is not digits", create, lambda p: p.update(EventTime="12:00"))
rejects("a negative EventTime", create, lambda p: p.update(EventTime=-1))
rejects("a member that is a number", create, lambda p: p["MemberList"].append({"Member_Account": 7}))
rejects("a text element whose text is a number", send, lambda p: p["MsgBody"].append({"MsgType": "TIMTextElem", "MsgContent": {"Text": 5}}))
rejects("an element without a type", send, lambda p: p["MsgBody"].append({"MsgContent": {"Text": "x"}}))
check("rejects a body that is a list", not own_validators[create].is_valid([1, 2]))
check("rejects a batch with no events", not own_validators["Push.OfflinePush"].is_valid({"Events": []}))

# Forward compatibility: new fields, new element types and new profile fields are accepted.
future = edited(send, lambda p: p.update(NewVendorField={"any": "thing"}))
future["MsgBody"].append({"MsgType": "TIMStreamElem", "MsgContent": {"Chunks": []}})
check("accepts new fields and element types", own_validators[send].is_valid(future), errors(own_validators[send], future))
profile = "Profile.CallbackPortraitSet"
custom = edited(profile, lambda p: p["ProfileItem"].append({"Tag": "Tag_Profile_Custom_Level", "Value": 3}))
check("accepts app-defined profile fields of any type", own_validators[profile].is_valid(custom), errors(own_validators[profile], custom))

# Required means guaranteed: what older copies of the pages leave out is accepted.
lenient = edited(send, lambda p: [p.pop(key) for key in ("MsgSeq", "MsgRandom", "MsgTime", "MsgKey")])
lenient["MsgBody"].append({"MsgType": "TIMTextElem", "MsgContent": {}})
check("accepts a before-send body without sequence numbers or text", own_validators[send].is_valid(lenient), errors(own_validators[send], lenient))
no_time = edited(create, lambda p: p.pop("EventTime"))
check("accepts a body without EventTime", own_validators[create].is_valid(no_time), errors(own_validators[create], no_time))

# Widths: 32-bit unsigned numbers above 2^31 (a real MsgRandom of 4,000,000,000) are valid, and
# one past 2^32 - 1 is not, as the published `format`/`maximum` say.
for case in load(ROOT / "tests/data/wide-integers.json"):
    command, body = case["command"], case["body"]
    check(f"{command}: accepts 32-bit unsigned numbers above 2^31", own_validators[command].is_valid(body), errors(own_validators[command], body))
    key = "MsgRandom" if "MsgRandom" in body else "Random"
    too_wide = dict(body, **{key: 2**32})
    check(f"{command}: rejects a {key} of 2^32", not own_validators[command].is_valid(too_wide))

print(f"jsonschema: {passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
