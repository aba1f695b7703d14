"""A course backbone as CLIP's image tower: pooled features and a linear projection.

CLIP trained ResNet image towers beside its ViTs (Radford et al., arXiv:2103.00020, section 2.4);
open_clip wraps any timm model the same way (``open_clip.timm_model.TimmModel``: the network
as ``trunk``, its pooled features projected by ``head.proj``). :class:`BackboneTower` does this
for harlearn's own networks (the CNNs of :mod:`harlearn.models.backbones`, the ViT and Swin of
:mod:`harlearn.transformers`, and so the course checkpoints of :mod:`harlearn.zoo`), with
open_clip's ``trunk`` / ``head.proj`` names, so a checkpoint's weights keep their names under
``visual.trunk.``.

How the pooled features are found: the backbone's classification head (its ``head_name``
attribute, else ``fc``, ``classifier``, ``head.fc`` or ``head``, the last ``nn.Linear`` of a
``Sequential``) is replaced by ``nn.Identity``, so ``backbone(x)`` returns what the head read:
the global average pool of a CNN (VGG: its 4096-wide ``fc7``), the class token (or averaged
patch tokens after ``fc_norm``) of a ViT, the averaged map of a Swin.

Departures from the paper: CLIP's ResNets (open_clip's ``ModifiedResNet``) have a three-layer
stem, anti-aliased strided convolutions and an attention-pooling head; here the course's
backbones keep their own stem and average pooling, and only the projection is new.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

__all__ = ["BackboneTower", "strip_classifier"]

_CANDIDATES = ("fc", "classifier", "head.fc", "head")


def _get(model: nn.Module, name: str) -> nn.Module | None:
    try:
        return model.get_submodule(name)
    except AttributeError:
        return None


def strip_classifier(model: nn.Module) -> int:
    """Replace a classifier's final ``nn.Linear`` by ``nn.Identity`` in place; return its input width.

    Args:
        model: a harlearn (or torchvision) classifier: VGG, ResNet, GoogLeNet, DenseNet,
            ConViT, ViT, Swin.

    Returns:
        The number of pooled features ``F`` that ``model(x)`` now returns, ``[B, F]``.

    Raises:
        TypeError: no classification head was found.
    """
    names = [n for n in (getattr(model, "head_name", None), *_CANDIDATES) if n]
    for name in names:
        module = _get(model, name)
        if isinstance(module, nn.Sequential) and len(module) and isinstance(module[-1], nn.Linear):
            name, module = f"{name}.{len(module) - 1}", module[-1]
        if isinstance(module, nn.Linear):
            parent, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, attr, nn.Identity())
            if hasattr(model, "num_classes"):
                model.num_classes = 0
            return module.in_features
        if isinstance(module, nn.Identity):  # already headless (a ViT built with num_classes=0)
            width = getattr(model, "num_features", None) or getattr(model, "embed_dim", None)
            if width:
                return int(width)
    raise TypeError(
        f"Cannot find the classification head of {type(model).__name__}: give it a head_name attribute "
        "naming its final nn.Linear (e.g. head_name = 'fc'), or pass num_features to BackboneTower."
    )


class BackboneTower(nn.Module):
    """An image classifier turned into CLIP's image tower: ``head.proj(pool(trunk(x)))``.

    Args:
        backbone: a course network, e.g. ``harlearn.models.backbones.resnet50(base_width=8)``,
            ``harlearn.transformers.vit.VisionTransformer(...)`` or ``harlearn.zoo.load(name)``.
            Its classification head is replaced by ``nn.Identity`` (in place).
        output_dim: Width ``D`` of the joint embedding space (CLIP's ``embed_dim``).
        num_features: The pooled width ``F``, when the head cannot be found
            (:func:`strip_classifier`); the backbone's ``forward`` must then return ``[B, F]``.
        proj_bias: Give the projection a bias (open_clip's ``timm_proj_bias``; default False).
        drop: Dropout before the projection (open_clip's ``timm_drop``).
    """

    def __init__(
        self,
        backbone: nn.Module,
        output_dim: int,
        *,
        num_features: int | None = None,
        proj_bias: bool = False,
        drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_features = num_features if num_features is not None else strip_classifier(backbone)
        self.output_dim = output_dim
        self.trunk = backbone
        self.head = nn.Sequential(OrderedDict([
            ("drop", nn.Dropout(drop)),
            ("proj", nn.Linear(self.num_features, output_dim, bias=proj_bias)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Image embeddings ``[B, D]`` (not L2-normalised) of images ``[B, 3, H, W]``."""
        features = self.trunk(x)  # [B, F]: the pooled features the classifier's head read
        return self.head(features)  # [B, D]
