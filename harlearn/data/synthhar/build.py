"""Generating one SynthHAR dataset: :func:`make_synthhar` renders every image and writes both layouts.

The work list names every image of the requested layouts and splits (its id, its actor(s)'
actions and the key of its own random generator); each image is rendered by
:func:`harlearn.data.synthhar.render.scene.render_scene`, in worker processes for large jobs,
and written as a JPEG, an XML annotation (:mod:`.layouts`) and two sidecar files (the person
records and the person label map) that the loaders expose when present. The index files and
``synthhar.json`` (arguments, class metadata, counts, which training images are biased) come
last, and the finished folder is renamed into place, so a dataset folder is never half written.

Same arguments, same bytes: nothing depends on the number of workers or the order of
generation. :data:`GENERATOR_VERSION` is bumped whenever the same arguments would draw
different images (it is part of every cache key, :mod:`harlearn.data.synthhar.cache`).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .layouts import stanford40_xml, voc_xml, write_stanford40_index, write_voc_index
from .render.actions import (
    CLASS_OBJECTS, CLASSES, CONFUSABLE_PAIRS, DESIGNATED_DISTRACTOR, DISTRACTOR_OBJECTS,
    VOC_ACTIONS, VOC_MAPPING,
)
from .render.figure import KEYPOINTS, SKELETON  # SKELETON: COCO's limbs, for drawing
from .render.scene import DEFAULT_DIFFICULTY, Difficulty, render_scene

__all__ = ["make_synthhar", "canonical_arguments", "is_same_dataset", "GENERATOR_VERSION", "LAYOUTS", "JPEG_QUALITY"]

#: Bumped whenever the same arguments would draw different images.
GENERATOR_VERSION = "1.0"
LAYOUTS = ("stanford40", "voc", "both")
JPEG_QUALITY = 90
_LAYOUT_CODE = {"stanford40": 0, "voc": 1}
_SPLIT_CODE = {"train": 0, "test": 1}
_VOC_PERSONS = ((2, 0.4), (3, 0.4), (4, 0.2))  # annotated persons per VOC image, with probabilities


# ---- arguments ----------------------------------------------------------------------------------
def canonical_arguments(
    images_per_class: int, test_images_per_class: int | None, image_size: int, seed: int,
    context_bias: float, layout: str, bystanders: bool, difficulty: Difficulty | None,
) -> dict[str, Any]:
    """Validate the generator arguments and return them in canonical (JSON-able) form."""
    test = images_per_class if test_images_per_class is None else test_images_per_class
    for name, v, lo in (("images_per_class", images_per_class, 1), ("test_images_per_class", test, 1), ("image_size", image_size, 32)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"SynthHAR {name} must be an integer >= {lo}, got {v!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"SynthHAR seed must be a non-negative integer, got {seed!r}.")
    if not 0.0 <= float(context_bias) <= 1.0:
        raise ValueError(f"SynthHAR context_bias must lie in [0, 1], got {context_bias!r}.")
    if layout not in LAYOUTS:
        raise ValueError(f"Unknown SynthHAR layout {layout!r}: use one of {', '.join(map(repr, LAYOUTS))}.")
    dif = DEFAULT_DIFFICULTY if difficulty is None else difficulty
    return {
        "images_per_class": int(images_per_class), "test_images_per_class": int(test),
        "image_size": int(image_size), "seed": int(seed), "context_bias": float(context_bias),
        "layout": layout, "bystanders": bool(bystanders),
        "difficulty": {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(dif).items()},
    }


def _difficulty(args: dict[str, Any]) -> Difficulty:
    return Difficulty(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in args["difficulty"].items()})


def _read_meta(root: Path) -> dict[str, Any] | None:
    try:
        return json.loads((root / "synthhar.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_same_dataset(root: Path, args: dict[str, Any]) -> bool:
    """Whether ``root`` holds SynthHAR made by this generator version with these canonical arguments."""
    meta = _read_meta(root)
    return bool(meta) and meta.get("version") == GENERATOR_VERSION and meta.get("arguments") == args


# ---- the work list ------------------------------------------------------------------------------
def _rng(*key: int) -> np.random.Generator:
    """An independent generator for one image, keyed so images do not depend on generation order."""
    return np.random.default_rng(np.random.SeedSequence(list(key)))


def _stanford40_tasks(args: dict[str, Any], out: Path) -> list[dict[str, Any]]:
    """One image per task, one actor each: ``<class>_<NNN>``, the test numbers following the train ones."""
    n = {"train": args["images_per_class"], "test": args["test_images_per_class"]}
    tasks = []
    for split in ("train", "test"):
        for ci, c in enumerate(CLASSES):
            for j in range(n[split]):
                number = j + 1 + (n["train"] if split == "test" else 0)
                tasks.append(dict(
                    layout="stanford40", split=split, image_id=f"{c}_{number:03d}", actions=[c],
                    key=(args["seed"], _LAYOUT_CODE["stanford40"], _SPLIT_CODE[split], ci, j), out=str(out),
                ))
    return tasks


def _voc_tasks(args: dict[str, Any], out: Path) -> list[dict[str, Any]]:
    """Each split's persons (``n`` per class), shuffled and cut into images of 2 to 4 actors: ``2012_<NNNNNN>``."""
    n = {"train": args["images_per_class"], "test": args["test_images_per_class"]}
    tasks, number = [], 0
    for split in ("train", "test"):
        rng = _rng(args["seed"], _LAYOUT_CODE["voc"], _SPLIT_CODE[split], 2**31 - 1)
        people = [c for c in CLASSES for _ in range(n[split])]
        people = [people[i] for i in rng.permutation(len(people))]
        sizes: list[int] = []
        left = len(people)
        while left > 0:
            k = int(rng.choice([s for s, _ in _VOC_PERSONS], p=[p for _, p in _VOC_PERSONS]))
            k = min(k, left)
            if left - k == 1:
                k += 1 if k < 4 else -1
            sizes.append(k)
            left -= k
        start = 0
        for j, k in enumerate(sizes):
            number += 1
            tasks.append(dict(
                layout="voc", split=split, image_id=f"2012_{number:06d}", actions=people[start:start + k],
                key=(args["seed"], _LAYOUT_CODE["voc"], _SPLIT_CODE[split], 0, j), out=str(out),
            ))
            start += k
    return tasks


