"""The CNN baselines of the course, their ImageNet weights, and fine-tuning helpers.

Four classic ImageNet classifiers, each written from scratch in its own module so a student
can read it top to bottom, with torchvision's parameter names so torchvision's ImageNet
weights load by name:

- :func:`vgg16` (:mod:`harlearn.models.vgg`): "Very Deep Convolutional Networks for
  Large-Scale Image Recognition", arXiv:1409.1556.
- :func:`resnet50` (:mod:`harlearn.models.resnet`): "Deep Residual Learning for Image
  Recognition", arXiv:1512.03385.
- :func:`googlenet` (:mod:`harlearn.models.googlenet`): "Going Deeper with Convolutions",
  arXiv:1409.4842.
- :func:`densenet121` (:mod:`harlearn.models.densenet`): "Densely Connected Convolutional
  Networks", arXiv:1608.06993.

Every factory is ``factory(num_classes=1000, pretrained=False, **kwargs)``. ``base_width``
(default 64) scales every channel count by ``base_width / 64`` so the course's ``book``
profile can train them from scratch on a CPU; the defaults are the production architectures.
Every model has ``forward_features(x)`` (the last convolutional map, ``num_features``
channels at stride 32) and ``forward_head(features)`` (pool + classifier).

This module adds what the papers leave to the reader: loading ImageNet weights through
torchvision's own weights API (:func:`build_pretrained`), and swapping or freezing parts for
transfer learning (:func:`finetune_model`, :func:`head_parameters`,
:func:`backbone_parameters`). Each model module's docstring lists where it departs from its
paper.
"""

from __future__ import annotations

import os
import pickle
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import nn
from torchvision.models import WeightsEnum

from harlearn.models.densenet import DenseNet, densenet121
from harlearn.models.googlenet import GoogLeNet, googlenet
from harlearn.models.resnet import ResNet, resnet50
from harlearn.models.vgg import VGG, vgg16

__all__ = [
    "VGG",
    "ResNet",
    "GoogLeNet",
    "DenseNet",
    "vgg16",
    "resnet50",
    "googlenet",
    "densenet121",
    "build_pretrained",
    "pretrained_weights_path",
    "finetune_model",
    "head_parameters",
    "backbone_parameters",
]

ModelT = TypeVar("ModelT", bound=nn.Module)

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
    downloaded once into torch hub's cache and checked against the hash in their file name.

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
    name = "IMAGENET1K_V1" if pretrained is True else str(pretrained)
    try:
        weights = weights_enum[name]
    except KeyError:
        allowed_names = ", ".join(weights_enum.__members__)
        raise ValueError(
            f"Unknown weights {name!r} for {weights_enum.__name__}; choose one of {allowed_names}."
        ) from None

    path = pretrained_weights_path(weights)
    try:
        state_dict = weights.get_state_dict(progress=True, check_hash=True, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, pickle.UnpicklingError) as err:  # URLError is an OSError
        if os.path.exists(path):
            message = (
                f"The ImageNet weights file {path} could not be read ({err}): delete it so that "
                "it is downloaded again, or use pretrained=False."
            )
        else:
            message = (
                f"ImageNet weights could not be downloaded from {weights.url} ({err}): check the "
                f"network connection, or place the file at {path} (torch.hub.get_dir()/checkpoints/), "
                "or use pretrained=False."
            )
        raise RuntimeError(message) from err
    if adapt is not None:
        state_dict = adapt(state_dict)

    model = model_cls(len(weights.meta["categories"]), **kwargs)
    model.load_state_dict(state_dict, strict=True)
    if num_classes != model.get_submodule(_head_name(model)).out_features:
        finetune_model(model, num_classes)
    return model


def _head_name(model: nn.Module) -> str:
    """Dotted name of the model's final ``nn.Linear`` (``fc``, ``classifier``, ``classifier.6``)."""
    name = getattr(model, "head_name", None)
    if name is not None:
        return name
    # torchvision (and most) classifiers: fc, classifier, or a Sequential classifier ending in a Linear.
    for candidate in ("fc", "classifier", "head"):
        module = getattr(model, candidate, None)
        if isinstance(module, nn.Linear):
            return candidate
        if isinstance(module, nn.Sequential) and len(module) and isinstance(module[-1], nn.Linear):
            return f"{candidate}.{len(module) - 1}"
    raise TypeError(
        f"Cannot find the classification head of {type(model).__name__}: give the model a "
        "head_name attribute naming its final nn.Linear (e.g. head_name = 'fc')."
    )


def finetune_model(model: ModelT, num_classes: int, *, freeze_backbone: bool = False) -> ModelT:
    """Prepare a (pretrained) classifier for a new task: a fresh head, optionally a frozen body.

    The head is VGG's ``classifier[6]``, ResNet's and GoogLeNet's ``fc``, DenseNet's
    ``classifier`` (torchvision's models work too). It is replaced by a new ``nn.Linear``
    with the same input width, PyTorch's default initialisation, and the old head's device
    and dtype.

    Args:
        model: The model, changed in place.
        num_classes: Output logits of the new head.
        freeze_backbone: If ``True``, every parameter outside the head gets
            ``requires_grad=False`` (linear probing); if ``False``, every parameter is
            trainable. BatchNorm running statistics still update in ``train()`` mode; call
            ``eval()`` on the frozen modules to keep them fixed.

    Returns:
        The same model, for chaining.
    """
    name = _head_name(model)
    old = model.get_submodule(name)
    new = nn.Linear(old.in_features, num_classes).to(device=old.weight.device, dtype=old.weight.dtype)
    parent_name, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, attr, new)
    for parameter in backbone_parameters(model):
        parameter.requires_grad = not freeze_backbone
    for parameter in head_parameters(model):
        parameter.requires_grad = True
    return model


def head_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters of the classification head (see :func:`finetune_model`).

    Args:
        model: One of the course's CNNs, or a torchvision classifier.

    Returns:
        The head's weight and bias, e.g. for a parameter group with a larger learning rate::

            torch.optim.SGD([{"params": backbone_parameters(m), "lr": 1e-3},
                             {"params": head_parameters(m), "lr": 1e-2}], momentum=0.9)
    """
    return list(model.get_submodule(_head_name(model)).parameters())


def backbone_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Every parameter not in the classification head, frozen or not.

    Args:
        model: One of the course's CNNs, or a torchvision classifier.

    Returns:
        The parameters of the model minus :func:`head_parameters`, in registration order.
    """
    head = {id(p) for p in head_parameters(model)}
    return [p for p in model.parameters() if id(p) not in head]
