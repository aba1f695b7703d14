"""SynthHAR: a procedural still-image action dataset, written in the real datasets' layouts.

No dataset can be downloaded where this course is built, and a CPU cannot learn Stanford40
in minutes anyway. SynthHAR is the stand-in every chapter trains on: a numpy + Pillow
generator, deterministic by seed, that draws articulated people doing 16 of the Stanford40
actions and writes them *in the on-disk layouts of Stanford40 and PASCAL VOC 2012 Action*,
so the same loaders (:class:`~harlearn.data.stanford40.Stanford40`,
:class:`~harlearn.data.voc_action.VOCAction`) read it and the real data.

It is built to make the phenomena of the course visible on a CPU:

- **intra-class variance**: every person has their own proportions, skin, clothes, scale,
  position and view angle (front, profile, three-quarter, back), and every pose is jittered;
- **inter-class similarity**: five confusable pairs share their objects and differ only in
  the pose or the person-object relation (riding vs fixing a bike, riding vs feeding a horse,
  reading vs writing on a book, applauding vs waving, phoning vs texting);
- **misleading context**: bystanders in idle poses, objects of other classes in the scene,
  clutter and occluders; and a ``context_bias`` knob that puts a designated object of another
  class next to the actor in the *training* split only, so a model that learns the shortcut
  is caught by the unbiased test split.

How it departs from real data: the people are flat cartoon figures (a 17-keypoint COCO
skeleton with thick limbs), the scenes are drawn from a small grammar of shapes, every label
is exact and every class is balanced. It also records what real data lacks: keypoints,
person masks and object boxes, in sidecar files (``Extras/<id>.json`` and ``<id>_mask.png``)
that the loaders expose when present. Numbers on SynthHAR are about SynthHAR; the ``full``
profile is for claims about Stanford40 and VOC.

Usage::

    from harlearn.data.synthhar import make_synthhar, synthhar_root
    root = make_synthhar("/tmp/synthhar", images_per_class=20, image_size=96)
    root = synthhar_root()                      # the cached dataset of the current profile
    root = synthhar_root(context_bias=0.9)      # the biased variant (Loss-Guided Activation)

From a shell::

    python -m harlearn.data.synthhar --prepare          # what the current profile's chapters need
    python -m harlearn.data.synthhar --root DIR --images-per-class 50 --image-size 128
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import multiprocessing
import os
import secrets
import shutil
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .synth.actions import (
    CLASS_OBJECTS, CLASSES, CONFUSABLE_PAIRS, DESIGNATED_DISTRACTOR, DISTRACTOR_OBJECTS,
    VOC_ACTIONS, VOC_MAPPING,
)
from .synth.figure import KEYPOINTS, SKELETON  # SKELETON: COCO's limbs, for drawing
from .synth.scene import DEFAULT_DIFFICULTY, Difficulty, render_scene



def data_home() -> Path:
    """Where datasets live: :func:`harlearn.data.data_home` (``$HARLEARN_DATA`` or ``~/.cache/harlearn``).

    Imported lazily, so generating a dataset does not import torch.
    """
    try:
        from ._common import data_home as home
    except ImportError:  # pragma: no cover - same semantics without the loaders
        return Path(os.environ.get("HARLEARN_DATA") or "~/.cache/harlearn").expanduser()
    return home()


__all__ = [
    "make_synthhar", "synthhar_root", "synthhar_key", "GENERATOR_VERSION", "LAYOUTS", "CLASSES",
    "CONFUSABLE_PAIRS", "VOC_ACTIONS", "VOC_MAPPING", "DESIGNATED_DISTRACTOR", "Difficulty",
    "PREPARE_BIASES",
]

#: Bumped whenever the same arguments would draw different images.
GENERATOR_VERSION = "1.0"
LAYOUTS = ("stanford40", "voc", "both")
JPEG_QUALITY = 90
#: The ``context_bias`` values ``--prepare`` generates (0.9: the Loss-Guided Activation chapter).
PREPARE_BIASES = (0.0, 0.9)
_LAYOUT_CODE = {"stanford40": 0, "voc": 1}
_SPLIT_CODE = {"train": 0, "test": 1}
_VOC_SET = {"train": "train", "test": "val"}
_VOC_PERSONS = ((2, 0.4), (3, 0.4), (4, 0.2))  # annotated persons per VOC image, with probabilities


# ---- arguments ----------------------------------------------------------------------------------
def _arguments(
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


def _is_same(root: Path, args: dict[str, Any]) -> bool:
    meta = _read_meta(root)
    return bool(meta) and meta.get("version") == GENERATOR_VERSION and meta.get("arguments") == args


# ---- the work list ------------------------------------------------------------------------------
def _rng(*key: int) -> np.random.Generator:
    """An independent generator for one image, keyed so images do not depend on generation order."""
    return np.random.default_rng(np.random.SeedSequence(list(key)))


def _stanford40_tasks(args: dict[str, Any], out: Path) -> list[dict[str, Any]]:
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


def _xml_box(box: list[float]) -> str:
    """1-based integer ``<bndbox>`` from a 0-based box."""
    x1, y1, x2, y2 = (int(round(v)) + 1 for v in box)
    return f"<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox>"


def _stanford40_xml(image_id: str, size: int, persons: list[dict]) -> str:
    objs = "".join(
        f"\n\t<object>\n\t\t<name>person</name>\n\t\t<action>{p['action']}</action>\n\t\t{_xml_box(p['box'])}\n\t</object>"
        for p in persons
    )
    return (
        f"<annotation>\n\t<filename>{image_id}.jpg</filename>\n\t<folder>SynthHAR</folder>\n"
        f"\t<size><width>{size}</width><height>{size}</height><depth>3</depth></size>{objs}\n</annotation>\n"
    )


def _voc_xml(image_id: str, size: int, persons: list[dict]) -> str:
    objs = []
    for p in persons:
        voc = VOC_MAPPING.get(p["action"], "other")
        acts = "".join(f"<{a}>{int(voc == a)}</{a}>" for a in VOC_ACTIONS + ("other",))
        objs.append(
            f"\n\t<object>\n\t\t<name>person</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>"
            f"\n\t\t<difficult>0</difficult>\n\t\t<actions>{acts}</actions>\n\t\t{_xml_box(p['box'])}\n\t</object>"
        )
    return (
        f"<annotation>\n\t<folder>VOC2012</folder>\n\t<filename>{image_id}.jpg</filename>\n"
        f"\t<source><database>SynthHAR</database></source>\n"
        f"\t<size><width>{size}</width><height>{size}</height><depth>3</depth></size>\n"
        f"\t<segmented>0</segmented>{''.join(objs)}\n</annotation>\n"
    )


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
        base, xml, xml_dir = out, _stanford40_xml(iid, size, actors), "XMLAnnotations"
    else:
        base = out / "VOCdevkit" / "VOC2012"
        xml, xml_dir = _voc_xml(iid, size, actors), "Annotations"
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


def _run(tasks: list[dict[str, Any]], args: dict[str, Any], workers: int, progress: bool) -> list[dict[str, Any]]:
    """Render every task, in order, with ``workers`` processes (each image has its own seed)."""
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(tasks), desc="SynthHAR", unit="img")
        except ImportError:  # pragma: no cover
            bar = None
    results = []
    if workers <= 1:
        _init_worker(args)
        for t in tasks:
            results.append(_render_task(t))
            if bar is not None:
                bar.update()
    else:
        # fork is quick and safe here (workers only use numpy and Pillow); elsewhere the default
        ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else None)
        with ctx.Pool(workers, initializer=_init_worker, initargs=(args,)) as pool:
            for res in pool.imap(_render_task, tasks, chunksize=8):
                results.append(res)
                if bar is not None:
                    bar.update()
    if bar is not None:
        bar.close()
    return results


# ---- index files --------------------------------------------------------------------------------
def _write_lines(path: Path, lines: Iterable[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def _write_stanford40_index(out: Path, results: list[dict[str, Any]]) -> dict[str, int]:
    splits = out / "ImageSplits"
    by = {(s, c): [] for s in ("train", "test") for c in CLASSES}
    for r in results:
        by[(r["split"], r["actions"][0])].append(f"{r['image_id']}.jpg")
    _write_lines(splits / "actions.txt", ["action_name\tnumber_of_images"] + [f"{c}\t{len(by[('train', c)]) + len(by[('test', c)])}" for c in CLASSES])
    for s in ("train", "test"):
        for c in CLASSES:
            _write_lines(splits / f"{c}_{s}.txt", by[(s, c)])
        _write_lines(splits / f"{s}.txt", [f for c in CLASSES for f in by[(s, c)]])
    return {s: sum(len(by[(s, c)]) for c in CLASSES) for s in ("train", "test")}


def _write_voc_index(out: Path, results: list[dict[str, Any]]) -> dict[str, int]:
    action_dir = out / "VOCdevkit" / "VOC2012" / "ImageSets" / "Action"
    sets: dict[str, list[dict[str, Any]]] = {"train": [], "val": []}
    for r in results:
        sets[_VOC_SET[r["split"]]].append(r)
    sets["trainval"] = sorted(sets["train"] + sets["val"], key=lambda r: r["image_id"])
    counts = {}
    for name, rs in sets.items():
        _write_lines(action_dir / f"{name}.txt", [r["image_id"] for r in rs])
        for a in VOC_ACTIONS:
            _write_lines(action_dir / f"{a}_{name}.txt", [
                "%s %2d %2d" % (r["image_id"], i + 1, 1 if VOC_MAPPING.get(c) == a else -1)
                for r in rs for i, c in enumerate(r["actions"])
            ])
        counts[name] = len(rs)
        counts[f"{name}_persons"] = sum(len(r["actions"]) for r in rs)
    return counts


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
def _install(tmp: Path, root: Path, args: dict[str, Any], overwrite: bool) -> None:
    """Move the finished ``tmp`` into place at ``root`` (never a half-written dataset at ``root``)."""
    if _is_same(root, args):  # another process finished the same dataset meanwhile
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
        if _is_same(root, args):  # another process finished the same dataset first
            shutil.rmtree(tmp, ignore_errors=True)
            return
        raise


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
    args = _arguments(images_per_class, test_images_per_class, image_size, seed, context_bias, layout, bystanders, difficulty)
    root = Path(root).expanduser().absolute()
    if root.exists():
        if _is_same(root, args):
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
            counts["stanford40"] = _write_stanford40_index(tmp, [r for r in results if r["layout"] == "stanford40"])
        if layout in ("voc", "both"):
            counts["voc"] = _write_voc_index(tmp, [r for r in results if r["layout"] == "voc"])
        meta = _metadata(args, results, counts)
        (tmp / "synthhar.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        _install(tmp, root, args, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


# ---- the per-profile cache ----------------------------------------------------------------------
_RUN_ONLY = ("overwrite", "workers", "progress")  # arguments that do not change the dataset


def synthhar_key(args: dict[str, Any]) -> str:
    """A readable folder name for canonical arguments, ending in a short hash of all of them."""
    digest = hashlib.sha256(json.dumps({"version": GENERATOR_VERSION, **args}, sort_keys=True).encode()).hexdigest()[:10]
    return (
        f"{args['layout']}-{args['image_size']}px-{args['images_per_class']}x{args['test_images_per_class']}"
        f"-seed{args['seed']}-bias{args['context_bias']:g}-{digest}"
    )


def synthhar_root(profile=None, *, context_bias: float = 0.0, seed: int = 0, layout: str = "both", **overrides: Any) -> Path:
    """The cached SynthHAR for a profile, generated (atomically) on first use.

    Args:
        profile: a :class:`harlearn.profiles.Profile` or its name; default
            ``harlearn.profiles.current()``. Its ``synth_image_size`` and
            ``synth_images_per_class`` set the size.
        context_bias: see :func:`make_synthhar`.
        seed: see :func:`make_synthhar`.
        layout: see :func:`make_synthhar`.
        **overrides: any other :func:`make_synthhar` argument (``image_size``,
            ``images_per_class``, ``workers``, ...).

    Returns:
        ``data_home() / "synthhar" / <key>``, where the key names the main arguments and ends
        in a hash of all of them (so two different datasets never share a folder).
    """
    from .. import profiles

    if profile is None:
        profile = profiles.current()
    elif isinstance(profile, str):
        profile = profiles.get(profile)
    run = {k: overrides.pop(k) for k in _RUN_ONLY if k in overrides}
    kw = dict(images_per_class=profile.synth_images_per_class, image_size=profile.synth_image_size)
    kw.update(overrides)
    kw.update(seed=seed, context_bias=context_bias, layout=layout)
    allowed = {"images_per_class", "test_images_per_class", "image_size", "seed", "context_bias", "layout", "bystanders", "difficulty"}
    unknown = set(kw) - allowed
    if unknown:
        raise TypeError(f"synthhar_root() got unknown arguments {sorted(unknown)}; allowed: {sorted(allowed | set(_RUN_ONLY))}.")
    args = _arguments(
        kw["images_per_class"], kw.get("test_images_per_class"), kw["image_size"], kw["seed"],
        kw["context_bias"], kw["layout"], kw.get("bystanders", True), kw.get("difficulty"),
    )
    root = data_home() / "synthhar" / synthhar_key(args)
    if _is_same(root, args):
        return root
    return make_synthhar(root, **kw, **run)


# ---- command line -------------------------------------------------------------------------------
def _prepare(profile_name: str | None, workers: int | None) -> None:
    from .. import profiles

    profile = profiles.get(profile_name) if profile_name else profiles.current()
    for bias in PREPARE_BIASES:
        t0 = time.perf_counter()
        args = _arguments(profile.synth_images_per_class, None, profile.synth_image_size, 0, bias, "both", True, None)
        cached = _is_same(data_home() / "synthhar" / synthhar_key(args), args)
        root = synthhar_root(profile, context_bias=bias, workers=workers, progress=sys.stderr.isatty())
        how = "already there" if cached else f"generated in {time.perf_counter() - t0:.1f} s"
        print(f"SynthHAR for profile '{profile.name}' (context_bias={bias:g}): {root} ({how})", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``python -m harlearn.data.synthhar --help``)."""
    p = argparse.ArgumentParser(prog="python -m harlearn.data.synthhar", description="Generate the SynthHAR dataset.")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--prepare", action="store_true", help="generate what the current profile's chapters need (cached)")
    g.add_argument("--root", type=Path, help="generate one dataset into this folder")
    p.add_argument("--profile", help="profile for --prepare (default: $HARLEARN_PROFILE or book)")
    p.add_argument("--images-per-class", type=int, default=100)
    p.add_argument("--test-images-per-class", type=int, default=None)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--context-bias", type=float, default=0.0)
    p.add_argument("--layout", choices=LAYOUTS, default="both")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--workers", type=int, default=None)
    a = p.parse_args(argv)
    try:
        if a.prepare:
            _prepare(a.profile, a.workers)
            return 0
        t0 = time.perf_counter()
        root = make_synthhar(
            a.root, images_per_class=a.images_per_class, test_images_per_class=a.test_images_per_class,
            image_size=a.image_size, seed=a.seed, context_bias=a.context_bias, layout=a.layout,
            overwrite=a.overwrite, workers=a.workers, progress=sys.stderr.isatty(),
        )
    except (ValueError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"SynthHAR at {root} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
