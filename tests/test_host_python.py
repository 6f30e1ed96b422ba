"""A GPU host's own Python may lack psutil and Pillow: the watch and the memory limit still
work from /proc and getrusage (psutil blocked here for the test)."""

from __future__ import annotations

import os
import sys


def test_own_cpu_seconds_and_rss_without_psutil(monkeypatch):
    from harness.launch.local import _tree_rss
    from harness.machine.machine_watch import own_cpu_seconds

    with_psutil = own_cpu_seconds()
    monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil now raises ImportError
    sum(i * i for i in range(200_000))  # some CPU time of our own
    without = own_cpu_seconds()
    assert without > 0 and without >= with_psutil * 0.5
    assert _tree_rss(os.getpid()) > 10 * 2**20  # this interpreter holds more than 10 MiB
