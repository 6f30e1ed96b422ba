"""pytest-benchmark files of every age read into one setup per machine."""

from __future__ import annotations

import json

import pytest

from harness.pytest_bridge import cpu_model
from harness.results import load_frame

CPU = "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"


def _file(tmp_path, name, machine_cpu, processor="x86_64"):
    data = {
        "machine_info": {"node": "n1", "processor": processor, "cpu": machine_cpu,
                         "python_version": "3.11", "system": "Linux", "release": "6.1"},
        "commit_info": {"id": "abc"},
        "datetime": "2026-11-24T00:00:00",
        "benchmarks": [{"name": "test_numpy_mlp", "params": None,
                        "extra_info": {"workload": "numpy.mlp", "framework": "numpy"},
                        "stats": {"median": 0.002, "iterations": 1, "data": [0.002, 0.0021]}}],
    }  # fmt: skip
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ({"cpu": {"brand_raw": CPU}}, CPU),  # py-cpuinfo 7+
        ({"cpu": {"brand": CPU}}, CPU),  # py-cpuinfo before 7 (pytest-benchmark before 3.4)
        ({"cpu": {"brand": CPU, "brand_raw": CPU}}, CPU),
        ({"processor": "x86_64"}, "x86_64"),  # no py-cpuinfo at all
        ({"cpu": {}, "processor": ""}, None),
    ],
)
def test_the_cpu_name_is_read_from_every_spelling(machine, expected):
    assert cpu_model(machine) == expected


def test_an_old_and_a_new_file_of_one_machine_are_one_setup(tmp_path):
    old = _file(tmp_path, "old.json", {"brand": CPU, "count": 8})
    new = _file(tmp_path, "new.json", {"brand_raw": CPU, "count": 8})
    frame = load_frame([old, new])
    assert frame["setup"].nunique() == 1, sorted(set(frame["setup"]))
    assert CPU in frame["setup"].iloc[0] or frame["cpu_model"].iloc[0] == CPU
