"""Faster R-CNN person / object detector for the chapters that need boxes at test time.

Paper: Shaoqing Ren, Kaiming He, Ross Girshick and Jian Sun, "Faster R-CNN: Towards Real-Time
Object Detection with Region Proposal Networks", NeurIPS 2015, arXiv:1506.01497. The ConViT
paper (arXiv:2307.08994) uses it to find the person for its person branch; the retrieval
chapter uses it for person and object boxes.

Built on ``torchvision.models.detection`` (its ``FasterRCNN`` class: region proposal network,
RoIAlign, two-layer box head), in two flavours:

* ``pretrained=True``: torchvision's COCO detector (MobileNetV3-Large-FPN or ResNet-50-FPN) with
  its COCO weights, through torchvision's weights API (downloaded once into torch hub's cache).
  COCO's class 1 is ``person``. With ``num_classes != 91`` the box classifier is replaced by a
  fresh one for fine-tuning.
* ``pretrained=False`` (default): a *small* detector that a chapter trains from scratch on
  SynthHAR boxes in minutes on a CPU: a five-layer CNN at stride 8 (GroupNorm, so tiny batches
  and eval mode behave alike), one feature map instead of an FPN, anchors scaled to the image
  size (``min_size / 8 .. min_size`` for 96-128 px images) and fewer proposals.

Training: the course's one loop, ``harlearn.train.fit``, with :func:`detection_loss_fn`. In
training mode a torchvision detector takes ``(images, targets)`` and returns a dict of four
losses, and in eval mode a list of detections, never logits; so the loss function returns
``(sum of the losses, None, the four losses)``: no accuracy, the four terms logged per epoch,
and no validation loss (``fit`` validates in eval mode). ``harlearn.train.train_detector`` is
that call with the detector's defaults (AdamW, constant learning rate, gradient clipping); it
lives with the loop, since models never import ``harlearn.train``, and is still reachable as
``harlearn.models.detection.train_detector``.

Where this departs from the paper: the small detector (not a VGG-16 / ZF backbone), RoIAlign
instead of RoI pooling (torchvision's choice), AdamW with gradient clipping instead of SGD.
Images go to the detector as floats in ``[0, 1]``: it normalises them itself with the ImageNet
mean and standard deviation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torchvision.models.detection import (
    FasterRCNN,
    FasterRCNN_MobileNet_V3_Large_FPN_Weights,
    FasterRCNN_ResNet50_FPN_Weights,
    fasterrcnn_mobilenet_v3_large_fpn,
    fasterrcnn_resnet50_fpn,
)
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.ops import MultiScaleRoIAlign

from harlearn.models.backbones.weights import load_torchvision_model

__all__ = [
    "COCO_PERSON",
    "SmallBackbone",
    "fasterrcnn",
    "detection_images",
    "detection_targets",
    "detection_loss_fn",
    "train_detector",
    "detect_persons",
]

COCO_PERSON = 1  # the person class in COCO's labels and in our one-class detectors (0 = background)

_TORCHVISION = {  # backbone name -> (builder, COCO weights)
    "mobilenet_v3": (fasterrcnn_mobilenet_v3_large_fpn, FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1),
    "resnet50": (fasterrcnn_resnet50_fpn, FasterRCNN_ResNet50_FPN_Weights.COCO_V1),
}


def _conv(c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """3 x 3 convolution, GroupNorm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.GroupNorm(min(8, c_out), c_out),
        nn.ReLU(inplace=True),
    )


