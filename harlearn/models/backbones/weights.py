"""Loading torchvision's ImageNet weights into the course's CNN backbones.

The four backbones (:mod:`~harlearn.models.backbones.vgg`, ``resnet``, ``googlenet``,
``densenet``) have torchvision's parameter names, so torchvision's weights load by name.
:func:`build_pretrained` does it through torchvision's own weights API (downloaded once into
torch hub's cache, checked against the hash in the file name) and, for a new number of classes,
swaps the head (:func:`harlearn.models.transfer.finetune_model`). :func:`pretrained_weights_path`
says where the file is cached, for error messages and offline set-ups (the detector uses it too).

Not a paper's method: the plumbing the papers leave to the reader. Errors name the file, the
URL and the fix (network, placing the file, the book profile, or ``pretrained=False``); offline
(the host cannot be reached within a few seconds) they come at once, before any download starts.
"""

from __future__ import annotations

import os
import pickle
import urllib.error
import urllib.parse
from collections.abc import Callable
from typing import Any

import torch
from torchvision.models import WeightsEnum

from harlearn import pretrained_source
from harlearn._offline import unreachable
from harlearn.models.transfer import ModelT, _head_name, finetune_model

__all__ = ["build_pretrained", "pretrained_weights_path", "load_torchvision_model"]

# Width arguments and the only values for which ImageNet weights exist.
_PRODUCTION_WIDTHS: dict[str, tuple[Any, ...]] = {"base_width": (64,), "classifier_width": (None, 4096)}


def pretrained_weights_path(weights: WeightsEnum) -> str:
    """Where torch hub caches (and looks for) a torchvision weights file.

    Args:
        weights: A torchvision weights entry, e.g. ``torchvision.models.ResNet50_Weights.IMAGENET1K_V1``.

    Returns:
        ``torch.hub.get_dir()/checkpoints/<file name of weights.url>``; ``TORCH_HOME`` moves it.
    """
    filename = os.path.basename(urllib.parse.urlparse(weights.url).path)
    return os.path.join(torch.hub.get_dir(), "checkpoints", filename)


def _download_message(url: str, path: str, err: BaseException) -> str:
    return (
        f"ImageNet weights could not be downloaded from {url} ({err}): check the network "
        f"connection, use the book profile (HARLEARN_PROFILE=book, which needs no pretrained "
        f"weights), place the file at {path} (torch.hub.get_dir()/checkpoints/), or use pretrained=False."
    )


