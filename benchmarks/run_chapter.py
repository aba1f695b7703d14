"""Run one chapter notebook's code cells in this process, in order, and time each cell.

``python benchmarks/run_chapter.py book/04_vision_transformers.ipynb [--json out.json]``

A stand-in for a Jupyter kernel where none is installed (the GPU machine has PyTorch but no
Jupyter; see ``benchmarks/gpu_check.sh``): it reads the ``.ipynb`` with the standard library,
executes every code cell with ``exec`` in one namespace (as a kernel would), turns IPython
magics and shell lines (``%pip ...``, ``!ls``) into ``pass`` (they sit behind ``if "google.colab"
in sys.modules:``), and runs from the notebook's folder with matplotlib's ``Agg`` backend. Rich
outputs are not rendered (``display`` prints a text form). The exit status is 0 when every cell
ran; otherwise the failing cell's number and traceback are printed and the status is 1.

Not a replacement for nbmake in CI (``make test`` runs the notebooks in a real kernel).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import traceback
from pathlib import Path

_MAGIC = re.compile(r"^(\s*)[%!].*$")


def code_cells(path: Path) -> list[str]:
    """The source of every code cell, magics and shell lines replaced by ``pass``."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = []
    for cell in notebook["cells"]:
        if cell.get("cell_type") != "code":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        cells.append("\n".join(_MAGIC.sub(r"\1pass", line) for line in source.splitlines()))
    return cells


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Run a notebook's code cells and time each one.")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--json", type=Path, help="write the per-cell times here")
    args = parser.parse_args(argv)
    path = args.notebook.resolve()
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.chdir(path.parent)
    sys.path.insert(0, str(path.parent))
    namespace = {"__name__": "__main__", "__file__": str(path)}
    times, failed, error, start = [], None, None, time.perf_counter()
    for i, source in enumerate(code_cells(path), start=1):
        cell_start = time.perf_counter()
        print(f"--- cell {i}", flush=True)
        try:
            exec(compile(source, f"{path.name}, cell {i}", "exec"), namespace)
        except BaseException as err:  # noqa: BLE001 - report any failure of the notebook's code
            traceback.print_exc()
            failed, error = i, traceback.format_exception_only(type(err), err)[-1].strip()
            times.append(time.perf_counter() - cell_start)
            break
        finally:
            sys.stdout.flush()
        times.append(time.perf_counter() - cell_start)
        print(f"--- cell {i}: {times[-1]:.1f} s", flush=True)  # as it goes: a run cut short still tells
        try:
            import matplotlib.pyplot as plt

            plt.close("all")  # a kernel renders and keeps figures; here they only cost memory
        except ImportError:
            pass
    total = time.perf_counter() - start
    summary = {"notebook": path.name, "ok": failed is None, "failed_cell": failed, "error": error, "seconds": total,
               "cells": len(times), "slowest_cell": max(range(len(times)), key=times.__getitem__) + 1 if times else None,
               "slowest_seconds": max(times) if times else None, "cell_seconds": times}
    if args.json:
        args.json.write_text(json.dumps(summary))
    print(f"=== {path.name}: {'ok' if failed is None else f'FAILED in cell {failed}'} in {total:.1f} s", flush=True)
    return 0 if failed is None else 1


if __name__ == "__main__":
    raise SystemExit(main())
