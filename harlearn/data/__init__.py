"""Datasets of the course, in their real on-disk formats, and the transforms that go with them.

- ``Stanford40``: Stanford 40 Actions (one label per image, person boxes);
- ``VOCAction``: PASCAL VOC 2012 Action (one item per person, ten multi-hot actions);
- ``make_synthhar`` / ``synthhar_root``: SynthHAR, the embedded procedural dataset that is
  written in both layouts above, so the same loaders read it (imported on first use);
- ``UCF101``: UCF101's layout (one action per clip; ``video`` [3, T, H, W]), which SynthHAR
  clips (:mod:`harlearn.data.synthhar.clips`, ``clips_root``) are written in;
- ``PretrainingCorpus``: SynthHAR's pretraining corpus (the course checkpoints' "ImageNet":
  posed people and objects, 29 multi-hot labels that are not the course actions);
- ``collate``: the ``DataLoader`` ``collate_fn`` for the item dicts;
- ``data_home``: where datasets and downloads live (``$HARLEARN_DATA``, else ``~/.cache/harlearn``);
- ``course_root`` / ``course_datasets``: the datasets a chapter uses for the current profile
  (SynthHAR in ``ci`` and ``book``; in ``full`` the real data, Stanford40 in
  ``$HARLEARN_DATA/stanford40/`` and VOC in ``$HARLEARN_DATA/voc2012/``); ``cached_datasets``: the same,
  decoded once and kept in memory (``InMemory``) with cheap augmentation in ``ci`` / ``book``;
- ``CaptionDataset`` / ``caption_datasets``: SynthHAR image-caption pairs for CLIP
  (:mod:`harlearn.data.captions`; the captions are derived from the sidecar annotations by
  :mod:`harlearn.data.synthhar.captions`; imported on first use);
- ``harlearn.data.transforms``: box-aware augmentation, human masks from boxes, mixup.

Items are dicts with 0-based pixel ``xyxy`` float boxes; see each dataset's docstring.
"""

from __future__ import annotations

from typing import Any

from . import transforms
from ._common import collate, data_home
from .cache import InMemory, TensorItems
from .corpus import PretrainingCorpus
from .course import cached_datasets, course_datasets, course_root
from .stanford40 import Stanford40
from .ucf101 import UCF101
from .voc_action import VOC_ACTIONS, VOCAction

__all__ = [
    "Stanford40",
    "VOCAction",
    "UCF101",
    "VOC_ACTIONS",
    "PretrainingCorpus",
    "collate",
    "data_home",
    "course_root",
    "course_datasets",
    "cached_datasets",
    "InMemory",
    "TensorItems",
    "transforms",
    "make_synthhar",
    "synthhar_root",
    "CaptionDataset",
    "caption_datasets",
]

_LAZY = ("make_synthhar", "synthhar_root")
_LAZY_CAPTIONS = ("CaptionDataset", "caption_datasets")


def __getattr__(name: str) -> Any:
    # SynthHAR is imported on first use (PEP 562): importing harlearn.data stays light, and
    # ``python -m harlearn.data.synthhar`` does not find its module half-imported by the package.
    if name in _LAZY:
        from . import synthhar

        return getattr(synthhar, name)
    if name in _LAZY_CAPTIONS:
        from . import captions

        return getattr(captions, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