class SmallBackbone(nn.Module):
    """A small CNN feature extractor for the from-scratch detector: ``[B, 3, H, W] -> [B, 4w, H/8, W/8]``.

    Three stride-2 convolutions, then two dilated ones that widen the receptive field (to 111
    pixels) without lowering the resolution, so small objects keep a few cells.

    Args:
        width: Channels of the first layer ``w``; the output has ``4 w`` (``out_channels``, as
            torchvision's ``FasterRCNN`` requires).
    """

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(3, width, stride=2),  # [B, w, H/2, W/2]
            _conv(width, 2 * width, stride=2),  # [B, 2w, H/4, W/4]
            _conv(2 * width, 4 * width, stride=2),  # [B, 4w, H/8, W/8]
            _conv(4 * width, 4 * width, dilation=2),  # [B, 4w, H/8, W/8]
            _conv(4 * width, 4 * width, dilation=4),  # [B, 4w, H/8, W/8]
        )
        self.out_channels = 4 * width

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"0": [B, 4w, H/8, W/8]}`` (torchvision's detectors take named feature maps)."""
        return {"0": self.body(x)}


def _small_detector(num_classes: int, min_size: int, max_size: int, width: int, **kwargs: Any) -> FasterRCNN:
    backbone = SmallBackbone(width)
    sizes = tuple(max(4, round(min_size * f)) for f in (1 / 8, 1 / 4, 1 / 2, 1))  # 16..128 at 128 px
    anchors = AnchorGenerator(sizes=(sizes,), aspect_ratios=((0.5, 1.0, 2.0),))  # h/w: wide, square, tall
    roi_pool = MultiScaleRoIAlign(featmap_names=["0"], output_size=7, sampling_ratio=2)
    head = TwoMLPHead(backbone.out_channels * 7 * 7, 256)
    settings = dict(
        rpn_pre_nms_top_n_train=600, rpn_post_nms_top_n_train=300,
        rpn_pre_nms_top_n_test=300, rpn_post_nms_top_n_test=100,
        rpn_batch_size_per_image=128, box_batch_size_per_image=128, box_detections_per_img=20,
    )
    settings.update(kwargs)
    return FasterRCNN(
        backbone, min_size=min_size, max_size=max_size, rpn_anchor_generator=anchors,
        box_roi_pool=roi_pool, box_head=head, box_predictor=FastRCNNPredictor(256, num_classes),
        **settings,
    )


def fasterrcnn(
    num_classes: int = 2,
    *,
    pretrained: bool = False,
    backbone: str | None = None,
    min_size: int | None = None,
    max_size: int | None = None,
    trainable_backbone_layers: int | None = None,
    width: int = 32,
    **kwargs: Any,
) -> FasterRCNN:
    """A Faster R-CNN detector: torchvision's COCO model, or a small one to train from scratch.

    Args:
        num_classes: Classes including the background (index 0): 2 for a person detector
            (``1 = person``, as in COCO), ``1 + len(object classes)`` for objects. With
            ``pretrained`` and ``num_classes != 91`` the COCO box classifier is replaced by a
            fresh one.
        pretrained: Load torchvision's COCO weights (needs a network connection the first time;
            in smoke mode, ``HARLEARN_SMOKE=1``, a random stand-in through the same builder).
        backbone: ``"small"`` (default without ``pretrained``; see :class:`SmallBackbone`),
            ``"mobilenet_v3"`` (default with ``pretrained``; MobileNetV3-Large-FPN) or
            ``"resnet50"`` (ResNet-50-FPN). The last two without ``pretrained`` are torchvision's
            architectures, randomly initialised.
        min_size: Images are resized so their short side is ``min_size`` (default 128 for the
            small detector, torchvision's 800 otherwise).
        max_size: Upper bound of the long side after resizing (default ``2 * min_size`` for the
            small detector, torchvision's 1333 otherwise).
        trainable_backbone_layers: torchvision's argument (pretrained torchvision backbones
            only): how many backbone stages, from the last, are trained; the rest are frozen.
        width: First-layer channels of the small backbone.
        **kwargs: More ``torchvision.models.detection.FasterRCNN`` arguments (e.g.
            ``box_score_thresh``, ``box_detections_per_img``).

    Returns:
        A ``torchvision.models.detection.FasterRCNN`` in training mode.

    Raises:
        ValueError: An unknown backbone, or ``pretrained`` with the small backbone.
        RuntimeError: The COCO weights could not be downloaded (offline) or read.
    """
    backbone = backbone or ("mobilenet_v3" if pretrained else "small")
    if backbone == "small":
        if pretrained:
            raise ValueError(
                "There are no pretrained weights for the small detector: use backbone='mobilenet_v3' "
                "or 'resnet50' with pretrained=True, or train the small one with pretrained=False."
            )
        min_size = min_size or 128
        return _small_detector(num_classes, min_size, max_size or 2 * min_size, width, **kwargs)
    if backbone not in _TORCHVISION:
        raise ValueError(
            f"Unknown detector backbone {backbone!r}; choose 'small', 'mobilenet_v3' or 'resnet50'."
        )

    builder, weights = _TORCHVISION[backbone]
    options = dict(kwargs)
    if min_size is not None:
        options["min_size"] = min_size
    if max_size is not None:
        options["max_size"] = max_size
    if trainable_backbone_layers is not None:
        options["trainable_backbone_layers"] = trainable_backbone_layers
    if not pretrained:
        return builder(weights=None, weights_backbone=None, num_classes=num_classes, **options)

    model = load_torchvision_model(  # 91 COCO classes
        builder, weights, "The COCO detector weights",
        alternative="use pretrained=False and train the small detector on SynthHAR boxes", **options)
    if num_classes != len(weights.meta["categories"]):
        in_features = model.roi_heads.box_predictor.cls_score.in_features
        model.roi_heads.box_predictor = FastRCNNPredictor(in_features, num_classes)
    return model


# --------------------------------------------------------------------------------------------
# From our batches to torchvision's inputs
# --------------------------------------------------------------------------------------------


def detection_images(images: Any) -> list[torch.Tensor]:
    """Images as a torchvision detector takes them: a list of float ``[3, H, W]`` in ``[0, 1]``.

    Args:
        images: A collated batch (its ``"image"`` is used), a tensor ``[B, 3, H, W]`` or
            ``[3, H, W]``, or a list of ``[3, H, W]`` tensors; uint8 (divided by 255) or float
            in ``[0, 1]``.

    Returns:
        The list of float images.

    Raises:
        ValueError: Float images outside ``[0, 1]``, i.e. already normalised.
    """
    if isinstance(images, dict):
        images = images["image"]
    if isinstance(images, torch.Tensor) and images.ndim == 3:
        images = images[None]  # [3, H, W] -> [1, 3, H, W]
    out = []
    for image in images:
        image = torch.as_tensor(image).as_subclass(torch.Tensor)
        if image.dtype == torch.uint8:
            image = image.float() / 255.0
        elif image.numel() and (image.min() < -1e-3 or image.max() > 1 + 1e-3):
            raise ValueError(
                "The detector needs images in [0, 1] (it normalises them itself), but these look "
                "normalised already: build the dataset with transform=None or "
                "eval_transform(size, normalize=False)."
            )
        out.append(image.float())
    return out


def detection_targets(
    batch: dict[str, Any],
    key: str = "boxes",
    labels: int | Sequence[str] | None = None,
    names_key: str = "object_names",
) -> list[dict[str, torch.Tensor]]:
    """Our collated item dicts as torchvision's detection targets.

    Args:
        batch: A batch from ``harlearn.data.collate``.
        key: Which boxes: ``"boxes"`` (the annotated persons), ``"box"`` (a VOC item's person),
            ``"object_boxes"`` or ``"bystander_boxes"``.
        labels: The class of every box: ``None`` for 1 (person), an int, or a sequence of class
            names (without the background), in which case box ``j`` of image ``i`` gets
            ``1 + labels.index(batch[names_key][i][j])``.
        names_key: Where the box names are, when ``labels`` is a list of names.

    Returns:
        One dict per image: ``{"boxes": float32 [P, 4] xyxy pixels, "labels": int64 [P]}``.
        Degenerate boxes (zero width or height) are dropped; an image without boxes gets empty
        tensors (a negative example for the detector).
    """
    per_image = batch[key]
    if isinstance(per_image, torch.Tensor) and per_image.ndim == 2:  # "box": [B, 4]
        per_image = [b[None] for b in per_image]
    targets = []
    for i, boxes in enumerate(per_image):
        boxes = torch.zeros(0, 4) if boxes is None else torch.as_tensor(boxes).as_subclass(torch.Tensor)
        boxes = boxes.reshape(-1, 4).float()
        if labels is None or isinstance(labels, int):
            label = COCO_PERSON if labels is None else int(labels)
            classes = torch.full((len(boxes),), label, dtype=torch.int64, device=boxes.device)
        else:
            names = list(batch[names_key][i] or [])
            unknown = sorted(set(names) - set(labels))
            if unknown:
                raise ValueError(f"Box names {unknown} are not in the detector's classes {list(labels)}.")
            classes = torch.tensor([1 + list(labels).index(n) for n in names], dtype=torch.int64,
                                   device=boxes.device)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])  # positive width and height
        targets.append({"boxes": boxes[keep], "labels": classes[keep]})
    return targets


