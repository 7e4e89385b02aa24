"""Proves the published schemas with datamodel-code-generator and pydantic v2.

Generates pydantic v2 models from the bundle and from every per-command file (snake_case
attributes with the vendor's names as aliases, unknown fields kept), checks that every class is
named by a title with no numbered duplicates, then parses every fixture into its command's
request model, from both, and dumps it back (`by_alias`, `exclude_unset`): the result must equal
the fixture as a JSON value. Message elements of every kind, unknown ones included, and standard
replies do the same.

Run with: pip install -r requirements.txt && python3 check_pydantic.py   (from this directory)
"""

import importlib.util
import json
import pathlib
import re
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
DIST = ROOT / "schema/dist"
OUT = pathlib.Path(__file__).resolve().parent / "generated"


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


catalogue = load(DIST / "catalogue.json")
bundle_path = DIST / catalogue["bundle"]
bundle = load(bundle_path)
shutil.rmtree(OUT, ignore_errors=True)
OUT.mkdir()


def generate(source, output):
    """Runs datamodel-code-generator as a team would: pydantic v2, snake_case with aliases, extras kept."""
    subprocess.run(
        [
            sys.executable, "-m", "datamodel_code_generator",
            "--input", str(source), "--input-file-type", "jsonschema",
            "--output", str(output),
            "--output-model-type", "pydantic_v2.BaseModel",
            "--target-python-version", "3.10",
            "--snake-case-field", "--extra-fields", "allow",
            "--disable-timestamp", "--formatters", "builtin",
        ],
        check=True,
    )


models_path = OUT / "bundle_models.py"
generate(bundle_path, models_path)
# The per-command files, a module each (`Group_CallbackAfterCreateGroup_schema.py`).
generate(DIST / "commands", OUT / "commands")

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAILED {name}{': ' + detail if detail else ''}")


def names_and_module(name, path, schema):
    """Checks the classes of a generated module against the schema's titles, and imports it."""
    classes = re.findall(r"^class (\w+)\(", path.read_text(encoding="utf-8"), re.MULTILINE)
    titles = {schema["title"], *(d["title"] for d in schema["$defs"].values())}
    numbered = [n for n in classes if (m := re.fullmatch(r"(.*\D)\d+", n)) and m.group(1) in classes]
    check(f"{name}: no numbered duplicate class names", not numbered, ", ".join(numbered))
    check(f"{name}: every class is named by a title", set(classes) <= titles, ", ".join(sorted(set(classes) - titles)))
    check(f"{name}: every title names a class", titles <= set(classes), ", ".join(sorted(titles - set(classes))))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


models = names_and_module("the bundle", models_path, bundle)


def round_trip(name, model, value):
    try:
        parsed = model.model_validate(value)
    except Exception as error:  # noqa: BLE001 (any validation error is a failure to report)
        return check(f"{name}: parses", False, str(error))
    dumped = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
    check(f"{name}: dumps back equal", dumped == value, json.dumps(dumped)[:2000])
    return parsed


fixtures = {p.name: load(p / "sample.json") for p in sorted((ROOT / "tests/fixtures").iterdir()) if p.is_dir()}
check("every fixture has a command in the catalogue", sorted(fixtures) == sorted(catalogue["commands"]))
for command, sample in fixtures.items():
    entry = catalogue["commands"][command]
    request, reply_type = entry["request"]["type"], entry["reply"]["type"]
    reply = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
    # Extra required fields get their empty value: "" for text, [] for a list (`ResultItem`).
    reply_schema = bundle["$defs"][reply_type]
    extras = [k for k in reply_schema.get("required", []) if k not in reply]
    reply.update({k: [] if reply_schema["properties"][k].get("type") == "array" else "" for k in extras})
    own_path = OUT / "commands" / f"{command.replace('.', '_')}_schema.py"
    own = names_and_module(command, own_path, load(DIST / entry["request"]["schema"]))
    for where, module in [("bundle", models), ("own file", own)]:
        round_trip(f"{command} ({where})", getattr(module, request), sample)
        round_trip(f"{command} reply ({where})", getattr(module, reply_type), reply)

for i, element in enumerate(load(ROOT / "tests/data/msg-body-elements.json")):
    parsed = round_trip(f"element {i} ({element['MsgType']})", models.MsgBodyElement, element)
    if parsed is not None and element["MsgType"] == "TIMLocationElem":
        check("a location's content is typed", isinstance(parsed.root.root.msg_content, models.LocationContent))

profile = round_trip(
    "custom profile field", models.PortraitSet,
    dict(fixtures["Profile.CallbackPortraitSet"], ProfileItem=[{"Tag": "Tag_Profile_Custom_Level", "Value": 3}]),
)
if profile is not None:
    check("a custom profile field keeps its Value", profile.profile_item[0].root.value == 3)

# Widths: 32-bit unsigned numbers above 2^31 parse and dump back unchanged.
for case in load(ROOT / "tests/data/wide-integers.json"):
    request = catalogue["commands"][case["command"]]["request"]["type"]
    round_trip(f"{case['command']} with numbers above 2^31", getattr(models, request), case["body"])

print(f"datamodel-code-generator: {passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
