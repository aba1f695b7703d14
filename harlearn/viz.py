"""Plots for the chapters: curves, confusion matrices, image grids, annotated items, heatmaps.

Every function takes ``ax=None`` (a new figure is made when it is None) and returns the
matplotlib Figure or Axes it drew on, so that a chapter can add to it or save it. Images may be
torch tensors ``[3, H, W]`` (normalised floats are de-normalised with the ImageNet mean and
standard deviation of ``harlearn.data.transforms``), numpy arrays ``[H, W, 3]`` or PIL images.

The 17-keypoint skeleton follows the COCO keypoint convention (Lin et al., "Microsoft COCO:
Common Objects in Context", arXiv:1405.0312); ``COCO_SKELETON`` is COCO's list of limbs with
0-based indices. Both it and ``COCO_KEYPOINTS`` are defined once, with the SynthHAR figure
(:mod:`harlearn.data.synthhar.render.figure`), and imported here. :func:`grad_cam` lives in
:mod:`harlearn.explain` and is re-exported here.
"""

from __future__ import annotations

from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch
import torch.nn.functional as F
from matplotlib import patches
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from harlearn.data.synthhar.render.figure import KEYPOINTS as COCO_KEYPOINTS
from harlearn.data.synthhar.render.figure import SKELETON as COCO_SKELETON
from harlearn.explain import grad_cam  # re-exported: it used to live here

try:
    from harlearn.data.transforms import IMAGENET_MEAN, IMAGENET_STD
except ImportError:  # the same constants, for a checkout without harlearn.data.transforms
    IMAGENET_MEAN = (0.485, 0.456, 0.406)
    IMAGENET_STD = (0.229, 0.224, 0.225)

__all__ = [
    "COCO_KEYPOINTS",
    "COCO_SKELETON",
    "to_image_array",
    "plot_history",
    "plot_confusion_matrix",
    "show_images",
    "draw_item",
    "overlay_heatmap",
    "grad_cam",
]


def _color(i: int) -> tuple[float, float, float]:
    """The i-th color of matplotlib's tab10 cycle."""
    return plt.get_cmap("tab10")(i % 10)[:3]


