"""Small datasets in the real on-disk layouts (Stanford40, VOC 2012 Action), for tests and CI.

Smoke mode (``HARLEARN_PROFILE=full HARLEARN_SMOKE=1``, see :mod:`harlearn.profiles`) runs the
chapters' ``full`` path, which reads the real datasets from ``$HARLEARN_DATA/stanford40`` and
``$HARLEARN_DATA/voc2012``. :func:`write_real_format` writes tiny trees there in the distributed
layouts, so that the real loaders read them and nothing is downloaded::

    python -m harlearn.data.testing _build/smoke-data      # then HARLEARN_DATA=_build/smoke-data

* ``stanford40/``: all 40 Stanford40 classes (``STANFORD40_CLASSES``, the official names in
  ``actions.txt`` order), a few images each, ``JPEGImages/<action>_<NNN>.jpg``,
  ``XMLAnnotations/<same>.xml`` (1-based boxes; both object forms the loader accepts:
  ``<name>person</name>`` with an ``<action>``, and ``<name>`` holding the action), and
  ``ImageSplits/`` (``actions.txt`` with its header, ``train.txt``, ``test.txt``,
  ``<action>_train.txt``, ``<action>_test.txt``). Some images hold several persons, some are
  grey-scale JPEGs, all have odd, varied sizes, one box sticks out by the 1-px slack.
* ``voc2012/VOCdevkit/VOC2012/``: ``JPEGImages/``, ``Annotations/`` (persons with the ten
  ``<actions>`` flags and ``other``, several persons per image, a person doing two actions, a
  person without ``<actions>``, non-person objects) and ``ImageSets/Action/`` (``train``,
  ``val``, ``trainval`` and ``<action>_<set>.txt``); every action and ``other`` occurs in both
  ``train`` and ``val``; one image belongs to no action set (as VOC's detection-only images).

The pictures are smooth drawings (a gradient, a figure in every person box), not noise, so
that the JPEGs stay small (the whole default tree is about 0.5 MB). The writers below
(:func:`write_stanford40`, :func:`write_voc`, :func:`write_jpeg`) are also the unit tests'
fixtures (``tests/_fixtures.py``).

Not a paper's method: test data. Nothing here is a result.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "STANFORD40_CLASSES",
    "VOC_ALL_ACTIONS",
    "TREE_VERSION",
    "write_jpeg",
    "stanford40_xml",
    "write_stanford40",
    "write_voc",
    "write_real_format",
    "main",
]

#: The 40 Stanford40 actions, in the order of the official ``ImageSplits/actions.txt``.
STANFORD40_CLASSES = (
    "applauding", "blowing_bubbles", "brushing_teeth", "cleaning_the_floor", "climbing",
    "cooking", "cutting_trees", "cutting_vegetables", "drinking", "feeding_a_horse", "fishing",
    "fixing_a_bike", "fixing_a_car", "gardening", "holding_an_umbrella", "jumping",
    "looking_through_a_microscope", "looking_through_a_telescope", "phoning", "playing_guitar",
    "playing_violin", "pouring_liquid", "pushing_a_cart", "reading", "riding_a_bike",
    "riding_a_horse", "rowing_a_boat", "running", "shooting_an_arrow", "smoking", "taking_photos",
    "texting_message", "throwing_frisby", "using_a_computer", "walking_the_dog", "washing_dishes",
    "watching_TV", "waving_hands", "writing_on_a_board", "writing_on_a_book",
)

#: The VOC 2012 action flags of a person, in devkit order: the ten scored actions and ``other``.
VOC_ALL_ACTIONS = (
    "jumping", "phoning", "playinginstrument", "reading", "ridingbike",
    "ridinghorse", "running", "takingphoto", "usingcomputer", "walking", "other",
)

#: Bumped when :func:`write_real_format` writes something else (a tree of an older version is rewritten).
TREE_VERSION = 2

#: The marker file of a tree written here (it is never mistaken for, or written over, real data).
MARKER = ".harlearn-test-tree.json"


# --- images -----------------------------------------------------------------------------------


def _painted(width: int, height: int, persons: Sequence[Sequence[float]], rng: np.random.Generator) -> Image.Image:
    """A smooth picture: a vertical two-colour gradient and a figure (head and body) in every box."""
    top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = np.linspace(0.0, 1.0, height)[:, None, None]  # [H, 1, 1]
    array = np.broadcast_to((1 - t) * top + t * bottom, (height, width, 3)).astype(np.uint8)
    image = Image.fromarray(np.ascontiguousarray(array))
    draw = ImageDraw.Draw(image)
    for x1, y1, x2, y2 in persons:  # 1-based, inclusive: pixel columns x1-1 .. x2-1
        x1, y1, x2, y2 = x1 - 1, y1 - 1, min(x2, width) - 1, min(y2, height) - 1
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        head = (y2 - y1) / 5
        cx = (x1 + x2) / 2
        draw.ellipse((cx - head / 2, y1, cx + head / 2, y1 + head), fill=colour)
        draw.rectangle((x1 + (x2 - x1) / 4, y1 + head, x2 - (x2 - x1) / 4, y2), fill=colour)
    return image


def write_jpeg(
    path: Path, width: int, height: int, gray: bool = False, seed: int = 0,
    persons: Sequence[Sequence[float]] | None = None,
) -> None:
    """A small JPEG: noise by default, or a smooth drawing of ``persons`` (1-based boxes).

    Args:
        path: the file to write (folders are created).
        width: image width in pixels.
        height: image height in pixels.
        gray: a single-channel (grey-scale) JPEG.
        seed: seeds the pixels.
        persons: when given, a smooth picture with a figure in each box (compresses to a few KB).
    """
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    if persons is None:
        shape = (height, width) if gray else (height, width, 3)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path, quality=90)
        return
    image = _painted(width, height, persons, rng)
    (image.convert("L") if gray else image).save(path, quality=80)


# --- Stanford40 -----------------------------------------------------------------------------


def _box_xml(box) -> str:
    x1, y1, x2, y2 = box
    return f"<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox>"


def stanford40_xml(
    filename: str, size: tuple[int, int], persons: list[tuple[str, tuple]], name_is_action: bool = False
) -> str:
    """Stanford40-style XML; ``persons`` are ``(action, 1-based box)``; ``size`` is (W, H).

    Args:
        filename: the image's file name.
        size: ``(W, H)``.
        persons: ``(action, box)`` per person.
        name_is_action: write ``<name>`` as the action (the other form the loader accepts),
            after the box and with ``<size>`` last, instead of ``<name>person</name>`` first.
    """
    w, h = size
    size_xml = f"<size><width>{w}</width><height>{h}</height><depth>3</depth></size>"
    if name_is_action:
        objects = "".join(
            f"\n\t<object>\n\t\t<action>{a}</action>\n\t\t{_box_xml(b)}\n\t\t<name>{a}</name>\n\t</object>"
            for a, b in persons
        )
        return f"<annotation>\n\t<filename>{filename}</filename>{objects}\n\t{size_xml}\n</annotation>\n"
    objects = "".join(
        f"<object><name>person</name><action>{a}</action>{_box_xml(b)}</object>" for a, b in persons
    )
    return f"<annotation><filename>{filename}</filename>{size_xml}{objects}</annotation>"


def write_stanford40(root: Path, images: list[dict], classes: Sequence[str], *, painted: bool = False) -> Path:
    """Write a Stanford40 layout.

    Args:
        root: the dataset root.
        images: dicts with ``id`` (e.g. ``applauding_001``), ``split`` (train/test), ``size``
            ``(W, H)``, ``persons`` (list of 1-based boxes) and optional ``gray`` and
            ``name_is_action`` (see :func:`stanford40_xml`).
        classes: the class list for ``actions.txt``.
        painted: smooth pictures of the persons (small files) instead of noise.

    Returns:
        ``root``.
    """
    splits = root / "ImageSplits"
    splits.mkdir(parents=True, exist_ok=True)
    (root / "XMLAnnotations").mkdir(exist_ok=True)
    counts = {c: 0 for c in classes}
    lists: dict[str, list[str]] = {}
    for i, im in enumerate(images):
        action = im["id"].rsplit("_", 1)[0]
        counts[action] += 1
        w, h = im["size"]
        write_jpeg(root / "JPEGImages" / f"{im['id']}.jpg", w, h, gray=im.get("gray", False), seed=i,
                   persons=im["persons"] if painted else None)
        xml = stanford40_xml(f"{im['id']}.jpg", (w, h), [(action, b) for b in im["persons"]],
                             name_is_action=im.get("name_is_action", False))
        (root / "XMLAnnotations" / f"{im['id']}.xml").write_text(xml)
        for key in (im["split"], f"{action}_{im['split']}"):
            lists.setdefault(key, []).append(f"{im['id']}.jpg")
    header = "action_name\tnumber_of_images\n"
    (splits / "actions.txt").write_text(header + "".join(f"{c}\t{counts[c]}\n" for c in classes))
    for key, names in lists.items():
        (splits / f"{key}.txt").write_text("\n".join(names) + "\n")
    return root


# --- VOC 2012 Action ------------------------------------------------------------------------


def write_voc(root: Path, images: list[dict], *, painted: bool = False) -> Path:
    """Write a VOC 2012 Action layout under ``root/VOCdevkit/VOC2012``.

    Args:
        root: the dataset root.
        images: dicts with ``id``, ``split`` (train/val, or None for an image in no action set),
            ``size`` ``(W, H)`` and ``objects``: dicts with ``name``, 1-based ``box`` and, for
            annotated persons, ``actions`` (a set of action names, ``other`` included).
        painted: smooth pictures of the objects (small files) instead of noise.

    Returns:
        ``root``.
    """
    base = root / "VOCdevkit" / "VOC2012"
    sets = base / "ImageSets" / "Action"
    sets.mkdir(parents=True, exist_ok=True)
    (base / "Annotations").mkdir(exist_ok=True)
    ids: dict[str, list[str]] = {"train": [], "val": [], "trainval": []}
    rows: dict[tuple[str, str], list[str]] = {}
    for i, im in enumerate(images):
        w, h = im["size"]
        write_jpeg(base / "JPEGImages" / f"{im['id']}.jpg", w, h, seed=i,
                   persons=[o["box"] for o in im["objects"]] if painted else None)
        in_sets = (im["split"], "trainval") if im["split"] else ()
        objects = ""
        for index, obj in enumerate(im["objects"], start=1):
            actions = ""
            if "actions" in obj:
                flags = "".join(f"<{a}>{int(a in obj['actions'])}</{a}>" for a in VOC_ALL_ACTIONS)
                actions = f"<actions>{flags}</actions>"
                for s in in_sets:
                    for a in VOC_ALL_ACTIONS[:-1]:
                        label = 1 if a in obj["actions"] else -1
                        rows.setdefault((a, s), []).append(f"{im['id']} {index:>2d} {label:>2d}")
            objects += f"<object><name>{obj['name']}</name>{actions}{_box_xml(obj['box'])}</object>"
        xml = (
            f"<annotation><filename>{im['id']}.jpg</filename><size><width>{w}</width>"
            f"<height>{h}</height><depth>3</depth></size>{objects}</annotation>"
        )
        (base / "Annotations" / f"{im['id']}.xml").write_text(xml)
        for s in in_sets:
            ids[s].append(im["id"])
    for s, names in ids.items():
        (sets / f"{s}.txt").write_text("".join(f"{n}\n" for n in names))
    for (a, s), lines in rows.items():
        (sets / f"{a}_{s}.txt").write_text("\n".join(lines) + "\n")
    return root


# --- the two trees smoke mode reads ---------------------------------------------------------


def _odd(value: int) -> int:
    return value | 1


def _person_boxes(rng: np.random.Generator, w: int, h: int, count: int) -> list[tuple[int, int, int, int]]:
    """``count`` 1-based person boxes side by side, each at least 12 px wide and a third of the height."""
    boxes, step = [], w // count
    for k in range(count):
        x1 = k * step + 1 + int(rng.integers(0, max(1, step // 4)))
        x2 = min((k + 1) * step, x1 + max(12, int(step * rng.uniform(0.55, 0.95))))
        y1 = 1 + int(rng.integers(0, h // 4))
        y2 = min(h, y1 + max(h // 3, int(h * rng.uniform(0.5, 0.75))))
        boxes.append((x1, y1, x2, y2))
    return boxes


def _stanford40_images(train_per_class: int, test_per_class: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    images, k = [], 0
    for action in STANFORD40_CLASSES:
        n = train_per_class + test_per_class
        test = set(rng.choice(n, size=test_per_class, replace=False).tolist())  # interleaved, as in the release
        for i in range(n):
            w, h = _odd(int(rng.integers(80, 150))), _odd(int(rng.integers(70, 140)))
            count = 1 + (k % 5 == 2) + (k % 10 == 7)  # some images hold two or three persons
            persons = _person_boxes(rng, w, h, count)
            if k == 3:  # xmax = W + 1: the 1-based off-by-one the loader clamps
                x1, y1, _, y2 = persons[-1]
                persons[-1] = (x1, y1, w + 1, y2)
            images.append({
                "id": f"{action}_{i + 1:03d}", "split": "test" if i in test else "train", "size": (w, h),
                "persons": persons, "gray": k % 7 == 4, "name_is_action": k % 2 == 1,
            })
            k += 1
    return images


def _voc_images(images_per_action: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed + 1)
    images, number = [], 0
    for split, year in (("train", 2010), ("val", 2011)):
        for rep in range(images_per_action):
            for a, action in enumerate(VOC_ALL_ACTIONS):
                number += 1
                w, h = _odd(int(rng.integers(100, 170))), _odd(int(rng.integers(80, 130)))
                count = 1 + ((a + rep) % 3 == 1) + ((a + rep) % 4 == 3)
                boxes = _person_boxes(rng, w, h, count)
                objects = []
                for p, box in enumerate(boxes):
                    other = VOC_ALL_ACTIONS[(a + 3 * p) % 10] if p else action
                    actions = {other}
                    if action == "phoning" and p == 0 and rep == 0:
                        actions.add("walking")  # a person doing two actions
                    objects.append({"name": "person", "box": box, "actions": actions})
                if (a + rep) % 5 == 2:  # a non-person object, which is not an item
                    objects.insert(0, {"name": "dog", "box": (1, h // 2, w // 3, h)})
                if action == "other" and rep == 0:  # a person with no <actions>: not an item
                    objects.append({"name": "person", "box": (w // 2, 1, w, h // 2)})
                images.append({"id": f"{year}_{number:06d}", "split": split, "size": (w, h), "objects": objects})
    # an image of the detection task only: in JPEGImages and Annotations, in no action set
    images.append({"id": f"2011_{number + 1:06d}", "split": None, "size": (97, 75),
                   "objects": [{"name": "bicycle", "box": (5, 20, 90, 70)}]})
    return images


def _prepare(folder: Path, stamp: dict) -> bool:
    """True when ``folder`` must be (re)written; refuses to touch a folder this module did not write."""
    marker = folder / MARKER
    if marker.is_file():
        if json.loads(marker.read_text()) == stamp:
            return False
        shutil.rmtree(folder)
    elif folder.exists() and any(folder.iterdir()):
        raise FileExistsError(
            f"{folder} exists and was not written by harlearn.data.testing (no {MARKER}): it may be the real "
            "dataset, which is never written over; pick another root (HARLEARN_DATA) for the test trees."
        )
    folder.mkdir(parents=True, exist_ok=True)
    return True


def write_real_format(
    root: str | Path,
    *,
    train_per_class: int = 2,
    test_per_class: int = 2,
    voc_images_per_action: int = 2,
    seed: int = 0,
) -> dict[str, Path]:
    """Write small Stanford40, VOC 2012 Action and UCF101 trees under ``root`` (skipped when already there).

    ``root`` plays ``$HARLEARN_DATA``: afterwards ``Stanford40(root / "stanford40", split)``,
    ``VOCAction(root / "voc2012", split)`` and, with ``HARLEARN_DATA=root``,
    ``harlearn.data.course_datasets("full", layout=...)`` read them with nothing downloaded.

    Args:
        root: the folder to write into (created).
        train_per_class: Stanford40 training images per class (40 classes).
        test_per_class: Stanford40 test images per class (two by default, so that in chapter 8's
            retrieval every test image has a same-class match among the others).
        voc_images_per_action: VOC images per action (and ``other``) in each of train and val.
        seed: seeds sizes, boxes and pixels (the same arguments write the same files).

    Returns:
        ``{"stanford40": root/"stanford40", "voc": root/"voc2012", "ucf101": root/"ucf101"}`` (UCF101:
        SynthHAR's twelve clip classes in the official layout, ``train_per_class`` and
        ``test_per_class`` clips each).

    Raises:
        FileExistsError: a target folder exists with content this function did not write.
    """
    root = Path(root).expanduser()
    stamp = dict(version=TREE_VERSION, train_per_class=train_per_class, test_per_class=test_per_class,
                 voc_images_per_action=voc_images_per_action, seed=seed)
    stanford, voc = root / "stanford40", root / "voc2012"
    if _prepare(stanford, stamp):
        write_stanford40(stanford, _stanford40_images(train_per_class, test_per_class, seed),
                         STANFORD40_CLASSES, painted=True)
        (stanford / MARKER).write_text(json.dumps(stamp))
    if _prepare(voc, stamp):
        write_voc(voc, _voc_images(voc_images_per_action, seed), painted=True)
        (voc / MARKER).write_text(json.dumps(stamp))
    ucf = root / "ucf101"
    if _prepare(ucf, stamp):
        _write_ucf101(ucf, train_per_class, test_per_class, seed)
        (ucf / MARKER).write_text(json.dumps(stamp))
    return {"stanford40": stanford, "voc": voc, "ucf101": ucf}


def _write_ucf101(folder: Path, train_per_class: int, test_per_class: int, seed: int) -> None:
    """A UCF101 tree as the official archives extract (``UCF-101/``, ``ucfTrainTestlist/``), nothing else.

    The clips are SynthHAR clips at 128 px (RAFT's smallest input), without the sidecar and the
    index that SynthHAR adds: what :class:`harlearn.data.UCF101` finds in a real tree.
    """
    from harlearn.data.synthhar.clips import make_clips

    tmp = folder.with_name(f".{folder.name}.clips")
    shutil.rmtree(tmp, ignore_errors=True)
    make_clips(tmp, clips_per_class=train_per_class, test_clips_per_class=test_per_class, frames=9, frame_size=128,
               seed=seed, workers=1)
    for name in ("UCF-101", "ucfTrainTestlist"):
        shutil.move(str(tmp / name), str(folder / name))
    shutil.rmtree(tmp)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m harlearn.data.testing ROOT``: write the trees, print what is there."""
    parser = argparse.ArgumentParser(
        prog="python -m harlearn.data.testing",
        description="Write small Stanford40, VOC 2012 Action and UCF101 trees in the real layouts (for smoke mode: "
                    "HARLEARN_PROFILE=full HARLEARN_SMOKE=1 HARLEARN_DATA=ROOT).",
    )
    parser.add_argument("root", type=Path, help="the folder that HARLEARN_DATA will name")
    parser.add_argument("--train-per-class", type=int, default=2)
    parser.add_argument("--test-per-class", type=int, default=2)
    parser.add_argument("--voc-images-per-action", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    roots = write_real_format(args.root, train_per_class=args.train_per_class, test_per_class=args.test_per_class,
                              voc_images_per_action=args.voc_images_per_action, seed=args.seed)
    for name, folder in roots.items():
        files = [p for p in folder.rglob("*") if p.is_file()]
        media = sum(p.suffix in (".jpg", ".avi") for p in files)
        size = sum(p.stat().st_size for p in files)
        print(f"{name}: {folder} ({media} JPEGs or clips, {len(files)} files, {size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
