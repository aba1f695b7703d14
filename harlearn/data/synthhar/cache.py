"""Where a profile's SynthHAR lives: one folder per distinct dataset under ``data_home()/synthhar/``.

:func:`synthhar_root` is what the chapters call: it turns a profile (and the few arguments a
chapter varies, such as ``context_bias``) into canonical generator arguments, names a folder
after them (:func:`synthhar_key`: readable, ending in a hash of all of them and of the
generator version) and generates the dataset there on first use. :func:`prepare` is
``python -m harlearn.data.synthhar --prepare``: it fills the cache with what the current
profile's chapters need (:data:`PREPARE_BIASES`) before the book runs.

Nothing is ever evicted: a new generator version or new arguments give a new folder, and
the old ones stay until deleted by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from .build import GENERATOR_VERSION, canonical_arguments, is_same_dataset, make_synthhar

__all__ = ["synthhar_root", "synthhar_key", "data_home", "prepare", "PREPARE_BIASES"]

#: The ``context_bias`` values ``--prepare`` generates (0.9: the Loss-Guided Activation chapter).
PREPARE_BIASES = (0.0, 0.9)
_RUN_ONLY = ("overwrite", "workers", "progress")  # arguments that do not change the dataset
_DATASET = {"images_per_class", "test_images_per_class", "image_size", "seed", "context_bias", "layout", "bystanders", "difficulty"}


def data_home() -> Path:
    """Where datasets live: :func:`harlearn.data.data_home` (``$HARLEARN_DATA`` or ``~/.cache/harlearn``).

    Imported lazily, so generating a dataset does not import torch.
    """
    try:
        from .._common import data_home as home
    except ImportError:  # pragma: no cover - same semantics without the loaders
        return Path(os.environ.get("HARLEARN_DATA") or "~/.cache/harlearn").expanduser()
    return home()


def synthhar_key(args: dict[str, Any]) -> str:
    """A readable folder name for canonical arguments, ending in a short hash of all of them."""
    digest = hashlib.sha256(json.dumps({"version": GENERATOR_VERSION, **args}, sort_keys=True).encode()).hexdigest()[:10]
    return (
        f"{args['layout']}-{args['image_size']}px-{args['images_per_class']}x{args['test_images_per_class']}"
        f"-seed{args['seed']}-bias{args['context_bias']:g}-{digest}"
    )


def _locate(profile, context_bias: float, seed: int, layout: str, overrides: dict[str, Any]):
    """``(profile, root, canonical arguments, make_synthhar keywords, run-only keywords)`` for a request."""
    from harlearn import profiles

    if profile is None:
        profile = profiles.current()
    elif isinstance(profile, str):
        profile = profiles.get(profile)
    overrides = dict(overrides)
    run = {k: overrides.pop(k) for k in _RUN_ONLY if k in overrides}
    kw = dict(images_per_class=profile.synth_images_per_class, image_size=profile.synth_image_size)
    kw.update(overrides)
    kw.update(seed=seed, context_bias=context_bias, layout=layout)
    unknown = set(kw) - _DATASET
    if unknown:
        raise TypeError(f"synthhar_root() got unknown arguments {sorted(unknown)}; allowed: {sorted(_DATASET | set(_RUN_ONLY))}.")
    args = canonical_arguments(
        kw["images_per_class"], kw.get("test_images_per_class"), kw["image_size"], kw["seed"],
        kw["context_bias"], kw["layout"], kw.get("bystanders", True), kw.get("difficulty"),
    )
    return profile, data_home() / "synthhar" / synthhar_key(args), args, kw, run


def synthhar_root(profile=None, *, context_bias: float = 0.0, seed: int = 0, layout: str = "both", **overrides: Any) -> Path:
    """The cached SynthHAR for a profile, generated (atomically) on first use.

    Args:
        profile: a :class:`harlearn.profiles.Profile` or its name; default
            ``harlearn.profiles.current()``. Its ``synth_image_size`` and
            ``synth_images_per_class`` set the size.
        context_bias: see :func:`~.build.make_synthhar`.
        seed: see :func:`~.build.make_synthhar`.
        layout: see :func:`~.build.make_synthhar`.
        **overrides: any other :func:`~.build.make_synthhar` argument (``image_size``,
            ``images_per_class``, ``workers``, ...).

    Returns:
        ``data_home() / "synthhar" / <key>``, where the key names the main arguments and ends
        in a hash of all of them (so two different datasets never share a folder).
    """
    _, root, args, kw, run = _locate(profile, context_bias, seed, layout, overrides)
    if is_same_dataset(root, args):
        return root
    return make_synthhar(root, **kw, **run)


def prepare(profile=None, workers: int | None = None) -> None:
    """Generate (or find cached) every SynthHAR the profile's chapters use (the clips too), one line each on stdout.

    Args:
        profile: a :class:`harlearn.profiles.Profile` or its name; default
            ``harlearn.profiles.current()``.
        workers: processes for generating; see :func:`~.build.make_synthhar`.
    """
    for bias in PREPARE_BIASES:
        t0 = time.perf_counter()
        profile, root, args, _, _ = _locate(profile, bias, 0, "both", {})
        cached = is_same_dataset(root, args)
        root = synthhar_root(profile, context_bias=bias, workers=workers, progress=sys.stderr.isatty())
        how = "already there" if cached else f"generated in {time.perf_counter() - t0:.1f} s"
        print(f"SynthHAR for profile '{profile.name}' (context_bias={bias:g}): {root} ({how})", flush=True)
    from .clips import clips_root  # chapter 9's clips

    t0 = time.perf_counter()
    root = clips_root(profile, workers=workers, progress=sys.stderr.isatty())
    print(f"SynthHAR clips for profile '{profile.name}': {root} ({time.perf_counter() - t0:.1f} s)", flush=True)
