"""The HTML report in a real browser (Debian's chromium, headless) at 1280 px: nothing wider
than the page, and what the run found comes first. CI installs chromium and sets
HARNESS_REQUIRE_BROWSER=1, so a missing browser fails there instead of skipping."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from harness.documents.report import write_report
from harness.record import Failure, Record, Timing
from harness.results import ResultWriter, load_frame

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    BROWSER is None and os.environ.get("HARNESS_REQUIRE_BROWSER") != "1",
    reason="no chromium (apt-get install chromium); CI sets HARNESS_REQUIRE_BROWSER=1",
)

#: added to the page: the horizontal overflow once everything (images too) is laid out
MEASURE = """<script>window.addEventListener("load", () => {
  const root = document.documentElement;
  document.body.setAttribute("data-overflow", String(root.scrollWidth - root.clientWidth));
  const first = document.querySelector("main > section, main > figure, main > h2, main > div");
  document.body.setAttribute("data-first", first ? first.className || first.tagName : "");
});</script></body>"""


def _results(path):
    """Three setups with long names, long parameters, a failure with a long message."""
    rng = np.random.default_rng(0)
    long_setup = "gpu-node-0042.cluster.example.org · AMD EPYC 9654 96-Core Processor · local"
    with ResultWriter(path) as writer:
        for label, scale in (("laptop", 1.0), (long_setup, 0.4), ("server " + "x" * 60, 0.7)):
            for workload in ("numpy.mlp", "numpy.linreg", "torch.mlp"):
                params = {"batch_size": 8, "hidden": [4096, 4096, 4096, 4096, 4096, 4096],
                          "note": "a-very-long-parameter-value-" * 4}  # fmt: skip
                for process in range(2):
                    samples = list(1e-3 * scale * (1 + rng.normal(0, 0.01, 10)))
                    writer.append(Record(
                        run_id="r", workload=workload, framework="numpy", kind="train_step",
                        device="cpu", params=params, changed_params=params,
                        process_index=process, label=label, items_per_step=8,
                        samples={"step": samples, "forward": [v / 2 for v in samples],
                                 "backward": [v / 3 for v in samples]},
                        timing=Timing(block_size=10)))  # fmt: skip
        writer.append(Record(
            run_id="r", workload="torch.cnn", framework="torch", kind="train_step",
            device="cpu", params={}, status="error", label="laptop",
            error=Failure("error", "RuntimeError: " + "an error message that does not stop " * 12),
        ))  # fmt: skip


def _measure(page, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", MEASURE, 1))
    done = subprocess.run(
        [BROWSER or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
         "--window-size=1280,2000", "--virtual-time-budget=10000", "--dump-dom",
         probe.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    overflow = re.search(r'data-overflow="(-?\d+)"', done.stdout)
    first = re.search(r'data-first="([^"]*)"', done.stdout)
    assert overflow, done.stdout[:2000]
    return int(overflow.group(1)), first.group(1) if first else ""


def test_the_report_fits_1280_px_and_opens_with_its_findings(tmp_path):
    results = tmp_path / "r.jsonl"
    _results(results)
    page = tmp_path / "report.html"
    write_report(load_frame([results]), "html", page, reference="laptop")
    text = page.read_text()
    assert "What this run found" in text and "1 task(s) failed" in text
    overflow, first = _measure(page, tmp_path)
    assert overflow <= 0, f"the page is {overflow} px wider than the window"
    assert first == "findings"


def test_the_check_can_fail(tmp_path):
    page = tmp_path / "wide.html"
    page.write_text('<html><body><main><div style="width:2400px">x</div></main></body></html>')
    overflow, _ = _measure(page, tmp_path)
    assert overflow > 0
