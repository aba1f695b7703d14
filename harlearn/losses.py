"""The classification loss of the course, in one place.

Every classifier in the course is trained with one of two criteria, chosen by the batch:

- one action per image (the Stanford40 layout): cross-entropy against ``batch["label"]``, class
  indices ``[B]`` or class probabilities ``[B, C]`` (after mixup), with optional label smoothing;
- several actions per person (the VOC 2012 Action layout, multi-hot ``batch["labels"]``):
  binary cross-entropy with logits, one independent sigmoid per action.

:func:`classification_loss` makes that choice; :func:`default_loss` applies it to
``model(batch["image"])``; :func:`logits_of` finds the logits in a model's output (a tensor, a
tuple's first entry or ``out["logits"]``); :func:`targets_of` gives the targets the metrics
read. Models that add a term (LGA's mask loss, ConViT's person branch, the retrieval triplet)
call :func:`classification_loss` for their classification part.

Not a paper's method: the standard criteria (``F.cross_entropy``,
``F.binary_cross_entropy_with_logits``), computed in float32 under autocast.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["classification_loss", "default_loss", "logits_of", "targets_of", "is_multilabel"]


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
