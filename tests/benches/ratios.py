"""Prints the ratios of the `dispatch` benchmark, from criterion's last run.

Run with: cargo bench -p tests --bench dispatch && python3 tests/benches/ratios.py
"""

import json
import os
import pathlib

WORKSPACE = pathlib.Path(__file__).resolve().parents[2]
# Criterion writes under the target directory, which CARGO_TARGET_DIR may move.
CRITERION = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", WORKSPACE / "target")) / "criterion"


def mean_ns(group, function):
    estimates = json.loads((CRITERION / group / function / "new/estimates.json").read_text())
    return estimates["mean"]["point_estimate"]


groups = sorted(p.name for p in CRITERION.iterdir() if (p / "floor").is_dir())
print("| callback | floor (from_slice) | dispatch | ratio | without token | ratio | Value + jsonschema | ratio |")
print("|---|---|---|---|---|---|---|---|")
for group in groups:
    floor = mean_ns(group, "floor")
    cells = [f"{floor:.0f} ns"]
    for function in ["dispatch", "dispatch_without_token", "untyped"]:
        value = mean_ns(group, function)
        cells += [f"{value:.0f} ns", f"{value / floor:.2f}×"]
    print(f"| `{group}` | " + " | ".join(cells) + " |")
