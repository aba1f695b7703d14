"""Shared pieces of the dataset loaders: paths, errors, XML boxes, image decoding, item plumbing.

Both real-format loaders (``harlearn.data.stanford40``, ``harlearn.data.voc_action``)
read PASCAL-style XML with 1-based pixel boxes and JPEG images. This module turns those files
into the item conventions of the course (0-based ``xyxy`` float boxes, ``uint8`` RGB
``tv_tensors.Image``) and turns every way they can be broken into one sentence a user can act
on (a ``FileNotFoundError`` or ``ValueError`` naming the file and the fix), instead of a
traceback from deep inside a parser.

It also holds ``collate`` and ``apply_transform``, the two functions that move items
in and out of ``torchvision.transforms.v2`` and into batches.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image as PILImage
from torchvision import tv_tensors

__all__ = [
    "data_home",
    "collate",
    "apply_transform",
    "check_split",
    "read_lines",
    "parse_xml",
    "read_xml_box",
    "check_box",
    "read_image",
    "require",
    "to_boxes",
    "SYNTHHAR_HINT",
    "REDOWNLOAD_HINT",
]

#: The fix offered when an annotation file is missing.
REDOWNLOAD_HINT = "re-download the dataset (download=True) or regenerate SynthHAR"

#: The fix offered with every "dataset missing" error.
SYNTHHAR_HINT = (
    "pass download=True, put the official archives there, "
    "or generate SynthHAR with harlearn.data.make_synthhar(root)"
)

#: Pixels a box may stick out of the image before it is an error (it is clamped instead).
BOX_SLACK = 1.0


def data_home() -> Path:
    """Where datasets, downloads and caches live.

    Returns:
        ``$HARLEARN_DATA`` when set, else ``~/.cache/harlearn`` (never inside the repository).
    """
    return Path(os.environ.get("HARLEARN_DATA") or "~/.cache/harlearn").expanduser()


def check_split(split: str, allowed: Sequence[str], dataset: str) -> str:
    """Return ``split`` if it is one of ``allowed``; otherwise raise a ``ValueError`` listing them."""
    if split not in allowed:
        raise ValueError(
            f"Unknown {dataset} split {split!r}: use one of {', '.join(map(repr, allowed))}."
        )
    return split


def require(path: Path, what: str, fix: str) -> Path:
    """Return ``path`` if it exists; otherwise raise ``FileNotFoundError("No {what} at {path}: {fix}.")``."""
    if not path.exists():
        raise FileNotFoundError(f"No {what} at {path}: {fix}.")
    return path


def read_lines(path: Path) -> list[str]:
    """The non-empty, stripped lines of a text file (split lists, class lists)."""
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def parse_xml(path: Path) -> ET.Element:
    """Parse an annotation file, turning a parser error into a ``ValueError`` naming it."""
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as err:
        raise ValueError(
            f"Malformed XML in {path} ({err}): restore the file from the official archive "
            "(download=True) or regenerate the dataset."
        ) from None


def read_xml_box(obj: ET.Element, xml_path: Path) -> list[float]:
    """The ``<bndbox>`` of an ``<object>`` as 0-based ``[x1, y1, x2, y2]`` floats.

    The XML holds 1-based pixel coordinates; all four are shifted by -1 (see INTERFACES.md).

    Args:
        obj: an ``<object>`` element.
        xml_path: the file it came from, named in the error.

    Returns:
        The box, not yet checked against the image (see ``check_box``).

    Raises:
        ValueError: the box is missing or a coordinate is not a number.
    """
    bndbox = obj.find("bndbox")
    try:
        return [float(bndbox.findtext(k)) - 1.0 for k in ("xmin", "ymin", "xmax", "ymax")]
    except (AttributeError, TypeError, ValueError):
        raise ValueError(
            f"Malformed XML in {xml_path}: an <object> lacks a numeric <bndbox> "
            "(xmin, ymin, xmax, ymax); restore the file from the official archive."
        ) from None


def check_box(box: Sequence[float], size: tuple[int, int], xml_path: Path) -> list[float]:
    """Check a 0-based box against the image and clamp it into the canvas.

    A box may stick out of the image by up to ``BOX_SLACK`` (1 px, the off-by-one of
    1-based annotations); that much is clamped silently. More, or an inverted box, is an error.

    Args:
        box: 0-based ``[x1, y1, x2, y2]``.
        size: the image ``(H, W)``.
        xml_path: the annotation file, named in the error.

    Returns:
        The clamped box.

    Raises:
        ValueError: the box lies outside the image or has ``x2 < x1`` or ``y2 < y1``.
    """
    (x1, y1, x2, y2), (h, w) = box, size
    s = BOX_SLACK
    if x2 < x1 or y2 < y1 or x1 < -s or y1 < -s or x2 > w + s or y2 > h + s:
        xml_box = ", ".join(f"{v + 1:g}" for v in box)
        raise ValueError(
            f"Box (xmin, ymin, xmax, ymax) = ({xml_box}) in {xml_path} lies outside the "
            f"{w}x{h} image or is inverted: fix the annotation or restore it from the official archive."
        )
    return [min(max(x1, 0.0), w), min(max(y1, 0.0), h), min(max(x2, 0.0), w), min(max(y2, 0.0), h)]


def read_image(path: Path) -> tv_tensors.Image:
    """Decode an image file to a ``uint8`` RGB ``tv_tensors.Image`` of shape [3, H, W].

    Pillow decodes it (``torchvision.io``'s decoders are deprecated since torchvision 0.29);
    grayscale, palette and CMYK images become 3-channel RGB. No EXIF rotation is applied: the
    annotations refer to the stored pixel grid.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file cannot be decoded (corrupt or truncated).
    """
    if not path.is_file():
        raise FileNotFoundError(
            f"Image {path} is listed in the split but missing: re-download the dataset "
            "(download=True) or regenerate SynthHAR."
        )
    try:
        with PILImage.open(path) as im:
            array = np.asarray(im.convert("RGB"))  # [H, W, 3]
    except (OSError, ValueError, SyntaxError, PILImage.DecompressionBombError) as err:
        raise ValueError(
            f"Cannot decode image {path} ({err}): the file is corrupt or truncated; delete it "
            "and re-download the dataset (download=True) or regenerate SynthHAR."
        ) from None
    return tv_tensors.Image(torch.from_numpy(array.copy()).permute(2, 0, 1))  # [3, H, W]


def to_boxes(
    boxes: Iterable[Sequence[float]], size: tuple[int, int], clamp: bool = False
) -> tv_tensors.BoundingBoxes:
    """A ``BoundingBoxes`` [N, 4] float32 XYXY on a canvas of ``size`` (``(H, W)``); N may be 0.

    With ``clamp=True`` the boxes are clipped to the canvas first.
    """
    data = torch.tensor([list(b) for b in boxes], dtype=torch.float32).reshape(-1, 4)  # [N, 4]
    if clamp:
        data[:, 0::2] = data[:, 0::2].clamp(0, size[1])
        data[:, 1::2] = data[:, 1::2].clamp(0, size[0])
    return tv_tensors.BoundingBoxes(data, format="XYXY", canvas_size=tuple(size))


def apply_transform(item: dict[str, Any], transform: Callable | None) -> dict[str, Any]:
    """Run a ``torchvision.transforms.v2`` transform on a whole item so geometry follows the image.

    Two item fields are not tv_tensors and are wrapped for the call, then unwrapped:

    - ``box`` (VOC, float [4]) becomes ``BoundingBoxes`` [1, 4] and comes back as float [4];
    - ``keypoints`` ([..., 17, 3]: x, y, visibility) travel as ``tv_tensors.KeyPoints`` for
      x, y and a plain tensor ``keypoint_visibility``; they come back as [..., 17, 3] with the
      visibility set to 0 for points the transform moved outside the image.

    Args:
        item: a dataset item.
        transform: any callable on item dicts, or ``None`` for no change.

    Returns:
        The transformed item.
    """
    if transform is None:
        return item
    canvas = tuple(item["image"].shape[-2:])
    item = dict(item)
    if "box" in item:
        item["box"] = tv_tensors.BoundingBoxes(
            item["box"].reshape(1, 4), format="XYXY", canvas_size=canvas
        )
    if "keypoints" in item:
        kp = item.pop("keypoints")
        item["keypoints"] = tv_tensors.KeyPoints(kp[..., :2], canvas_size=canvas)
        item["keypoint_visibility"] = kp[..., 2]
    out = transform(item)
    if isinstance(out.get("box"), tv_tensors.BoundingBoxes):
        out["box"] = out["box"].as_subclass(torch.Tensor).reshape(4).float()
    if isinstance(out.get("keypoints"), tv_tensors.KeyPoints):
        h, w = out["keypoints"].canvas_size
        xy = out["keypoints"].as_subclass(torch.Tensor)  # [..., 17, 2]
        inside = (xy[..., 0] >= 0) & (xy[..., 0] <= w - 1) & (xy[..., 1] >= 0) & (xy[..., 1] <= h - 1)
        vis = out.pop("keypoint_visibility").to(xy.dtype)
        out["keypoints"] = torch.cat([xy, torch.where(inside, vis, 0.0)[..., None]], dim=-1)
    return out


#: Keys that ``collate`` stacks into one tensor (``image`` and ``video`` only when all shapes agree).
STACKED_KEYS = ("image", "video", "label", "labels", "box", "text")


def collate(batch: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch a list of items for a ``DataLoader`` (``collate_fn=collate``).

    - ``image``: stacked to [B, 3, H, W] when all images have the same shape, else a list;
      ``video`` (clips, :class:`harlearn.data.UCF101`) likewise to [B, 3, T, H, W];
    - ``label`` (int or soft-target tensor), ``labels`` [B, C], ``box`` [B, 4] and ``text`` (token
      ids [L], :class:`harlearn.data.captions.CaptionDataset`) -> [B, L]: stacked;
    - other ints (e.g. ``person_index``): a ``long`` tensor [B];
    - everything else that varies per image (``boxes``, ``masks``, ``mask``, ``keypoints``,
      ``object_boxes``, ``object_names``, ``bystander_boxes``, ``image_id``): a list of length B,
      with ``None`` for an item that lacks the key (e.g. an image without a sidecar).

    Args:
        batch: items from a dataset.

    Returns:
        One dict with the same keys.
    """
    out: dict[str, Any] = {}
    for key in dict.fromkeys(k for item in batch for k in item):  # every key, in first-seen order
        values = [item.get(key) for item in batch]
        if key in STACKED_KEYS and all(isinstance(v, torch.Tensor) for v in values):
            if len({tuple(v.shape) for v in values}) == 1:
                out[key] = torch.stack([v.as_subclass(torch.Tensor) for v in values])
            else:
                out[key] = values
        elif all(isinstance(v, (bool, int)) for v in values):
            out[key] = torch.tensor(values, dtype=torch.long)
        else:
            out[key] = values
    return out