# --------------------------------------------------------------------------------------------
# Training and inference
# --------------------------------------------------------------------------------------------


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def detection_loss_fn(
    key: str = "boxes", labels: int | Sequence[str] | None = None
) -> Callable[[nn.Module, dict[str, Any]], tuple[torch.Tensor, None, dict[str, torch.Tensor]]]:
    """The detector's training loss for ``harlearn.train.fit``: the sum of its four losses.

    The returned function turns the batch into torchvision's inputs (:func:`detection_images`,
    :func:`detection_targets`), runs the detector in training mode and returns
    ``(loss_classifier + loss_box_reg + loss_objectness + loss_rpn_box_reg, None, losses)``:
    no logits (``fit`` records no accuracy) and the four losses as named terms (``fit`` logs
    each per epoch).

    Args:
        key: The boxes to learn (see :func:`detection_targets`).
        labels: The box classes (see :func:`detection_targets`).

    Returns:
        ``loss_fn(model, batch) -> (loss, None, {name: loss term})``.
    """

    def loss_fn(model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, None, dict[str, torch.Tensor]]:
        device = _model_device(model)
        images = [im.to(device) for im in detection_images(batch)]
        targets = [{k: v.to(device) for k, v in t.items()} for t in detection_targets(batch, key, labels)]
        losses = model(images, targets)  # dict of 4 scalar losses (train mode)
        return sum(losses.values()), None, {name: v.detach() for name, v in losses.items()}

    return loss_fn


