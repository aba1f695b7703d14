"""Course checkpoints: the models the ``book`` and ``ci`` profiles fine-tune, as ``full`` fine-tunes ImageNet's.

Every paper of the course starts from an ImageNet-pretrained backbone. ImageNet cannot be
downloaded here and a CPU cannot pretrain on it, so the course pretrains its own checkpoints
on the SynthHAR pretraining corpus (:mod:`harlearn.data.synthhar.corpus`: other images, other
seeds and another label space than the 16 course actions) and ships them inside the package
(``harlearn/zoo/weights/``: ``manifest.json`` and one half-precision ``<name>.pt`` each, at
most 40 MB in all). Each entry records its architecture, pretraining data and labels, recipe,
seed, training history and sha256.

Usage::

    from harlearn import zoo
    zoo.list()                                # the shipped checkpoints
    zoo.info("resnet50_w8")["history"]        # how it was trained
    model = zoo.load("resnet50_w8", num_classes=16)   # hash checked, weights_only, fresh head
    model = resnet50(16, pretrained="zoo", base_width=8)  # the same, through the factory
    zoo.initialise(VisionTransformer(64, num_classes=16, **kw))  # the checkpoint that fits a model you built
    zoo.build("resnet50_w8")                  # retrain it from the recipe held in code

From a shell: ``python -m harlearn.zoo list | info NAME | build NAME | build all`` (``make zoo``
is ``build all``). The recipes are in :mod:`harlearn.zoo.recipes`; the times measured for each
are in ``harlearn/zoo/README.md``. ``$HARLEARN_ZOO`` points every function at another registry
folder.

Modules: :mod:`.recipes` (what each checkpoint is and how it is trained), :mod:`.registry`
(manifest, hash check, loading, heads), :mod:`.build` (training and registering), ``__main__``
(the command line). Not a paper's method.
"""

from __future__ import annotations

from typing import Any

from .build import build, build_all
from .recipes import RECIPES, Recipe
from .registry import (ENV_VAR, ZooIntegrityError, find, info, initialise, list_checkpoints, load, read_manifest,
                       registry_dir)

__all__ = ["list", "info", "load", "find", "initialise", "build", "build_all", "recipes", "Recipe", "RECIPES", "ZooIntegrityError",
           "registry_dir", "read_manifest", "ENV_VAR"]


def list(registry: Any = None) -> list[str]:  # noqa: A001 - the public name is zoo.list()
    """The names of the checkpoints in the registry (the package's by default), sorted."""
    return list_checkpoints(registry)


def __getattr__(name: str) -> Any:
    # ``main`` lives in __main__.py, imported on first use so ``python -m harlearn.zoo`` does not
    # find its module already imported (as harlearn.data.synthhar does).
    if name == "main":
        from .__main__ import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
