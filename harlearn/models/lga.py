"""Loss-Guided Activation (LGA): a classifier that also learns where the person is.

Paper: Lu Liu, Robby T. Tan and Shaodi You, "Loss Guided Activation for Action Recognition in
Still Images", ACCV 2018 (LNCS 11365), arXiv:1812.04194.

A network trained only to classify actions puts its strongest activations on whatever is most
discriminative, often a salient object (the horse, the guitar) or the background, rather than
on the person who acts. LGA adds a second head that predicts a *human heatmap* and trains it
against a binary mask made from the person's box, jointly with the classifier:
``L = L_cls + L_mask`` with ``L_mask`` an L2 loss. Both heads read the same backbone, so the
mask loss pulls the shared features towards the person. No box is needed at test time.

The model (:class:`LossGuidedActivationNet`)::

    image [B, 3, 448, 448] -> ResNet-50 (stride 32) -> [B, 2048, 14, 14]
      classification: 3x3 conv -> 1024 + ReLU (F_cls) -> global average pool -> fc -> logits
      localisation:   3x3 conv + ReLU: 2048 -> 512 -> 64 -> 32 -> 1 (size kept) -> heatmap M*

Because the classifier is "GAP then one linear layer", the fc weights project back onto
``F_cls`` as a class activation map (Zhou et al., "Learning Deep Features for Discriminative
Localization", CVPR 2016, arXiv:1512.04150). The paper compares two maps, both here:

- the sum of activation maps, ``SAM(i, j) = sum_k F_cls^k(i, j)``
  (:func:`sum_of_activation_maps`), where every channel is min-max normalised first when
  comparing models;
- the predicting activation map, ``PAM(i, j) = sum_k w_{c*}^k F_cls^k(i, j)`` for the predicted
  class ``c*`` (:func:`predicting_activation_map`): exactly the CAM of that class.

Targets and losses: :func:`person_masks` turns a batch's person boxes into mask targets at the
heatmap's resolution, :func:`mask_from_keypoints` makes a mask from body joints (the tight box
over the visible joints enlarged by 50 %, as the paper does for MPII), :func:`human_mask_loss`
is the L2 loss and :func:`lga_loss_fn` plugs ``CE + mask_weight * L2`` into
:func:`harlearn.train.fit`.

Where this departs from the paper (or fills in what it leaves open):

- **Resolution of the maps.** The paper's 448 px input gives 14 x 14 maps: that is the plain
  ResNet-50 at stride 32, our default (``dilate_last_stage=False``). With
  ``dilate_last_stage=True`` stage 4's stride is replaced by dilated 3x3 convolutions
  (torchvision's ``replace_stride_with_dilation=[False, False, True]``), so the maps are at
  stride 16 (224 px gives 14 x 14, 448 px gives 28 x 28): the chapters use it for the small
  images of the ``book`` profile (112 px -> 7 x 7 instead of 4 x 4), so that the mask stays
  fine enough to say where the person is.
- **Heatmap activation.** The paper's localisation branch is "four 3x3 conv + ReLU", which
  literally ends with a ReLU. We end it with a sigmoid by default
  (``heatmap_activation="sigmoid"``): the target is a mask in [0, 1], the sigmoid keeps the
  prediction in that range, and it cannot die, whereas a final ReLU whose inputs all turn
  negative outputs a zero map with zero gradient, silently turning LGA into the plain
  classifier. ``heatmap_activation="relu"`` reproduces the paper's layer, ``"none"`` leaves the
  last convolution linear.
- **Mask targets.** The mask is built at pixel level from the boxes and area-averaged to the
  heatmap grid (:func:`harlearn.data.transforms.boxes_to_mask`), so a cell on the box edge holds
  the fraction of its area inside the box instead of a hard 0/1. Several persons give the union
  of their boxes; for VOC Action (one item per person) the item's own ``box`` is used.
- **Loss scale.** ``L_mask`` is the mean squared error over the heatmap's cells, added with a
  weight ``mask_weight`` (1 in the paper).
- **Widths.** ``base_width`` narrows the backbone (see :mod:`harlearn.models.resnet`) and both
  branches by ``base_width / 64`` (1024 -> 256 and 512/64/32 -> 128/16/8 at ``base_width=16``,
  the ``book`` profile), parameter names unchanged. The backbone's own ImageNet ``fc`` is
  dropped (``nn.Identity``); the classifier is this model's ``fc``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from harlearn.data.batch import person_boxes_per_item
from harlearn.data.transforms import boxes_to_mask
from harlearn.losses import classification_loss
from harlearn.models.backbones.resnet import resnet50

__all__ = [
    "LossGuidedActivationNet",
    "human_mask_loss",
    "person_masks",
    "box_from_keypoints",
    "mask_from_keypoints",
    "sum_of_activation_maps",
    "predicting_activation_map",
    "lga_loss_fn",
]

_HEATMAP_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "relu": lambda: nn.ReLU(inplace=True),
    "none": nn.Identity,
}


def _scaled(channels: int, base_width: int) -> int:
    """``channels`` scaled by ``base_width / 64`` (at least 1), as the backbone's widths."""
    return max(1, channels * base_width // 64)


class LossGuidedActivationNet(nn.Module):
    """ResNet-50 with a classification branch and a human-heatmap branch (LGA).

    ``forward(x)`` returns a dict whose first entry is the logits, so
    :func:`harlearn.train.fit`, :func:`harlearn.train.evaluate` and
    :func:`harlearn.train.logits_of` treat the model as a classifier; train it with
    :func:`lga_loss_fn` to add the mask loss.

    Args:
        num_classes: Number of action classes (logits).
        backbone: ``"resnet50"``, or a module with ``forward_features(x)`` (returning
            [B, C, h, w]) and ``num_features`` (= C); with a module, ``pretrained`` and
            ``dilate_last_stage`` are ignored and ``base_width`` scales the branches only.
        pretrained: Load torchvision's ImageNet weights into the ResNet-50 (``True`` or a
            ``ResNet50_Weights`` member name); needs ``base_width=64``.
        base_width: Width of the backbone's stem (64 in the paper); the backbone and both
            branches are scaled by ``base_width / 64``.
        cls_channels: Channels of ``F_cls``, the classification branch's 3x3 conv, at
            ``base_width=64`` (1024 in the paper).
        loc_channels: The localisation branch's hidden channels at ``base_width=64``
            (512, 64, 32 in the paper); a last 3x3 conv maps them to 1 channel.
        dilate_last_stage: Replace stage 4's stride by dilation, so the maps are at stride 16
            (224 px gives 14 x 14, 448 px gives 28 x 28) instead of 32 (the paper: 448 px gives
            14 x 14).
        heatmap_activation: ``"sigmoid"`` (default, heatmap in [0, 1]), ``"relu"`` (the
            paper's literal last layer) or ``"none"``.
    """

    def __init__(
        self,
        num_classes: int,
        backbone: str | nn.Module = "resnet50",
        pretrained: bool | str = False,
        *,
        base_width: int = 64,
        cls_channels: int = 1024,
        loc_channels: Sequence[int] = (512, 64, 32),
        dilate_last_stage: bool = False,
        heatmap_activation: str = "sigmoid",
    ) -> None:
        super().__init__()
        if heatmap_activation not in _HEATMAP_ACTIVATIONS:
            raise ValueError(
                f"heatmap_activation must be one of {sorted(_HEATMAP_ACTIVATIONS)}, "
                f"got {heatmap_activation!r}."
            )
        if isinstance(backbone, str):
            if backbone != "resnet50":
                raise ValueError(f"backbone must be 'resnet50' or a module, got {backbone!r}.")
            backbone = resnet50(
                1000, pretrained, base_width=base_width,
                replace_stride_with_dilation=[False, False, dilate_last_stage],
            )
            backbone.fc = nn.Identity()  # the ImageNet head is not used: ``self.fc`` classifies
        if not hasattr(backbone, "forward_features") or not hasattr(backbone, "num_features"):
            raise TypeError("backbone must have forward_features(x) and num_features.")
        self.backbone = backbone
        in_channels = int(backbone.num_features)
        cls_channels = _scaled(cls_channels, base_width)
        hidden = [_scaled(c, base_width) for c in loc_channels]

        # Classification branch: F_cls = relu(conv3x3(features)), then GAP and one linear layer.
        self.cls_conv = nn.Conv2d(in_channels, cls_channels, kernel_size=3, padding=1)
        self.cls_relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cls_channels, num_classes)

        # Localisation branch: 3x3 convs (size kept) C -> 512 -> 64 -> 32 -> 1, ReLU between.
        layers: list[nn.Module] = []
        widths = [in_channels, *hidden]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(c_in, c_out, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
        layers += [nn.Conv2d(widths[-1], 1, kernel_size=3, padding=1)]
        layers += [_HEATMAP_ACTIVATIONS[heatmap_activation]()]
        self.loc_branch = nn.Sequential(*layers)

        # He init on the fan-in keeps the activations' scale through the narrowing branch (the
        # backbone's fan-out init would multiply the variance by c_in / c_out at every layer);
        # the last conv is scaled for a linear output, so the heatmap starts near 0.5 rather
        # than in the sigmoid's flat tails.
        convs = [self.cls_conv, *(m for m in self.loc_branch if isinstance(m, nn.Conv2d))]
        for conv in convs:
            last = conv is convs[-1]
            nn.init.kaiming_normal_(conv.weight, mode="fan_in", nonlinearity="linear" if last else "relu")
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Classify and localise.

        Args:
            x: images [B, 3, H, W].

        Returns:
            A dict with ``logits`` [B, num_classes] (first), ``heatmap`` (``M*``) [B, 1, h, w]
            and ``features`` (``F_cls``) [B, cls_channels, h, w], where ``(h, w)`` is ``(H, W)`` / 16
            (``dilate_last_stage``) or / 32, rounded up.
        """
        x = self.backbone.forward_features(x)  # [B, C, h, w]
        features = self.cls_relu(self.cls_conv(x))  # F_cls: [B, cls_channels, h, w]
        pooled = torch.flatten(self.avgpool(features), 1)  # [B, cls_channels, 1, 1] -> [B, cls_channels]
        logits = self.fc(pooled)  # [B, num_classes]
        heatmap = self.loc_branch(x)  # M*: [B, 1, h, w]
        return {"logits": logits, "heatmap": heatmap, "features": features}

    def activation_maps(
        self, x: torch.Tensor, class_index: int | torch.Tensor | None = None, normalize: bool = True
    ) -> dict[str, torch.Tensor]:
        """The forward pass plus SAM and PAM, for visualisation (call it under ``no_grad``).

        Args:
            x: images [B, 3, H, W].
            class_index: the class of the PAM (int or [B]); default the predicted class ``c*``.
            normalize: min-max normalise each channel before summing the SAM.

        Returns:
            The :meth:`forward` dict plus ``sam`` [B, h, w], ``pam`` [B, h, w] and
            ``class_index`` [B].
        """
        out = self.forward(x)
        if class_index is None:
            class_index = out["logits"].argmax(dim=1)  # c*: [B]
        index = torch.as_tensor(class_index, device=x.device).expand(x.shape[0])  # [B]
        sam = sum_of_activation_maps(out["features"], normalize=normalize)
        pam = predicting_activation_map(out["features"], self.fc.weight, index)
        return {**out, "sam": sam, "pam": pam, "class_index": index}


# --------------------------------------------------------------------------------------------
# Activation maps
# --------------------------------------------------------------------------------------------


def sum_of_activation_maps(features: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """SAM: the sum of a feature map's channels, ``SAM(i, j) = sum_k F^k(i, j)``.

    Args:
        features: [B, C, h, w], e.g. ``F_cls`` (the model's ``features`` output).
        normalize: min-max normalise every channel of every image to [0, 1] before summing, so
            a few channels with large values do not dominate (how the paper compares models).
            A constant channel contributes 0.

    Returns:
        [B, h, w].
    """
    if normalize:
        flat = features.flatten(2)  # [B, C, h, w] -> [B, C, h*w]
        low = flat.amin(dim=2)[..., None, None]  # [B, C, 1, 1]
        span = flat.amax(dim=2)[..., None, None] - low  # [B, C, 1, 1]
        features = torch.where(span > 0, (features - low) / span.clamp_min(1e-12), 0.0)
    return features.sum(dim=1)


def predicting_activation_map(
    features: torch.Tensor, fc_weight: torch.Tensor, class_index: int | torch.Tensor
) -> torch.Tensor:
    """PAM: the class activation map of a class, ``PAM(i, j) = sum_k w_c^k F^k(i, j)``.

    With ``c`` the predicted class ``c*`` this is the paper's PAM; it is the CAM of Zhou et
    al. (arXiv:1512.04150). Its spatial mean plus ``fc.bias[c]`` is the logit of class ``c``.

    Args:
        features: [B, C, h, w], the map that is average-pooled into the classifier.
        fc_weight: the classifier's weight [num_classes, C] (``model.fc.weight``).
        class_index: the class, one int for all images or a tensor [B].

    Returns:
        [B, h, w].
    """
    index = torch.as_tensor(class_index, device=fc_weight.device)
    if index.ndim == 0:
        index = index.expand(features.shape[0])  # [B]
    weights = fc_weight[index].to(features.dtype)  # [B, C]
    return torch.einsum("bchw,bc->bhw", features, weights)


# --------------------------------------------------------------------------------------------
# Targets and losses
# --------------------------------------------------------------------------------------------


def human_mask_loss(heatmap: torch.Tensor, mask: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """The human-mask loss: the squared (L2) error between the heatmap and the mask.

    It is zero exactly when the two are equal. A mask at another resolution than the heatmap
    is first resized to the heatmap's size by area averaging (``F.interpolate(mode="area")``),
    so a full-resolution mask can be passed.

    Args:
        heatmap: the predicted heatmap ``M*``, [B, 1, h, w] or [B, h, w].
        mask: the target in [0, 1], [B, 1, H', W'] or [B, H', W'].
        reduction: ``"mean"`` (over every cell of every image), ``"sum"`` or ``"none"`` (the
            squared errors, shaped as ``heatmap``).

    Returns:
        A scalar (float32), or the element-wise errors with ``reduction="none"``.
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}.")
    if mask.ndim == heatmap.ndim - 1:
        mask = mask.unsqueeze(-3)  # [B, H', W'] -> [B, 1, H', W']
    if heatmap.ndim != mask.ndim or heatmap.shape[:-2] != mask.shape[:-2]:
        raise ValueError(
            f"heatmap {tuple(heatmap.shape)} and mask {tuple(mask.shape)} must have the same "
            "batch (and channel) dimensions, as [B, 1, h, w] or [B, h, w]."
        )
    heatmap, mask = heatmap.float(), mask.float().to(heatmap.device)
    if mask.shape[-2:] != heatmap.shape[-2:]:
        lead = mask.shape[:-2]
        resized = F.interpolate(mask.reshape(-1, 1, *mask.shape[-2:]), size=heatmap.shape[-2:], mode="area")
        mask = resized.reshape(*lead, *heatmap.shape[-2:])  # [B*, 1, h, w] -> [B, (1,) h, w]
    return F.mse_loss(heatmap, mask, reduction=reduction)


def person_masks(
    boxes_list: Sequence[torch.Tensor | Sequence[Sequence[float]] | None],
    image_size: int | tuple[int, int],
    out_size: int | tuple[int, int],
) -> torch.Tensor:
    """Mask targets for a batch: the union of each image's person boxes, at ``out_size``.

    Args:
        boxes_list: one [P, 4] tensor of 0-based XYXY pixel boxes per image (the collated
            ``batch["boxes"]``), in the coordinates of the (transformed) image.
        image_size: the images' ``(H, W)`` (or one int for squares).
        out_size: the target's ``(h, w)``, usually ``heatmap.shape[-2:]``.

    Returns:
        float32 [B, 1, h, w] in [0, 1]: each cell holds the fraction of its area inside a box
        (see :func:`harlearn.data.transforms.boxes_to_mask`), on the boxes' device.
    """
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    masks = []
    for i, boxes in enumerate(boxes_list):
        if boxes is None:
            raise ValueError(
                f"Image {i} of the batch has no person boxes: LGA needs a person box for every "
                "training image (or build its mask another way, e.g. mask_from_keypoints)."
            )
        masks.append(boxes_to_mask(boxes, size, out_size))  # [h, w]
    return torch.stack(masks)[:, None]  # [B, h, w] -> [B, 1, h, w]


def box_from_keypoints(
    keypoints: torch.Tensor, image_size: tuple[int, int], enlarge: float = 0.5
) -> torch.Tensor:
    """The tight box over the visible joints, enlarged about its centre and clipped to the image.

    Args:
        keypoints: [J, 3] or [P, J, 3] rows of ``(x, y, visibility)`` in 0-based pixels; a joint
            counts when its visibility is > 0 (COCO: 1 occluded, 2 visible).
        image_size: the image ``(H, W)``.
        enlarge: the width and height grow by this fraction (0.5: 50 %, as the paper for MPII).

    Returns:
        float32 XYXY boxes [P, 4] (P = 1 for a [J, 3] input); a person without a visible joint
        gives the empty box ``(0, 0, 0, 0)``.
    """
    kp = torch.as_tensor(keypoints, dtype=torch.float32)
    kp = kp.reshape(-1, *kp.shape[-2:])  # [J, 3] or [P, J, 3] -> [P, J, 3]
    visible = kp[..., 2] > 0  # [P, J]
    inf = torch.tensor(float("inf"), device=kp.device)
    xy = kp[..., :2]  # [P, J, 2]
    low = torch.where(visible[..., None], xy, inf).amin(dim=1)  # [P, 2]
    high = torch.where(visible[..., None], xy, -inf).amax(dim=1)  # [P, 2]
    centre, half = (low + high) / 2, (high - low) * (1 + enlarge) / 2  # [P, 2]
    h, w = image_size
    limit = torch.tensor([w, h], dtype=torch.float32, device=kp.device)
    box = torch.cat([(centre - half).clamp(min=0), torch.minimum(centre + half, limit)], dim=1)  # [P, 4]
    return torch.where(visible.any(dim=1)[:, None], box, 0.0)


def mask_from_keypoints(
    keypoints: torch.Tensor,
    image_size: tuple[int, int],
    enlarge: float = 0.5,
    out_size: int | tuple[int, int] | None = None,
) -> torch.Tensor:
    """A human mask from body joints, for data with keypoints but no person box (MPII).

    The mask is 1 inside :func:`box_from_keypoints` (the tight box over the visible joints,
    enlarged by ``enlarge`` and clipped to the image), built with
    :func:`harlearn.data.transforms.boxes_to_mask`.

    Args:
        keypoints: [J, 3] (one person) or [P, J, 3] (the mask is their union), rows
            ``(x, y, visibility)`` in 0-based pixels.
        image_size: the image ``(H, W)``.
        enlarge: the fraction by which the box's width and height grow (0.5 in the paper).
        out_size: the mask's ``(h, w)`` (area-averaged), or ``None`` for ``image_size``.

    Returns:
        float32 [h, w] in [0, 1].

    Raises:
        ValueError: no joint is visible.
    """
    kp = torch.as_tensor(keypoints, dtype=torch.float32)
    if kp.ndim not in (2, 3) or kp.shape[-1] != 3:
        raise ValueError(f"keypoints must be [J, 3] or [P, J, 3], got {tuple(kp.shape)}.")
    if not bool((kp[..., 2] > 0).any()):
        raise ValueError("No visible keypoint (visibility > 0): cannot place a human mask.")
    return boxes_to_mask(box_from_keypoints(kp, image_size, enlarge), image_size, out_size)


def lga_loss_fn(
    mask_weight: float = 1.0, *, label_smoothing: float = 0.0
) -> Callable[[nn.Module, dict[str, Any]], tuple[torch.Tensor, torch.Tensor]]:
    """The LGA training loss for :func:`harlearn.train.fit`: ``L_cls + mask_weight * L_mask``.

    The returned ``loss_fn(model, batch)`` runs ``model(batch["image"])`` (a model whose output
    has ``logits`` and ``heatmap``, such as :class:`LossGuidedActivationNet`), builds the person
    masks at the heatmap's size from the batch's boxes (:func:`person_masks`) and adds the L2
    mask loss (:func:`human_mask_loss`) to the classification loss. The boxes are
    ``batch["box"]`` when present (VOC Action: the item's own person, [B, 4]), else
    ``batch["boxes"]`` (Stanford40: every annotated person of the image), in the transformed
    image's pixels. ``fit`` moves the batch, boxes included, to the model's device.

    Args:
        mask_weight: the weight of the mask loss (1 in the paper; 0 gives the plain classifier).
        label_smoothing: for the cross-entropy (single-label ``label``).

    Returns:
        ``loss_fn(model, batch) -> (loss, logits)``. The classification loss is cross-entropy
        against ``batch["label"]`` (indices, or soft targets after mixup), or binary
        cross-entropy with logits when the batch has multi-hot ``labels``, as
        :func:`harlearn.losses.default_loss`.
    """

    def loss_fn(model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        images = batch["image"]  # [B, 3, H, W]
        out = model(images)
        logits, heatmap = out["logits"], out["heatmap"]  # [B, num_classes], [B, 1, h, w]
        cls_loss = classification_loss(logits, batch, label_smoothing)  # CE, or BCE for multi-hot labels
        boxes = person_boxes_per_item(batch)  # VOC: the item's own person; Stanford40: every person
        masks = person_masks(boxes, tuple(images.shape[-2:]), tuple(heatmap.shape[-2:]))  # [B, 1, h, w]
        return cls_loss + mask_weight * human_mask_loss(heatmap, masks), logits

    return loss_fn