# ---- rendering and writing one image (runs in worker processes) ---------------------------------
_WORKER_ARGS: dict[str, Any] = {}


def _render_task(task: dict[str, Any]) -> dict[str, Any]:
    """Render one image and write its JPEG, XML and sidecar files; return what the index files need."""
    args = _WORKER_ARGS
    rng = _rng(*task["key"])
    train = task["split"] == "train"
    first = task["actions"][0]
    biased = bool(rng.random() < args["context_bias"]) and train  # the draw happens in every split
    props = {o for a in task["actions"] for o in CLASS_OBJECTS[a]}
    pool = [o for o in DISTRACTOR_OBJECTS if o not in props]
    r = render_scene(
        rng, list(task["actions"]), args["image_size"], pool=pool,
        designated=DESIGNATED_DISTRACTOR[first] if biased else None,
        bystanders=args["bystanders"], difficulty=_difficulty(args),
    )
    out, iid, size = Path(task["out"]), task["image_id"], args["image_size"]
    actors = [p for p in r.persons if p["role"] == "actor"]  # listed first; Stanford40 may add a second
    if task["layout"] == "stanford40":
        base, xml, xml_dir = out, stanford40_xml(iid, size, actors), "XMLAnnotations"
    else:
        base = out / "VOCdevkit" / "VOC2012"
        xml, xml_dir = voc_xml(iid, size, actors), "Annotations"
    r.image.save(base / "JPEGImages" / f"{iid}.jpg", "JPEG", quality=JPEG_QUALITY, subsampling="4:2:0", optimize=False)
    (base / xml_dir / f"{iid}.xml").write_text(xml, encoding="utf-8")
    record = {"persons": r.persons, "objects": r.objects}
    (base / "Extras" / f"{iid}.json").write_text(json.dumps(record, separators=(",", ":")), encoding="utf-8")
    Image.fromarray(r.labels, "L").save(base / "Extras" / f"{iid}_mask.png", "PNG")
    return {"layout": task["layout"], "split": task["split"], "image_id": iid, "actions": [p["action"] for p in actors], "biased": biased}


