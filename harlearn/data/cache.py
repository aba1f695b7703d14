"""Decode a dataset once and keep it in memory: the cache every CPU chapter uses.

On two CPU cores, decoding and resizing a JPEG costs about as much as a forward pass of the
course's small models, so the ``ci`` and ``book`` profiles read each image once.
:class:`InMemory` does it for both layouts (one item per image, Stanford40; one per person, VOC
2012 Action) and for two uses:

- **tensor mode** (no ``transform``): the wrapped dataset's own transform (e.g.
  ``transforms.eval_transform(S)``) resizes once; the items are kept as plain tensors and an
  optional cheap ``augment`` on tensors (e.g. :func:`harlearn.data.transforms.flip_shift`) runs
  on every access. ``.images`` then gives all images stacked ``[N, 3, H, W]``.
- **item mode** (a ``transform``): the decoded items (``tv_tensors`` kept) are cached and the
  full augmentation pipeline (e.g. ``transforms.train_transform(S)``) runs on every access.

``.with_transform(...)`` / ``.plain()`` give views that share the cache (the test-time view of a
training cache costs nothing). ``targets``, ``classes`` and ``root`` are passed through, so code
written for the real datasets keeps working. :class:`TensorItems` is the same for tensors a
chapter has already computed (precomputed features, stacked clips, flow fields, skeletons). Not a
paper's method.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.utils.data import Dataset

__all__ = ["InMemory", "TensorItems", "DEFAULT_KEYS"]

# What a classifier and the course's measurements read; other sidecar keys are dropped.
DEFAULT_KEYS: tuple[str, ...] = (
    "image", "label", "labels", "box", "boxes", "image_id", "person_index",
    "masks", "keypoints", "object_boxes", "object_names",
)


def _plain(value: Any) -> Any:
    """A ``tv_tensors`` value as a plain tensor (other values unchanged)."""
    return value.as_subclass(torch.Tensor) if isinstance(value, torch.Tensor) else value


class InMemory(Dataset):
    """A dataset decoded once (at the size its own transform gives) and kept in memory.

    Args:
        dataset: any dataset of item dicts (``Stanford40``, ``VOCAction``, a ``Subset``...).
        keys: the item keys to keep (missing ones are skipped); ``None`` keeps every key.
        transform: applied to a copy of the cached item on every access (item mode). Without
            it, tensors are kept as plain tensors (tensor mode).
        augment: tensor mode only: ``augment(item) -> item`` on every access, e.g.
            ``transforms.flip_shift`` (it moves the boxes with the pixels).
        half: store images in float16 (half the memory; returned as float32).
        progress: show a progress bar while decoding.
    """

    def __init__(
        self,
        dataset: Dataset,
        keys: Sequence[str] | None = DEFAULT_KEYS,
        *,
        transform: Callable[[dict], dict] | None = None,
        augment: Callable[[dict], dict] | None = None,
        half: bool = False,
        progress: bool = False,
    ) -> None:
        if transform is not None and augment is not None:
            raise ValueError("Give InMemory a transform (item mode) or an augment (tensor mode), not both.")
        from tqdm.auto import tqdm

        self.transform, self.augment, self.half = transform, augment, half
        self.classes = getattr(dataset, "classes", None)
        self.root = getattr(dataset, "root", None)
        keep = None if keys is None else set(keys)
        self.items: list[dict[str, Any]] = []
        for i in tqdm(range(len(dataset)), desc="decode", leave=False, disable=not progress):
            item = dataset[i]
            item = {k: v for k, v in item.items() if keep is None or k in keep}
            if transform is None:  # tensor mode: plain tensors, optionally half precision
                item = {k: _plain(v) for k, v in item.items()}
                if half and isinstance(item.get("image"), torch.Tensor):
                    item["image"] = item["image"].half()
            self.items.append(item)
        self.targets = [self._target(item) for item in self.items]

    @staticmethod
    def _target(item: dict[str, Any]) -> Any:
        """The label an item is stratified by: the class index, or the multi-hot vector."""
        if "label" in item:
            return int(item["label"])
        labels = item.get("labels")
        return labels.tolist() if isinstance(labels, torch.Tensor) else labels

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = dict(self.items[i])  # a shallow copy: transforms never change the cache
        if self.transform is not None:
            return self.transform(item)
        if self.half and isinstance(item.get("image"), torch.Tensor):
            item["image"] = item["image"].float()
        return self.augment(item) if self.augment is not None else item

    @property
    def images(self) -> torch.Tensor:
        """All images stacked, ``[N, 3, H, W]`` float32 (tensor mode, equal sizes)."""
        images = [item["image"] for item in self.items]
        if not all(isinstance(x, torch.Tensor) for x in images) or len({x.shape for x in images}) > 1:
            raise ValueError("InMemory.images needs tensor images of one size: wrap a dataset whose "
                             "transform resizes (e.g. transforms.eval_transform(S)) and give no transform.")
        return torch.stack([_plain(x) for x in images]).float()

    def column(self, key: str) -> list[Any]:
        """One key of every item, e.g. ``cache.column("boxes")``."""
        return [item.get(key) for item in self.items]

    def with_transform(
        self, transform: Callable[[dict], dict] | None = None, augment: Callable[[dict], dict] | None = None
    ) -> "InMemory":
        """A view sharing this cache, with another transform / augment (or none)."""
        view = copy.copy(self)
        view.transform, view.augment = transform, augment
        return view

    def plain(self) -> "InMemory":
        """The same items without augmentation or transform (e.g. the test-time view)."""
        return self.with_transform(None, None)

    def __repr__(self) -> str:
        mode = "item" if self.transform is not None else "tensor"
        return f"InMemory({len(self)} items, {mode} mode, augment={self.augment is not None})"


class TensorItems(Dataset):
    """Stacked tensors as the course's item dicts, ``{"image": x[i], "label": y[i]}``.

    What :func:`harlearn.train.fit` and :func:`harlearn.inference.predict` read, for inputs a
    chapter has computed itself: a locked trunk's features ``[N, F]``, clips ``[N, 3, T, H, W]``,
    optical flow, skeletons ``[N, T, 17, 3]``.

    Args:
        x: the inputs, first dimension ``N``.
        y: the class indices ``[N]`` (or multi-hot labels ``[N, C]``, returned as ``"labels"``).
        transform: applied to ``x[i]`` on every access (resizing, a random flip...).
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor | Sequence[int],
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        y = torch.as_tensor(y)
        if len(x) != len(y):
            raise ValueError(f"TensorItems got {len(x)} inputs and {len(y)} labels: give one label per input.")
        self.x, self.y, self.transform = x, y, transform
        self.targets = y.tolist()

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, Any]:
        x = self.x[i] if self.transform is None else self.transform(self.x[i])
        if self.y.ndim == 1:
            return {"image": x, "label": int(self.y[i])}
        return {"image": x, "labels": self.y[i]}
