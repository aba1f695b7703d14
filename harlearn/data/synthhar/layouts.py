"""The on-disk formats SynthHAR writes: Stanford40's and PASCAL VOC 2012 Action's annotations and index files.

Only text: one image's XML annotation in each layout, and the split / per-class index files
written once every image is rendered. The folders themselves (``JPEGImages/``, ...) and the
images are made by :mod:`harlearn.data.synthhar.build`. The readers of these formats are
:mod:`harlearn.data.stanford40` and :mod:`harlearn.data.voc_action`.

Where it departs from the real files: an annotation holds only the fields the loaders read
(image size, and per person the box and the action(s)); boxes are the exact 0-based drawing
boxes, rounded and written 1-based as in the originals; every VOC person is ``Unspecified``,
not truncated and not difficult, and no image is ``segmented``. SynthHAR's ``test`` split is
written as VOC's ``val``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .render.actions import CLASSES, VOC_ACTIONS, VOC_MAPPING

__all__ = ["VOC_SET", "stanford40_xml", "voc_xml", "write_stanford40_index", "write_voc_index"]

#: The VOC image set a SynthHAR split is written to.
VOC_SET = {"train": "train", "test": "val"}


# ---- one image's annotation ---------------------------------------------------------------------
def _xml_box(box: list[float]) -> str:
    """1-based integer ``<bndbox>`` from a 0-based box."""
    x1, y1, x2, y2 = (int(round(v)) + 1 for v in box)
    return f"<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox>"


def stanford40_xml(image_id: str, size: int, persons: list[dict]) -> str:
    """Stanford40's ``XMLAnnotations/<id>.xml``: one ``<object>`` per annotated person."""
    objs = "".join(
        f"\n\t<object>\n\t\t<name>person</name>\n\t\t<action>{p['action']}</action>\n\t\t{_xml_box(p['box'])}\n\t</object>"
        for p in persons
    )
    return (
        f"<annotation>\n\t<filename>{image_id}.jpg</filename>\n\t<folder>SynthHAR</folder>\n"
        f"\t<size><width>{size}</width><height>{size}</height><depth>3</depth></size>{objs}\n</annotation>\n"
    )


def voc_xml(image_id: str, size: int, persons: list[dict]) -> str:
    """VOC's ``Annotations/<id>.xml``: one person per ``<object>``, its actions one-hot (``other`` included)."""
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


# ---- index files --------------------------------------------------------------------------------
def _write_lines(path: Path, lines: Iterable[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def write_stanford40_index(out: Path, results: list[dict[str, Any]]) -> dict[str, int]:
    """Write ``ImageSplits/`` (``actions.txt``, ``<class>_<split>.txt``, ``<split>.txt``); return images per split.

    ``results`` are the rendered images in generation order, each with its ``split``,
    ``image_id`` and ``actions`` (the first one is the image's label).
    """
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


def write_voc_index(out: Path, results: list[dict[str, Any]]) -> dict[str, int]:
    """Write ``VOCdevkit/VOC2012/ImageSets/Action/`` (``train``, ``val``, ``trainval``, per action); return counts.

    A per-action file lists every annotated person as ``<image id> <person index> <+1 | -1>``,
    as VOC does; the counts are images and persons per image set.
    """
    action_dir = out / "VOCdevkit" / "VOC2012" / "ImageSets" / "Action"
    sets: dict[str, list[dict[str, Any]]] = {"train": [], "val": []}
    for r in results:
        sets[VOC_SET[r["split"]]].append(r)
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
