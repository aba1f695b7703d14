"""Box-aware data augmentation on item dicts, built on ``torchvision.transforms.v2``.

Dataset items hold the image with its geometry as ``tv_tensors`` (``BoundingBoxes``, ``Mask``,
and keypoints while a transform runs), so every geometric step moves boxes, masks and
keypoints with the pixels. The pieces:

- :class:`RandomCropKeepBox`: a random crop that keeps at least ``min_fraction`` of the
  person's box (the VOC ``box``, else the union of ``boxes``), so an action is never cropped away;
- :class:`RandomHorizontalFlipPose`: a flip that also swaps COCO left/right keypoint names;
- :class:`PhotometricRandAugment`: RandAugment (Cubuk et al., "RandAugment: Practical
  automated data augmentation with a reduced search space", arXiv:1909.13719) restricted to
  its colour operations, applied to the image only;
- :func:`train_transform` and :func:`eval_transform`: the pipelines the chapters use;
- :func:`boxes_to_mask`: a human mask from person boxes, at image or feature-map resolution;
- :func:`flip_shift` / :class:`FlipShift`: the cheap augmentation of small-image training (a
  random horizontal flip and a random shift of up to 1/8 of the side, replicate-padded) on
  tensors: an item dict (boxes, masks and keypoints move too) or a whole batch ``[B, 3, H, W]``;
- :class:`BatchMixUp` / :func:`mixup`: mixup (Zhang et al., "mixup: Beyond Empirical Risk
  Minimization", arXiv:1710.09412) on a collated batch, through ``v2.MixUp``.

Departures: RandAugment drops its geometric operations (shear, translate, rotate), because
torchvision's version cannot move boxes; the crop and the flip supply the geometry instead.

Degenerate boxes: no box is ever dropped, so ``boxes``, ``masks`` and ``keypoints`` stay
index-aligned and the VOC person ``box`` is always there. A box that a crop pushes (partly)
out of the window is clamped to it; one pushed out entirely becomes a zero-area box, which
:func:`boxes_to_mask` ignores. The crop guarantees the reference person keeps at least
``min_fraction`` of its area.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import PIL.Image
import torch
import torch.nn.functional as nnf
from torch.utils._pytree import tree_flatten, tree_unflatten
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "COCO_FLIP_PERMUTATION",
    "RandomCropKeepBox",
    "RandomHorizontalFlipPose",
    "PhotometricRandAugment",
    "train_transform",
    "eval_transform",
    "boxes_to_mask",
    "kept_fraction",
    "BatchMixUp",
    "mixup",
    "flip_shift",
    "FlipShift",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Where each COCO keypoint goes under a horizontal flip (left and right parts swap names).
COCO_FLIP_PERMUTATION = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)


def kept_fraction(box: Sequence[float], window: tuple[int, int, int, int]) -> float:
    """The fraction of ``box``'s area inside a crop window.

    Args:
        box: ``[x1, y1, x2, y2]``.
        window: ``(top, left, height, width)``, as ``v2.functional.crop`` takes it.

    Returns:
        Intersection area over box area (1.0 for a zero-area box).
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    top, left, height, width = window
    area = (x2 - x1) * (y2 - y1)
    if area <= 0:
        return 1.0
    ix = max(0.0, min(x2, left + width) - max(x1, left))
    iy = max(0.0, min(y2, top + height) - max(y1, top))
    return ix * iy / area


