"""Every chapter's Colab badge and install cell, written from one setting.

The setting is ``repository.url`` in ``_config.yml`` (it also feeds Jupyter Book's own launch
buttons). The release is ``v<version>`` of ``pyproject.toml``: the badge opens the chapter's
notebook at that tag and the install cell installs ``harlearn`` at that same tag, so a Colab
reader runs the notebook and the library this book was built from, never ``main``. The install
cell also offers a Colab form field for the profile (``auto``: ``full`` on a GPU, else ``book``).

Releasing the book: bump ``version`` in ``pyproject.toml``, run ``make sync`` (this script, then
jupytext), commit, build, and push the tag ``v<version>``.

Usage: ``python tools/sync_colab.py [--check]`` (``--check``: change nothing, exit 1 on drift).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BADGE = re.compile(
    r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]\([^)]*\)"
)
# the first code cell of a chapter: from its opening fence to the closing one
INSTALL_CELL = re.compile(r"```\{code-cell\} ipython3\n# On Colab[^\n]*\n.*?\n```", re.S)


def repository() -> str:
    """``owner/name`` from ``_config.yml``'s ``repository.url``."""
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")
    match = re.fullmatch(r"https://github\.com/([^/]+/[^/]+?)(\.git)?", url)
    if not match:
        raise SystemExit(f"_config.yml: repository.url {url!r} is not https://github.com/<owner>/<name>; fix it there.")
    return match.group(1)


def release() -> str:
    """The tag of this book's release: ``v`` + ``pyproject.toml``'s version."""
    match = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    if not match:
        raise SystemExit("pyproject.toml: no version line; add `version = \"X.Y.Z\"` under [project].")
    return f"v{match.group(1)}"


def badge(stem: str) -> str:
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{repository()}/blob/{release()}/book/{stem}.ipynb)")


def install_cell() -> str:
    return f'''```{{code-cell}} ipython3
# On Colab: install the course library at this book's release and choose the profile (elsewhere `make`
# has installed the library, and HARLEARN_PROFILE chooses).
import os
import sys

if "google.colab" in sys.modules:
    %pip install --quiet "harlearn @ git+https://github.com/{repository()}@{release()}"
    import torch

    PROFILE = "auto"  # @param ["auto", "full", "book", "ci"]
    # auto: full (real data, ImageNet weights, the papers' sizes) on a GPU runtime, else book (SynthHAR, CPU)
    os.environ["HARLEARN_PROFILE"] = ("full" if torch.cuda.is_available() else "book") if PROFILE == "auto" else PROFILE
```'''


def synced(text: str, stem: str) -> str:
    """``text`` (a chapter's MyST source) with its badge and install cell as this script writes them."""
    if not BADGE.search(text):
        raise SystemExit(f"book/{stem}.md has no Colab badge line; add one under the title, then run make sync.")
    if not INSTALL_CELL.search(text):
        raise SystemExit(f"book/{stem}.md: its first code cell does not start with '# On Colab'; restore it, then run make sync.")
    text = BADGE.sub(lambda _: badge(stem), text, count=1)
    return INSTALL_CELL.sub(lambda _: install_cell(), text, count=1)


def chapters() -> list[Path]:
    return sorted((ROOT / "book").glob("[0-9][0-9]_*.md"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a chapter differs")
    args = parser.parse_args(argv)
    drift = []
    for md in chapters():
        text = md.read_text()
        new = synced(text, md.stem)
        if new != text:
            drift.append(md.name)
            if not args.check:
                md.write_text(new)
    if args.check and drift:
        print(f"Colab badge or install cell out of date in {', '.join(drift)}: run `make sync`.", file=sys.stderr)
        return 1
    if drift:
        print(f"updated {', '.join(drift)} (repository {repository()}, release {release()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
