"""Proves the published bundle with datamodel-code-generator and pydantic v2.

Generates pydantic v2 models from `schema/dist/callbacks.schema.json` (snake_case attributes
with the vendor's names as aliases, unknown fields kept), checks that every class is named by a
title with no numbered duplicates, then parses every fixture into its command's request model
and dumps it back (`by_alias`, `exclude_unset`): the result must equal the fixture as a JSON
value. Message elements of every kind, unknown ones included, and standard replies do the same.

Run with: pip install -r requirements.txt && python3 check_pydantic.py   (from this directory)
"""

import importlib.util
import json
import pathlib
import re
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
OUT.mkdir(exist_ok=True)
models_path = OUT / "bundle_models.py"
subprocess.run(
    [
        sys.executable, "-m", "datamodel_code_generator",
        "--input", str(bundle_path), "--input-file-type", "jsonschema",
        "--output", str(models_path),
        "--output-model-type", "pydantic_v2.BaseModel",
        "--target-python-version", "3.10",
        "--snake-case-field", "--extra-fields", "allow",
        "--disable-timestamp", "--formatters", "builtin",
    ],
    check=True,
)

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAILED {name}{': ' + detail if detail else ''}")


source = models_path.read_text(encoding="utf-8")
classes = re.findall(r"^class (\w+)\(", source, re.MULTILINE)
titles = {bundle["title"], *(d["title"] for d in bundle["$defs"].values())}
numbered = [n for n in classes if re.fullmatch(r"(.*\D)\d+", n) and re.fullmatch(r"(.*\D)\d+", n).group(1) in classes]
check("no numbered duplicate class names", not numbered, ", ".join(numbered))
check("every class is named by a title", set(classes) <= titles, ", ".join(sorted(set(classes) - titles)))
check("every title names a class", titles <= set(classes), ", ".join(sorted(titles - set(classes))))

spec = importlib.util.spec_from_file_location("bundle_models", models_path)
models = importlib.util.module_from_spec(spec)
sys.modules["bundle_models"] = models
spec.loader.exec_module(models)


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
    round_trip(command, getattr(models, entry["request"]["type"]), sample)
    reply = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
    reply.update({k: "" for k in bundle["$defs"][entry["reply"]["type"]].get("required", []) if k not in reply})
    round_trip(f"{command} reply", getattr(models, entry["reply"]["type"]), reply)

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

print(f"datamodel-code-generator: {passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
