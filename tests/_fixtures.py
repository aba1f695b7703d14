"""Writers of tiny datasets in the real on-disk layouts (Stanford40, VOC 2012 Action), for tests.

Boxes are given here exactly as they appear in the XML files: 1-based pixel coordinates.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

VOC_ALL_ACTIONS = (
    "jumping", "phoning", "playinginstrument", "reading", "ridingbike",
    "ridinghorse", "running", "takingphoto", "usingcomputer", "walking", "other",
)


def write_jpeg(path: Path, width: int, height: int, gray: bool = False, seed: int = 0) -> None:
    """A small noise JPEG (grayscale when ``gray``)."""
    rng = np.random.default_rng(seed)
    shape = (height, width) if gray else (height, width, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path, quality=90)


def _box_xml(box) -> str:
    x1, y1, x2, y2 = box
    return f"<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox>"


def stanford40_xml(filename: str, size: tuple[int, int], persons: list[tuple[str, tuple]]) -> str:
    """Stanford40-style XML; ``persons`` are ``(action, 1-based box)``; ``size`` is (W, H)."""
    objects = "".join(
        f"<object><name>person</name><action>{a}</action>{_box_xml(b)}</object>" for a, b in persons
    )
    w, h = size
    return (
        f"<annotation><filename>{filename}</filename><size><width>{w}</width><height>{h}</height>"
        f"<depth>3</depth></size>{objects}</annotation>"
    )


def write_stanford40(root: Path, images: list[dict], classes: list[str]) -> Path:
    """Write a Stanford40 layout.

    Args:
        root: the dataset root.
        images: dicts with ``id`` (e.g. ``applauding_001``), ``split`` (train/test), ``size``
            ``(W, H)``, ``persons`` (list of 1-based boxes) and optional ``gray``.
        classes: the class list for ``actions.txt``.
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
        write_jpeg(root / "JPEGImages" / f"{im['id']}.jpg", w, h, gray=im.get("gray", False), seed=i)
        xml = stanford40_xml(f"{im['id']}.jpg", (w, h), [(action, b) for b in im["persons"]])
        (root / "XMLAnnotations" / f"{im['id']}.xml").write_text(xml)
        for key in (im["split"], f"{action}_{im['split']}"):
            lists.setdefault(key, []).append(f"{im['id']}.jpg")
    header = "action_name\tnumber_of_images\n"
    (splits / "actions.txt").write_text(header + "".join(f"{c}\t{counts[c]}\n" for c in classes))
    for key, names in lists.items():
        (splits / f"{key}.txt").write_text("\n".join(names) + "\n")
    return root


def write_voc(root: Path, images: list[dict]) -> Path:
    """Write a VOC 2012 Action layout under ``root/VOCdevkit/VOC2012``.

    Args:
        root: the dataset root.
        images: dicts with ``id``, ``split`` (train/val), ``size`` ``(W, H)`` and ``objects``:
            dicts with ``name``, 1-based ``box`` and, for annotated persons, ``actions`` (a set
            of action names, ``other`` included).
    """
    base = root / "VOCdevkit" / "VOC2012"
    sets = base / "ImageSets" / "Action"
    sets.mkdir(parents=True, exist_ok=True)
    (base / "Annotations").mkdir(exist_ok=True)
    ids: dict[str, list[str]] = {"train": [], "val": [], "trainval": []}
    rows: dict[tuple[str, str], list[str]] = {}
    for i, im in enumerate(images):
        w, h = im["size"]
        write_jpeg(base / "JPEGImages" / f"{im['id']}.jpg", w, h, seed=i)
        objects = ""
        for index, obj in enumerate(im["objects"], start=1):
            actions = ""
            if "actions" in obj:
                flags = "".join(f"<{a}>{int(a in obj['actions'])}</{a}>" for a in VOC_ALL_ACTIONS)
                actions = f"<actions>{flags}</actions>"
                for s in (im["split"], "trainval"):
                    for a in VOC_ALL_ACTIONS[:-1]:
                        label = 1 if a in obj["actions"] else -1
                        rows.setdefault((a, s), []).append(f"{im['id']} {index:>2d} {label:>2d}")
            objects += f"<object><name>{obj['name']}</name>{actions}{_box_xml(obj['box'])}</object>"
        xml = (
            f"<annotation><filename>{im['id']}.jpg</filename><size><width>{w}</width>"
            f"<height>{h}</height><depth>3</depth></size>{objects}</annotation>"
        )
        (base / "Annotations" / f"{im['id']}.xml").write_text(xml)
        for s in (im["split"], "trainval"):
            ids[s].append(im["id"])
    for s, names in ids.items():
        (sets / f"{s}.txt").write_text("".join(f"{n}\n" for n in names))
    for (a, s), lines in rows.items():
        (sets / f"{a}_{s}.txt").write_text("\n".join(lines) + "\n")
    return root


def write_sidecar(folder: Path, image_id: str, size: tuple[int, int], persons: list[dict], objects: list[dict]) -> None:
    """A sidecar JSON plus a label-map PNG where person ``i`` fills its (0-based) box with ``i+1``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{image_id}.json").write_text(json.dumps({"persons": persons, "objects": objects}))
    w, h = size
    label_map = np.zeros((h, w), dtype=np.uint8)
    for i, p in enumerate(persons, start=1):
        x1, y1, x2, y2 = (int(v) for v in p["box"])
        label_map[y1:y2, x1:x2] = i
    Image.fromarray(label_map).save(folder / f"{image_id}_mask.png")


def keypoints(x0: float, y0: float) -> list[list[float]]:
    """17 COCO keypoints on a diagonal from ``(x0, y0)``, all visible (v = 2)."""
    return [[x0 + k, y0 + k, 2.0] for k in range(17)]
