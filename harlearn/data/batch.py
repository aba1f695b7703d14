"""The persons of a collated batch: the one place that reads them from either layout.

A batch from :func:`harlearn.data.collate` names its persons differently per layout:

- VOC 2012 Action items are persons: ``batch["box"]`` ``[B, 4]`` is each item's own person;
- Stanford40 items are images: ``batch["boxes"]`` is a list of ``[P_i, 4]``, every annotated
  person, the actor first (SynthHAR writes the actor first; a detector's boxes come sorted by
  score).

:func:`anchor_boxes` gives the one person a model looks at per item (ConViT's person branch,
the retrieval model's anchor); :func:`person_boxes_per_item` gives every person of each item
(LGA's human mask). Boxes are 0-based pixel ``xyxy`` floats on the images' device. Not a
paper's method.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["anchor_boxes", "person_boxes_per_item"]


def _plain(t: Any) -> torch.Tensor:
    """A float ``torch.Tensor`` (a ``tv_tensors.BoundingBoxes`` loses its subclass)."""
    return t.as_subclass(torch.Tensor).float() if isinstance(t, torch.Tensor) else torch.as_tensor(t).float()


def _images(batch: dict[str, Any]) -> torch.Tensor:
    images = batch["image"]
    if not isinstance(images, torch.Tensor):
        raise ValueError("The images of the batch have different sizes; resize them to one size "
                         "(e.g. harlearn.data.transforms.eval_transform) before batching.")
    return images


def anchor_boxes(batch: dict[str, Any]) -> torch.Tensor:
    """One person per item: VOC's own ``box``, else the first of ``boxes``, else the whole image.

    Args:
        batch: a collated batch with a stacked ``image`` ``[B, 3, H, W]``.

    Returns:
        ``[B, 4]`` pixel ``xyxy`` boxes on the images' device.
    """
    images = _images(batch)
    if batch.get("box") is not None:
        return _plain(batch["box"]).reshape(-1, 4).to(images.device)
    H, W = images.shape[-2:]
    whole = torch.tensor([0.0, 0.0, W, H], device=images.device)
    persons = batch.get("boxes")
    persons = [None] * images.shape[0] if persons is None else persons
    anchors = [_plain(b).reshape(-1, 4)[0].to(images.device) if b is not None and len(b) else whole
               for b in persons]
    return torch.stack(anchors)  # [B, 4]


def person_boxes_per_item(batch: dict[str, Any]) -> list[torch.Tensor | None]:
    """Every person of each item: ``[1, 4]`` (VOC's own ``box``) or ``[P_i, 4]`` (all ``boxes``).

    Args:
        batch: a collated batch with a stacked ``image`` ``[B, 3, H, W]``.

    Returns:
        A list of ``B`` float tensors on the images' device (``None`` for an item that has no
        ``boxes``, e.g. an image without a sidecar: the caller decides what that means).
    """
    images = _images(batch)
    if batch.get("box") is not None:
        return list(_plain(batch["box"]).reshape(-1, 1, 4).to(images.device))
    persons = batch.get("boxes") or [None] * images.shape[0]
    return [_plain(b).reshape(-1, 4).to(images.device) if b is not None else None for b in persons]