def _np(x: Any) -> np.ndarray:
    """A numpy array from a tensor (any device), array, list or PIL image."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return (x.float() if x.is_floating_point() else x).numpy()
    return np.asarray(x)


def to_image_array(
    image: Any,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    denormalize: bool | None = None,
) -> np.ndarray:
    """An image as a float ``[H, W, 3]`` numpy array in ``[0, 1]`` for ``imshow``.

    Args:
        image: tensor or array ``[3, H, W]``, ``[H, W, 3]``, ``[H, W]`` (uint8 or float), or a
            PIL image.
        mean: per-channel mean used to de-normalise.
        std: per-channel standard deviation used to de-normalise.
        denormalize: ``True`` to compute ``x * std + mean``, ``False`` to show as is, ``None``
            (default) to de-normalise floats whose values leave ``[0, 1]``.

    Returns:
        The ``[H, W, 3]`` float array, clipped to ``[0, 1]``.
    """
    x = _np(image)
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3:
        raise ValueError(f"Expected one image [3, H, W] or [H, W, 3], got shape {x.shape}.")
    if x.shape[0] in (1, 3) and x.shape[-1] not in (1, 3):
        x = x.transpose(1, 2, 0)  # [C, H, W] -> [H, W, C]
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    else:
        x = x.astype(np.float32)
        if denormalize or (denormalize is None and (x.min() < 0 or x.max() > 1)):
            x = x * np.asarray(std, np.float32).reshape(-1)[: x.shape[-1]] + np.asarray(
                mean, np.float32
            ).reshape(-1)[: x.shape[-1]]
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return np.clip(x, 0.0, 1.0)


# --------------------------------------------------------------------------------------------
# Curves and matrices
# --------------------------------------------------------------------------------------------


def _columns(history: Any) -> dict[str, list]:
    """A History, a dict of lists or a list of records, as a dict of lists."""
    if hasattr(history, "as_dict"):
        return history.as_dict()
    if isinstance(history, dict):
        return {k: list(v) for k, v in history.items()}
    records = list(history)
    return {k: [r.get(k, np.nan) for r in records] for k in (records[0] if records else {})}


def plot_history(
    history: Any, metrics: Sequence[str] = ("loss", "acc"), ax: Axes | Sequence[Axes] | None = None
) -> Figure:
    """Training and validation curves, one panel per metric.

    Args:
        history: a ``harlearn.train.History``, a dict of lists or a list of epoch records.
        metrics: metric stems: ``"loss"`` draws ``train_loss`` and ``val_loss``; a full key
            such as ``"val_map"`` or ``"lr"`` draws that key alone.
        ax: one Axes per metric (or a single Axes for a single metric); default a new figure.

    Returns:
        The Figure.
    """
    cols = _columns(history)
    n = len(next(iter(cols.values()), []))
    epochs = cols.get("epoch", list(range(1, n + 1)))
    if ax is None:
        fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.2), squeeze=False)
        axes = list(axes[0])
    else:
        axes = [ax] if isinstance(ax, Axes) else list(ax)
        if len(axes) != len(metrics):
            raise ValueError(f"{len(metrics)} metrics need {len(metrics)} axes, got {len(axes)}.")
        fig = axes[0].figure
    for a, metric in zip(axes, metrics):
        keys = [metric] if metric in cols else [f"train_{metric}", f"val_{metric}"]
        drawn = False
        for key in keys:
            values = np.asarray(cols.get(key, []), dtype=float)
            if values.size and not np.all(np.isnan(values)):
                a.plot(epochs, values, marker="o", markersize=3, label=key.replace("_", " "))
                drawn = True
        if not drawn:
            raise KeyError(f"No values for {metric!r} in the history (keys: {sorted(cols)}).")
        a.set_xlabel("epoch")
        a.set_ylabel(metric)
        a.grid(alpha=0.3)
        a.legend()
    fig.tight_layout()
    return fig


def plot_confusion_matrix(
    cm: Any,
    class_names: Sequence[str] | None = None,
    normalize: bool = True,
    ax: Axes | None = None,
    annot: bool | None = None,
    cmap: str = "Blues",
) -> Axes:
    """A confusion matrix as a seaborn heatmap (rows = true class, columns = predicted).

    Args:
        cm: ``[C, C]`` counts, e.g. from ``harlearn.metrics.confusion_matrix``.
        class_names: ``C`` tick labels (default the indices).
        normalize: divide each row by its count, so the diagonal is the per-class recall.
        ax: where to draw; default a new figure sized to ``C``.
        annot: write the values in the cells; default only when ``C <= 16``.
        cmap: a matplotlib colormap name.

    Returns:
        The Axes.
    """
    cm = _np(cm).astype(np.float64)
    c = cm.shape[0]
    if normalize:
        rows = cm.sum(axis=1, keepdims=True)
        cm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    if ax is None:
        side = max(4.0, 0.35 * c + 2)
        _, ax = plt.subplots(figsize=(side + 1, side))
    names = list(class_names) if class_names is not None else [str(i) for i in range(c)]
    annot = c <= 16 if annot is None else annot
    sns.heatmap(
        cm, ax=ax, cmap=cmap, square=True, annot=annot, fmt=".2f" if normalize else ".0f",
        vmin=0, vmax=1 if normalize else None, xticklabels=names, yticklabels=names,
        cbar_kws={"label": "fraction of the true class" if normalize else "count"},
        annot_kws={"fontsize": 7},
    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.tick_params(axis="x", labelrotation=90)
    ax.tick_params(axis="y", labelrotation=0)
    return ax


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------


def _draw_boxes(
    ax: Axes, boxes: Any, color: Any = None, linewidth: float = 2.0, linestyle: str = "-",
    labels: Sequence[str] | None = None,
) -> None:
    """Rectangles for ``[P, 4]`` pixel ``xyxy`` boxes, each with an optional text label."""
    b = _np(boxes).reshape(-1, 4)
    for i, (x1, y1, x2, y2) in enumerate(b):
        c = color if color is not None else _color(i)
        ax.add_patch(patches.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=c,
                                       linewidth=linewidth, linestyle=linestyle))
        if labels is not None and i < len(labels):
            ax.text(x1, y1, labels[i], color="white", fontsize=7, va="bottom",
                    bbox={"facecolor": c, "alpha": 0.7, "pad": 1, "edgecolor": "none"})


def _new_ax(ax: Axes | None, size: float = 4.0) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=(size, size))
    return ax


def show_images(
    images: Any,
    titles: Sequence[str] | None = None,
    boxes: Sequence[Any] | None = None,
    ncols: int = 8,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    denormalize: bool | None = None,
    class_names: Sequence[str] | None = None,
    size: float = 2.0,
) -> Figure:
    """A grid of images, with person boxes drawn on them.

    Args:
        images: a batch tensor ``[B, 3, H, W]``, a list of images (tensors, arrays, PIL) or a
            list of dataset items (dicts with ``"image"``; their ``"boxes"`` are drawn and their
            ``"label"`` named when ``class_names`` is given).
        titles: one title per image (default: the class name or ``image_id`` of items).
        boxes: per image, ``[P, 4]`` pixel ``xyxy`` boxes to draw (default: the items' boxes).
        ncols: images per row.
        mean: de-normalisation mean (see :func:`to_image_array`).
        std: de-normalisation standard deviation.
        denormalize: see :func:`to_image_array`.
        class_names: names for the items' ``"label"`` indices.
        size: inches per image.

    Returns:
        The Figure.
    """
    items = list(images)
    n = len(items)
    if n == 0:
        raise ValueError("show_images got no images.")
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + 0.3) * nrows),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        item = items[i]
        image, item_boxes, title = item, None, None
        if isinstance(item, dict):
            image, item_boxes = item["image"], item.get("boxes")
            if class_names is not None and "label" in item:
                title = class_names[int(item["label"])]
            else:
                title = item.get("image_id")
        ax.imshow(to_image_array(image, mean, std, denormalize))
        if boxes is not None:
            item_boxes = boxes[i]
        if item_boxes is not None and len(item_boxes):
            _draw_boxes(ax, item_boxes, linewidth=1.5)
        if titles is not None:
            title = titles[i]
        if title is not None:
            ax.set_title(str(title), fontsize=8)
    fig.tight_layout()
    return fig


def draw_item(
    item: dict[str, Any],
    ax: Axes | None = None,
    show_masks: bool = True,
    show_keypoints: bool = True,
    show_objects: bool = True,
    class_names: Sequence[str] | None = None,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> Axes:
    """One dataset item with every annotation it carries, for the data tour.

    Draws the person boxes (``boxes``; a VOC item's own person ``box`` thicker, in white),
    bystander boxes (gray, dotted), the person masks (``masks`` ``[P, H, W]`` or ``mask``
    ``[H, W]``) as colored overlays, the 17 COCO keypoints and their skeleton (``keypoints``
    ``[P, 17, 3]`` or ``[17, 3]``; points with visibility 0 are skipped) and the object boxes
    with their names (``object_boxes``, ``object_names``). Whatever the item lacks is skipped.

    Args:
        item: a dataset item dict (see ``harlearn.data``).
        ax: where to draw; default a new figure.
        show_masks: overlay the person masks.
        show_keypoints: draw keypoints and skeleton.
        show_objects: draw object boxes and names.
        class_names: names for ``label`` (or multi-hot ``labels``) in the title.
        mean: de-normalisation mean (see :func:`to_image_array`).
        std: de-normalisation standard deviation.

    Returns:
        The Axes.
    """
    ax = _new_ax(ax)
    image = to_image_array(item["image"], mean, std)
    h, w = image.shape[:2]
    ax.imshow(image)
    extent = (-0.5, w - 0.5, h - 0.5, -0.5)  # masks of another size are stretched to the image

    masks = item.get("masks", item.get("mask"))
    if show_masks and masks is not None:
        m = _np(masks).astype(bool)
        for i, mask in enumerate(m.reshape(-1, *m.shape[-2:])):
            rgba = np.zeros((*mask.shape, 4), np.float32)
            rgba[mask] = (*_color(i), 0.45)
            ax.imshow(rgba, extent=extent, interpolation="nearest")

    if item.get("boxes") is not None:
        _draw_boxes(ax, item["boxes"])
    if item.get("box") is not None:
        _draw_boxes(ax, item["box"], color="white", linewidth=3.0)
    if item.get("bystander_boxes") is not None:
        _draw_boxes(ax, item["bystander_boxes"], color="0.6", linewidth=1.0, linestyle=":")

    if show_keypoints and item.get("keypoints") is not None:
        kps = _np(item["keypoints"]).reshape(-1, 17, 3)  # [P, 17, (x, y, visibility)]
        for i, person in enumerate(kps):
            visible = person[:, 2] > 0
            for a, b in COCO_SKELETON:
                if visible[a] and visible[b]:
                    ax.plot(person[[a, b], 0], person[[a, b], 1], color=_color(i), linewidth=2)
            ax.scatter(person[visible, 0], person[visible, 1], s=10, color="white",
                       edgecolors=[_color(i)], zorder=3)

    if show_objects and item.get("object_boxes") is not None:
        names = list(item.get("object_names") or [])
        _draw_boxes(ax, item["object_boxes"], color="black", linewidth=1.5, linestyle="--",
                    labels=names)

    title = [str(item["image_id"])] if "image_id" in item else []
    if class_names is not None and "label" in item:
        title.append(class_names[int(item["label"])])
    elif class_names is not None and "labels" in item:
        title.append(", ".join(c for c, y in zip(class_names, _np(item["labels"])) if y > 0))
    ax.set_title(": ".join(title), fontsize=9)
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.axis("off")
    return ax


def overlay_heatmap(
    image: Any,
    heatmap: Any,
    ax: Axes | None = None,
    alpha: float = 0.5,
    cmap: str = "jet",
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> Axes:
    """A heatmap (CAM, Grad-CAM, attention map...) laid over an image.

    The heatmap is resized bilinearly to the image and min-max scaled to ``[0, 1]``.

    Args:
        image: the image (see :func:`to_image_array`).
        heatmap: ``[h, w]`` scores at any resolution (leading size-1 dimensions are dropped).
        ax: where to draw; default a new figure.
        alpha: opacity of the heatmap.
        cmap: a matplotlib colormap name.
        mean: de-normalisation mean.
        std: de-normalisation standard deviation.

    Returns:
        The Axes.
    """
    ax = _new_ax(ax)
    img = to_image_array(image, mean, std)
    h, w = img.shape[:2]
    heat = torch.as_tensor(_np(heatmap), dtype=torch.float32).squeeze()
    if heat.ndim != 2:
        raise ValueError(f"heatmap must be 2-D [h, w], got shape {tuple(heat.shape)}.")
    heat = F.interpolate(heat[None, None], size=(h, w), mode="bilinear", align_corners=False)[0, 0]
    heat = (heat - heat.min()) / (heat.max() - heat.min()).clamp(min=1e-12)  # -> [0, 1]
    ax.imshow(img)
    ax.imshow(heat.numpy(), cmap=cmap, alpha=alpha, vmin=0.0, vmax=1.0)
    ax.axis("off")
    return ax
