"""The pretraining corpus: SynthHAR's stand-in for ImageNet, for the course checkpoints (``harlearn.zoo``).

Every paper the course teaches starts from an ImageNet-pretrained backbone; a CPU course
cannot, so it pretrains its checkpoints on this corpus and fine-tunes them on the course
actions, a real transfer as ImageNet -> Stanford40 is:

- **other images**: people posed limb by limb at random (:mod:`.render.primitives`: nobody
  does one of the 16 course actions on purpose) with objects standing free around them
  (:mod:`.render.corpus_scene`), on the course's backgrounds, clutter and occluders;
- **other seeds**: image ``j`` of split ``s`` is drawn from ``SeedSequence([seed, 2, s, j])``.
  Every course image comes from ``SeedSequence([seed, 0 | 1, ...])`` (layout code 0:
  Stanford40, 1: VOC; :mod:`.build`), so no corpus image shares its random stream with a
  course image of any split or seed (``tests/test_zoo.py`` checks the states too);
- **another label space**, multi-label (:data:`CORPUS_LABELS`, 29 names): which of ten objects
  are in the image, which pose primitives its people show (legs straight / striding /
  crouched / seated / off the ground; an arm down / raised / forward / sideways, a hand on the
  hip / at the head, hands joined; leaning forward, head down; seen from the front / side /
  back; holding an object), and whether there are several people. None is a course action
  (nor a VOC action); the test checks it.

On disk (``root``, a documented format read by :class:`harlearn.data.PretrainingCorpus`)::

    corpus.json                 name, version, arguments, labels, counts, label frequencies
    labels.txt                  the label names, one per line: the column order
    train.csv, val.csv          image_id,<label 1>,...,<label K>   (0 / 1 per label)
    annotations/<split>.jsonl   one JSON object per image, in CSV order: image_id, labels
                                (names), persons [{box, keypoints, primitives}], objects
                                [{name, box, role}] (0-based pixel xyxy boxes, COCO keypoints)
    JPEGImages/<image_id>.jpg   <split>_<NNNNNN>.jpg

Generation is cached like the course datasets: :func:`corpus_root` names a folder after the
arguments (and the generator version) under ``data_home()/"synthhar-corpus"`` and generates it
on first use, into a temporary sibling folder renamed into place at the end. Same arguments,
same bytes, whatever the number of workers.

Speed (one core, 128 px, JPEG included): 15 to 23 ms per image, 5 to 8 min for the default
21,000 images on one core (``harlearn/zoo/README.md``).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .build import JPEG_QUALITY, _workers, install_folder
from .render.corpus_scene import CORPUS_LABELS, OBJECTS, render_corpus_scene
from .render.figure import KEYPOINTS, SKELETON
from .render.primitives import PRIMITIVES

__all__ = [
    "CORPUS_VERSION", "CORPUS_LABELS", "CORPUS_LAYOUT_CODE", "CORPUS_SPLITS", "CORPUS_IMAGES", "CORPUS_VAL_IMAGES",
    "make_corpus", "corpus_root", "corpus_key", "corpus_arguments", "corpus_seed_keys", "is_same_corpus",
]

#: Bumped whenever the same arguments would draw different images or labels.
CORPUS_VERSION = "1.0"
#: The second entry of every corpus image's seed key (the course's layouts use 0 and 1).
CORPUS_LAYOUT_CODE = 2
CORPUS_SPLITS = ("train", "val")
_SPLIT_CODE = {"train": 0, "val": 1}
#: The default size: 20,000 training and 1,000 validation images.
CORPUS_IMAGES, CORPUS_VAL_IMAGES = 20_000, 1_000


def corpus_arguments(images: int, val_images: int, image_size: int, seed: int) -> dict[str, Any]:
    """Validate the corpus arguments and return them in canonical (JSON-able) form."""
    for name, v, lo in (("images", images, 1), ("val_images", val_images, 1), ("image_size", image_size, 32)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"Corpus {name} must be an integer >= {lo}, got {v!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"Corpus seed must be an integer in [0, 2**32), got {seed!r}.")
    return {"images": int(images), "val_images": int(val_images), "image_size": int(image_size), "seed": int(seed)}


def corpus_seed_keys(args: dict[str, Any]) -> list[tuple[str, str, tuple[int, ...]]]:
    """``(split, image_id, seed key)`` of every corpus image, in file order."""
    n = {"train": args["images"], "val": args["val_images"]}
    return [
        (split, f"{split}_{j + 1:06d}", (args["seed"], CORPUS_LAYOUT_CODE, _SPLIT_CODE[split], j))
        for split in CORPUS_SPLITS for j in range(n[split])
    ]


def corpus_key(args: dict[str, Any]) -> str:
    """A readable folder name for canonical arguments, ending in a short hash of them and the version."""
    digest = hashlib.sha256(json.dumps({"version": CORPUS_VERSION, **args}, sort_keys=True).encode()).hexdigest()[:10]
    return f"{args['image_size']}px-{args['images']}x{args['val_images']}-seed{args['seed']}-{digest}"


def _read_meta(root: Path) -> dict[str, Any] | None:
    try:
        return json.loads((root / "corpus.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_same_corpus(root: Path, args: dict[str, Any]) -> bool:
    """Whether ``root`` holds the corpus made by this generator version with these canonical arguments."""
    meta = _read_meta(Path(root))
    return bool(meta) and meta.get("version") == CORPUS_VERSION and meta.get("arguments") == args


# ---- rendering one image (runs in worker processes) ---------------------------------------------
_OUT: dict[str, Any] = {}


def _render(task: tuple[str, str, tuple[int, ...]]) -> dict[str, Any]:
    split, image_id, key = task
    rng = np.random.default_rng(np.random.SeedSequence(list(key)))
    r, primitives, labels = render_corpus_scene(rng, _OUT["image_size"])
    r.image.save(Path(_OUT["dir"]) / "JPEGImages" / f"{image_id}.jpg", "JPEG", quality=JPEG_QUALITY, subsampling="4:2:0", optimize=False)
    persons = [{"box": p["box"], "keypoints": p["keypoints"], "primitives": prims} for p, prims in zip(r.persons, primitives)]
    return {"split": split, "image_id": image_id, "labels": labels, "persons": persons, "objects": r.objects}


def _init(out: dict[str, Any]) -> None:
    _OUT.clear()
    _OUT.update(out)


def _run(tasks: list, out: dict[str, Any], workers: int, progress: bool) -> list[dict[str, Any]]:
    from .build import render_in_order

    return render_in_order(_render, _init, out, tasks, workers, progress, desc="SynthHAR corpus", chunksize=16)


def _write(tmp: Path, args: dict[str, Any], results: list[dict[str, Any]]) -> None:
    """The label files, the annotations and ``corpus.json`` (the images are written already)."""
    (tmp / "labels.txt").write_text("".join(f"{n}\n" for n in CORPUS_LABELS), encoding="utf-8")
    (tmp / "annotations").mkdir()
    counts, freq = {}, {}
    for split in CORPUS_SPLITS:
        rs = [r for r in results if r["split"] == split]
        rows = ["image_id," + ",".join(CORPUS_LABELS)]
        for r in rs:
            have = set(r["labels"])
            rows.append(r["image_id"] + "," + ",".join("1" if n in have else "0" for n in CORPUS_LABELS))
        (tmp / f"{split}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        with open(tmp / "annotations" / f"{split}.jsonl", "w", encoding="utf-8") as f:
            for r in rs:
                f.write(json.dumps({k: r[k] for k in ("image_id", "labels", "persons", "objects")}, separators=(",", ":")) + "\n")
        counts[split] = len(rs)
        freq[split] = {n: round(sum(n in r["labels"] for r in rs) / max(len(rs), 1), 4) for n in CORPUS_LABELS}
    meta = {
        "name": "SynthHAR pretraining corpus",
        "version": CORPUS_VERSION,
        "arguments": args,
        "labels": list(CORPUS_LABELS),
        "label_groups": {"objects": list(OBJECTS), "person_primitives": list(PRIMITIVES), "count": ["several_people"]},
        "seed_keys": f"image j of split s is drawn from numpy SeedSequence([seed, {CORPUS_LAYOUT_CODE}, s, j]), "
                     "s = 0 (train) or 1 (val); course images use [seed, 0 | 1, ...]",
        "counts": counts,
        "label_frequency": freq,
        "keypoints": list(KEYPOINTS),
        "skeleton": [list(p) for p in SKELETON],
    }
    (tmp / "corpus.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def make_corpus(
    root: str | os.PathLike,
    *,
    images: int = CORPUS_IMAGES,
    val_images: int = CORPUS_VAL_IMAGES,
    image_size: int = 128,
    seed: int = 0,
    overwrite: bool = False,
    workers: int | None = None,
    progress: bool = False,
) -> Path:
    """Generate the pretraining corpus at ``root``, atomically (see the module docstring for the format).

    Args:
        root: target folder.
        images: training images.
        val_images: validation images.
        image_size: side of the square images in pixels (the book's ``synth_image_size``, 128).
        seed: base seed, in ``[0, 2**32)``.
        overwrite: replace a non-empty ``root`` that is not this exact corpus.
        workers: processes; default all available cores (at most 8) for 400 images or more.
        progress: show a progress bar.

    Returns:
        ``root`` as a ``Path``; nothing is regenerated when it already holds this corpus.

    Raises:
        ValueError: an argument is out of range.
        FileExistsError: ``root`` is non-empty, is not this corpus, and ``overwrite`` is False.
    """
    args = corpus_arguments(images, val_images, image_size, seed)
    root = Path(root).expanduser().absolute()
    if root.exists():
        if is_same_corpus(root, args):
            return root
        if not root.is_dir() or (any(root.iterdir()) and not overwrite):
            raise FileExistsError(
                f"{root} exists and is not the SynthHAR corpus made with these arguments: pick an empty "
                "folder, delete it, or pass overwrite=True."
            )
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.with_name(f".{root.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        (tmp / "JPEGImages").mkdir(parents=True)
        tasks = corpus_seed_keys(args)
        results = _run(tasks, {"dir": str(tmp), "image_size": args["image_size"]}, _workers(len(tasks), workers), progress)
        _write(tmp, args, results)
        install_folder(tmp, root, lambda: is_same_corpus(root, args))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def corpus_root(
    *, images: int = CORPUS_IMAGES, val_images: int = CORPUS_VAL_IMAGES, image_size: int = 128, seed: int = 0,
    workers: int | None = None, progress: bool | None = None,
) -> Path:
    """The cached corpus with these arguments, generated (atomically) on first use.

    Args:
        images, val_images, image_size, seed: see :func:`make_corpus`.
        workers: processes for generating.
        progress: progress bar (default: when stderr is a terminal).

    Returns:
        ``data_home() / "synthhar-corpus" / <key>`` (:func:`corpus_key`).
    """
    from .cache import data_home

    args = corpus_arguments(images, val_images, image_size, seed)
    root = data_home() / "synthhar-corpus" / corpus_key(args)
    if is_same_corpus(root, args):
        return root
    return make_corpus(root, **args, workers=workers, progress=sys.stderr.isatty() if progress is None else progress)
