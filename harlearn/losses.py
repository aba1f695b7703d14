"""The classification loss of the course, in one place.

Every classifier in the course is trained with one of two criteria, chosen by the batch:

- one action per image (the Stanford40 layout): cross-entropy against ``batch["label"]``, class
  indices ``[B]`` or class probabilities ``[B, C]`` (after mixup), with optional label smoothing;
- several actions per person (the VOC 2012 Action layout, multi-hot ``batch["labels"]``):
  binary cross-entropy with logits, one independent sigmoid per action.

:func:`classification_loss` makes that choice; :func:`default_loss` applies it to
``model(batch["image"])``; :func:`logits_of` finds the logits in a model's output (a tensor, a
tuple's first entry or ``out["logits"]``); :func:`targets_of` gives the targets the metrics
read; :func:`init_prior_bias` starts a classifier's bias at the training set's class rates.
Models that add a term (LGA's mask loss, ConViT's person branch, the retrieval triplet)
call :func:`classification_loss` for their classification part.

Not a paper's method: the standard criteria (``F.cross_entropy``,
``F.binary_cross_entropy_with_logits``), computed in float32 under autocast.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["classification_loss", "default_loss", "logits_of", "targets_of", "is_multilabel", "init_prior_bias"]


def logits_of(output: Any) -> torch.Tensor:
    """The logits in a model's output: the tensor, a tuple's first entry or ``out["logits"]``."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict):
        return output["logits"]
    if isinstance(output, (tuple, list)):
        return output[0]
    raise TypeError(f"Cannot find logits in a model output of type {type(output).__name__}.")


def is_multilabel(batch: dict[str, Any]) -> bool:
    """True when the batch carries multi-hot ``labels`` (the VOC Action layout)."""
    return "labels" in batch


def classification_loss(
    logits: torch.Tensor, batch: dict[str, Any], label_smoothing: float = 0.0
) -> torch.Tensor:
    """Binary cross-entropy against multi-hot ``labels`` when present, else cross-entropy.

    Args:
        logits: ``[B, C]`` class scores.
        batch: a collated batch with ``label`` (``[B]`` indices or ``[B, C]`` probabilities)
            or multi-hot ``labels`` ``[B, C]``.
        label_smoothing: passed to ``F.cross_entropy`` (the BCE loss does not use it).

    Returns:
        The mean loss over the batch, a float32 scalar.
    """
    if is_multilabel(batch):
        return F.binary_cross_entropy_with_logits(logits.float(), batch["labels"].float())
    return F.cross_entropy(logits.float(), batch["label"], label_smoothing=label_smoothing)


def default_loss(
    model: nn.Module, batch: dict[str, Any], label_smoothing: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`classification_loss` of ``model(batch["image"])``.

    Args:
        model: the classifier.
        batch: a collated batch on the model's device.
        label_smoothing: see :func:`classification_loss`.

    Returns:
        ``(loss, logits)``.
    """
    logits = logits_of(model(batch["image"]))
    return classification_loss(logits, batch, label_smoothing), logits


def targets_of(batch: dict[str, Any]) -> torch.Tensor:
    """Targets for the metrics: multi-hot ``labels``, else hard class indices."""
    if is_multilabel(batch):
        return batch["labels"]
    label = batch["label"]
    return label.argmax(dim=1) if label.ndim == 2 else label  # soft (mixup) labels -> indices


def init_prior_bias(linear: nn.Linear, targets: Any, eps: float = 1e-3) -> nn.Linear:
    """Set a classifier's bias so that, before training, it predicts the training set's class rates.

    The prior initialisation of RetinaNet (Lin et al., 2017, section 4.1). With multi-hot targets
    (one sigmoid per action) a head whose bias starts at zero predicts 0.5 for every class, while
    the rate of a VOC action is a few per cent; AdamW moves a bias by at most about the learning
    rate per step, so at 3e-3 the bias alone needs about a thousand steps to reach
    ``log(0.0625 / 0.9375) = -2.7``, far more than a CPU run takes, and the first steps are spent
    on the base rate instead of the images. Starting the bias there removes that phase.

    Args:
        linear: the classifier layer, ``[C]`` outputs; its weights are kept.
        targets: the training set's targets, ``dataset.targets``: multi-hot ``[N, C]`` (sigmoid
            heads: ``bias = log(p / (1 - p))``) or class indices ``[N]`` (softmax heads:
            ``bias = log p``, which changes nothing when the classes are balanced).
        eps: rates are clipped to ``[eps, 1 - eps]`` (a class without positives).

    Returns:
        ``linear``, changed in place.
    """
    t = torch.as_tensor(targets, dtype=torch.float32)
    C = linear.out_features
    if t.ndim == 2:
        if t.shape[1] != C:
            raise ValueError(f"init_prior_bias: the targets have {t.shape[1]} classes, the layer {C} outputs.")
        bias = torch.logit(t.mean(0).clamp(eps, 1 - eps))
    elif t.ndim == 1:
        if t.numel() and (t.min() < 0 or t.max() >= C):
            raise ValueError(f"init_prior_bias: class indices must lie in [0, {C}), got {int(t.min())}..{int(t.max())}.")
        bias = torch.bincount(t.long(), minlength=C).float().div(max(len(t), 1)).clamp(eps, 1).log()
    else:
        raise ValueError(f"init_prior_bias: targets must be [N] class indices or [N, C] multi-hot, got {tuple(t.shape)}.")
    with torch.no_grad():
        linear.bias.copy_(bias.to(linear.bias))
    return linear
