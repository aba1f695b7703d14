"""The architecture figures: drawn by harlearn.diagrams, committed in book/figures, used by chapters."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harlearn import diagrams

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "book" / "figures"
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.md"))
USED = re.compile(r"```\{figure\} figures/([\w-]+)\.svg")


def test_committed_figures_are_what_the_code_draws(tmp_path):
    written = diagrams.write_all(tmp_path)
    assert {p.name for p in written} == {p.name for p in FIGURES.glob("*.svg")}, (
        "book/figures differs from harlearn.diagrams.FIGURES: run `python -m harlearn.diagrams book/figures`."
    )
    for p in written:
        assert p.read_bytes() == (FIGURES / p.name).read_bytes(), (
            f"book/figures/{p.name} is out of date: run `python -m harlearn.diagrams book/figures`."
        )


def test_drawing_is_deterministic(tmp_path):
    a, b = diagrams.write_all(tmp_path / "a"), diagrams.write_all(tmp_path / "b")
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


def test_every_figure_is_shown_once_and_every_model_chapter_has_one():
    used: dict[str, list[str]] = {}
    for md in CHAPTERS:
        for name in USED.findall(md.read_text()):
            used.setdefault(name, []).append(md.stem)
    assert set(used) == set(diagrams.FIGURES), f"figures drawn but not shown: {set(diagrams.FIGURES) - set(used)}"
    assert all(len(v) == 1 for v in used.values()), {k: v for k, v in used.items() if len(v) > 1}
    chapters_with = {stem for v in used.values() for stem in v}
    for md in CHAPTERS:  # every chapter builds a model
        assert md.stem in chapters_with, f"{md.name} shows no architecture figure"


@pytest.mark.parametrize("name", sorted(diagrams.FIGURES))
def test_figure_says_where_it_comes_from(name):
    for md in CHAPTERS:
        text = md.read_text()
        if f"figures/{name}.svg" in text:
            block = text[text.index(f"figures/{name}.svg"):]
            block = block[: block.index("```")]
            assert f"harlearn.diagrams.{name}" in block, f"{md.name}: the caption of {name} must name its code"
