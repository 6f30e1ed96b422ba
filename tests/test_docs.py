"""The documentation stays true to the code: the CLI reference is generated from the parser and
fails when it drifts, the README stays short, and the site builds with --strict (a broken link
fails the build)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

MKDOCS = shutil.which("mkdocs", path=os.path.dirname(sys.executable)) or shutil.which("mkdocs")


def test_the_cli_reference_is_generated_from_the_parser():
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "cli_reference.py"), "--check"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_the_readme_is_read_in_five_minutes():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


@pytest.mark.skipif(MKDOCS is None, reason="mkdocs is not installed (the dev extra has it)")
@pytest.mark.parametrize("broken", [False, True])
def test_the_site_builds_strict_and_a_broken_link_fails(tmp_path, broken):
    site = tmp_path / "project"
    shutil.copytree(ROOT / "docs", site / "docs")
    shutil.copy(ROOT / "mkdocs.yml", site / "mkdocs.yml")
    if broken:
        page = site / "docs" / "ci.md"
        page.write_text(page.read_text() + "\nSee [the missing page](nowhere.md).\n")
    done = subprocess.run(
        [MKDOCS or "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "out")],
        cwd=site, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert (done.returncode != 0) == broken, done.stderr
