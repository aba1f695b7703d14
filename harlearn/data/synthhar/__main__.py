"""The SynthHAR command line: ``python -m harlearn.data.synthhar --prepare`` (or ``--root DIR ...``).

``--prepare`` fills the cache with what the current profile's chapters need
(:func:`harlearn.data.synthhar.cache.prepare`; the Makefile's ``data`` step); ``--root DIR``
generates one dataset into ``DIR`` with the given arguments (:func:`~.build.make_synthhar`);
``--corpus`` generates the pretraining corpus of the course checkpoints into the cache
(:func:`~.corpus.corpus_root`; ``--corpus-images``, ``--image-size``, ``--seed``). Errors in
the arguments print one line and exit with status 2.

Run as ``python -m``, this file executes as ``__main__``; ``harlearn.data.synthhar.main`` imports
it under its own name on first use (the package never imports it eagerly, so ``python -m``
does not find it already imported).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .build import LAYOUTS, make_synthhar
from .cache import prepare
from .corpus import CORPUS_IMAGES, CORPUS_VAL_IMAGES, corpus_root

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``python -m harlearn.data.synthhar --help``)."""
    p = argparse.ArgumentParser(prog="python -m harlearn.data.synthhar", description="Generate the SynthHAR dataset.")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--prepare", action="store_true", help="generate what the current profile's chapters need (cached)")
    g.add_argument("--root", type=Path, help="generate one dataset into this folder")
    g.add_argument("--corpus", action="store_true", help="generate the pretraining corpus of harlearn.zoo (cached)")
    p.add_argument("--corpus-images", type=int, default=CORPUS_IMAGES, help="--corpus: training images")
    p.add_argument("--corpus-val-images", type=int, default=CORPUS_VAL_IMAGES, help="--corpus: validation images")
    p.add_argument("--profile", help="profile for --prepare (default: $HARLEARN_PROFILE or book)")
    p.add_argument("--images-per-class", type=int, default=100)
    p.add_argument("--test-images-per-class", type=int, default=None)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--context-bias", type=float, default=0.0)
    p.add_argument("--layout", choices=LAYOUTS, default="both")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--workers", type=int, default=None)
    a = p.parse_args(argv)
    try:
        if a.prepare:
            prepare(a.profile or None, a.workers)
            return 0
        t0 = time.perf_counter()
        if a.corpus:
            root = corpus_root(images=a.corpus_images, val_images=a.corpus_val_images, image_size=a.image_size,
                               seed=a.seed, workers=a.workers)
            print(f"SynthHAR pretraining corpus at {root} ({time.perf_counter() - t0:.1f} s)")
            return 0
        root = make_synthhar(
            a.root, images_per_class=a.images_per_class, test_images_per_class=a.test_images_per_class,
            image_size=a.image_size, seed=a.seed, context_bias=a.context_bias, layout=a.layout,
            overwrite=a.overwrite, workers=a.workers, progress=sys.stderr.isatty(),
        )
    except (ValueError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"SynthHAR at {root} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