class RandomCropKeepBox(v2.Transform):
    """Random crop (random area and aspect ratio) that keeps most of the person.

    The window's area is drawn from ``scale`` (a fraction of the image) and its aspect ratio
    log-uniformly from ``ratio``, as in ``RandomResizedCrop``; its position is drawn among those
    that keep at least ``min_fraction`` of the reference box's area. After ``max_tries`` failed
    draws the whole image is used. Follow it with a resize to get a fixed output size.

    The reference box is the item's ``box`` (the VOC person) when there is one, else the
    union (``reference="union"``) or the first (``reference="first"``) of ``boxes``; for a
    non-dict input, the first ``BoundingBoxes`` found. Without any box the crop is unconstrained.

    Args:
        min_fraction: the least fraction of the reference box's area the window keeps.
        scale: range of the window's area as a fraction of the image's.
        ratio: range of the window's aspect ratio (width / height).
        reference: ``"union"`` or ``"first"``, for items with ``boxes`` but no ``box``.
        max_tries: draws before falling back to the whole image.
    """

    def __init__(
        self,
        min_fraction: float = 0.7,
        *,
        scale: tuple[float, float] = (0.3, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        reference: str = "union",
        max_tries: int = 50,
    ) -> None:
        super().__init__()
        if not 0.0 <= min_fraction <= 1.0:
            raise ValueError(f"min_fraction must lie in [0, 1], got {min_fraction}.")
        if reference not in ("union", "first"):
            raise ValueError(f"reference must be 'union' or 'first', got {reference!r}.")
        self.min_fraction, self.scale, self.ratio = float(min_fraction), tuple(scale), tuple(ratio)
        self.reference, self.max_tries = reference, int(max_tries)
        self._box: torch.Tensor | None = None  # the reference box of the sample being transformed

    def reference_box(self, sample: Any) -> torch.Tensor | None:
        """The XYXY box [4] the crop must keep, or ``None`` (see the class docstring)."""
        if isinstance(sample, dict):
            boxes = sample.get("box", sample.get("boxes"))
        else:
            flat = tree_flatten(sample)[0]
            boxes = next((x for x in flat if isinstance(x, tv_tensors.BoundingBoxes)), None)
        if boxes is None:
            return None
        if isinstance(boxes, tv_tensors.BoundingBoxes):
            boxes = F.convert_bounding_box_format(boxes, new_format=tv_tensors.BoundingBoxFormat.XYXY)
        b = torch.as_tensor(boxes).as_subclass(torch.Tensor).reshape(-1, 4).float()  # [P, 4]
        b = b[(b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])]
        if len(b) == 0:
            return None
        if self.reference == "first":
            return b[0]
        return torch.cat([b[:, :2].min(dim=0).values, b[:, 2:].max(dim=0).values])

    def sample_window(self, size: tuple[int, int], box: torch.Tensor | None) -> tuple[int, int, int, int]:
        """Draw a crop window for an image of ``size`` (``(H, W)``) that keeps ``box``.

        Returns:
            ``(top, left, height, width)`` in whole pixels.
        """
        h_img, w_img = size
        if box is not None:
            x1, x2 = (min(max(float(v), 0.0), w_img) for v in (box[0], box[2]))
            y1, y2 = (min(max(float(v), 0.0), h_img) for v in (box[1], box[3]))
            box = None if x2 <= x1 or y2 <= y1 else (x1, y1, x2, y2)
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(self.max_tries):
            area = h_img * w_img * _uniform(*self.scale)
            aspect = math.exp(_uniform(*log_ratio))
            w, h = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
            if not (1 <= w <= w_img and 1 <= h <= h_img):
                continue
            if box is None:
                return _randint(0, h_img - h), _randint(0, w_img - w), h, w
            x1, y1, x2, y2 = box
            fx, fy = min(w, x2 - x1) / (x2 - x1), min(h, y2 - y1) / (y2 - y1)  # best overlap per axis
            if fx * fy < self.min_fraction:
                continue  # too small to keep enough of the box anywhere
            # Positions where each axis alone keeps enough (assuming the other axis does its best).
            need_x, need_y = (x2 - x1) * self.min_fraction / fy, (y2 - y1) * self.min_fraction / fx
            lo_x, hi_x = max(0, math.ceil(x1 + need_x - w)), min(w_img - w, math.floor(x2 - need_x))
            lo_y, hi_y = max(0, math.ceil(y1 + need_y - h)), min(h_img - h, math.floor(y2 - need_y))
            if lo_x > hi_x or lo_y > hi_y:
                continue
            window = (_randint(lo_y, hi_y), _randint(lo_x, hi_x), h, w)
            if kept_fraction(box, window) >= self.min_fraction:
                return window
        return 0, 0, h_img, w_img

    def forward(self, *inputs: Any) -> Any:
        """Crop every image, box, mask and keypoint set of the sample with one window."""
        self._box = self.reference_box(inputs if len(inputs) > 1 else inputs[0])
        try:
            return super().forward(*inputs)
        finally:
            self._box = None

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        """Draw the window (``top``, ``left``, ``height``, ``width``) for this sample."""
        top, left, height, width = self.sample_window(tuple(v2.query_size(flat_inputs)), self._box)
        return {"top": top, "left": left, "height": height, "width": width}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        """Crop one input."""
        return self._call_kernel(F.crop, inpt, **params)


def _uniform(low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand(()))


def _randint(low: int, high: int) -> int:
    """A random integer in ``[low, high]`` (both inclusive), from torch's generator."""
    return int(torch.randint(low, high + 1, ()))


