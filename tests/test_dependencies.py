"""The declared dependencies cover what the library and the chapters import.

``pyproject.toml`` (loose lower bounds, for ``pip install harlearn``) must name the distribution
of every third-party module that ``harlearn/`` or a chapter's code cells import, and
``requirements.txt`` (the tested stack) must pin each of them with ``==``.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Import name -> distribution name, where they differ.
DIST_OF = {"PIL": "pillow", "sklearn": "scikit-learn", "yaml": "pyyaml", "cv2": "opencv-python-headless",
           "open_clip": "open_clip_torch"}
#: Imported directly but installed as a hard requirement of a declared distribution.
TRANSITIVE = {"scipy": "scikit-learn", "IPython": "ipywidgets", "huggingface_hub": "timm"}
#: Present only where the chapter runs on Colab (imported inside a try or an if).
COLAB_ONLY = {"google"}


def _dist_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_dist_name(r) for r in project["dependencies"]}


def _pinned() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    return pins


def _top_level_imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _chapter_code(path: Path) -> str:
    """The code cells of a MyST notebook; IPython magics and cell options become ``pass``."""
    cells = re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```", path.read_text(), flags=re.S | re.M)
    lines = [
        line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!", ":")) else line
        for cell in cells
        for line in cell.splitlines()
    ]
    return "\n".join(lines)


def _third_party(names: set[str]) -> set[str]:
    return {n for n in names if n not in sys.stdlib_module_names and n not in {"harlearn", "__future__"}}


def test_every_imported_package_is_declared_and_pinned():
    imported = set()
    for path in sorted((ROOT / "harlearn").rglob("*.py")):
        imported |= _top_level_imports(path.read_text())
    chapters = sorted((ROOT / "book").glob("[0-9][0-9]_*.md"))
    assert chapters, "no chapters found"
    for path in chapters:
        imported |= _top_level_imports(_chapter_code(path))
    declared, pinned = _declared(), _pinned()
    missing = []
    for name in sorted(_third_party(imported) - COLAB_ONLY):
        dist = DIST_OF.get(name, name).lower()
        provider = TRANSITIVE.get(name, dist).lower()
        if provider not in declared:
            missing.append(f"{name} (distribution {dist})")
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
    unpinned = sorted(declared - set(pinned))
    assert not unpinned, f"declared in pyproject.toml but not pinned in requirements.txt: {unpinned}"


def test_pandas_is_declared_and_pinned():
    """Chapters 2-8 build their tables with pandas."""
    assert "pandas" in _declared()
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?", _pinned()["pandas"])
