"""Where pretrained weights come from: the real checkpoint, or in smoke mode a random stand-in.

Smoke mode (``HARLEARN_SMOKE=1`` with ``HARLEARN_PROFILE=full``, see :mod:`harlearn.profiles`)
runs the ``full`` code path on a machine that cannot download anything. Every pretrained
checkpoint is then replaced by a *stand-in*: a state dict with exactly the checkpoint's keys and
shapes, filled with a fresh random initialisation of the production architecture (seeded by the
checkpoint's name, so every run gets the same one, and without touching the global random state).
Only the fetch is replaced: the stand-in goes through the same loading and name-mapping code as
the real file, so a key-mapping bug fails in smoke mode too. Normalisation constants and timm's
pretrained configs stay those of the real checkpoint (they are local metadata).

The loading sites and how each gets its stand-in:

* torchvision classification weights, through
  :func:`harlearn.models.backbones.weights.build_pretrained` (VGG-16, ResNet-50, GoogLeNet,
  DenseNet-121 and every model built on them): ``weights.get_state_dict(...)`` is called as
  always, inside :func:`torchvision_fetch`, which makes torchvision's download function
  (``torchvision.models._api.load_state_dict_from_url``) return :func:`torchvision_stand_in`;
  harlearn's own fix-ups (DenseNet's legacy key names, GoogLeNet's auxiliary heads) and the
  strict load then run on it.
* torchvision's COCO detectors, through :func:`harlearn.models.detection.fasterrcnn`: the
  torchvision builder is called with ``weights=...`` as always, inside :func:`torchvision_fetch`,
  so torchvision's own builder (frozen BatchNorm, 91 classes, its strict load) reads the stand-in.
* timm checkpoints (ViT / DeiT, Swin), through
  :func:`harlearn.transformers.pretrained.create_timm_pretrained`: ``timm.create_model(name,
  pretrained=True, ...)`` as always, with the stand-in passed as timm's own
  ``pretrained_cfg_overlay=dict(state_dict=...)`` source, so timm's checkpoint filter, position
  embedding resampling and head replacement run; harlearn's name mapping into its own ViT / Swin
  (:func:`harlearn.transformers.vit.load_timm_pretrained`) follows unchanged.
* open_clip's CLIP checkpoints, through :func:`harlearn.clip.pretrained.pretrained_clip`: where
  the download would happen, :func:`open_clip_stand_in` returns the state dict of
  ``open_clip.create_model(name, pretrained=None)`` (the architecture the checkpoint was saved
  from), and harlearn's CLIP loads it strictly, as it loads the downloaded one.

How a stand-in's keys are known without the file: torchvision's checkpoints are the state dicts
of torchvision's architectures (built here with ``weights=None``) in the format torchvision's own
loaders expect, which differs in two documented places, reproduced here: DenseNet's files use
the legacy names ``denselayerN.norm.1`` (torchvision's ``densenet._load_state_dict`` renames
them) and hold no ``num_batches_tracked``; the detectors' files come from models with frozen
BatchNorm (no ``num_batches_tracked``). GoogLeNet's file holds the two auxiliary classifiers
(torchvision builds it with ``aux_logits=True`` to load it). timm's Hugging Face checkpoints are
saved from timm's own models, so a stand-in is ``timm.create_model(name, pretrained=False)``'s
state dict (timm builds it with the checkpoint's classes and input size).

Not a paper's method: test plumbing, so that CI exercises the GPU path.
"""

from __future__ import annotations

import contextlib
import re
import zlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

__all__ = [
    "stand_ins_active",
    "torchvision_stand_in",
    "torchvision_fetch",
    "timm_stand_in",
    "open_clip_stand_in",
    "StandInError",
]


class StandInError(RuntimeError):
    """Smoke mode met a download it has no stand-in for (a URL other than the one expected)."""


def stand_ins_active() -> bool:
    """Whether pretrained checkpoints are replaced by random stand-ins (``HARLEARN_SMOKE`` is on).

    Read at every load (not at import), so a test or a chapter can switch it with the variable.
    """
    from harlearn.profiles import smoke_requested

    return smoke_requested()


