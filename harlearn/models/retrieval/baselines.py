"""Baselines for action retrieval: one global descriptor per image, as in image retrieval and ReID.

Papers:
    * Radenović, Tolias and Chum, "Fine-tuning CNN Image Retrieval with No Human Annotation",
      TPAMI 2018, arXiv:1711.02512: generalized-mean (GeM) pooling, :class:`GeM`.
    * Luo, Gu, Liao, Lai and Jiang, "Bag of Tricks and A Strong Baseline for Deep Person
      Re-identification", CVPRW 2019, arXiv:1903.07321: the BNNeck, :class:`BNNeckNet`.
    * Hermans, Beyer and Leibe, "In Defense of the Triplet Loss for Person Re-Identification",
      arXiv:1703.07737: the batch-hard triplet loss, :func:`batch_hard_triplet_loss`.

The region-aware model (:mod:`harlearn.models.retrieval.model`, arXiv:2407.09924) is compared with
these in its chapter: a CNN whose feature map is pooled into one vector (average or GeM) and
trained as a classifier (:class:`GlobalPoolRetrieval`), and the strong ReID baseline trained with
cross-entropy plus a triplet loss (:class:`BNNeckNet` + :func:`reid_loss_fn`). Every model returns
a dict with ``logits`` and ``embedding`` (and ``embedding_bn`` for the BNNeck), so the same
``harlearn.train.fit`` / ``predict`` calls train and evaluate all of them.

Where this departs from the papers:

* GeM: Radenović et al. fine-tune with a contrastive loss on matching / non-matching pairs and
  L2-normalise the descriptor; here the pooled vector is trained with the classifier's
  cross-entropy (the chapter L2-normalises when it ranks). ``p`` is learned by default (the
  paper's best setting), initialised at 3.
* BNNeck: of the paper's six tricks, the BNNeck itself, label smoothing (0.1, in
  :func:`reid_loss_fn`) and the classifier initialisation are here. Warmup is a
  ``harlearn.train.TrainConfig`` option; random erasing is a transform; the center loss is left
  out. "Last stride 1" is approximated by ``replace_stride_with_dilation=[False, False, True]``
  on our ResNet (stride 16, with dilation, where the paper removes the stride without dilation).
* Batch-hard triplet: the paper samples P identities x K images per batch; ``harlearn.train.fit``
  draws random batches, so anchors without a positive (or a negative) in their batch are left out
  of the mean. With 16 classes and batches of 32 most anchors have both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from harlearn.models.retrieval.model import build_backbone

__all__ = ["gem", "GeM", "GlobalPoolRetrieval", "BNNeckNet", "batch_hard_triplet_loss", "reid_loss_fn"]


def gem(x: torch.Tensor, p: float | torch.Tensor = 3.0, eps: float = 1e-6) -> torch.Tensor:
    """Generalized-mean pooling over the spatial positions: ``(mean(x ** p)) ** (1 / p)``.

    ``p = 1`` is average pooling; ``p -> inf`` tends to max pooling. Activations are clamped at
    ``eps`` first so that a fractional power is defined.

    Args:
        x: Feature map ``[B, C, H, W]`` (non-negative after a ReLU).
        p: The exponent (a float or a one-element tensor).
        eps: Lower clamp of the activations.

    Returns:
        ``[B, C]``.
    """
    return x.clamp(min=eps).pow(p).mean(dim=(-2, -1)).pow(1.0 / p)  # [B, C]


class GeM(nn.Module):
    """Generalized-mean pooling (arXiv:1711.02512) with a learnable (or fixed) exponent.

    Args:
        p: Initial exponent (3 in the paper).
        eps: Lower clamp of the activations.
        learn_p: Learn ``p`` with the network (a one-element parameter) or keep it fixed.
    """

    def __init__(self, p: float = 3.0, eps: float = 1e-6, learn_p: bool = True) -> None:
        super().__init__()
        self.eps = eps
        if learn_p:
            self.p = nn.Parameter(torch.tensor([float(p)]))
        else:
            self.register_buffer("p", torch.tensor([float(p)]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W] -> [B, C]``."""
        return gem(x, self.p, self.eps)

    def extra_repr(self) -> str:
        return f"p={float(self.p.detach()):.3g}, eps={self.eps}, learn_p={isinstance(self.p, nn.Parameter)}"


