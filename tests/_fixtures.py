"""Writers of tiny datasets in the real on-disk layouts (Stanford40, VOC 2012 Action), for tests.

Boxes are given here exactly as they appear in the XML files: 1-based pixel coordinates. The
layout writers live in the library (:mod:`harlearn.data.testing`, which also writes the trees
that smoke mode reads); the sidecar writer is the tests' own.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from harlearn.data.testing import (  # noqa: F401  (re-exported for the tests)
    VOC_ALL_ACTIONS,
    stanford40_xml,
    write_jpeg,
    write_stanford40,
    write_voc,
)


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
