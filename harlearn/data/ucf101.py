"""UCF101 in its official layout, and SynthHAR clips, which are written in it.

UCF101 (Soomro, Zamir and Shah, *UCF101: A Dataset of 101 Human Actions Classes From Videos in
The Wild*, arXiv:1212.0402): 13,320 clips of 101 actions from YouTube, in 25 groups (a group is
one actor and setting; the three official splits never share a group between train and test).
The official archives (``UCF101.rar``, ``UCF101TrainTestSplits-RecognitionTask.zip``, from the
dataset's page at the University of Central Florida) extract to::

    UCF-101/<Class>/v_<Class>_gGG_cCC.avi
    ucfTrainTestlist/classInd.txt               "1 ApplyEyeMakeup" ... (1-based)
    ucfTrainTestlist/trainlist0{1,2,3}.txt       "<Class>/v_<Class>_gGG_cCC.avi <index>"
    ucfTrainTestlist/testlist0{1,2,3}.txt        "<Class>/v_<Class>_gGG_cCC.avi"

(Put both under one ``root``. The file names are taken from the lists as they are: the real
lists have a folder ``HandstandPushups`` holding ``v_HandStandPushups_...`` files.) SynthHAR
clips (:func:`harlearn.data.synthhar.clips.clips_root`) are written in this layout, with an
``Extras/`` sidecar of exact per-frame keypoints that :class:`UCF101` exposes when present.

Frames are sampled as in TSN / ViViT's evaluation: ``num_frames`` indices spread uniformly over
the clip (the centres of ``num_frames`` equal segments); with ``random_offset=True`` (training)
each index moves to a random frame of its segment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ._common import check_split, read_lines, require
from .video_io import read_video

__all__ = ["UCF101", "sample_indices", "UCF101_HINT"]

UCF101_HINT = (
    "download UCF101.rar and UCF101TrainTestSplits-RecognitionTask.zip from the UCF101 page "
    "(University of Central Florida, CRCV) and extract both there, or generate SynthHAR clips with "
    "harlearn.data.synthhar.clips.clips_root()"
)


def sample_indices(length: int, num_frames: int, rng: np.random.Generator | None = None) -> list[int]:
    """``num_frames`` frame numbers spread over a clip of ``length`` frames.

    Args:
        length: Frames in the clip.
        num_frames: Frames wanted.
        rng: When given, a random frame of each segment instead of its centre (training).

    Returns:
        Increasing indices (repeated when the clip is shorter than ``num_frames``). Without
        ``rng`` they are symmetric, ``idx[n-1-k] = length-1-idx[k]`` (the first half is rounded
        down, the second mirrors it), so a clip and the same clip played backwards give the same
        set of frames: a model that ignores frame order cannot tell them apart by the sampling.
    """
    edges = np.linspace(0, length, num_frames + 1)  # segment borders
    if rng is not None:
        idx = edges[:-1] + rng.random(num_frames) * (edges[1:] - edges[:-1])
        return [int(min(length - 1, max(0, np.floor(i)))) for i in idx]
    centres = (edges[:-1] + edges[1:]) / 2
    first = [int(min(length - 1, np.floor(c))) for c in centres[: (num_frames + 1) // 2]]
    return first + [length - 1 - i for i in reversed(first[: num_frames // 2])]


class UCF101(Dataset):
    """UCF101 (or SynthHAR clips): one action label per clip.

    Args:
        root: the folder holding ``UCF-101/`` and ``ucfTrainTestlist/``.
        split: ``"train"`` or ``"test"``.
        fold: the official split, 1 to 3 (SynthHAR clips have split 1 only).
        num_frames: frames sampled per clip ``T`` (:func:`sample_indices`); ``None`` keeps all.
        random_offset: sample a random frame of each segment (training) instead of its centre.
        size: when given, frames are resized (shorter side, bilinear) and centre-cropped to
            ``size x size``; real UCF101 is 320 x 240.
        transform: a callable applied to the item dict (e.g. normalisation of ``video``).
        seed: seed of the random offsets (each item draws from ``(seed, epoch, index)``; call
            :meth:`set_epoch` to vary them per epoch).

    Attributes:
        classes: the class names in ``classInd.txt`` order; ``label`` indexes this list.

    Each item is a dict:

    - ``video``: float32 ``[3, T, H, W]`` in ``[0, 1]`` (the layout video models take, batched
      ``[B, C, T, H, W]``);
    - ``label``: int, index into ``classes``;
    - ``video_id``: ``v_<Class>_gGG_cCC``; ``frame_indices``: the frames taken;
    - with a sidecar only: ``keypoints`` float32 ``[T, 17, 3]`` (the actor's COCO keypoints,
      x, y, visibility, in the pixels of the returned frames) and ``box`` ``[T, 4]``.

    Raises:
        FileNotFoundError: the root, the lists or a listed clip is missing.
        ValueError: an unknown split or fold, a class outside ``classInd.txt``; when an item is
            read, a corrupt video.
    """

    SPLITS = ("train", "test")

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        *,
        fold: int = 1,
        num_frames: int | None = 8,
        random_offset: bool = False,
        size: int | None = None,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        seed: int = 0,
    ) -> None:
        self.root = Path(root).expanduser()
        self.split = check_split(split, self.SPLITS, "UCF101")
        if fold not in (1, 2, 3):
            raise ValueError(f"UCF101 has official splits 1, 2 and 3, got fold={fold!r}.")
        self.num_frames, self.random_offset, self.size, self.transform = num_frames, random_offset, size, transform
        self.seed, self.epoch = seed, 0
        require(self.root, "UCF101 dataset", UCF101_HINT)
        self._videos = require(self.root / "UCF-101", "UCF101 videos (UCF-101/)", UCF101_HINT)
        lists = require(self.root / "ucfTrainTestlist", "UCF101 split lists (ucfTrainTestlist/)", UCF101_HINT)
        ind = require(lists / "classInd.txt", "UCF101 class list", UCF101_HINT)
        pairs = [line.split() for line in read_lines(ind)]
        try:
            pairs = sorted((int(i), name) for i, name in pairs)
        except ValueError:
            raise ValueError(f"{ind} must hold lines '<index> <Class>': restore it from the split archive.") from None
        self.classes = [name for _, name in pairs]
        self.class_to_idx = {name.lower(): i for i, name in enumerate(self.classes)}
        listed = require(lists / f"{split}list0{fold}.txt", f"UCF101 {split} list for split {fold}", UCF101_HINT)
        present: dict[str, set[str]] = {}
        self._clips: list[tuple[str, int]] = []
        for line in read_lines(listed):
            rel = line.split()[0]
            folder = rel.split("/")[0]
            if folder.lower() not in self.class_to_idx:
                raise ValueError(f"{listed}: class {folder!r} of {rel} is not in {ind}; fix the list or the class file.")
            if folder not in present:
                present[folder] = set(os.listdir(self._videos / folder)) if (self._videos / folder).is_dir() else set()
            if rel.split("/", 1)[1] not in present[folder]:
                raise FileNotFoundError(f"Clip {self._videos / rel} is listed in {listed} but missing: {UCF101_HINT}.")
            self._clips.append((rel, self.class_to_idx[folder.lower()]))

    @property
    def targets(self) -> list[int]:
        """The label of every item, in order (no video is decoded)."""
        return [label for _, label in self._clips]

    @property
    def video_ids(self) -> list[str]:
        """The ``video_id`` of every item, in order."""
        return [Path(rel).stem for rel, _ in self._clips]

    def set_epoch(self, epoch: int) -> None:
        """Draw other random offsets (``random_offset=True``) from now on."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self._clips)

    def _resize(self, video: torch.Tensor) -> tuple[torch.Tensor, float, float, float]:
        """``[3, T, H, W]`` -> ``[3, T, size, size]``; returns the scale and the crop offsets."""
        H, W = video.shape[-2:]
        k = self.size / min(H, W)
        h, w = max(self.size, round(H * k)), max(self.size, round(W * k))
        video = torch.nn.functional.interpolate(video.transpose(0, 1), size=(h, w), mode="bilinear", align_corners=False, antialias=True)
        top, left = (h - self.size) // 2, (w - self.size) // 2
        return video[..., top: top + self.size, left: left + self.size].transpose(0, 1), k, left, top

    def __getitem__(self, index: int) -> dict[str, Any]:
        rel, label = self._clips[index]
        frames = read_video(self._videos / rel)  # [T_all, H, W, 3] uint8
        if self.num_frames is None:
            idx = list(range(len(frames)))
        else:
            rng = np.random.default_rng([self.seed, self.epoch, index]) if self.random_offset else None
            idx = sample_indices(len(frames), self.num_frames, rng)
        video = torch.from_numpy(frames[idx]).permute(3, 0, 1, 2).float().div_(255)  # [3, T, H, W]
        k, left, top = 1.0, 0.0, 0.0
        if self.size is not None:
            video, k, left, top = self._resize(video)
        item: dict[str, Any] = {"video": video.contiguous(), "label": label, "video_id": Path(rel).stem, "frame_indices": idx}
        sidecar = self.root / "Extras" / Path(rel).with_suffix(".json")
        if sidecar.is_file():
            rec = json.loads(sidecar.read_text(encoding="utf-8"))
            kp = torch.tensor(rec["keypoints"], dtype=torch.float32)[idx]  # [T, 17, 3]
            box = torch.tensor(rec["boxes"], dtype=torch.float32)[idx]  # [T, 4]
            if self.size is not None:  # into the returned frames' pixels (pixel i covers [i - 0.5, i + 0.5])
                kp[..., 0] = (kp[..., 0] + 0.5) * k - 0.5 - left
                kp[..., 1] = (kp[..., 1] + 0.5) * k - 0.5 - top
                box[:, [0, 2]] = (box[:, [0, 2]] + 0.5) * k - 0.5 - left
                box[:, [1, 3]] = (box[:, [1, 3]] + 0.5) * k - 0.5 - top
            item.update(keypoints=kp, box=box)
        return self.transform(item) if self.transform is not None else item

    def __repr__(self) -> str:
        return f"UCF101(split={self.split!r}, {len(self)} clips, {len(self.classes)} classes, root='{self.root}')"
