"""batch_python.py reads the host's batch.json and writes its records through the json
package's C core (no `json` import inside the sandbox): the same values and text as the
json module, for what the host sends and what the harness writes."""

from __future__ import annotations

import json
import math
import runpy
from pathlib import Path

import pytest

from devcapsules.executor import batch

SOURCE = Path(batch.__file__).with_name("harness") / "batch_python.py"
HARNESS = runpy.run_path(str(SOURCE), run_name="batch_python_under_test")

SENT = {
    "count": 2,
    "timeout_s": 2.5,
    "max_output": 65536,
    "programs": [
        {"path": "/opt/dc/python_harness.py", "config": {"inputs": [[1, -2.5e-300, None]]}},
        {"config": {"inputs": [['h\u00e9 \U0001f600 "q" \\ \n\t\x00', True, False, {}, []]]}},
        {"config": {"inputs": [[float("nan"), float("inf"), float("-inf"), 10**40]]}},
    ],
}


def test_batch_json_reads_as_json_loads_reads_it():
    text = json.dumps(SENT)
    read = HARNESS["read_json"](text)
    assert json.dumps(read) == text  # NaN compares unequal to itself: compare the text
    assert math.isnan(read["programs"][2]["config"]["inputs"][0][0])


@pytest.mark.parametrize("bad", ['{"count": 1} x', '{"count": ', "", "[1, 2,]"])
def test_batch_json_that_json_refuses_is_refused(bad):
    with pytest.raises(ValueError):
        json.loads(bad)
    with pytest.raises(ValueError):
        HARNESS["read_json"](bad)


def test_records_are_written_as_json_dumps_writes_them():
    record = {
        "index": 3,
        "exit_code": None,
        "signal": 9,
        "timed_out": False,
        "stdout": 'caf\u00e9 \U0001f600\n"\\\x1b',
        "stdout_truncated": True,
        "results": "",
    }
    assert HARNESS["to_json"](record) == json.dumps(record)