class RandomHorizontalFlipPose(v2.RandomHorizontalFlip):
    """Horizontal flip that also swaps left and right COCO keypoints.

    Pixels, boxes, masks and keypoint positions flip as in ``v2.RandomHorizontalFlip``; in a
    dict item, ``keypoints`` (``tv_tensors.KeyPoints`` [..., 17, 2]) and
    ``keypoint_visibility`` are then re-indexed with ``COCO_FLIP_PERMUTATION``, so the point
    called "left wrist" is still the person's left wrist.

    Args:
        p: probability of flipping.
    """

    def forward(self, *inputs: Any) -> Any:
        """Flip the sample with probability ``p``."""
        sample = inputs if len(inputs) > 1 else inputs[0]
        if torch.rand(()) >= self.p:
            return sample
        flat, spec = tree_flatten(sample)
        needs = self._needs_transform_list(flat)
        out = tree_unflatten([self.transform(x, {}) if n else x for x, n in zip(flat, needs)], spec)
        kp = out.get("keypoints") if isinstance(out, dict) else None
        if isinstance(kp, tv_tensors.KeyPoints) and kp.shape[-2] == len(COCO_FLIP_PERMUTATION):
            perm = list(COCO_FLIP_PERMUTATION)
            out["keypoints"] = tv_tensors.wrap(kp.as_subclass(torch.Tensor)[..., perm, :], like=kp)
            if "keypoint_visibility" in out:
                out["keypoint_visibility"] = out["keypoint_visibility"][..., perm]
        return out


class PhotometricRandAugment(v2.RandAugment):
    """RandAugment with only its colour operations, applied to the image alone.

    Keeps Identity, Brightness, Color, Contrast, Sharpness, Posterize, Solarize, AutoContrast
    and Equalize; boxes, masks and keypoints pass through unchanged (they stay valid). The
    image must be uint8.

    Args:
        num_ops: operations applied in sequence.
        magnitude: strength of every operation, in ``[0, num_magnitude_bins)``.
        num_magnitude_bins: the number of magnitude levels.
    """

    _AUGMENTATION_SPACE = {
        name: op
        for name, op in v2.RandAugment._AUGMENTATION_SPACE.items()
        if name not in ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate")
    }

    def __init__(self, num_ops: int = 2, magnitude: int = 9, num_magnitude_bins: int = 31) -> None:
        super().__init__(num_ops=num_ops, magnitude=magnitude, num_magnitude_bins=num_magnitude_bins)

    def forward(self, *inputs: Any) -> Any:
        """Augment the sample's image (a ``tv_tensors.Image``, PIL image, or the first plain tensor)."""
        flat, spec = tree_flatten(inputs if len(inputs) > 1 else inputs[0])
        needs = self._needs_transform_list(flat)
        for i, (x, n) in enumerate(zip(flat, needs)):
            if n and (isinstance(x, (tv_tensors.Image, PIL.Image.Image)) or type(x) is torch.Tensor):
                flat[i] = super().forward(x)
                break
        return tree_unflatten(flat, spec)


