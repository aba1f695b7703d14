"""The code in the chapters' exercise solutions runs, as printed, in the ``ci`` profile.

Every ``{solution}`` block of a chapter (``book/NN_name.md``) that holds a fenced ``python`` code
block is one test here: its code blocks are taken from the chapter's markdown, unchanged, and run
in a fresh namespace on the CPU. A solution's own ``assert`` lines check the qualitative fact its
prose states; the test fails if one does not hold, or if the code no longer runs against the
library. Solutions are not executed by the book build (they are markdown), so this is what keeps
them true.
"""

from __future__ import annotations

import linecache
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.md"))

#: A colon-fenced solution block: ``:::{solution} <label>`` ... the closing fence of the same length.
SOLUTION = re.compile(r"^(?P<fence>:{3,})\{solution\}\s+(?P<label>\S+)\s*\n(?P<body>.*?)^(?P=fence)\s*$", re.M | re.S)
CODE = re.compile(r"^```python\n(.*?)^```\s*$", re.M | re.S)


def _solutions() -> list[tuple[str, str, str]]:
    """``(chapter stem, exercise label, code)`` for every solution that has code."""
    found = []
    for md in CHAPTERS:
        for match in SOLUTION.finditer(md.read_text()):
            blocks = CODE.findall(match["body"])
            if blocks:
                found.append((md.stem, match["label"], "\n".join(blocks)))
    return found


SOLUTIONS = _solutions()


def test_solutions_are_found():
    """The parser sees the solutions (a change of syntax must not silently skip them all)."""
    assert SOLUTIONS, "no solution with a ```python block found in book/"
    for md in CHAPTERS:
        text = md.read_text()
        exercises = re.findall(r"^:{3,}\{exercise\}", text, re.M)
        solutions = re.findall(r"^:{3,}\{solution\}", text, re.M)
        assert len(exercises) >= 4, f"{md.name}: {len(exercises)} exercises, the course asks for at least four"
        assert len(solutions) == len(exercises), f"{md.name}: {len(exercises)} exercises but {len(solutions)} solutions"
        assert len(SOLUTION.findall(text)) == len(solutions), f"{md.name}: a solution block is not closed"


@pytest.mark.parametrize("chapter, label, code", SOLUTIONS, ids=[label for _, label, _ in SOLUTIONS])
def test_solution_code_runs(chapter, label, code, monkeypatch, tmp_path):
    monkeypatch.setenv("HARLEARN_PROFILE", "ci")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("HARLEARN_RESULTS", str(tmp_path / "results"))
    monkeypatch.chdir(tmp_path)  # anything a solution writes lands in a temporary folder
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    torch.manual_seed(0)
    namespace = {"__name__": f"solution_{label.replace('-', '_')}"}
    filename = f"{chapter}.md:{label}"
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)  # readable tracebacks
    try:
        exec(compile(code, filename, "exec"), namespace)  # noqa: S102 - the book's own code
    finally:
        plt.close("all")