def _backbone(backbone: str | nn.Module, pretrained: bool | str, base_width: int) -> nn.Module:
    """A named backbone built by ``build_backbone``, or the given module."""
    if isinstance(backbone, str):
        return build_backbone(backbone, pretrained, base_width=base_width)
    return backbone


class GlobalPoolRetrieval(nn.Module):
    """A CNN, a global pooling (average or GeM) and a linear classifier; the pooled vector retrieves.

    Args:
        backbone: A name for :func:`~harlearn.models.retrieval.build_backbone` or a module with
            ``forward_features`` and ``num_features``.
        num_classes: Number of classes of the classifier that trains the descriptor.
        pool: ``"gap"`` (global average pooling) or ``"gem"`` (:class:`GeM`).
        p: Initial GeM exponent.
        learn_p: Learn the GeM exponent.
        pretrained: ImageNet weights for a named backbone.
        base_width: Width knob of a named backbone (64 = production).
    """

    def __init__(
        self,
        backbone: str | nn.Module,
        num_classes: int,
        *,
        pool: str = "gap",
        p: float = 3.0,
        learn_p: bool = True,
        pretrained: bool | str = False,
        base_width: int = 64,
    ) -> None:
        super().__init__()
        if pool not in ("gap", "gem"):
            raise ValueError(f"pool must be 'gap' or 'gem', got {pool!r}.")
        self.backbone = _backbone(backbone, pretrained, base_width)
        self.pool = GeM(p, learn_p=learn_p) if pool == "gem" else nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(self.backbone.num_features, num_classes)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """``[B, 3, H, W]`` -> ``{"logits": [B, num_classes], "embedding": [B, D]}``."""
        fmap = self.backbone.forward_features(images)  # [B, D, h, w]
        embedding = self.pool(fmap).flatten(1)  # [B, D] (GAP gives [B, D, 1, 1])
        return {"logits": self.fc(embedding), "embedding": embedding}


class BNNeckNet(nn.Module):
    """The ReID strong baseline (arXiv:1903.07321): GAP, a BatchNorm neck, a bias-free classifier.

    ``f_t = GAP(F)`` is the embedding the triplet loss sees; ``f_i = BN(f_t)`` (BN bias frozen
    at zero) feeds a classifier without bias trained with cross-entropy. Normalising only the
    classifier's input lets the two losses act on different feature spaces; the paper retrieves
    with ``f_i`` and the cosine distance.

    Args:
        backbone: A name for :func:`~harlearn.models.retrieval.build_backbone` or a module with
            ``forward_features`` and ``num_features``.
        num_classes: Number of classes (identities in ReID, actions here).
        pretrained: ImageNet weights for a named backbone.
        base_width: Width knob of a named backbone (64 = production).
    """

    def __init__(
        self,
        backbone: str | nn.Module,
        num_classes: int,
        *,
        pretrained: bool | str = False,
        base_width: int = 64,
    ) -> None:
        super().__init__()
        self.backbone = _backbone(backbone, pretrained, base_width)
        dim = self.backbone.num_features
        self.bottleneck = nn.BatchNorm1d(dim)  # named as in the paper's code (reid-strong-baseline)
        self.bottleneck.bias.requires_grad_(False)  # no shift: the bias stays zero
        self.classifier = nn.Linear(dim, num_classes, bias=False)
        nn.init.normal_(self.classifier.weight, std=0.001)  # the paper code's classifier init

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """``[B, 3, H, W]`` -> ``{"logits", "embedding" (f_t, [B, D]), "embedding_bn" (f_i, [B, D])}``."""
        fmap = self.backbone.forward_features(images)  # [B, D, h, w]
        f_t = fmap.mean(dim=(2, 3))  # [B, D]: global average pooling
        f_i = self.bottleneck(f_t)  # [B, D]
        return {"logits": self.classifier(f_i), "embedding": f_t, "embedding_bn": f_i}


