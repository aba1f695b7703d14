"""Zero-shot classification: a linear classifier whose weights are the embeddings of prompts.

Paper: Radford et al., arXiv:2103.00020, section 3.1.2 (zero-shot transfer: "the text encoder
[...] a hypernetwork which generates the weights of a linear classifier based on the text
specifying the visual concepts that the classes represent") and 3.1.4 (prompt engineering and
ensembling: "A photo of a {label}.", and averaging the embeddings of several templates, "in
embedding space instead of probability space", which gained 3.5% on ImageNet beside the
context prompt's 1.3%).

Production reference: ``open_clip.zero_shot_classifier.build_zero_shot_classifier``:
:func:`build_zero_shot_classifier` returns the same ``[D, K]`` weights on the same model,
tokenizer, class names and templates (``tests/test_clip.py``). :func:`zero_shot_logits` scores
images with them the way open_clip's zero-shot evaluation does (``100 * image_features @ W``;
the scale does not change the arg-max, only a softmax over it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["build_zero_shot_classifier", "zero_shot_logits", "class_prompts"]


def class_prompts(classnames: Sequence[str], templates: Sequence[str | Callable[[str], str]]) -> list[str]:
    """Every template filled with every class name, class-major: ``K * T`` prompts."""
    return [t.format(c) if isinstance(t, str) else t(c) for c in classnames for t in templates]


@torch.no_grad()
def build_zero_shot_classifier(
    model: nn.Module,
    tokenizer: Callable[[list[str]], torch.Tensor],
    classnames: Sequence[str],
    templates: Sequence[str | Callable[[str], str]],
    num_classes_per_batch: int | None = 10,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Class embeddings averaged over prompt templates: the weights of a zero-shot classifier.

    Each class ``k`` gets ``w_k = normalize(mean_t normalize(encode_text(template_t(class_k))))``.

    Args:
        model: a CLIP (anything with ``encode_text(tokens, normalize=True)``).
        tokenizer: texts -> token ids ``[n, L]`` (:func:`harlearn.clip.tokenizer.get_tokenizer`).
        classnames: the ``K`` class names, as text (e.g. ``"riding a horse"``).
        templates: ``T`` format strings with one ``{}`` (``"a photo of a person {}."``) or callables.
        num_classes_per_batch: classes encoded per forward pass (None: all at once).
        device: where the tokens go (the model's device).

    Returns:
        ``W`` of shape ``[D, K]``, unit-norm columns: ``image_features @ W`` are cosine similarities.
    """
    if not templates or not classnames:
        raise ValueError("build_zero_shot_classifier needs at least one class name and one template.")
    classnames, T = list(classnames), len(templates)
    step = num_classes_per_batch or len(classnames)
    columns = []
    for start in range(0, len(classnames), step):
        batch = classnames[start:start + step]
        tokens = tokenizer(class_prompts(batch, templates)).to(device)  # [k*T, L]
        emb = model.encode_text(tokens, normalize=True)  # [k*T, D]
        emb = emb.reshape(len(batch), T, -1).mean(dim=1)  # [k, T, D] -> [k, D]: the template ensemble
        columns.append(F.normalize(emb, dim=-1).T)  # [D, k]
    return torch.cat(columns, dim=1)  # [D, K]


def zero_shot_logits(image_features: torch.Tensor, classifier: torch.Tensor, scale: float = 100.0) -> torch.Tensor:
    """Class scores of images: ``scale * normalize(image_features) @ classifier``.

    Args:
        image_features: image embeddings ``[N, D]`` (normalised here).
        classifier: ``[D, K]`` from :func:`build_zero_shot_classifier`.
        scale: multiplies the cosine similarities (open_clip's evaluation uses 100).

    Returns:
        Logits ``[N, K]``.
    """
    return scale * F.normalize(image_features, dim=-1) @ classifier.to(image_features.dtype)  # [N, K]