def train_transform(
    image_size: int,
    *,
    min_box_fraction: float = 0.7,
    hflip: bool = True,
    randaugment: bool = True,
    normalize: bool = True,
) -> Callable[[Any], Any]:
    """The training pipeline: box-keeping crop, resize, flip, colour RandAugment, float, normalise.

    Args:
        image_size: side of the square output, in pixels.
        min_box_fraction: the least fraction of the person box the crop keeps.
        hflip: random horizontal flip (p = 0.5), keypoint-aware.
        randaugment: colour-only RandAugment (2 ops, magnitude 9).
        normalize: subtract ``IMAGENET_MEAN`` and divide by ``IMAGENET_STD``.

    Returns:
        A ``v2.Compose`` to pass as a dataset's ``transform``; the image comes out float32
        [3, image_size, image_size].
    """
    return v2.Compose([
        RandomCropKeepBox(min_box_fraction),
        v2.Resize((image_size, image_size), antialias=True),
        RandomHorizontalFlipPose(0.5) if hflip else v2.Identity(),
        PhotometricRandAugment() if randaugment else v2.Identity(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(IMAGENET_MEAN, IMAGENET_STD) if normalize else v2.Identity(),
    ])


def eval_transform(image_size: int, normalize: bool = True) -> Callable[[Any], Any]:
    """The evaluation pipeline: resize the whole image to a square, float, normalise.

    The image is squashed rather than centre-cropped so no person box is cut.

    Args:
        image_size: side of the square output, in pixels.
        normalize: subtract ``IMAGENET_MEAN`` and divide by ``IMAGENET_STD``.

    Returns:
        A ``v2.Compose`` to pass as a dataset's ``transform``.
    """
    return v2.Compose([
        v2.Resize((image_size, image_size), antialias=True),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(IMAGENET_MEAN, IMAGENET_STD) if normalize else v2.Identity(),
    ])


def boxes_to_mask(
    boxes: torch.Tensor | Sequence[Sequence[float]],
    size: tuple[int, int],
    out_size: int | tuple[int, int] | None = None,
) -> torch.Tensor:
    """A human mask from person boxes: 1 inside any box, 0 outside.

    Each pixel gets the fraction of its area covered by a box (so a box with whole-pixel
    corners gives an exact 0/1 mask; a fractional edge gives values in between), and the mask
    is the maximum over boxes. With ``out_size`` the mask is average-pooled to that resolution,
    i.e. each cell holds the fraction of its area inside the boxes (e.g. the 14x14 target of a
    ViT-B/16 or a ResNet's stride-16 feature map).

    Args:
        boxes: [P, 4] 0-based XYXY pixel boxes (P may be 0); zero-area boxes add nothing.
        size: the image ``(H, W)`` the boxes live in.
        out_size: the output ``(H', W')`` (or one int for a square), or ``None`` for ``size``.

    Returns:
        float32 [H', W'] in [0, 1], on the boxes' device.
    """
    b = torch.as_tensor(boxes, dtype=torch.float32)
    b = b.as_subclass(torch.Tensor).reshape(-1, 4)  # [P, 4]
    h, w = size
    xs = torch.arange(w, dtype=torch.float32, device=b.device)  # pixel j covers [j, j + 1)
    ys = torch.arange(h, dtype=torch.float32, device=b.device)
    cover_x = (torch.minimum(b[:, 2:3], xs + 1) - torch.maximum(b[:, 0:1], xs)).clamp(0, 1)  # [P, W]
    cover_y = (torch.minimum(b[:, 3:4], ys + 1) - torch.maximum(b[:, 1:2], ys)).clamp(0, 1)  # [P, H]
    if len(b) == 0:
        mask = torch.zeros(h, w, device=b.device)
    else:
        mask = (cover_y[:, :, None] * cover_x[:, None, :]).amax(dim=0)  # [P, H, W] -> [H, W]
    if out_size is not None:
        mask = nnf.adaptive_avg_pool2d(mask[None, None], out_size)[0, 0]  # [1, 1, H, W] -> [H', W']
    return mask


class BatchMixUp:
    """Mixup on a collated batch, built on ``v2.MixUp``.

    Each image is blended with the next one in the batch (``lam ~ Beta(alpha, alpha)``) and the
    targets likewise, so integer ``label`` [B] becomes soft targets [B, C] (which
    ``F.cross_entropy`` accepts) and multi-hot ``labels`` [B, C] become soft multi-hot.
    Other keys (boxes, masks, ids) are left as they were: they describe the unmixed images.

    Args:
        alpha: the Beta distribution's parameter (> 0); small values mix little.
        num_classes: needed for integer ``label``; optional for multi-hot ``labels``.
    """

    def __init__(self, alpha: float = 0.2, num_classes: int | None = None) -> None:
        if alpha <= 0:
            raise ValueError(f"mixup needs alpha > 0, got {alpha}.")
        self.alpha, self.num_classes = float(alpha), num_classes
        self._mixup = v2.MixUp(alpha=self.alpha, num_classes=num_classes)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Return a copy of ``batch`` with ``image`` and ``label``/``labels`` mixed."""
        key = "labels" if "labels" in batch else "label"
        targets = batch[key]
        if targets.ndim == 1 and self.num_classes is None:
            raise ValueError("mixup on integer labels needs num_classes (e.g. len(dataset.classes)).")
        images, mixed = self._mixup(batch["image"].as_subclass(torch.Tensor), targets)
        return {**batch, "image": images, key: mixed}


def mixup(batch: dict[str, Any], num_classes: int | None = None, *, alpha: float = 0.2) -> dict[str, Any]:
    """Mix a collated batch once (see ``BatchMixUp``).

    Args:
        batch: a batch from ``harlearn.data.collate`` with a stacked ``image`` [B, 3, H, W].
        num_classes: the number of classes, needed when the batch has integer ``label``.
        alpha: the Beta distribution's parameter.

    Returns:
        The batch with mixed ``image`` and soft ``label`` [B, C] (or mixed ``labels``).
    """
    return BatchMixUp(alpha, num_classes)(batch)


def _flip_shift_params(size: tuple[int, int], max_shift: float, generator: torch.Generator | None):
    """(flip?, shift in x, shift in y) for one image of ``size`` = (H, W)."""
    h, w = size
    flip = bool(torch.rand((), generator=generator) < 0.5)
    sy, sx = int(h * max_shift), int(w * max_shift)
    dy = int(torch.randint(-sy, sy + 1, (), generator=generator)) if sy else 0
    dx = int(torch.randint(-sx, sx + 1, (), generator=generator)) if sx else 0
    return flip, dx, dy


def _shift_image(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Move the content of ``x`` [..., H, W] by (dx, dy) pixels, replicating the border."""
    h, w = x.shape[-2:]
    px, py = abs(dx), abs(dy)
    flat = x.reshape(-1, 1, h, w) if x.ndim != 4 else x  # replicate padding wants [N, C, H, W]
    padded = nnf.pad(flat.float(), (px, px, py, py), mode="replicate").to(x.dtype)
    top, left = py - dy, px - dx  # the window that moves the content by (dx, dy)
    return padded[..., top : top + h, left : left + w].reshape(x.shape)


def flip_shift(sample: Any, max_shift: float = 0.125, generator: torch.Generator | None = None) -> Any:
    """A random horizontal flip, then a random shift of up to ``max_shift`` of each side.

    The classic cheap augmentation of small-image training (e.g. CIFAR): no resampling, so it
    costs almost nothing on a CPU. The border is replicated into the uncovered strip.

    Args:
        sample: an item dict with a tensor ``image`` [3, H, W] (``boxes`` [P, 4] / ``box`` [4]
            in pixel xyxy, ``masks`` [P, H, W] and ``keypoints`` [P, K, 2 or 3] move with the
            pixels, flipped keypoints swap their COCO left/right names), or a batch of images
            [B, 3, H, W] (each image gets its own flip and shift).
        max_shift: the largest shift, as a fraction of the image side.
        generator: an optional torch generator (default: the global one).

    Returns:
        The same kind of object, augmented (a new dict; the input is not changed).
    """
    if isinstance(sample, torch.Tensor):
        if sample.ndim != 4:
            raise ValueError(f"flip_shift takes an item dict or a batch [B, 3, H, W], got shape {tuple(sample.shape)}.")
        out = []
        for x in sample:  # [3, H, W]
            flip, dx, dy = _flip_shift_params(tuple(x.shape[-2:]), max_shift, generator)
            out.append(_shift_image(x.flip(-1) if flip else x, dx, dy))
        return torch.stack(out)
    image = sample["image"]
    h, w = image.shape[-2:]
    flip, dx, dy = _flip_shift_params((h, w), max_shift, generator)
    out = dict(sample)
    out["image"] = _shift_image(image.flip(-1) if flip else image, dx, dy)
    for key in ("boxes", "box"):
        boxes = sample.get(key)
        if isinstance(boxes, torch.Tensor) and boxes.numel():
            b = boxes.as_subclass(torch.Tensor).clone().float()
            if flip:
                b[..., [0, 2]] = w - b[..., [2, 0]]
            b[..., [0, 2]] = (b[..., [0, 2]] + dx).clamp(0, w)
            b[..., [1, 3]] = (b[..., [1, 3]] + dy).clamp(0, h)
            out[key] = b
    masks = sample.get("masks")
    if isinstance(masks, torch.Tensor) and masks.numel():
        m = masks.as_subclass(torch.Tensor)
        m = m.flip(-1) if flip else m
        out["masks"] = _shift_image(m.to(torch.uint8), dx, dy).to(masks.dtype)
    keypoints = sample.get("keypoints")
    if isinstance(keypoints, torch.Tensor) and keypoints.numel():
        k = keypoints.as_subclass(torch.Tensor).clone().float()
        if flip:
            k[..., 0] = w - k[..., 0]
            if k.shape[-2] == len(COCO_FLIP_PERMUTATION):
                k = k[..., list(COCO_FLIP_PERMUTATION), :]
        k[..., 0] += dx
        k[..., 1] += dy
        out["keypoints"] = k
    return out


class FlipShift:
    """:func:`flip_shift` as a transform object (e.g. ``InMemory(data, augment=FlipShift())``).

    Args:
        max_shift: the largest shift, as a fraction of the image side.
    """

    def __init__(self, max_shift: float = 0.125) -> None:
        self.max_shift = max_shift

    def __call__(self, sample: Any) -> Any:
        return flip_shift(sample, self.max_shift)

    def __repr__(self) -> str:
        return f"FlipShift(max_shift={self.max_shift})"