@contextlib.contextmanager
def _seeded(name: str) -> Iterator[None]:
    """A random state of its own for building ``name``'s stand-in; the global one is restored after."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(zlib.crc32(name.encode()))
        yield


# --- torchvision ----------------------------------------------------------------------------

# DenseNet's legacy names: "denselayer1.norm1.weight" is "denselayer1.norm.1.weight" in the file
# (the inverse of the pattern in torchvision.models.densenet._load_state_dict).
_DENSENET_MODERN = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))([12])\.(weight|bias|running_mean|running_var)$")


def _builder_name(weights: Any) -> str:
    """The torchvision model name whose weights enum ``weights`` belongs to (its model registry)."""
    from torchvision.models import get_model_weights, list_models

    for name in list_models():
        if get_model_weights(name) is type(weights):
            return name
    raise StandInError(f"No torchvision model is registered for {weights!r}: no stand-in can be built for it.")


def torchvision_stand_in(weights: Any) -> dict[str, torch.Tensor]:
    """A random state dict with the keys and shapes of torchvision's checkpoint file ``weights``.

    Args:
        weights: a torchvision weights entry, e.g. ``ResNet50_Weights.IMAGENET1K_V1`` or
            ``FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1``.

    Returns:
        The state dict that torchvision's download of ``weights.url`` would return, up to the
        values: a random initialisation of the architecture (seeded by the weights' name).
    """
    from torchvision.models import get_model_builder

    name = _builder_name(weights)
    kwargs: dict[str, Any] = {"weights": None}
    if "categories" in weights.meta:  # classifiers and detectors (not RAFT, whose output is a flow field)
        kwargs["num_classes"] = len(weights.meta["categories"])
    if name.startswith(("fasterrcnn", "maskrcnn", "keypointrcnn", "retinanet", "fcos", "ssd")):
        kwargs["weights_backbone"] = None
    if name == "googlenet":  # the file holds the auxiliary classifiers
        kwargs.update(aux_logits=True, init_weights=True)
    with _seeded(str(weights)):
        model: nn.Module = get_model_builder(name)(**kwargs)
    state = model.state_dict()
    detector = "weights_backbone" in kwargs
    if name.startswith("densenet") or detector:  # legacy / frozen-BatchNorm files: no counters
        state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    if name.startswith("densenet"):
        state = {_DENSENET_MODERN.sub(r"\1.\2.\3", k): v for k, v in state.items()}
    return state


@contextlib.contextmanager
def torchvision_fetch(weights: Any) -> Iterator[None]:
    """Inside, torchvision's fetch of ``weights`` returns its stand-in when smoke mode is on.

    Outside smoke mode this changes nothing. In smoke mode torchvision's download function
    (``torchvision.models._api.load_state_dict_from_url``, what ``WeightsEnum.get_state_dict``
    calls) is replaced for the duration: the URL of ``weights`` gets
    :func:`torchvision_stand_in`, any other URL raises :class:`StandInError` (nothing is
    downloaded in smoke mode).

    Args:
        weights: the torchvision weights entry about to be loaded.
    """
    if not stand_ins_active():
        yield
        return
    from torchvision.models import _api

    if not hasattr(_api, "load_state_dict_from_url"):  # pragma: no cover - a torchvision change
        raise StandInError(
            "torchvision.models._api has no load_state_dict_from_url: this torchvision fetches weights "
            "another way, and harlearn.pretrained_source must follow it."
        )
    real = _api.load_state_dict_from_url

    def fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        if url != weights.url:
            raise StandInError(f"Smoke mode has no stand-in for {url} (expected {weights.url}): nothing is downloaded.")
        return torchvision_stand_in(weights)

    _api.load_state_dict_from_url = fetch
    try:
        yield
    finally:
        _api.load_state_dict_from_url = real


# --- timm -------------------------------------------------------------------------------------


def timm_stand_in(name: str) -> dict[str, torch.Tensor]:
    """A random state dict with the keys and shapes of timm's checkpoint ``name``.

    Args:
        name: a timm model name with or without its tag (``"deit_small_patch16_224.fb_in1k"``).

    Returns:
        ``timm.create_model(name, pretrained=False).state_dict()`` (timm builds the architecture
        with the checkpoint's number of classes and input size), seeded by ``name``.
    """
    import timm

    with _seeded(name):
        return timm.create_model(name, pretrained=False).state_dict()


# --- open_clip --------------------------------------------------------------------------------


def open_clip_stand_in(model_name: str, quick_gelu: bool = False) -> dict[str, torch.Tensor]:
    """A random state dict with the keys and shapes of an open_clip CLIP checkpoint.

    Args:
        model_name: an open_clip model name, e.g. ``"ViT-B-32"``.
        quick_gelu: build it with QuickGELU (OpenAI's checkpoints); no parameter depends on it.

    Returns:
        ``open_clip.create_model(model_name, pretrained=None).state_dict()``, seeded by the name.
    """
    import open_clip

    with _seeded(f"open_clip:{model_name}"):
        return open_clip.create_model(model_name, pretrained=None, force_quick_gelu=quick_gelu).state_dict()
