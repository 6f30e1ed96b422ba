"""The Python examples in the docs run: every ```python block is marked, just above its fence,
``<!-- runnable -->`` (run in a fresh process), ``<!-- runnable: continued -->`` (run after the
runnable blocks before it in the same file, as one script) or ``<!-- not runnable: why -->``.
An example that drifts from the code fails here, and so does a new block nobody marked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = sorted(
    [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("docker/*.md")],
    key=lambda p: str(p),
)
FENCE = re.compile(r"^```python\s*$")
MARK = re.compile(r"^<!--\s*(runnable(?::\s*continued)?|not runnable:[^>]*)\s*-->\s*$")


def python_blocks(text: str) -> list[tuple[int, str | None, str]]:
    """(line number, mark or None, code) of every ```python block of a Markdown text."""
    lines = text.splitlines()
    found = []
    index = 0
    while index < len(lines):
        if FENCE.match(lines[index]):
            mark = None
            above = index - 1
            while above >= 0 and not lines[above].strip():
                above -= 1
            if above >= 0 and (matched := MARK.match(lines[above].strip())):
                mark = matched.group(1).strip()
            end = index + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            found.append((index + 1, mark, "\n".join(lines[index + 1 : end]) + "\n"))
            index = end
        index += 1
    return found


def scripts(path: Path) -> list[tuple[str, str]]:
    """(name, code) per runnable example of ``path``: a runnable block and the continued
    blocks after it, joined."""
    joined: list[tuple[str, str]] = []
    for line, mark, code in python_blocks(path.read_text(encoding="utf-8")):
        name = f"{path.relative_to(ROOT)}:{line}"
        if mark == "runnable":
            joined.append((name, code))
        elif mark and mark.startswith("runnable"):
            assert joined, f"{name}: a continued block with no runnable block before it"
            first, earlier = joined[-1]
            joined[-1] = (f"{first}+{line}", earlier + "\n" + code)
    return joined


EXAMPLES = [example for path in DOCUMENTS for example in scripts(path)]


def test_every_python_block_in_the_docs_is_marked():
    unmarked = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in DOCUMENTS
        for line, mark, _ in python_blocks(path.read_text(encoding="utf-8"))
        if mark is None
    ]
    assert unmarked == [], "mark these blocks runnable, or say why not: " + ", ".join(unmarked)


def test_the_docs_have_runnable_examples():
    names = [name for name, _ in EXAMPLES]
    assert any(name.startswith("docs/ARCHITECTURE.md") for name in names)
    assert any(name.startswith("docs/adding-a-workload.md") for name in names)


@pytest.mark.parametrize("name, code", EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_a_docs_example_runs(name, code, tmp_path):
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{name} failed:\n{done.stderr[-3000:]}"


def test_the_block_reader_finds_marks_and_unmarked_blocks():
    text = (
        "<!-- runnable -->\n```python\na = 1\n```\n\n<!-- runnable: continued -->\n\n"
        "```python\nassert a == 1\n```\n```python\nb = 2\n```\n"
        "<!-- not runnable: a fragment -->\n```python\n...\n```\n"
    )
    marks = [mark for _, mark, _ in python_blocks(text)]
    assert marks == ["runnable", "runnable: continued", None, "not runnable: a fragment"]
