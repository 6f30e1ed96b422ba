"""The core never loads a framework: `import harness`, `--help` and `list` stay light."""

import subprocess
import sys

import pytest

FRAMEWORKS = ("torch", "tensorflow", "keras", "cupy", "jax")

PROBE = """
import sys, runpy
sys.argv = {argv!r}
try:
    {body}
except SystemExit:
    pass
loaded = [m for m in {frameworks!r} if m in sys.modules]
print("LOADED=" + ",".join(loaded))
"""


def loaded_after(body: str, argv: list[str]) -> list[str]:
    code = PROBE.format(argv=argv, body=body, frameworks=FRAMEWORKS)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    line = [x for x in out.splitlines() if x.startswith("LOADED=")][-1]
    return [m for m in line.removeprefix("LOADED=").split(",") if m]


@pytest.mark.parametrize(
    "body, argv",
    [
        (
            "import harness, harness.cli, harness.documents.report, harness.analysis.compare, "
            "harness.results",
            ["x"],
        ),
        ("runpy.run_module('harness', run_name='__main__')", ["harness", "--help"]),
        ("runpy.run_module('harness', run_name='__main__')", ["harness", "list"]),
        ("runpy.run_module('harness', run_name='__main__')", ["harness", "env"]),
    ],
    ids=["import", "help", "list", "env"],
)
def test_core_loads_no_framework(body, argv):
    assert loaded_after(body, argv) == []


def test_every_catalogued_workload_imports_without_its_framework():
    body = (
        "from workloads import CATALOGUE\n"
        "    from harness.workload import load_workload_class\n"
        "    [load_workload_class(p) for p in CATALOGUE.values()]"
    )
    assert loaded_after(body, ["x"]) == []
