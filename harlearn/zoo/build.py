"""Rebuilding a course checkpoint from its recipe: ``zoo.build(name)`` and ``make zoo``.

:func:`build` takes a :class:`~harlearn.zoo.recipes.Recipe`, generates (or finds cached) its
pretraining corpus, decodes it once at the recipe's input size (``InMemory``, half precision,
a random flip and shift on every access, as the chapters train), builds the architecture with
the recipe's seed and trains it with :func:`harlearn.train.fit`: multi-hot ``labels`` give
binary cross-entropy and a validation mAP (:mod:`harlearn.losses`), the MAE its masked-patch
loss (:func:`harlearn.transformers.mae.mae_loss_fn`). The weights are saved in half precision
(temp file + rename), hashed, and the manifest entry is written last.

A long build can be interrupted: ``fit`` keeps ``last.pt`` under
``data_home()/"zoo-build"/<name>-<recipe hash>/`` and the next ``build`` resumes from it exactly
(a changed recipe has another hash, so it never resumes a different run).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from . import recipes as _recipes
from .registry import construct, registry_dir, sha256_of, write_entry

__all__ = ["build", "build_all", "state_dict_half"]


def state_dict_half(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict on the CPU, floating-point tensors in float16 (integer buffers kept)."""
    return {k: (v.detach().to("cpu", torch.float16) if v.is_floating_point() else v.detach().cpu()).contiguous()
            for k, v in model.state_dict().items()}


def _plain(value: Any) -> Any:
    """JSON-able: NaN and infinities become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return float(value)


def _recipe_hash(recipe: _recipes.Recipe) -> str:
    return hashlib.sha256(json.dumps(recipe.as_dict(), sort_keys=True).encode()).hexdigest()[:10]


def _datasets(recipe: _recipes.Recipe, root: Path):
    from harlearn.data import transforms as T
    from harlearn.data.cache import InMemory
    from harlearn.data.corpus import PretrainingCorpus

    resize = T.eval_transform(recipe.image_size)
    augment = T.flip_shift if recipe.augment == "flip_shift" else None
    keys = ("image", "labels")
    train = InMemory(PretrainingCorpus(root, "train", transform=resize), keys, augment=augment, half=True)
    val = InMemory(PretrainingCorpus(root, "val", transform=resize), keys, half=True)
    return train, val


def build(
    name: str | None = None,
    out_dir: str | os.PathLike | None = None,
    *,
    recipe: _recipes.Recipe | None = None,
    corpus: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    resume: bool = True,
    progress: bool = True,
    workers: int | None = None,
) -> dict[str, Any]:
    """Train one course checkpoint from its recipe and register it.

    Args:
        name: a recipe name (:data:`~harlearn.zoo.recipes.RECIPES`); optional when ``recipe`` is given.
        out_dir: the registry folder to write to (default ``$HARLEARN_ZOO`` or the package's
            ``harlearn/zoo/weights/``, which is what ``make zoo`` refreshes).
        recipe: a recipe to use instead of the registered one (e.g. a tiny one in a test).
        corpus: a corpus folder to use instead of ``corpus_root(**recipe.corpus)``.
        device: default ``harlearn.profiles.device()``.
        resume: continue an interrupted build of the same recipe (``fit``'s ``last.pt``).
        progress: progress bars and one line per epoch.
        workers: processes for generating the corpus.

    Returns:
        The manifest entry written.
    """
    from harlearn import profiles
    from harlearn.data.corpus import PretrainingCorpus
    from harlearn.data.synthhar.corpus import CORPUS_VERSION, corpus_root
    from harlearn.experiments import hardware_name
    from harlearn.train import TrainConfig, fit, seed_everything
    from harlearn.transformers.mae import mae_loss_fn

    if recipe is None:
        if name is None:
            raise ValueError("build() needs a recipe name or a recipe.")
        recipe = _recipes.recipe(name)
    folder = registry_dir(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    device = torch.device(device) if device is not None else profiles.device()
    start = time.perf_counter()
    root = Path(corpus) if corpus is not None else corpus_root(**recipe.corpus, workers=workers)
    train, val = _datasets(recipe, root)
    labels = PretrainingCorpus(root, "val").classes
    decoded = time.perf_counter() - start

    seed_everything(recipe.seed)  # the initialisation
    model = construct(recipe.architecture, recipe.kwargs, len(labels))
    if recipe.objective == "mae":
        loss_fn, num_classes = mae_loss_fn(), 0
    else:
        loss_fn, num_classes = None, len(labels)
    from harlearn.data.synthhar.cache import data_home

    ckpt = data_home() / "zoo-build" / f"{recipe.name}-{_recipe_hash(recipe)}" if resume else None
    config = TrainConfig(**{**recipe.train, "seed": recipe.seed, "progress": progress,
                            "checkpoint_dir": str(ckpt) if ckpt else None})
    t0 = time.perf_counter()
    history = fit(model, train, val, config, loss_fn=loss_fn, device=device, resume=resume)
    seconds = time.perf_counter() - t0

    file = f"{recipe.name}.pt"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{file}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state_dict_half(model), f)
        os.replace(tmp, folder / file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    last = history.last or {}
    positives = torch.tensor(PretrainingCorpus(root, "val").targets, dtype=torch.float32)
    entry = {
        "name": recipe.name,
        "architecture": recipe.architecture,
        "kwargs": recipe.as_dict()["kwargs"],
        "num_classes": num_classes,
        "image_size": recipe.image_size,
        "file": file,
        "sha256": sha256_of(folder / file),
        "bytes": (folder / file).stat().st_size,
        "dtype": "float16",
        "seed": recipe.seed,
        "recipe": recipe.as_dict(),
        "pretraining": {
            "corpus": "SynthHAR pretraining corpus (harlearn.data.synthhar.corpus)",
            "version": CORPUS_VERSION,
            "arguments": dict(recipe.corpus),
            "labels": list(labels),
            "objective": recipe.objective,
            "val_map": _plain(last.get("val_map", math.nan)),
            "val_loss": _plain(last.get("val_loss", math.nan)),
            "chance_map": _plain(float(positives.mean())) if recipe.objective == "multilabel" else None,
        },
        "history": [{k: _plain(v) for k, v in r.items()} for r in history],
        "trained_with": {
            "device": device.type, "hardware": hardware_name(device), "torch": torch.__version__,
            "seconds": round(seconds, 1), "decode_seconds": round(decoded, 1),
        },
    }
    write_entry(entry, folder)
    if ckpt is not None:  # the run is registered: its resume files are no longer needed
        for f in ("last.pt", "best.pt"):
            (ckpt / f).unlink(missing_ok=True)
        try:
            ckpt.rmdir()
        except OSError:
            pass
    return entry


def build_all(out_dir: str | os.PathLike | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    """:func:`build` every registered recipe, in registry order (``make zoo``)."""
    return [build(name, out_dir, **kwargs) for name in _recipes.names()]