def batch_hard_triplet_loss(
    embeddings: torch.Tensor, labels: torch.Tensor, margin: float | None = 0.3
) -> torch.Tensor:
    """Batch-hard triplet loss (Hermans et al., arXiv:1703.07737) with Euclidean distances.

    For every anchor ``a`` of the batch: its farthest positive (same label, not itself) and its
    nearest negative (another label), ``loss_a = max(0, margin + d(a, p) - d(a, n))``; with
    ``margin=None`` the soft margin ``log(1 + exp(d(a, p) - d(a, n)))`` of the paper. The mean is
    over the anchors that have both a positive and a negative in the batch (0 when none has).

    Args:
        embeddings: ``[B, D]``.
        labels: ``[B]`` integer labels.
        margin: The hinge margin (0.3 as in the ReID strong baseline), or None for the soft margin.

    Returns:
        The scalar loss.
    """
    x = embeddings.float()
    squared = x.pow(2).sum(dim=1)  # [B]: |x_i|^2
    dist2 = squared[:, None] + squared[None, :] - 2.0 * x @ x.T  # [B, B]: |x_i - x_j|^2
    dist = dist2.clamp(min=1e-12).sqrt()  # [B, B]; the clamp keeps the gradient finite at 0
    same = labels[:, None] == labels[None, :]  # [B, B]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)  # [B, B]
    positive, negative = same & ~eye, ~same  # [B, B] each
    hardest_pos = dist.masked_fill(~positive, float("-inf")).amax(dim=1)  # [B]
    hardest_neg = dist.masked_fill(~negative, float("inf")).amin(dim=1)  # [B]
    valid = positive.any(dim=1) & negative.any(dim=1)  # [B]
    if not valid.any():
        return x.sum() * 0.0  # no triplet in this batch; keeps the graph
    gap = hardest_pos[valid] - hardest_neg[valid]  # [B']
    losses = F.softplus(gap) if margin is None else F.relu(gap + margin)  # [B']
    return losses.mean()


def reid_loss_fn(
    model: nn.Module,
    batch: dict[str, Any],
    *,
    margin: float | None = 0.3,
    triplet_weight: float = 1.0,
    label_smoothing: float = 0.1,
    forward: Callable[[nn.Module, dict[str, Any]], dict[str, torch.Tensor]] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy (label smoothing) on the logits plus batch-hard triplet on ``embedding``.

    The strong baseline's loss, for ``harlearn.train.fit(..., loss_fn=partial(reid_loss_fn, ...))``.
    It works for any model whose output dict has ``logits`` and ``embedding``; pass
    ``forward=harlearn.models.retrieval.batch_forward`` for the region-aware model.

    Args:
        model: The model.
        batch: A collated batch with integer ``label`` ``[B]``.
        margin: Triplet margin, or None for the soft margin.
        triplet_weight: Weight of the triplet term (0 = cross-entropy only).
        label_smoothing: Of the cross-entropy (0.1 in the strong baseline).
        forward: ``forward(model, batch) -> dict``; default ``model(batch["image"])``.

    Returns:
        ``(loss, logits)``.
    """
    labels = batch.get("label")
    if "labels" in batch or labels is None or labels.ndim != 1:
        raise ValueError("reid_loss_fn needs one integer label per image (batch['label'] of shape [B]); "
                         "multi-hot labels (VOC Action) and mixup targets have no triplets.")
    out = forward(model, batch) if forward is not None else model(batch["image"])
    logits = out["logits"]
    loss = F.cross_entropy(logits.float(), labels, label_smoothing=label_smoothing)
    if triplet_weight:
        loss = loss + triplet_weight * batch_hard_triplet_loss(out["embedding"], labels, margin)
    return loss, logits
