"""ConViT: Vision Transformers used as convolutional layers on a ResNet-50's feature maps.

Paper: Seyed Rohollah Hosseyni, Sanaz Seyedin and Hasan Taheri (Amirkabir University of
Technology), "Human Action Recognition in Still Images Using ConViT", arXiv:2307.08994.

The idea: a CNN finds regions (a hand, a phone, a bike wheel) but does not relate them to each
other; an action is often exactly such a relation. ConViT treats every pixel of a CNN feature
map as a region and its feature vector as a token, and runs a small Vision Transformer over the
tokens. No patch projection, no class token; position embeddings are added, and the output
tokens are put back on the grid. So the ViT takes a feature map and returns a feature map of the
same shape, like a convolution, but every output position sees every input position
(:class:`ViTConvLayer`, in :mod:`harlearn.layers.vit_conv`, re-exported here).

:class:`ConViT` (the paper's main model). Where the maps come from is not spelled out in the
paper beyond their sizes at 224 px (14 x 14 = 196 regions, then 7 x 7 = 49 regions). We take the
natural reading of ResNet-50's stages (the paper's "conv4_x" is torchvision's ``layer3``)::

    image [B, 3, 224, 224]
      -> conv1 .. layer3          [B, 1024, 14, 14]   stride 16
      -> ViT-1 (ViTConvLayer)     [B, 1024, 14, 14]   196 tokens of width 1024
      -> layer4                   [B, 2048, 7, 7]     stride 32
      -> ViT-2 (ViTConvLayer)     [B, 2048, 7, 7]     49 tokens of width 2048
      -> global average pool -> fc -> logits

This keeps the pretrained ResNet-50 intact: every stage keeps its ImageNet weights, strides and
input/output shapes, and the two ViTs are inserted at stage boundaries. A ViT block is a
residual stream (``x + attention + MLP``), so ``layer4`` still reads ``layer3``'s map, plus what
ViT-1 adds to it. The alternative (both ViTs after a dilated, stride-16 ``layer4``,
with a pooling to 7 x 7 in between) changes ``layer4``'s computation and costs four times its
FLOPs. Map sizes follow ``image_size``: ``ceil(s / 16)`` and ``ceil(s / 32)``, so 14 x 14 and
7 x 7 at 224 px, 6 x 6 and 3 x 3 at the ``book`` profile's 96 px.

:class:`HumanBranch` and :class:`ConViTWithPersonBranch` (the paper's person branch for images
with several people): the person box (from a detector, see :mod:`harlearn.models.detection`, or
the annotation) is RoI-pooled to a 10 x 6 map of the backbone's last map (persons are tall), a
ViT runs on it, an average pool halves it to 5 x 3, a second ViT, then GAP and a linear layer.
The two branches' class probabilities are fused, ``P = w_ConViT P_ConViT + w_human P_human``
with ``w_ConViT + w_human = 1`` chosen to minimise the training loss
(:func:`fit_fusion_weights`; the paper reports 0.83 / 0.17 on Stanford40 and 0.3 / 0.7 on VOC).

Where this departs from the paper:

* The first ViT in :class:`ConViT` has no final LayerNorm (``final_norm=False``): its output
  feeds the pretrained ``layer4``, which expects a ReLU feature map's scale and sign, not
  zero-mean unit-variance tokens. The second ViT keeps it, as a ViT's norm before its head.
* The ViTs are pre-norm transformer blocks with timm's layout (:class:`TransformerBlock`),
  depth 2 and 4 heads as in the paper; their width is the map's channel count (1024 and 2048
  at full width, so they are large: ``mlp_ratio`` is exposed to shrink them).
* The person branch uses RoIAlign (``aligned=True``, Mask R-CNN, arXiv:1703.06870) instead of
  RoI pooling, on the backbone's last map (``layer4``; ``person_feature="layer3"`` takes the
  stride-16 map instead). The 10 x 6 -> 5 x 3 downsampling is a 2 x 2 average pool (the paper
  does not say which).
* The branches share one backbone and are trained together (:func:`person_branch_loss`, the
  sum of the two branches' losses); the fusion weight is then fitted on the training
  predictions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.ops import roi_align

from harlearn.data.batch import anchor_boxes
from harlearn.inference import predict
from harlearn.layers.vit_conv import ViTConvLayer  # re-exported: it used to live here
from harlearn.losses import classification_loss
from harlearn.models.backbones.resnet import ResNet, resnet50

__all__ = [
    "ViTConvLayer",
    "ConViT",
    "HumanBranch",
    "ConViTWithPersonBranch",
    "feature_map_size",
    "person_boxes",
    "person_branch_forward",
    "person_branch_loss",
    "predict_branches",
    "fuse_probabilities",
    "fit_fusion_weights",
]


def _pair(x: int | Sequence[int]) -> tuple[int, int]:
    return (int(x), int(x)) if isinstance(x, int) else (int(x[0]), int(x[1]))


def feature_map_size(image_size: int | Sequence[int], stride: int) -> tuple[int, int]:
    """The size of a ResNet map at ``stride`` (16 or 32) for an input of ``image_size``.

    Every stride-2 step of ResNet (7 x 7 stem, max pool, the 3 x 3 convolutions of stages 2-4)
    pads so that a side ``s`` becomes ``ceil(s / 2)``; ``stride`` such steps give the size.

    Args:
        image_size: Input side ``s`` (int) or ``(H, W)``.
        stride: A power of two, e.g. 16 (``layer3``) or 32 (``layer4``).

    Returns:
        ``(h, w)``, e.g. ``(14, 14)`` for 224 at stride 16.
    """
    size = list(_pair(image_size))
    for _ in range(int(round(math.log2(stride)))):
        size = [math.ceil(s / 2) for s in size]
    return size[0], size[1]


def _make_backbone(backbone: str, pretrained: bool | str, base_width: int) -> ResNet:
    """The ResNet-50 trunk of ConViT, without its classifier."""
    if backbone != "resnet50":
        raise ValueError(f"ConViT's backbone must be 'resnet50' (the paper's), got {backbone!r}.")
    net = resnet50(1000, pretrained=pretrained, base_width=base_width)
    net.fc = nn.Identity()  # the ImageNet head is not used
    return net


class ConViT(nn.Module):
    """ConViT: ResNet-50 with a ViT layer after ``layer3`` and another after ``layer4``.

    ``conv1 .. layer3 -> ViT-1 (14 x 14 at 224 px) -> layer4 -> ViT-2 (7 x 7) -> GAP -> fc``;
    see the module docstring for why the maps are taken there.

    Args:
        num_classes: Number of classes.
        backbone: ``"resnet50"`` (the only one the paper uses).
        pretrained: ImageNet weights for the ResNet (see :func:`harlearn.models.resnet50`);
            needs ``base_width=64``.
        base_width: ResNet width knob (64 = production; the ``book`` profile uses 16). The ViTs
            are as wide as the maps: ``16 * base_width`` and ``32 * base_width`` channels.
        depth: Transformer blocks per ViT (2 in the paper).
        num_heads: Attention heads per ViT (4 in the paper).
        image_size: Input side (int) or ``(H, W)``; the position embeddings are made for the maps
            of this size and the model only accepts it.
        mlp_ratio: MLP hidden width of the ViT blocks as a multiple of their width.
        pos_embed: ``"learned"``, ``"sincos"`` or ``"none"`` (see :class:`ViTConvLayer`).
        drop_path_rate: Stochastic depth in the ViTs.
    """

    head_name = "fc"  # for harlearn.models.finetune_model / head_parameters

    def __init__(
        self,
        num_classes: int,
        backbone: str = "resnet50",
        pretrained: bool | str = False,
        *,
        base_width: int = 64,
        depth: int = 2,
        num_heads: int = 4,
        image_size: int | Sequence[int] = 224,
        mlp_ratio: float = 4.0,
        pos_embed: str = "learned",
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.image_size = _pair(image_size)
        self.backbone = _make_backbone(backbone, pretrained, base_width)
        c3 = self.backbone.layer3[-1].bn3.num_features  # 1024 * base_width / 64
        c4 = self.backbone.num_features  # 2048 * base_width / 64
        self.map_sizes = (feature_map_size(self.image_size, 16), feature_map_size(self.image_size, 32))
        vit = dict(depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio, pos_embed=pos_embed,
                   drop_path_rate=drop_path_rate)
        # final_norm=False: layer4 (pretrained) reads ViT-1's output; see the module docstring.
        self.vit1 = ViTConvLayer(c3, *self.map_sizes[0], final_norm=False, **vit)
        self.vit2 = ViTConvLayer(c4, *self.map_sizes[1], final_norm=True, **vit)
        self.num_features = c4
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c4, num_classes)

    def forward_maps(
        self, x: torch.Tensor, return_attention: bool = False
    ) -> dict[str, Any]:
        """The backbone with both ViTs, up to the final map.

        Args:
            x: Images ``[B, 3, H, W]`` of the model's ``image_size``.
            return_attention: Also return the ViTs' attention weights.

        Returns:
            A dict with ``layer4`` (the ResNet's last map, after ViT-1, ``[B, C4, h4, w4]``; the
            person branch pools from it), ``layer3`` (``[B, C3, h3, w3]``, before ViT-1),
            ``features`` (after ViT-2, ``[B, C4, h4, w4]``) and, when asked, ``attention``:
            ``{"vit1": [B, h, N1, N1] per block, "vit2": [B, h, N2, N2] per block}``.
        """
        b = self.backbone
        x = b.maxpool(b.relu(b.bn1(b.conv1(x))))  # [B, 64w, H/4, W/4]
        x = b.layer2(b.layer1(x))  # [B, 512w, H/8, W/8]
        c3 = b.layer3(x)  # [B, 1024w, H/16, W/16]: 196 regions at 224 px
        out: dict[str, Any] = {"layer3": c3}
        if return_attention:
            y, attn1 = self.vit1(c3, return_attention=True)  # [B, 1024w, H/16, W/16]
            c4 = b.layer4(y)  # [B, 2048w, H/32, W/32]: 49 regions at 224 px
            features, attn2 = self.vit2(c4, return_attention=True)  # [B, 2048w, H/32, W/32]
            out["attention"] = {"vit1": attn1, "vit2": attn2}
        else:
            c4 = b.layer4(self.vit1(c3))  # [B, 2048w, H/32, W/32]
            features = self.vit2(c4)  # [B, 2048w, H/32, W/32]
        out.update(layer4=c4, features=features)
        return out

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """GAP and the linear classifier: ``[B, C4, h, w] -> [B, num_classes]``."""
        return self.fc(torch.flatten(self.avgpool(features), 1))  # [B, C4, 1, 1] -> [B, C4] -> logits

    def forward(self, x: torch.Tensor, return_attention: bool = False) -> dict[str, Any]:
        """Classify images.

        Args:
            x: Images ``[B, 3, H, W]`` of the model's ``image_size``.
            return_attention: Also return the ViTs' attention weights.

        Returns:
            ``{"logits": [B, num_classes], "features": [B, C4, h, w]}`` (the final map, after
            ViT-2), plus ``"attention"`` (see :meth:`forward_maps`) when asked.
        """
        maps = self.forward_maps(x, return_attention)
        out = {"logits": self.forward_head(maps["features"]), "features": maps["features"]}
        if return_attention:
            out["attention"] = maps["attention"]
        return out


def _as_roi_boxes(boxes: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
    """Boxes as ``roi_align`` takes them: a list of ``[P_i, 4]`` or a ``[K, 5]`` tensor.

    A ``[B, 4]`` tensor is read as one box per image.
    """
    if isinstance(boxes, torch.Tensor):
        if boxes.ndim == 2 and boxes.shape[1] == 4:
            return [b[None].float() for b in boxes]  # [B, 4] -> B x [1, 4]
        if boxes.ndim == 2 and boxes.shape[1] == 5:
            return boxes.float()  # [K, (image index, x1, y1, x2, y2)]
        raise ValueError(f"boxes must be [B, 4], [K, 5] or a list of [P, 4]; got {tuple(boxes.shape)}.")
    return [torch.as_tensor(b).reshape(-1, 4).float() for b in boxes]


class HumanBranch(nn.Module):
    """The person branch: RoIAlign on the person box, two ViT layers, GAP, a linear classifier.

    ``roi_align -> [K, C, 10, 6] -> ViT -> 2 x 2 average pool -> [K, C, 5, 3] -> ViT -> GAP -> fc``
    (``K`` boxes in the batch).

    Args:
        in_channels: Channels ``C`` of the feature map the boxes are pooled from.
        num_classes: Number of classes.
        roi_size: ``(height, width)`` of the pooled person map (10 x 6 in the paper: people are
            tall); the second ViT works at ``(height // 2, width // 2)``.
        depth: Transformer blocks per ViT.
        num_heads: Attention heads per ViT.
        spatial_scale: Feature-map pixels per input pixel: ``1/32`` for ResNet's ``layer4``,
            ``1/16`` for ``layer3``.
        mlp_ratio: MLP hidden width of the ViT blocks as a multiple of ``C``.
        pos_embed: ``"learned"``, ``"sincos"`` or ``"none"`` (see :class:`ViTConvLayer`).
        sampling_ratio: Bilinear samples per output cell and axis in ``roi_align``.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        roi_size: Sequence[int] = (10, 6),
        depth: int = 2,
        num_heads: int = 4,
        spatial_scale: float = 1 / 32,
        mlp_ratio: float = 4.0,
        pos_embed: str = "learned",
        sampling_ratio: int = 2,
    ) -> None:
        super().__init__()
        self.roi_size = _pair(roi_size)
        small = (self.roi_size[0] // 2, self.roi_size[1] // 2)
        if min(small) < 1:
            raise ValueError(f"roi_size must be at least 2 x 2 (it is halved once), got {self.roi_size}.")
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = sampling_ratio
        vit = dict(depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio, pos_embed=pos_embed)
        self.vit1 = ViTConvLayer(in_channels, *self.roi_size, **vit)
        self.pool = nn.AvgPool2d(2)  # 10 x 6 -> 5 x 3
        self.vit2 = ViTConvLayer(in_channels, *small, **vit)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(
        self,
        features: torch.Tensor,
        boxes: torch.Tensor | Sequence[torch.Tensor],
        return_features: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Classify each person box.

        Args:
            features: The backbone map ``[B, C, h, w]``.
            boxes: Person boxes in input-image pixels (0-based ``xyxy``): a list of ``[P_i, 4]``
                per image, a ``[B, 4]`` tensor (one box per image) or ``roi_align``'s ``[K, 5]``.
            return_features: Also return the final person map ``[K, C, roi_h // 2, roi_w // 2]``.

        Returns:
            Logits ``[K, num_classes]``, one row per box in order (and the map when asked).
        """
        rois = roi_align(
            features, _as_roi_boxes(boxes), output_size=self.roi_size,
            spatial_scale=self.spatial_scale, sampling_ratio=self.sampling_ratio, aligned=True,
        )  # [K, C, 10, 6]
        x = self.vit1(rois)  # [K, C, 10, 6]
        x = self.vit2(self.pool(x))  # [K, C, 5, 3]
        logits = self.fc(torch.flatten(self.avgpool(x), 1))  # [K, C, 1, 1] -> [K, C] -> [K, classes]
        return (logits, x) if return_features else logits


def fuse_probabilities(
    convit_logits: Any, human_logits: Any, w_convit: float, multilabel: bool = False
) -> torch.Tensor:
    """The paper's late fusion: ``P = w P_ConViT + (1 - w) P_human``.

    Args:
        convit_logits: ``[N, C]`` logits of the ConViT branch (tensor or array).
        human_logits: ``[N, C]`` logits of the person branch.
        w_convit: Weight of the ConViT branch in ``[0, 1]``; the person branch gets ``1 - w``.
        multilabel: Fuse sigmoid probabilities (VOC multi-hot labels) instead of softmax ones.

    Returns:
        The fused probabilities ``[N, C]`` (float64 for arrays, the input dtype for tensors).
    """
    a, b = torch.as_tensor(convit_logits), torch.as_tensor(human_logits)
    prob = torch.sigmoid if multilabel else (lambda z: z.softmax(dim=-1))
    return w_convit * prob(a) + (1.0 - w_convit) * prob(b)


class ConViTWithPersonBranch(nn.Module):
    """ConViT and the person branch on one shared backbone, with late fusion of their scores.

    Args:
        num_classes: Number of classes.
        backbone: ``"resnet50"``.
        pretrained: ImageNet weights for the ResNet (needs ``base_width=64``).
        base_width: ResNet width knob (see :class:`ConViT`).
        depth: Transformer blocks per ViT (both branches).
        num_heads: Attention heads per ViT.
        image_size: Input side or ``(H, W)`` (see :class:`ConViT`).
        roi_size: Pooled person map ``(height, width)`` (see :class:`HumanBranch`).
        person_feature: The map the person boxes are pooled from: ``"layer4"`` (the backbone's
            last map, stride 32, as in the paper) or ``"layer3"`` (stride 16, finer for small
            images).
        mlp_ratio: MLP hidden width of all ViT blocks as a multiple of their width.
        pos_embed: ``"learned"``, ``"sincos"`` or ``"none"``.
        fusion_weight: Initial ``w_ConViT``; set the fitted one with :meth:`set_fusion_weights`.
        multilabel: The labels are multi-hot (VOC): fuse sigmoid probabilities, not softmax.
    """

    def __init__(
        self,
        num_classes: int,
        backbone: str = "resnet50",
        pretrained: bool | str = False,
        *,
        base_width: int = 64,
        depth: int = 2,
        num_heads: int = 4,
        image_size: int | Sequence[int] = 224,
        roi_size: Sequence[int] = (10, 6),
        person_feature: str = "layer4",
        mlp_ratio: float = 4.0,
        pos_embed: str = "learned",
        fusion_weight: float = 0.5,
        multilabel: bool = False,
    ) -> None:
        super().__init__()
        if person_feature not in ("layer3", "layer4"):
            raise ValueError(f"person_feature must be 'layer3' or 'layer4', got {person_feature!r}.")
        self.convit = ConViT(
            num_classes, backbone, pretrained, base_width=base_width, depth=depth,
            num_heads=num_heads, image_size=image_size, mlp_ratio=mlp_ratio, pos_embed=pos_embed,
        )
        self.person_feature = person_feature
        stride = 32 if person_feature == "layer4" else 16
        channels = self.convit.num_features if stride == 32 else self.convit.num_features // 2
        self.human = HumanBranch(
            channels, num_classes, roi_size, depth=depth, num_heads=num_heads,
            spatial_scale=1 / stride, mlp_ratio=mlp_ratio, pos_embed=pos_embed,
        )
        self.multilabel = multilabel
        self.register_buffer("fusion_weight", torch.tensor(float(fusion_weight)))  # w_ConViT

    def set_fusion_weights(self, w_convit: float, w_human: float | None = None) -> None:
        """Set the fusion weights (they must sum to 1), e.g. from :func:`fit_fusion_weights`.

        Args:
            w_convit: Weight of the ConViT branch, in ``[0, 1]``.
            w_human: Weight of the person branch; default ``1 - w_convit``.
        """
        w_human = 1.0 - w_convit if w_human is None else w_human
        if not (0.0 <= w_convit <= 1.0) or abs(w_convit + w_human - 1.0) > 1e-6:
            raise ValueError(f"Fusion weights must be in [0, 1] and sum to 1, got {w_convit}, {w_human}.")
        self.fusion_weight.fill_(float(w_convit))

    def forward(
        self,
        x: torch.Tensor,
        boxes: torch.Tensor | Sequence[torch.Tensor],
        return_attention: bool = False,
    ) -> dict[str, Any]:
        """Both branches and their fusion.

        Args:
            x: Images ``[B, 3, H, W]`` of the model's ``image_size``.
            boxes: One person box per image, in input pixels: ``[B, 4]`` or a list of ``[1, 4]``
                (see :func:`person_boxes`).
            return_attention: Also return the ConViT branch's attention weights.

        Returns:
            ``logits_convit`` and ``logits_human`` (``[B, C]`` each), ``logits`` (the fused
            probabilities as logits: ``log P``, or ``logit(P)`` when ``multilabel``, so a softmax
            or sigmoid of them gives ``P`` back), ``probabilities`` (``P``), ``features`` (the
            ConViT branch's final map) and, when asked, ``attention``.
        """
        maps = self.convit.forward_maps(x, return_attention)
        logits_convit = self.convit.forward_head(maps["features"])  # [B, C]
        logits_human = self.human(maps[self.person_feature], boxes)  # [B, C]
        if logits_human.shape[0] != logits_convit.shape[0]:
            raise ValueError(
                f"The fusion needs exactly one person box per image, got {logits_human.shape[0]} "
                f"boxes for {logits_convit.shape[0]} images: pick one (see person_boxes)."
            )
        prob = fuse_probabilities(  # in float32, also under autocast
            logits_convit.float(), logits_human.float(), self.fusion_weight, self.multilabel
        ).clamp(1e-7, 1 - 1e-7)  # [B, C]
        fused = torch.logit(prob) if self.multilabel else prob.log()  # [B, C]
        out = {"logits": fused, "logits_convit": logits_convit, "logits_human": logits_human,
               "probabilities": prob, "features": maps["features"]}
        if return_attention:
            out["attention"] = maps["attention"]
        return out


def person_boxes(batch: dict[str, Any]) -> list[torch.Tensor]:
    """One person box per image of a collated batch, as ``[1, 4]`` tensors.

    A VOC item's own person (``box``) when present; else the first of the image's ``boxes``
    (Stanford40's first annotated person, or the top detection of
    :func:`harlearn.models.detection.detect_persons`, whose boxes are sorted by score); the whole
    image when an image has no box.

    Args:
        batch: A batch from ``harlearn.data.collate`` (``image`` stacked to ``[B, 3, H, W]``).

    Returns:
        A list of ``B`` float tensors ``[1, 4]`` (0-based pixel ``xyxy``) on the images' device.
    """
    return [box[None] for box in anchor_boxes(batch)]  # [B, 4] -> B x [1, 4]


def person_branch_forward(model: ConViTWithPersonBranch, batch: dict[str, Any]) -> dict[str, Any]:
    """``model(batch["image"], person_boxes(batch))``, for ``harlearn.train.predict(forward=...)``."""
    return model(batch["image"], person_boxes(batch))


def person_branch_loss(
    model: ConViTWithPersonBranch, batch: dict[str, Any]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Train both branches: the sum of their losses, for ``harlearn.train.fit(loss_fn=...)``.

    Cross-entropy against ``label``, or binary cross-entropy with logits against multi-hot
    ``labels`` (VOC), on each branch's own logits.

    Args:
        model: A :class:`ConViTWithPersonBranch`.
        batch: A collated batch on the model's device.

    Returns:
        ``(loss, fused logits)``.
    """
    out = person_branch_forward(model, batch)
    losses = [classification_loss(out[k], batch) for k in ("logits_convit", "logits_human")]
    return losses[0] + losses[1], out["logits"]


def predict_branches(
    model: ConViTWithPersonBranch, data: Any, **kwargs: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both branches' logits over a dataset, e.g. the training set for :func:`fit_fusion_weights`.

    Args:
        model: A :class:`ConViTWithPersonBranch`.
        data: A dataset of item dicts (``image``, ``label`` or ``labels``, person boxes).
        **kwargs: More :func:`harlearn.inference.predict` arguments (``device``, ``batch_size``, ...).

    Returns:
        ``(convit_logits [N, C], human_logits [N, C], targets [N] or [N, C])`` as numpy arrays.
    """
    def forward(m: ConViTWithPersonBranch, batch: dict[str, Any]) -> torch.Tensor:
        out = person_branch_forward(m, batch)
        return torch.cat([out["logits_convit"], out["logits_human"]], dim=1)  # [B, 2C]

    out = predict(model, data, forward=forward, **kwargs)
    C = out["logits"].shape[1] // 2
    return out["logits"][:, :C], out["logits"][:, C:], out["targets"]


def _cpu(x: Any) -> torch.Tensor:
    """A CPU tensor (detached) from a tensor, array or list."""
    return x.detach().cpu() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))


def _fusion_loss(pa: torch.Tensor, pb: torch.Tensor, labels: torch.Tensor, multilabel: bool):
    """``loss(w)``: the NLL (or BCE) of ``w pa + (1 - w) pb``, a convex function of ``w``."""
    eps = 1e-12
    if multilabel:  # pa, pb: sigmoid probabilities [N, C]; labels multi-hot [N, C]
        def loss(w: float) -> float:
            p = (w * pa + (1 - w) * pb).clamp(eps, 1 - eps)
            return float(-(labels * p.log() + (1 - labels) * (1 - p).log()).mean())
    else:  # pa, pb: probabilities of the true class [N]
        def loss(w: float) -> float:
            return float(-(w * pa + (1 - w) * pb).clamp_min(eps).log().mean())
    return loss


def fit_fusion_weights(
    convit_logits: Any, human_logits: Any, labels: Any, steps: int = 101, refine: int = 60
) -> tuple[float, float]:
    """The fusion weights that minimise the loss of the fused probabilities (the paper's rule).

    ``P = w softmax(a) + (1 - w) softmax(b)``; ``w`` minimises the mean negative log-likelihood of
    the true classes over ``[0, 1]`` (for multi-hot labels: ``P`` of sigmoids and the mean binary
    cross-entropy). The loss is convex in ``w`` (minus the log of an affine function), so a grid
    of ``steps`` points followed by a golden-section search in the best grid cell finds the global
    minimum. Deterministic.

    Args:
        convit_logits: ``[N, C]`` logits of the ConViT branch on the training set (tensor/array).
        human_logits: ``[N, C]`` logits of the person branch.
        labels: ``[N]`` class indices, or ``[N, C]`` multi-hot labels (VOC).
        steps: Grid points on ``[0, 1]`` (at least 2).
        refine: Golden-section iterations after the grid (each shrinks the bracket by 0.618).

    Returns:
        ``(w_convit, w_human)``, two floats summing to 1.
    """
    a, b, y = _cpu(convit_logits).double(), _cpu(human_logits).double(), _cpu(labels)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(
            f"Both branches need [N, C] logits of one shape, got {tuple(a.shape)} and {tuple(b.shape)}."
        )
    multilabel = y.ndim == 2
    if multilabel:
        loss = _fusion_loss(a.sigmoid(), b.sigmoid(), y.double(), True)
    else:
        idx = y.long()[:, None]  # [N, 1]
        loss = _fusion_loss(a.softmax(1).gather(1, idx)[:, 0], b.softmax(1).gather(1, idx)[:, 0], y, False)

    grid = np.linspace(0.0, 1.0, max(int(steps), 2))
    values = [loss(w) for w in grid]
    i = int(np.argmin(values))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]  # the minimum lies in [lo, hi]
    best_w, best = float(grid[i]), values[i]
    ratio = (math.sqrt(5) - 1) / 2  # 0.618...
    c, d = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fc, fd = loss(c), loss(d)
    for _ in range(refine):
        if fc <= fd:  # the minimum is in [lo, d]
            hi, d, fd = d, c, fc
            c = hi - ratio * (hi - lo)
            fc = loss(c)
        else:  # in [c, hi]
            lo, c, fc = c, d, fd
            d = lo + ratio * (hi - lo)
            fd = loss(d)
    for w, value in ((c, fc), (d, fd)):
        if value < best:
            best_w, best = float(w), value
    return best_w, 1.0 - best_w