def build_pretrained(
    model_cls: Callable[..., ModelT],
    weights_enum: type[WeightsEnum],
    pretrained: bool | str,
    num_classes: int,
    *,
    adapt: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
    **kwargs: Any,
) -> ModelT:
    """Build ``model_cls(1000, **kwargs)``, load torchvision's ImageNet weights, set the head.

    The weights come through torchvision's own API (``weights.get_state_dict``), so they are
    downloaded once into torch hub's cache and checked against the hash in their file name. In
    smoke mode (``HARLEARN_SMOKE=1``) that call returns a random stand-in with the file's keys
    and shapes (:mod:`harlearn.pretrained_source`), and everything after it runs unchanged.

    Args:
        model_cls: The model class, e.g. :class:`ResNet`.
        weights_enum: torchvision's weights enum, e.g. ``torchvision.models.ResNet50_Weights``.
        pretrained: ``True`` for ``IMAGENET1K_V1``, or the name of a member of ``weights_enum``.
        num_classes: Number of output logits; if it is not 1000, the ImageNet head is
            replaced by a fresh linear layer (:func:`finetune_model`).
        adapt: Optional fix-up of the downloaded state dict before the strict load (legacy
            key names, auxiliary heads we do not build).
        **kwargs: Passed on to ``model_cls``; width arguments must keep their defaults.

    Returns:
        The model with ImageNet weights, in training mode.

    Raises:
        ValueError: A non-default width, or an unknown weights name.
        RuntimeError: The weights could not be downloaded (offline) or read.
    """
    for name, allowed in _PRODUCTION_WIDTHS.items():
        if name in kwargs and kwargs[name] not in allowed:
            raise ValueError(
                f"pretrained=True needs the production width ({name}={allowed[-1]}), got "
                f"{name}={kwargs[name]}: ImageNet weights exist only for the full-width model, "
                "so train a narrow one from scratch with pretrained=False."
            )
    name = "IMAGENET1K_V1" if pretrained in (True, "imagenet") else str(pretrained)
    try:
        weights = weights_enum[name]
    except KeyError:
        allowed_names = ", ".join(weights_enum.__members__)
        raise ValueError(
            f"Unknown weights {name!r} for {weights_enum.__name__}; choose one of {allowed_names}."
        ) from None

    path = pretrained_weights_path(weights)
    smoke = pretrained_source.stand_ins_active()  # smoke mode: a random stand-in, no file, no network
    if not smoke and not os.path.exists(path):  # offline: fail at once rather than wait on the download
        blocked = unreachable(weights.url)
        if blocked is not None:
            raise RuntimeError(_download_message(weights.url, path, blocked)) from urllib.error.URLError(blocked)
    try:
        with pretrained_source.torchvision_fetch(weights):
            state_dict = weights.get_state_dict(progress=True, check_hash=True, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, pickle.UnpicklingError) as err:  # URLError is an OSError
        if os.path.exists(path):
            message = (
                f"The ImageNet weights file {path} could not be read ({err}): delete it so that "
                "it is downloaded again, or use pretrained=False."
            )
        else:
            message = _download_message(weights.url, path, err)
        raise RuntimeError(message) from err
    if adapt is not None:
        state_dict = adapt(state_dict)

    model = model_cls(len(weights.meta["categories"]), **kwargs)
    model.load_state_dict(state_dict, strict=True)
    if num_classes != model.get_submodule(_head_name(model)).out_features:
        finetune_model(model, num_classes)
    return model


def load_torchvision_model(builder: Callable[..., torch.nn.Module], weights: WeightsEnum, what: str,
                           *, alternative: str | None = None, **kwargs: Any) -> torch.nn.Module:
    """``builder(weights=weights, **kwargs)``: a torchvision model with its production weights.

    The same path as :func:`build_pretrained` for models the course uses as they are (RAFT,
    Keypoint R-CNN): torch hub's cache, an immediate error offline, a random stand-in in smoke
    mode (:mod:`harlearn.pretrained_source`).

    Args:
        builder: torchvision's builder, e.g. ``torchvision.models.optical_flow.raft_small``.
        weights: its weights entry, e.g. ``Raft_Small_Weights.DEFAULT``.
        what: what the weights are, for the error message ("RAFT's optical-flow weights").
        alternative: one more fix the errors offer, e.g. the detector's "use pretrained=False
            and train the small detector on SynthHAR boxes".
        **kwargs: more builder arguments (``weights_backbone=None`` for a detector: the backbone's
            ImageNet file is not needed when the whole detector's weights are loaded).

    Raises:
        RuntimeError: the weights could not be downloaded (offline) or read; the message names
            the URL, the file and the fixes.
    """
    path = pretrained_weights_path(weights)
    fixes = [f"check the network connection, place the file at {path} (torch.hub.get_dir()/checkpoints/)",
             "use the book profile (HARLEARN_PROFILE=book), which needs no pretrained weights"]
    if alternative:
        fixes.append(alternative)
    fixes = ", ".join(fixes[:-1]) + ", or " + fixes[-1]
    if not pretrained_source.stand_ins_active() and not os.path.exists(path):
        blocked = unreachable(weights.url)
        if blocked is not None:
            raise RuntimeError(f"{what} could not be downloaded from {weights.url} ({blocked}): "
                               f"{fixes}.") from urllib.error.URLError(blocked)
    try:
        with pretrained_source.torchvision_fetch(weights):
            return builder(weights=weights, **kwargs)
    except (OSError, RuntimeError, pickle.UnpicklingError) as err:  # URLError is an OSError
        if os.path.exists(path):
            retry = f", or {alternative}" if alternative else ""
            raise RuntimeError(f"{what} in {path} could not be read ({err}): delete the file so that it is "
                               f"downloaded again{retry}.") from err
        raise RuntimeError(f"{what} could not be downloaded from {weights.url} ({err}): {fixes}.") from err
