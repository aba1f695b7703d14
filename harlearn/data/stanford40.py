"""The Stanford 40 Actions dataset, read from its distributed on-disk layout.

Dataset: B. Yao, X. Jiang, A. Khosla, A. L. Lin, L. Guibas, L. Fei-Fei, "Human Action
Recognition by Learning Bases of Action Attributes and Parts", ICCV 2011
(http://vision.stanford.edu/Datasets/40actions.html). 9,532 images of 40 actions: 4,000 for
training (100 per class) and 5,532 for testing; one label per image; every person doing the
action has a box. The course evaluates it by per-class AP over the test images, averaged (mAP).

Layout under ``root`` (what the three official zips extract to, and what SynthHAR writes)::

    JPEGImages/<action>_<NNN>.jpg
    XMLAnnotations/<action>_<NNN>.xml     <object><action>..</action><bndbox>.. (1-based)
    ImageSplits/actions.txt               a header line, then "action<TAB>count" per class
    ImageSplits/{train,test}.txt          one file name per line (e.g. applauding_001.jpg)
    Extras/<action>_<NNN>.json (+ _mask.png)   optional sidecar (SynthHAR only)

Departures from the raw files: boxes are converted to 0-based pixel ``xyxy`` (all four XML
coordinates minus 1) and clamped when they stick out of the image by at most 1 px.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from torch.utils.data import Dataset

from ._common import (
    REDOWNLOAD_HINT,
    SYNTHHAR_HINT,
    apply_transform,
    check_box,
    check_split,
    parse_xml,
    read_image,
    read_lines,
    read_xml_box,
    require,
    to_boxes,
)
from ._download import STANFORD40_ARCHIVES, download_missing
from ._extras import read_sidecar

__all__ = ["Stanford40", "CONFUSABLE_PAIRS"]

#: Pairs of Stanford40 actions that share their object and differ in the pose or the relation
#: between person and object (the inter-class similarity of chapter 1; SynthHAR's own pairs are
#: in its ``synthhar.json``).
CONFUSABLE_PAIRS: tuple[tuple[str, str], ...] = (
    ("riding_a_bike", "fixing_a_bike"),
    ("riding_a_horse", "feeding_a_horse"),
    ("phoning", "texting_message"),
    ("looking_through_a_microscope", "looking_through_a_telescope"),
    ("writing_on_a_book", "reading"),
)


class _Record(NamedTuple):
    image_id: str  # file stem, e.g. applauding_001
    file: str  # file name in JPEGImages
    label: int  # index into classes
    boxes: list[list[float]]  # 0-based xyxy, unchecked
    xml: Path


def _is_person(obj: ET.Element) -> bool:
    """Stanford40 objects are persons; SynthHAR names them ``person`` and adds an ``<action>``."""
    return obj.findtext("name", "").strip() == "person" or obj.find("action") is not None


def read_actions(path: Path) -> list[str]:
    """Class names from ``actions.txt``, in file order.

    The first line is a header (``action_name<TAB>number_of_images``); it is skipped when its
    second field is not a number, so a file without a header also reads correctly.
    """
    rows = [line.split() for line in read_lines(path)]
    if rows and (len(rows[0]) < 2 or not rows[0][1].isdigit()):
        rows = rows[1:]
    return [row[0] for row in rows]


class Stanford40(Dataset):
    """Stanford 40 Actions: one action label per image, a box for every person.

    Args:
        root: the folder holding ``JPEGImages/``, ``XMLAnnotations/`` and ``ImageSplits/``;
            the course keeps it at ``$HARLEARN_DATA/stanford40`` (:func:`harlearn.data.course_root`).
        split: ``"train"`` or ``"test"``.
        transform: a ``torchvision.transforms.v2`` transform (or any callable) applied to the
            whole item dict, so boxes and masks follow the image; see
            ``harlearn.data.transforms``.
        download: fetch and extract the official zips into ``root`` when a folder is missing.
            The site publishes no checksum, so the first download cannot be verified; its
            sha256 is recorded (``data_home()/"downloads"/.harlearn-sha256.json``) and a later
            copy that differs is refused (see :mod:`harlearn.data._download`).

    Attributes:
        classes: the action names in ``ImageSplits/actions.txt`` order (alphabetical in the
            official release and in SynthHAR); ``label`` indexes this list.
        class_to_idx: the inverse mapping.

    Each item is a dict:

    - ``image``: ``tv_tensors.Image`` uint8 [3, H, W], RGB;
    - ``label``: int, index into ``classes`` (the XML ``<action>``, else the file-name prefix);
    - ``boxes``: ``tv_tensors.BoundingBoxes`` float32 [P, 4], 0-based XYXY, the XML persons;
    - ``image_id``: the file stem, e.g. ``applauding_001``;
    - with a sidecar only: ``masks`` (``Mask`` bool [P, H, W]), ``keypoints`` (float32
      [P, 17, 3]: x, y, COCO visibility), ``object_boxes`` [O, 4], ``object_names``
      (list of str) and ``bystander_boxes`` [Q, 4].

    Raises:
        FileNotFoundError: the root, a folder, a split file, an image or an XML is missing.
        ValueError: unknown split, malformed XML, an action outside ``classes``; when an item
            is read, a corrupt image or a box outside the image.
    """

    SPLITS = ("train", "test")

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        download: bool = False,
    ) -> None:
        self.root = Path(root).expanduser()
        self.split = check_split(split, self.SPLITS, "Stanford40")
        self.transform = transform
        if download:
            download_missing(self.root, STANFORD40_ARCHIVES, "Stanford40")
        require(self.root, "Stanford40 dataset", SYNTHHAR_HINT)
        self._images = require(self.root / "JPEGImages", "Stanford40 images", SYNTHHAR_HINT)
        xml_dir = require(self.root / "XMLAnnotations", "Stanford40 annotations", SYNTHHAR_HINT)
        splits = require(self.root / "ImageSplits", "Stanford40 split files", SYNTHHAR_HINT)
        self.classes = read_actions(require(splits / "actions.txt", "Stanford40 class list", SYNTHHAR_HINT))
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
        split_file = require(splits / f"{split}.txt", f"Stanford40 {split} split file", SYNTHHAR_HINT)
        present = set(os.listdir(self._images))
        self._records = [
            self._read_record(name, split_file, xml_dir, present) for name in read_lines(split_file)
        ]

    def _read_record(self, name: str, split_file: Path, xml_dir: Path, present: set[str]) -> _Record:
        file = name if Path(name).suffix else f"{name}.jpg"
        if file not in present:
            raise FileNotFoundError(
                f"Image {self._images / file} is listed in {split_file} but missing: "
                "re-download the dataset (download=True) or regenerate SynthHAR."
            )
        image_id = Path(file).stem
        xml = require(xml_dir / f"{image_id}.xml", f"annotation for {file}", REDOWNLOAD_HINT)
        persons = [obj for obj in parse_xml(xml).iter("object") if _is_person(obj)]
        names = [obj.findtext(tag, "").strip() for obj in persons for tag in ("action", "name")]
        names.append(image_id.rsplit("_", 1)[0])  # the file-name prefix is the last resort
        label = next((self.class_to_idx[n] for n in names if n in self.class_to_idx), None)
        if label is None:
            raise ValueError(
                f"The action of {xml} (none of {sorted(set(names) - {'person', ''})}) is not in "
                f"ImageSplits/actions.txt: fix the annotation or the class list."
            )
        return _Record(image_id, file, label, [read_xml_box(obj, xml) for obj in persons], xml)

    @property
    def targets(self) -> list[int]:
        """The label of every item, in order (read from the XML, no image is decoded)."""
        return [r.label for r in self._records]

    @property
    def image_ids(self) -> list[str]:
        """The ``image_id`` of every item, in order."""
        return [r.image_id for r in self._records]

    def subset(self, indices) -> "Stanford40":
        """A copy holding only the items at ``indices`` (in that order), with the same classes and transform.

        Unlike ``torch.utils.data.Subset`` it keeps ``classes``, ``targets`` and ``image_ids``
        (e.g. a smoke run's few test images: ``test.subset(range(8))``).
        """
        import copy

        out = copy.copy(self)
        out._records = [self._records[i] for i in indices]
        return out

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        record = self._records[index]
        image = read_image(self._images / record.file)
        size = tuple(image.shape[-2:])  # (H, W)
        boxes = [check_box(box, size, record.xml) for box in record.boxes]
        item: dict[str, Any] = {
            "image": image,
            "label": record.label,
            "boxes": to_boxes(boxes, size),
            "image_id": record.image_id,
        }
        sidecar = read_sidecar(self.root / "Extras", record.image_id, size)
        if sidecar is not None:
            item.update(sidecar.image_extras(len(boxes), size))
        return apply_transform(item, self.transform)

    def __repr__(self) -> str:
        return (
            f"Stanford40(split={self.split!r}, {len(self)} images, {len(self.classes)} classes, "
            f"root='{self.root}')"
        )
