"""The function-test harness's own JSON, on the sandbox's interpreter: it encodes its records
and the return values through `_json` (json's C layer) instead of json, and must write
the very text json.dumps writes, and read tests.json as json.loads reads it."""

from __future__ import annotations

import json
import subprocess

from devcapsules.executor.sandbox import HARNESS_DIR, SANDBOX_PYTHON

# Runs under the sandbox's Python: loads the harness as batch_python.prepare does, then
# prints, per value, whether to_json gives json.dumps' text (or the same error).
COMPARE = """
import enum, json, sys
path = sys.argv[1]
harness = {"__name__": "__probe__", "__file__": path}
exec(compile(open(path, "rb").read(), path, "exec"), harness)

class Text(str): pass
class Number(int): pass
class Real(float): pass
class Colour(enum.IntEnum):
    RED = 1

loop = [1]
loop.append(loop)
ring = {}
ring["self"] = ring
nested = []
for _ in range(60):
    nested = [nested, {"k": len(nested)}]
held = [1, {2, 3}]  # fails twice: the second error must be the first's, not a stale mark

VALUES = [
    None, True, False, 0, -7, 2**70, 0.1, -0.0, 1e16, 1e-7, 3.0,
    float("nan"), float("inf"), -float("inf"), [float("nan"), {"x": float("inf")}],
    "", "plain", "caf\\u00e9", "\\U0001f600", "\\u2028\\u2029", "\\x00\\x1f\\x7f", '"\\\\/\\n\\t',
    [], {}, (), [1, [2, [3, []]]], (1, "two", None), nested,
    {"b": 1, "a": [True, None]}, {1: "int", 2.5: "float", True: "bool", None: "none"},
    {"\\u00e9": {"deep": [{"x": -1.5}]}},
    Text("sub"), Number(5), Real(2.5), Colour.RED, [Colour.RED, {"c": Text("t")}],
    {1, 2}, b"bytes", object(), loop, ring, {(1, 2): 3}, held, held,
]


def outcome(encode, value):
    try:
        return "ok", encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        return type(exc).__name__, str(exc)


for value in VALUES:
    print(json.dumps([outcome(harness["to_json"], value), outcome(json.dumps, value)]))

config = {"source": "solution.py", "function": "f\\u00e9", "timeout_s": 2.5,
          "inputs": [[1, -2.5, "\\U0001f600", [None, {"a": [True]}]], [], [1e300]]}
text = json.dumps(config)
assert harness["from_json"](text) == json.loads(text)
assert harness["from_json"](" " + text + "\\n") == json.loads(text)
for bad in ("", text + "x", "{"):
    try:
        harness["from_json"](bad)
    except ValueError:
        continue
    raise AssertionError(bad)
print("config ok")
"""


def run_compare() -> list[str]:
    harness = str(HARNESS_DIR / "python_harness.py")
    done = subprocess.run(
        [SANDBOX_PYTHON, "-I", "-c", COMPARE, harness],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_return_values_and_records_are_json_dumps_text_exactly():
    lines = run_compare()
    assert lines[-1] == "config ok"
    pairs = [json.loads(line) for line in lines[:-1]]
    for harness, reference in pairs:
        assert harness == reference
    # The cases that matter are there: NaN written as json.dumps writes it, non-ASCII
    # escaped, and each error json.dumps raises, with its message.
    assert ["ok", "NaN"] in [pair[0] for pair in pairs]
    assert ["ok", '"caf\\u00e9"'] in [pair[0] for pair in pairs]
    errors = [pair[0][1] for pair in pairs if pair[0][0] != "ok"]
    assert "Object of type set is not JSON serializable" in errors
    assert errors.count("Object of type set is not JSON serializable") == 3  # held twice
    assert "Circular reference detected" in errors