def _init_worker(args: dict[str, Any]) -> None:
    _WORKER_ARGS.clear()
    _WORKER_ARGS.update(args)


def _workers(n_tasks: int, workers: int | None) -> int:
    if workers is not None:
        return max(1, int(workers))
    if n_tasks < 400:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def render_in_order(render: Any, init: Any, init_args: Any, tasks: list, workers: int, progress: bool, *,
                    desc: str = "SynthHAR", chunksize: int = 8) -> list:
    """``[render(t) for t in tasks]`` after ``init(init_args)``, in order, in ``workers`` processes.

    Each task carries its own seed, so the result does not depend on ``workers``. Shared by the
    course datasets (:func:`make_synthhar`) and the pretraining corpus.
    """
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(tasks), desc=desc, unit="img")
        except ImportError:  # pragma: no cover
            bar = None
    results = []
    if workers <= 1:
        init(init_args)
        for t in tasks:
            results.append(render(t))
            if bar is not None:
                bar.update()
    else:
        # fork is quick and safe here (workers only use numpy and Pillow); elsewhere the default
        ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else None)
        with ctx.Pool(workers, initializer=init, initargs=(init_args,)) as pool:
            for res in pool.imap(render, tasks, chunksize=chunksize):
                results.append(res)
                if bar is not None:
                    bar.update()
    if bar is not None:
        bar.close()
    return results


def _run(tasks: list[dict[str, Any]], args: dict[str, Any], workers: int, progress: bool) -> list[dict[str, Any]]:
    """Render every task, in order, with ``workers`` processes (each image has its own seed)."""
    return render_in_order(_render_task, _init_worker, args, tasks, workers, progress)


# ---- synthhar.json ------------------------------------------------------------------------------
def _metadata(args: dict[str, Any], results: list[dict[str, Any]], counts: dict[str, Any]) -> dict[str, Any]:
    biased: dict[str, list[str]] = {}
    for r in results:
        if r["biased"]:
            biased.setdefault(r["layout"], []).append(r["image_id"])
    return {
        "name": "SynthHAR",
        "version": GENERATOR_VERSION,
        "arguments": args,
        "classes": list(CLASSES),
        "confusable_pairs": [list(p) for p in CONFUSABLE_PAIRS],
        "voc_actions": list(VOC_ACTIONS),
        "voc_mapping": {c: VOC_MAPPING.get(c, "other") for c in CLASSES},
        "class_objects": {c: list(v) for c, v in CLASS_OBJECTS.items()},
        "distractor_objects": list(DISTRACTOR_OBJECTS),
        "designated_distractors": dict(DESIGNATED_DISTRACTOR),
        "context_bias_note": (
            "In the train split, with probability context_bias an image shows its (first) actor's "
            "designated distractor prominently; test/val images only have uniform distractors."
        ),
        "biased_images": biased,
        "counts": counts,
        "keypoints": list(KEYPOINTS),
        "skeleton": [list(p) for p in SKELETON],
    }


