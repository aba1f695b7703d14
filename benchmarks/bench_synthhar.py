"""How fast is SynthHAR? Images per second at 128 px, and the time of the profiles' datasets.

Measures, on this machine:

- rendering only (scene -> image + label map, in memory), one process;
- a full Stanford40-layout dataset on disk (JPEG, XML, JSON and mask PNG per image) with
  1 worker and with all cores;
- the ``ci`` and ``book`` profile datasets (both layouts, as ``--prepare`` makes them, one
  context bias), unless ``--quick``.

Run::

    python benchmarks/bench_synthhar.py [--quick] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from harlearn import profiles
from harlearn.data.synthhar import make_synthhar
from harlearn.data.synthhar.build import _voc_tasks
from harlearn.data.synthhar.render.actions import CLASS_OBJECTS, CLASSES, DISTRACTOR_OBJECTS
from harlearn.data.synthhar.render.scene import render_scene


def render_only(n_per_class: int, size: int) -> tuple[float, float]:
    """Images per second (wall clock, CPU time) for the in-memory render of ``16 * n_per_class`` images."""
    t0, c0 = time.perf_counter(), time.process_time()
    for ci, c in enumerate(CLASSES):
        pool = [o for o in DISTRACTOR_OBJECTS if o not in CLASS_OBJECTS[c]]
        for i in range(n_per_class):
            render_scene(np.random.default_rng([0, ci, i]), [c], size, pool=pool)
    n = len(CLASSES) * n_per_class
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


def on_disk(tmp: Path, name: str, workers: int | None, **kw) -> tuple[float, int, float]:
    """Wall-clock seconds to write a dataset, its number of images, and this process's CPU seconds."""
    root = tmp / name
    t0, c0 = time.perf_counter(), time.process_time()
    make_synthhar(root, workers=workers, **kw)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = sum(1 for _ in root.rglob("*.jpg"))
    shutil.rmtree(root)
    return dt, n, cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="skip the book-profile dataset")
    p.add_argument("--workers", type=int, default=None, help="processes for the multi-core runs (default: all cores)")
    a = p.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{cores} cores available; load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else f"{cores} cores")
    render_only(1, 128)  # warm-up
    wall, cpu = render_only(8, 128)
    print(f"render only, 128 px, 1 process: {wall:.0f} images/s ({cpu:.0f} per CPU-second)")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for w in (1, a.workers or cores):
            dt, n, cpu = on_disk(tmp, f"s40-{w}", w, images_per_class=20, image_size=128, layout="stanford40")
            per_cpu = f" ({n / cpu:.0f} per CPU-second)" if w == 1 else ""
            print(f"Stanford40 layout on disk, 128 px, {w} worker(s): {n} images in {dt:.1f} s = {n / dt:.0f} images/s{per_cpu}")
        for name in ("ci",) + (() if a.quick else ("book",)):
            prof = profiles.get(name)
            dt, n, _ = on_disk(tmp, name, a.workers, images_per_class=prof.synth_images_per_class, image_size=prof.synth_image_size, layout="both")
            n_voc = len(_voc_tasks({"images_per_class": prof.synth_images_per_class, "test_images_per_class": prof.synth_images_per_class, "seed": 0}, tmp))
            print(
                f"profile '{name}' dataset ({prof.synth_images_per_class} + {prof.synth_images_per_class} per class, "
                f"{prof.synth_image_size} px, both layouts: {n - n_voc} + {n_voc} VOC images): {dt:.1f} s"
            )


if __name__ == "__main__":
    main()
