"""Region-aware retrieval, step 2: the anchored person and the ranked context regions.

Paper: Wang, Zhao and Gui, "Region-aware Image-based Human Action Retrieval with Transformers",
CVIU 249 (2024), arXiv:2407.09924. The model (:mod:`harlearn.models.retrieval.model`) reads three
levels of features; this module finds the boxes of two of them: the anchored person
(:func:`anchor_boxes_from_batch`) and up to ``k`` context regions, the confident detector
proposals that overlap the person most (:func:`rank_context_proposals`,
:func:`context_boxes_from_batch`).

Where this departs from the paper: without a detector (the default here, since no detector
weights can be downloaded in the course's ``ci`` and ``book`` profiles) the candidates are
SynthHAR's exact sidecar boxes (``object_boxes``, ``bystander_boxes`` and the other annotated
persons), every one with score 1, ranked by IoU with the anchored person as in the paper. Any
detector can be plugged in through ``detector=``, or, since the paper's detector is frozen, its
proposals found once per image before training (:func:`with_context_boxes`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torchvision.ops import box_iou

from harlearn.data.batch import anchor_boxes

__all__ = ["rank_context_proposals", "anchor_boxes_from_batch", "context_boxes_from_batch", "WithContextBoxes",
           "with_context_boxes"]


def _plain(t: torch.Tensor) -> torch.Tensor:
    """A float ``torch.Tensor`` (a ``tv_tensors.BoundingBoxes`` loses its subclass)."""
    return t.as_subclass(torch.Tensor).float() if isinstance(t, torch.Tensor) else torch.as_tensor(t).float()


# --------------------------------------------------------------------------------------------
# Context regions
# --------------------------------------------------------------------------------------------


def rank_context_proposals(
    proposals: torch.Tensor,
    scores: torch.Tensor,
    anchor_box: torch.Tensor,
    k: int = 10,
    score_threshold: float = 0.5,
    *,
    return_indices: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """The paper's context regions: confident proposals, those overlapping the person most first.

    Proposals with ``score > score_threshold`` are kept and sorted by their IoU with the anchored
    person's box, highest first; equal IoUs are ordered by score, highest first (and then by
    their order in ``proposals``). The first ``k`` are returned.

    Args:
        proposals: Detector boxes ``[P, 4]``, pixel ``xyxy``.
        scores: Their confidences ``[P]``.
        anchor_box: The anchored person's box ``[4]`` (or ``[1, 4]``).
        k: The most regions to return.
        score_threshold: Proposals scoring at or below it are dropped.
        return_indices: Also return the indices of the chosen boxes in ``proposals``.

    Returns:
        The context boxes ``[k', 4]`` with ``k' <= k`` (``k' = 0`` when nothing passes), or
        ``(boxes, indices)`` with ``indices`` of shape ``[k']`` when ``return_indices`` is set.
    """
    proposals = _plain(proposals).reshape(-1, 4)  # [P, 4]
    scores = _plain(scores).reshape(-1).to(proposals.device)  # [P]
    if scores.numel() != proposals.shape[0]:
        raise ValueError(f"Got {proposals.shape[0]} proposals but {scores.numel()} scores.")
    keep = torch.nonzero(scores > score_threshold).flatten()  # [P'] indices into proposals
    anchor = _plain(anchor_box).reshape(1, 4).to(proposals.device)  # [1, 4]
    iou = box_iou(proposals[keep], anchor)[:, 0]  # [P']
    # Two stable sorts: by score, then by IoU; the second keeps the first's order among ties.
    order = torch.sort(scores[keep], descending=True, stable=True).indices  # [P']
    order = order[torch.sort(iou[order], descending=True, stable=True).indices]  # [P']
    chosen = keep[order[:k]]  # [k']
    return (proposals[chosen], chosen) if return_indices else proposals[chosen]


# --------------------------------------------------------------------------------------------
# From a collated batch of item dicts
# --------------------------------------------------------------------------------------------


def anchor_boxes_from_batch(batch: dict[str, Any]) -> torch.Tensor:
    """The anchored person of every image of a collated batch: :func:`harlearn.data.batch.anchor_boxes`.

    VOC Action items name their person (``box``); Stanford40 items have the XML persons in
    ``boxes`` and the first one is the anchor (SynthHAR writes the actor first). An image without
    any person box is anchored on the whole image.

    Args:
        batch: A batch from ``harlearn.data.collate`` with a stacked ``image`` ``[B, 3, H, W]``.

    Returns:
        ``[B, 4]`` pixel ``xyxy`` boxes.
    """
    return anchor_boxes(batch)


def context_boxes_from_batch(
    batch: dict[str, Any],
    k: int = 10,
    *,
    detector: Callable[[dict[str, Any]], list[dict[str, torch.Tensor]]] | None = None,
    score_threshold: float = 0.5,
) -> list[torch.Tensor]:
    """The ranked context regions of every image of a collated batch.

    Without a detector the candidates are the sidecar's ``object_boxes`` and ``bystander_boxes``
    (SynthHAR) and the other annotated persons in ``boxes``, each with score 1; with a detector,
    its boxes and scores. Either way :func:`rank_context_proposals` keeps those above
    ``score_threshold`` and ranks them by IoU with the anchored person.

    Args:
        batch: A batch from ``harlearn.data.collate``.
        k: The most regions per image.
        detector: ``detector(batch) -> list`` of one dict per image with ``boxes`` ``[P, 4]``
            (pixel ``xyxy`` in the batch's images) and ``scores`` ``[P]``, called under
            ``torch.no_grad()``. A torchvision detector in eval mode returns exactly that:
            ``lambda batch: det(harlearn.models.detection_images(batch))`` (it needs images in
            ``[0, 1]``, not normalised ones).
        score_threshold: Minimum confidence of a proposal (unit scores always pass below 1).

    Returns:
        ``B`` tensors ``[k_i, 4]``, ``k_i <= k``, the highest IoU with the anchor first.
    """
    anchors = anchor_boxes_from_batch(batch)  # [B, 4]
    if detector is not None:
        with torch.no_grad():
            detections = detector(batch)
        candidates = [(_plain(d["boxes"]).reshape(-1, 4), _plain(d["scores"]).reshape(-1))
                      for d in detections]
    else:
        candidates = []
        for i, anchor in enumerate(anchors):
            parts = [torch.zeros(0, 4, device=anchor.device)]
            for key in ("object_boxes", "bystander_boxes", "boxes"):
                boxes = batch.get(key, [None] * len(anchors))[i]
                if boxes is not None:
                    boxes = _plain(boxes).reshape(-1, 4).to(anchor.device)
                    if key == "boxes":
                        boxes = boxes[~(boxes == anchor).all(dim=1)]  # the other persons, not the anchor
                    parts.append(boxes)
            boxes = torch.cat(parts)  # [P, 4]
            candidates.append((boxes, boxes.new_ones(len(boxes))))  # unit scores
    return [rank_context_proposals(b, s, a, k, score_threshold) for (b, s), a in zip(candidates, anchors)]


# --------------------------------------------------------------------------------------------
# A frozen detector's proposals, found once per image
# --------------------------------------------------------------------------------------------


class WithContextBoxes(torch.utils.data.Dataset):
    """The items of ``dataset`` with precomputed context regions as ``object_boxes``.

    The boxes join each item *before* ``transform`` runs, so a crop, a resize or a flip moves
    them with the image (they travel as ``tv_tensors.BoundingBoxes``), and
    :func:`context_boxes_from_batch` without a detector reads them as it reads SynthHAR's
    sidecar boxes. Made by :func:`with_context_boxes`.

    Args:
        dataset: a dataset of item dicts, read without a transform.
        boxes: one ``[P_i, 4]`` pixel ``xyxy`` tensor per item, in the untransformed image.
        transform: the item transform to run after the boxes join (``None``: none).
    """

    def __init__(self, dataset: Any, boxes: list[torch.Tensor], transform: Callable | None = None):
        if len(boxes) != len(dataset):
            raise ValueError(f"WithContextBoxes: {len(boxes)} box sets for {len(dataset)} items; give one per item.")
        self.dataset, self.boxes, self.transform = dataset, boxes, transform
        self.classes = getattr(dataset, "classes", None)
        self.targets = getattr(dataset, "targets", None)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        from torchvision import tv_tensors

        from harlearn.data._common import apply_transform

        item = dict(self.dataset[index])
        canvas = tuple(item["image"].shape[-2:])
        item["object_boxes"] = tv_tensors.BoundingBoxes(self.boxes[index].reshape(-1, 4).float(), format="XYXY",
                                                        canvas_size=canvas)
        return apply_transform(item, self.transform)


@torch.no_grad()
def with_context_boxes(
    dataset: Any,
    detector: torch.nn.Module,
    *,
    score_threshold: float = 0.5,
    batch_size: int = 8,
    max_images: int | None = None,
    progress: bool = False,
) -> WithContextBoxes:
    """Run a frozen detector once over every image of ``dataset``; keep its confident boxes.

    The paper's detector is frozen, so its proposals for an image never change: finding them
    once, before training, gives the same context regions as running it on every batch (the
    augmentation then moves the boxes with the image) at the cost of one pass instead of one per
    epoch. ``dataset.transform`` is taken off for the pass (the detector sees the original
    image, as torchvision's detectors expect) and runs after the boxes join each item.

    Args:
        dataset: a dataset with a ``transform`` attribute (``Stanford40``, ``VOCAction``).
        detector: a torchvision detector (e.g. ``fasterrcnn(pretrained=True)``), on its device.
        score_threshold: the least confidence a box needs (the paper's proposals: 0.5).
        batch_size: images per detector call.
        max_images: run the detector on the first ``max_images`` images only; the others get no
            proposals (smoke mode's cut, ``P.cap(len(dataset))``); ``None``: all.
        progress: a tqdm bar over the images.

    Returns:
        A :class:`WithContextBoxes` over ``dataset`` (whose own transform is now ``None``).
    """
    from harlearn.models.detection import detection_images

    transform, dataset.transform = getattr(dataset, "transform", None), None
    device = next(detector.parameters()).device
    detector.eval()
    boxes: list[torch.Tensor] = []
    count = len(dataset) if max_images is None else min(max_images, len(dataset))
    starts = range(0, count, batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="proposals", unit="batch")
    for start in starts:
        images = [dataset[i]["image"] for i in range(start, min(start + batch_size, count))]
        for found in detector([im.to(device) for im in detection_images(images)]):
            keep = found["scores"] >= score_threshold
            boxes.append(found["boxes"][keep].float().cpu())
    boxes += [torch.zeros(0, 4) for _ in range(len(dataset) - count)]
    return WithContextBoxes(dataset, boxes, transform)
