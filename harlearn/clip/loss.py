"""CLIP's contrastive loss: symmetric cross-entropy over the N x N similarity matrix of a batch.

Paper: Radford et al., arXiv:2103.00020, section 2.3 and Figure 3 (pseudocode): "Given a batch
of N (image, text) pairs, CLIP is trained to predict which of the N x N possible (image, text)
pairings across a batch actually occurred [...] maximize the cosine similarity of the image and
text embeddings of the N real pairs in the batch while minimizing the cosine similarity of the
embeddings of the N^2 - N incorrect pairings. We optimize a symmetric cross entropy loss over
these similarity scores." The loss descends from the multi-class N-pair loss (Sohn, NeurIPS
2016) and InfoNCE (Oord et al., arXiv:1807.03748).

Production reference: ``open_clip.loss.ClipLoss`` (single process): :func:`clip_loss` returns
the same value on the same inputs (``tests/test_clip.py``).

Departures from open_clip: one process only (no feature gathering across GPUs: under
``torchrun`` each process's loss uses its own share of the batch as negatives, so a global
batch of N gives N / world negatives per image instead of N). Note on SynthHAR: two images of
one scene type can get the same caption; the loss still treats the other one as a negative
(as CLIP does with duplicate web captions).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["clip_logits", "clip_loss", "clip_loss_fn"]


def clip_logits(
    image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor | float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The scaled similarity matrices of a batch.

    Args:
        image_features: L2-normalised image embeddings ``[N, D]``.
        text_features: L2-normalised text embeddings ``[N, D]`` (row ``i`` is image ``i``'s text).
        logit_scale: ``exp(logit_scale)``, the inverse temperature (what ``CLIP.forward`` returns).

    Returns:
        ``(logits_per_image [N, N], logits_per_text [N, N])``: entry ``[i, j]`` is
        ``scale * cos(image_i, text_j)``, and its transpose.
    """
    logits_per_image = logit_scale * image_features @ text_features.T  # [N, D] @ [D, N] -> [N, N]
    logits_per_text = logit_scale * text_features @ image_features.T  # [N, N]: the transpose
    return logits_per_image, logits_per_text


def clip_loss(
    image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor | float
) -> torch.Tensor:
    """Symmetric InfoNCE: the mean of "which text is mine?" and "which image is mine?".

    Args:
        image_features: L2-normalised image embeddings ``[N, D]``.
        text_features: L2-normalised text embeddings ``[N, D]``, paired row by row.
        logit_scale: ``exp(logit_scale)``.

    Returns:
        The scalar loss: ``(CE(logits_per_image, arange(N)) + CE(logits_per_text, arange(N))) / 2``;
        ``log(N)`` when every similarity is equal (the chance level).
    """
    logits_per_image, logits_per_text = clip_logits(image_features, text_features, logit_scale)
    labels = torch.arange(logits_per_image.shape[0], device=logits_per_image.device)  # [N]: pair i is (i, i)
    return (F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text, labels)) / 2


def clip_loss_fn(model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, None, dict[str, torch.Tensor]]:
    """The loss of :func:`harlearn.train.fit` for a CLIP on image-caption items.

    Reads ``batch["image"]`` ``[B, 3, H, W]`` and ``batch["text"]`` (token ids ``[B, L]``, e.g. from
    :class:`harlearn.data.captions.CaptionDataset` with a tokenizer).

    Returns:
        ``(loss, None, {"logit_scale": exp(logit_scale)})``: no class logits (so ``fit`` reports
        no accuracy), the temperature logged per epoch.
    """
    image_features, text_features, scale = model(batch["image"], batch["text"])
    return clip_loss(image_features, text_features, scale), None, {"logit_scale": scale.detach()}
