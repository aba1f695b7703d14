"""The book's structure: every chapter has its Colab twin, in sync, with the agreed skeleton."""

from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("[0-9]*.md"))


def _toc_files(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("file", "root"):
                yield value
            else:
                yield from _toc_files(value)
    elif isinstance(node, list):
        for item in node:
            yield from _toc_files(item)


def test_there_are_chapters():
    assert CHAPTERS, "no chapter notebooks found in book/"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_is_paired_and_in_sync(md):
    ipynb = md.with_suffix(".ipynb")
    assert ipynb.exists(), f"{md.name} has no Colab twin: run `make sync`."
    source = jupytext.read(md)
    twin = jupytext.read(ipynb)
    src_cells = [(c.cell_type, c.source.strip()) for c in source.cells]
    twin_cells = [(c.cell_type, c.source.strip()) for c in twin.cells]
    assert src_cells == twin_cells, f"{ipynb.name} is out of date with {md.name}: run `make sync`."


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_skeleton(md):
    nb = jupytext.read(md)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert "google.colab" in code[0] and "pip install" in code[0], (
        f"{md.name}: the first code cell must install harlearn when running on Colab."
    )
    setup = "\n".join(code[:3])
    assert "experiments.setup(" in setup or ("profiles.current()" in setup and "describe(" in setup), (
        f"{md.name}: the setup cell must read the profile and print profile and device."
    )
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "colab.research.google.com" in text, f"{md.name}: no Colab badge."
    assert f"book/{md.stem}.ipynb" in text, f"{md.name}: the Colab badge must open book/{md.stem}.ipynb."


def test_every_chapter_is_in_the_toc():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = set(_toc_files(toc))
    for md in CHAPTERS:
        assert f"book/{md.stem}" in listed, f"{md.name} is not in _toc.yml"
    for entry in listed:
        assert any((ROOT / f"{entry}{ext}").exists() for ext in (".md", ".ipynb")), entry


def test_colab_badges_and_install_cells_come_from_one_setting():
    """Badge and install cell follow _config.yml's repository.url and the release tag; never main."""
    import subprocess
    import sys

    check = subprocess.run([sys.executable, str(ROOT / "tools" / "sync_colab.py"), "--check"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import sync_colab
    finally:
        sys.path.pop(0)
    tag = sync_colab.release()
    for md in CHAPTERS:
        text = md.read_text()
        assert f"/blob/{tag}/book/{md.stem}.ipynb" in text, md.name
        assert f"git+https://github.com/{sync_colab.repository()}@{tag}" in text, md.name
        assert "/blob/main/" not in text and "harlearn@main" not in text, md.name


def test_sync_colab_rewrites_a_stale_chapter(tmp_path):
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import sync_colab
    finally:
        sys.path.pop(0)
    stale = CHAPTERS[0].read_text().replace(f"@{sync_colab.release()}", "").replace(
        f"/blob/{sync_colab.release()}/", "/blob/main/")
    assert sync_colab.synced(stale, CHAPTERS[0].stem) == CHAPTERS[0].read_text()
