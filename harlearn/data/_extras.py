"""Sidecar annotations: the exact extras that SynthHAR writes and real datasets lack.

For an image ``<id>``, a folder ``Extras/`` beside ``JPEGImages/`` may hold ``<id>.json`` and
``<id>_mask.png`` (format in INTERFACES.md)::

    {"persons": [{"box": [x1, y1, x2, y2], "keypoints": [[x, y, v], ...17],
                  "action": str | null, "role": "actor" | "bystander"}, ...],
     "objects": [{"name": str, "box": [x1, y1, x2, y2], "role": "prop" | "distractor"}, ...]}

Boxes and keypoints are 0-based pixels. ``persons`` lists the XML persons first, in XML order,
then bystanders. The mask PNG is an 8-bit label map: 0 is background, ``i`` is ``persons[i-1]``.
The loaders expose these as extra item keys when the files exist, and not at all otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image as PILImage
from torchvision import tv_tensors

from ._common import to_boxes

__all__ = ["Sidecar", "read_sidecar"]

NUM_KEYPOINTS = 17  # COCO order


@dataclass
class Sidecar:
    """The parsed sidecar of one image.

    Attributes:
        path: the JSON file (named in errors).
        persons: the ``persons`` records, XML persons first.
        objects: the ``objects`` records.
        label_map: uint8 [H, W] person label map, or ``None`` without a mask PNG.
    """

    path: Path
    persons: list[dict[str, Any]]
    objects: list[dict[str, Any]]
    label_map: torch.Tensor | None

    def _keypoints(self, persons: list[dict[str, Any]]) -> torch.Tensor:
        """Keypoints of ``persons`` as float32 [P, 17, 3]; a person without any gets zeros."""
        out = torch.zeros(len(persons), NUM_KEYPOINTS, 3)
        for i, p in enumerate(persons):
            if p.get("keypoints"):
                out[i] = torch.tensor(p["keypoints"], dtype=torch.float32).reshape(NUM_KEYPOINTS, 3)
        return out

    def _check_persons(self, needed: int) -> None:
        if len(self.persons) < needed:
            raise ValueError(
                f"Sidecar {self.path} lists {len(self.persons)} persons but the XML has {needed}: "
                "regenerate the dataset with harlearn.data.make_synthhar."
            )

    def _objects(self, size: tuple[int, int]) -> dict[str, Any]:
        boxes = to_boxes((o["box"] for o in self.objects), size, clamp=True)
        return {"object_boxes": boxes, "object_names": [str(o["name"]) for o in self.objects]}

    def image_extras(self, num_persons: int, size: tuple[int, int]) -> dict[str, Any]:
        """Stanford40 item extras for an image with ``num_persons`` XML persons.

        Returns:
            ``masks`` (``Mask`` bool [P, H, W], when the PNG exists), ``keypoints`` [P, 17, 3],
            ``object_boxes`` [O, 4], ``object_names`` and ``bystander_boxes`` [Q, 4].
        """
        self._check_persons(num_persons)
        actors, bystanders = self.persons[:num_persons], self.persons[num_persons:]
        out: dict[str, Any] = {}
        if self.label_map is not None:
            ids = torch.arange(1, num_persons + 1, dtype=self.label_map.dtype)
            out["masks"] = tv_tensors.Mask(self.label_map[None] == ids[:, None, None])  # [P, H, W]
        out["keypoints"] = self._keypoints(actors)
        out.update(self._objects(size))
        out["bystander_boxes"] = to_boxes((p["box"] for p in bystanders), size, clamp=True)
        return out

    def person_extras(self, rank: int, size: tuple[int, int]) -> dict[str, Any]:
        """VOC item extras for the XML person number ``rank`` (0-based, among person objects).

        Returns:
            ``mask`` (``Mask`` bool [H, W], when the PNG exists), ``keypoints`` [17, 3],
            ``object_boxes`` [O, 4] and ``object_names``.
        """
        self._check_persons(rank + 1)
        out: dict[str, Any] = {}
        if self.label_map is not None:
            out["mask"] = tv_tensors.Mask(self.label_map == rank + 1)  # [H, W]
        out["keypoints"] = self._keypoints([self.persons[rank]])[0]
        out.update(self._objects(size))
        return out


def read_sidecar(folder: Path, image_id: str, size: tuple[int, int]) -> Sidecar | None:
    """Read ``folder/<image_id>.json`` (and ``_mask.png``) if present.

    Args:
        folder: the ``Extras`` folder.
        image_id: the image's file stem.
        size: the image ``(H, W)``; the mask must match it.

    Returns:
        The sidecar, or ``None`` when there is no JSON for this image.

    Raises:
        ValueError: the JSON or the mask cannot be read or does not fit the image.
    """
    path = folder / f"{image_id}.json"
    if not path.is_file():
        return None
    fix = "regenerate the dataset with harlearn.data.make_synthhar"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        persons, objects = list(record.get("persons", [])), list(record.get("objects", []))
    except (ValueError, AttributeError, TypeError) as err:
        raise ValueError(f"Malformed sidecar {path} ({err}): {fix}.") from None
    label_map = None
    mask_path = folder / f"{image_id}_mask.png"
    if mask_path.is_file():
        try:
            with PILImage.open(mask_path) as im:
                label_map = torch.from_numpy(np.array(im, dtype=np.uint8))  # [H, W]
        except (OSError, ValueError) as err:
            raise ValueError(f"Cannot read mask {mask_path} ({err}): {fix}.") from None
        if tuple(label_map.shape) != tuple(size):
            raise ValueError(
                f"Mask {mask_path} is {tuple(label_map.shape)} but the image is {tuple(size)}: {fix}."
            )
    return Sidecar(path, persons, objects, label_map)
