"""SynthHAR clips: short videos of one animated person, in UCF101's on-disk layout.

The still images cannot show what the course's last chapter is about: actions that no single
frame tells apart. These clips can (:mod:`.render.motions`): three **time-reversal pairs**
(``SittingDown`` / ``StandingUp``, ``PuttingOnHat`` / ``TakingOffHat``, ``OpeningLaptop`` /
``ClosingLaptop``: each class is the other played backwards), one **rhythm pair**
(``FastClapping`` / ``SlowClapping``: the same poses at about three beats per clip or one),
and four **appearance classes** a single frame solves (``Biking``, ``JumpingJack``,
``PlayingGuitar``, ``WalkingWithDog``). The people, objects, bystanders, clutter and
backgrounds are the still images' (:mod:`.render.clip_scene`).

On disk (``root``), UCF101's layout, so :class:`harlearn.data.UCF101` reads it and a real
UCF101 tree alike::

    UCF-101/<Class>/v_<Class>_gGG_cCC.avi     MPEG-4 (XviD's codec), T frames (harlearn.data.video_io)
    ucfTrainTestlist/classInd.txt             "1 Biking" ... (1-based, sorted)
    ucfTrainTestlist/trainlist01.txt          "<Class>/v_<Class>_gGG_cCC.avi <index>"
    ucfTrainTestlist/testlist01.txt           "<Class>/v_<Class>_gGG_cCC.avi"
    Extras/<Class>/v_<Class>_gGG_cCC.json     per frame: the actor's COCO keypoints [17 x (x, y, v)]
                                              and box, bystander boxes, object names and boxes
    synthclips.json                           arguments, version, classes, pairs, counts, seed keys

As in UCF101's split 1, the test clips are groups ``g01``-``g07`` and the training clips
groups ``g08``-``g25`` (a SynthHAR group is only a number: every clip has its own person and
scene, so no group shares anything across the split).

**Seeds**: clip ``j`` of class ``c`` in split ``s`` is drawn from
``SeedSequence([seed, 3, s, c, j])``. The course images use ``[seed, 0 | 1, ...]`` (Stanford40,
VOC; :mod:`.build`) and the pretraining corpus ``[seed, 2, ...]`` (:mod:`.corpus`), so no clip
shares its random stream with any still image (``tests/test_synthhar_clips.py`` checks the states).

Generation is cached like the other SynthHAR datasets: :func:`clips_root` names a folder after
the arguments and the generator version under ``data_home()/"synthhar-clips"``, generates it
into a temporary sibling and renames it into place. Same arguments, same bytes, whatever the
number of workers.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .build import _workers, install_folder, render_in_order
from .render.clip_scene import render_clip
from .render.figure import KEYPOINTS, SKELETON
from .render.motions import APPEARANCE_CLASSES, CLIP_CLASSES, REVERSAL_PAIRS, RHYTHM_PAIRS

__all__ = [
    "CLIPS_VERSION", "CLIPS_LAYOUT_CODE", "CLIP_CLASSES", "REVERSAL_PAIRS", "RHYTHM_PAIRS", "APPEARANCE_CLASSES",
    "PROFILE_CLIPS", "make_clips", "clips_root", "clips_arguments", "clips_key", "clip_seed_keys", "is_same_clips",
]

#: Bumped whenever the same arguments would give different clips.
CLIPS_VERSION = "1.0"
#: The second entry of every clip's seed key (course images: 0, 1; pretraining corpus: 2).
CLIPS_LAYOUT_CODE = 3
_SPLIT_CODE = {"train": 0, "test": 1}
_TEST_GROUPS, _TRAIN_GROUPS = (1, 7), (8, 25)  # UCF101 split 1
#: Sizes per profile (:func:`clips_root` reads them; the chapter may override any).
#: An odd frame count puts a frame at the clip's exact middle (``u = 0.5``), the one moment at
#: which the two classes of a time-reversal pair are drawn from the same distribution (any other
#: fixed moment gives the direction away: sitting down starts standing).
PROFILE_CLIPS: dict[str, dict[str, int]] = {
    "ci": dict(clips_per_class=6, test_clips_per_class=4, frames=9, frame_size=48),
    "book": dict(clips_per_class=40, test_clips_per_class=20, frames=17, frame_size=64),
    "full": dict(clips_per_class=100, test_clips_per_class=50, frames=17, frame_size=128),  # 128: RAFT's smallest
}


def clips_arguments(clips_per_class: int, test_clips_per_class: int | None, frames: int, frame_size: int,
                    fps: int = 8, seed: int = 0, bystanders: bool = True) -> dict[str, Any]:
    """Validate the generator arguments and return them in canonical (JSON-able) form."""
    test = clips_per_class if test_clips_per_class is None else test_clips_per_class
    for name, v, lo in (("clips_per_class", clips_per_class, 1), ("test_clips_per_class", test, 1), ("frames", frames, 2),
                        ("frame_size", frame_size, 16), ("fps", fps, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"SynthHAR clips: {name} must be an integer >= {lo}, got {v!r}.")
    if frame_size % 2:
        raise ValueError(f"SynthHAR clips: frame_size must be even (MPEG-4), got {frame_size}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"SynthHAR clips: seed must be an integer in [0, 2**32), got {seed!r}.")
    limit = 99 * (_TEST_GROUPS[1] - _TEST_GROUPS[0] + 1)
    if test > limit:
        raise ValueError(f"SynthHAR clips: at most {limit} test clips per class fit UCF101's numbering, got {test}.")
    return {"clips_per_class": int(clips_per_class), "test_clips_per_class": int(test), "frames": int(frames),
            "frame_size": int(frame_size), "fps": int(fps), "seed": int(seed), "bystanders": bool(bystanders)}


def _name(cls: str, split: str, j: int, n: int) -> str:
    """``v_<Class>_gGG_cCC``: clip ``j`` of ``n`` in the split's groups, as evenly spread as UCF101's."""
    lo, hi = _TEST_GROUPS if split == "test" else _TRAIN_GROUPS
    per_group = max(1, math.ceil(n / (hi - lo + 1)))
    return f"v_{cls}_g{lo + j // per_group:02d}_c{1 + j % per_group:02d}"


def clip_seed_keys(args: dict[str, Any]) -> list[tuple[str, str, str, tuple[int, ...]]]:
    """``(split, class, clip name, seed key)`` of every clip, in file order."""
    n = {"train": args["clips_per_class"], "test": args["test_clips_per_class"]}
    return [
        (split, c, _name(c, split, j, n[split]), (args["seed"], CLIPS_LAYOUT_CODE, _SPLIT_CODE[split], ci, j))
        for split in ("train", "test") for ci, c in enumerate(CLIP_CLASSES) for j in range(n[split])
    ]


def clips_key(args: dict[str, Any]) -> str:
    """A readable folder name for canonical arguments, ending in a short hash of them and the version."""
    digest = hashlib.sha256(json.dumps({"version": CLIPS_VERSION, **args}, sort_keys=True).encode()).hexdigest()[:10]
    return (f"{args['frame_size']}px-{args['frames']}f-{args['clips_per_class']}x{args['test_clips_per_class']}"
            f"-seed{args['seed']}-{digest}")


def is_same_clips(root: Path, args: dict[str, Any]) -> bool:
    """Whether ``root`` holds SynthHAR clips of this generator version made with these arguments."""
    try:
        meta = json.loads((Path(root) / "synthclips.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return meta.get("version") == CLIPS_VERSION and meta.get("arguments") == args


# ---- rendering one clip (runs in worker processes) ----------------------------------------------
_OUT: dict[str, Any] = {}


def _render(task: tuple[str, str, str, tuple[int, ...]]) -> dict[str, Any]:
    from harlearn.data.video_io import write_video

    split, cls, name, key = task
    a = _OUT["args"]
    clip = render_clip(np.random.default_rng(np.random.SeedSequence(list(key))), cls, a["frame_size"], a["frames"],
                       bystanders=a["bystanders"])
    out = Path(_OUT["dir"])
    write_video(out / "UCF-101" / cls / f"{name}.avi", np.stack([np.asarray(f) for f in clip.frames]), fps=a["fps"])
    actor = [ps[0] for ps in clip.persons]  # the actor is listed first in every frame
    record = {
        "clip": f"{cls}/{name}.avi", "action": cls, "frames": a["frames"], "fps": a["fps"],
        "size": [a["frame_size"], a["frame_size"]],
        "keypoints": [p["keypoints"] for p in actor], "boxes": [p["box"] for p in actor],
        "bystander_boxes": [[p["box"] for p in ps[1:]] for ps in clip.persons],
        "objects": [[{"name": o["name"], "box": o["box"], "role": o["role"]} for o in os_] for os_ in clip.objects],
    }
    (out / "Extras" / cls / f"{name}.json").write_text(json.dumps(record, separators=(",", ":")), encoding="utf-8")
    return {"split": split, "class": cls, "name": name}


def _init(out: dict[str, Any]) -> None:
    _OUT.clear()
    _OUT.update(out)


def _write_index(tmp: Path, args: dict[str, Any], results: list[dict[str, Any]]) -> None:
    lists = tmp / "ucfTrainTestlist"
    lists.mkdir()
    index = {c: i + 1 for i, c in enumerate(CLIP_CLASSES)}
    (lists / "classInd.txt").write_text("".join(f"{index[c]} {c}\n" for c in CLIP_CLASSES), encoding="utf-8")
    train = [r for r in results if r["split"] == "train"]
    test = [r for r in results if r["split"] == "test"]
    (lists / "trainlist01.txt").write_text("".join(f"{r['class']}/{r['name']}.avi {index[r['class']]}\n" for r in train), encoding="utf-8")
    (lists / "testlist01.txt").write_text("".join(f"{r['class']}/{r['name']}.avi\n" for r in test), encoding="utf-8")
    meta = {
        "name": "SynthHAR clips",
        "version": CLIPS_VERSION,
        "arguments": args,
        "layout": "UCF101 (UCF-101/<Class>/v_<Class>_gGG_cCC.avi, ucfTrainTestlist/ split 1)",
        "classes": list(CLIP_CLASSES),
        "reversal_pairs": [list(p) for p in REVERSAL_PAIRS],
        "rhythm_pairs": [list(p) for p in RHYTHM_PAIRS],
        "appearance_classes": list(APPEARANCE_CLASSES),
        "seed_keys": f"clip j of class c (classInd order, 0-based) in split s is drawn from numpy SeedSequence([seed, "
                     f"{CLIPS_LAYOUT_CODE}, s, c, j]), s = 0 (train) or 1 (test); still images use [seed, 0 | 1 | 2, ...]",
        "counts": {"train": len(train), "test": len(test)},
        "codec": "mpeg4 (MPEG-4 Part 2) in AVI, yuv420p, q=2",
        "keypoints": list(KEYPOINTS),
        "skeleton": [list(p) for p in SKELETON],
    }
    (tmp / "synthclips.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def make_clips(
    root: str | os.PathLike,
    *,
    clips_per_class: int = 40,
    test_clips_per_class: int | None = None,
    frames: int = 16,
    frame_size: int = 64,
    fps: int = 8,
    seed: int = 0,
    bystanders: bool = True,
    overwrite: bool = False,
    workers: int | None = None,
    progress: bool = False,
) -> Path:
    """Generate SynthHAR clips at ``root``, atomically (see the module docstring for the layout).

    Args:
        root: target folder.
        clips_per_class: training clips per class.
        test_clips_per_class: test clips per class (default: ``clips_per_class``).
        frames: frames per clip ``T`` (a movement spans the clip whatever ``T`` is).
        frame_size: frame side in pixels (even).
        fps: frame rate written in the files.
        seed: base seed, in ``[0, 2**32)``.
        bystanders: add idle bystanders.
        overwrite: replace a non-empty ``root`` that is not these clips.
        workers: processes; default all available cores (at most 8) for 400 clips or more.
        progress: show a progress bar.

    Returns:
        ``root`` as a ``Path``; nothing is regenerated when it already holds these clips.

    Raises:
        ValueError: an argument is out of range.
        FileExistsError: ``root`` is non-empty, is not these clips, and ``overwrite`` is False.
    """
    args = clips_arguments(clips_per_class, test_clips_per_class, frames, frame_size, fps, seed, bystanders)
    root = Path(root).expanduser().absolute()
    if root.exists():
        if is_same_clips(root, args):
            return root
        if not root.is_dir() or (any(root.iterdir()) and not overwrite):
            raise FileExistsError(
                f"{root} exists and is not the SynthHAR clips made with these arguments: pick an empty "
                "folder, delete it, or pass overwrite=True."
            )
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.with_name(f".{root.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        for c in CLIP_CLASSES:
            (tmp / "UCF-101" / c).mkdir(parents=True)
            (tmp / "Extras" / c).mkdir(parents=True)
        tasks = clip_seed_keys(args)
        results = render_in_order(_render, _init, {"dir": str(tmp), "args": args}, tasks, _workers(len(tasks), workers),
                                  progress, desc="SynthHAR clips", chunksize=4)
        _write_index(tmp, args, results)
        install_folder(tmp, root, lambda: is_same_clips(root, args))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def clips_root(profile=None, *, seed: int = 0, workers: int | None = None, progress: bool | None = None, **overrides: Any) -> Path:
    """The cached SynthHAR clips for a profile, generated (atomically) on first use.

    Args:
        profile: a :class:`harlearn.profiles.Profile` or its name; default
            ``harlearn.profiles.current()``. Its :data:`PROFILE_CLIPS` entry sets the size.
        seed: base seed.
        workers: processes for generating.
        progress: progress bar (default: when stderr is a terminal).
        **overrides: any other :func:`make_clips` argument (``clips_per_class``, ``frames``,
            ``frame_size``, ``test_clips_per_class``, ``fps``, ``bystanders``).

    Returns:
        ``data_home() / "synthhar-clips" / <key>`` (:func:`clips_key`).
    """
    from harlearn import profiles

    from .._common import data_home

    name = profile if isinstance(profile, str) else (profile or profiles.current()).name
    kw = {**PROFILE_CLIPS[name], **overrides}
    unknown = set(kw) - {"clips_per_class", "test_clips_per_class", "frames", "frame_size", "fps", "bystanders"}
    if unknown:
        raise TypeError(f"clips_root() got unknown arguments {sorted(unknown)}.")
    args = clips_arguments(kw["clips_per_class"], kw.get("test_clips_per_class"), kw["frames"], kw["frame_size"],
                           kw.get("fps", 8), seed, kw.get("bystanders", True))
    root = data_home() / "synthhar-clips" / clips_key(args)
    if is_same_clips(root, args):
        return root
    return make_clips(root, **args, workers=workers, progress=sys.stderr.isatty() if progress is None else progress)