def __getattr__(name: str) -> Any:
    """``train_detector`` moved to ``harlearn.train`` (models never import the loop at import
    time); this keeps ``harlearn.models.detection.train_detector`` working, imported on first use."""
    if name == "train_detector":
        from harlearn.train import train_detector  # compat alias, resolved lazily (PEP 562)

        return train_detector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@torch.no_grad()
def detect_persons(
    model: nn.Module,
    images: Any,
    score_threshold: float = 0.5,
    *,
    label: int = COCO_PERSON,
    return_scores: bool = False,
) -> list[torch.Tensor] | tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Person boxes found by a detector, per image, best first.

    The model runs in eval mode (its previous mode is restored afterwards).

    Args:
        model: A torchvision detector (:func:`fasterrcnn`).
        images: A tensor ``[B, 3, H, W]`` / ``[3, H, W]``, a list of images or a collated batch;
            uint8 or float in ``[0, 1]`` (see :func:`detection_images`).
        score_threshold: Keep detections with at least this score.
        label: The person class (1 in COCO and in our one-class detectors).
        return_scores: Also return the scores.

    Returns:
        A list with one float tensor ``[P, 4]`` (0-based pixel ``xyxy``, on the CPU, sorted by
        decreasing score, possibly empty) per image; with ``return_scores``, ``(boxes, scores)``.
    """
    was_training = model.training
    model.eval()
    try:
        device = _model_device(model)
        detections = model([im.to(device) for im in detection_images(images)])
    finally:
        model.train(was_training)
    boxes, scores = [], []
    for det in detections:
        keep = (det["labels"] == label) & (det["scores"] >= score_threshold)
        s, order = det["scores"][keep].sort(descending=True)
        boxes.append(det["boxes"][keep][order].cpu())
        scores.append(s.cpu())
    return (boxes, scores) if return_scores else boxes
