"""The pretraining corpus, read from its on-disk format: the data the course checkpoints learn from.

The corpus (:mod:`harlearn.data.synthhar.corpus`, which also documents the format) is
SynthHAR's stand-in for ImageNet: posed people and free-standing objects, labelled with 29
multi-label names (objects present, pose primitives, several people) that are not the course's
actions. :class:`PretrainingCorpus` gives its items in the course's conventions, with
multi-hot ``labels`` as the VOC layout has, so :func:`harlearn.train.fit` trains on it with
binary cross-entropy and reports the validation mAP.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from ._common import apply_transform, check_split, read_image, read_lines, require, to_boxes

__all__ = ["PretrainingCorpus"]

_HINT = "generate it with harlearn.data.synthhar.corpus.corpus_root() (or make_corpus(root))"


class PretrainingCorpus(Dataset):
    """The SynthHAR pretraining corpus: one item per image, multi-hot labels.

    Args:
        root: the corpus folder (``corpus.json``, ``labels.txt``, ``<split>.csv``,
            ``annotations/``, ``JPEGImages/``).
        split: ``"train"`` or ``"val"``.
        transform: a ``torchvision.transforms.v2`` transform (or any callable) on the whole item.

    Attributes:
        classes: the label names in column order (``labels.txt``).
        targets: every item's multi-hot labels as a list of 0 / 1 (no image decoded).

    Each item is a dict:

    - ``image``: ``tv_tensors.Image`` uint8 [3, H, W], RGB;
    - ``labels``: float32 [K] multi-hot over ``classes``;
    - ``boxes``: ``tv_tensors.BoundingBoxes`` float32 [P, 4], 0-based XYXY, the people;
    - ``keypoints``: float32 [P, 17, 3] (x, y, COCO visibility);
    - ``object_boxes`` [O, 4] and ``object_names`` (list of str): the objects drawn;
    - ``image_id``: e.g. ``train_000001``.

    Raises:
        FileNotFoundError: the root or one of its files is missing.
        ValueError: unknown split, or a CSV whose header does not match ``labels.txt``.
    """

    SPLITS = ("train", "val")

    def __init__(
        self, root: str | os.PathLike, split: str = "train", transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    ) -> None:
        self.root = Path(root).expanduser()
        self.split = check_split(split, self.SPLITS, "pretraining corpus")
        self.transform = transform
        require(self.root, "pretraining corpus", _HINT)
        self.classes = read_lines(require(self.root / "labels.txt", "corpus label list", _HINT))
        csv = require(self.root / f"{split}.csv", f"corpus {split} label file", _HINT)
        lines = read_lines(csv)
        header = lines[0].split(",")
        if header[1:] != self.classes:
            raise ValueError(f"The header of {csv} does not match {self.root / 'labels.txt'}: regenerate the corpus.")
        rows = [line.split(",") for line in lines[1:]]
        self.image_ids = [r[0] for r in rows]
        self.targets = [[int(v) for v in r[1:]] for r in rows]
        ann = require(self.root / "annotations" / f"{split}.jsonl", f"corpus {split} annotations", _HINT)
        with open(ann, encoding="utf-8") as f:
            self._annotations = [json.loads(line) for line in f if line.strip()]
        if [a["image_id"] for a in self._annotations] != self.image_ids:
            raise ValueError(f"{ann} and {csv} list different images: regenerate the corpus.")
        self._images = self.root / "JPEGImages"

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        ann = self._annotations[index]
        image = read_image(self._images / f"{ann['image_id']}.jpg")
        size = tuple(image.shape[-2:])  # (H, W)
        persons, objects = ann["persons"], ann["objects"]
        keypoints = torch.tensor([p["keypoints"] for p in persons], dtype=torch.float32).reshape(len(persons), 17, 3)
        item: dict[str, Any] = {
            "image": image,
            "labels": torch.tensor(self.targets[index], dtype=torch.float32),
            "boxes": to_boxes([p["box"] for p in persons], size),
            "keypoints": keypoints,
            "object_boxes": to_boxes([o["box"] for o in objects], size),
            "object_names": [o["name"] for o in objects],
            "image_id": ann["image_id"],
        }
        return apply_transform(item, self.transform)

    def __repr__(self) -> str:
        return f"PretrainingCorpus(split={self.split!r}, {len(self)} images, {len(self.classes)} labels, root='{self.root}')"