# ---- atomic install -----------------------------------------------------------------------------
def install_folder(tmp: Path, root: Path, is_done: Any) -> None:
    """Move the finished folder ``tmp`` into place at ``root``: never a half-written one at ``root``.

    ``is_done()`` says whether ``root`` already holds the finished result (another process made it
    meanwhile: ``tmp`` is then dropped). A non-empty ``root`` is swapped out and deleted (the
    caller has checked that overwriting is allowed). Shared by the course datasets, the
    pretraining corpus and the clips.
    """
    if is_done():  # another process finished the same folder meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
        return
    if root.is_dir() and not any(root.iterdir()):
        root.rmdir()
    if root.exists():  # non-empty: checked by the caller, so overwrite is True here
        trash = root.with_name(f".{root.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
        os.replace(root, trash)
        os.replace(tmp, root)
        shutil.rmtree(trash, ignore_errors=True)
        return
    try:
        os.replace(tmp, root)
    except OSError:
        if is_done():  # another process finished it first
            shutil.rmtree(tmp, ignore_errors=True)
            return
        raise


def _install(tmp: Path, root: Path, args: dict[str, Any], overwrite: bool) -> None:
    """Move the finished ``tmp`` into place at ``root`` (never a half-written dataset at ``root``)."""
    install_folder(tmp, root, lambda: is_same_dataset(root, args))


def make_synthhar(
    root: str | os.PathLike,
    *,
    images_per_class: int = 100,
    test_images_per_class: int | None = None,
    image_size: int = 128,
    seed: int = 0,
    context_bias: float = 0.0,
    layout: str = "both",
    bystanders: bool = True,
    difficulty: Difficulty | None = None,
    overwrite: bool = False,
    workers: int | None = None,
    progress: bool = False,
) -> Path:
    """Generate a SynthHAR dataset at ``root``, atomically.

    The same arguments always give byte-identical files: each image has its own random
    generator keyed by ``(seed, layout, split, class, index)``, so neither the number of
    worker processes nor the order of generation matters. The dataset is written to a
    temporary sibling folder and renamed to ``root`` at the end.

    Args:
        root: target folder. It receives the Stanford40 layout (``JPEGImages/``,
            ``XMLAnnotations/``, ``ImageSplits/``, ``Extras/``), ``VOCdevkit/VOC2012/`` and
            ``synthhar.json``.
        images_per_class: training images per class (Stanford40 layout), or training persons
            per class (VOC layout, 2 to 4 annotated persons per image).
        test_images_per_class: the same for the test split (VOC: ``val``); default
            ``images_per_class``.
        image_size: side of the square images in pixels.
        seed: base seed.
        context_bias: probability, in the training split only, that an image shows its class's
            designated distractor object prominently (see ``DESIGNATED_DISTRACTOR``).
        layout: ``"stanford40"``, ``"voc"`` or ``"both"``.
        bystanders: add unannotated people in idle poses.
        difficulty: clutter, occlusion and scale knobs (default ``Difficulty()``).
        overwrite: replace a non-empty ``root`` that is not this exact dataset.
        workers: processes to use; default: all available cores for large jobs, 1 for small.
        progress: show a tqdm progress bar.

    Returns:
        ``root`` as a ``Path``. When it already holds SynthHAR made with the same arguments
        and generator version, nothing is regenerated.

    Raises:
        ValueError: an argument is out of range.
        FileExistsError: ``root`` is non-empty, is not the same SynthHAR, and ``overwrite`` is False.
    """
    args = canonical_arguments(images_per_class, test_images_per_class, image_size, seed, context_bias, layout, bystanders, difficulty)
    root = Path(root).expanduser().absolute()
    if root.exists():
        if is_same_dataset(root, args):
            return root
        if not root.is_dir() or (any(root.iterdir()) and not overwrite):
            raise FileExistsError(
                f"{root} exists and is not a SynthHAR dataset made with these arguments: pick an empty "
                "folder, delete it, or pass overwrite=True."
            )
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.with_name(f".{root.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        tmp.mkdir()
        tasks = []
        if layout in ("stanford40", "both"):
            for d in ("JPEGImages", "XMLAnnotations", "ImageSplits", "Extras"):
                (tmp / d).mkdir()
            tasks += _stanford40_tasks(args, tmp)
        if layout in ("voc", "both"):
            voc = tmp / "VOCdevkit" / "VOC2012"
            for d in ("JPEGImages", "Annotations", "ImageSets/Action", "Extras"):
                (voc / d).mkdir(parents=True)
            tasks += _voc_tasks(args, tmp)
        results = _run(tasks, args, _workers(len(tasks), workers), progress)
        counts: dict[str, Any] = {}
        if layout in ("stanford40", "both"):
            counts["stanford40"] = write_stanford40_index(tmp, [r for r in results if r["layout"] == "stanford40"])
        if layout in ("voc", "both"):
            counts["voc"] = write_voc_index(tmp, [r for r in results if r["layout"] == "voc"])
        meta = _metadata(args, results, counts)
        (tmp / "synthhar.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        _install(tmp, root, args, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root
