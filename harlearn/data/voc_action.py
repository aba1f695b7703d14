"""The PASCAL VOC 2012 Action dataset, read from the devkit layout.

Dataset: M. Everingham, L. Van Gool, C. K. I. Williams, J. Winn, A. Zisserman, "The PASCAL
Visual Object Classes (VOC) Challenge", IJCV 2010 (http://host.robots.ox.ac.uk/pascal/VOC/voc2012/).
The unit is a *person*, not an image: each annotated person has a box and a yes/no flag for
ten actions (and ``other``), and an image may hold several. Scored by VOC AP per action.

Layout under ``root`` (what ``VOCtrainval_11-May-2012.tar`` extracts to, and what SynthHAR
writes)::

    VOCdevkit/VOC2012/JPEGImages/<id>.jpg
    VOCdevkit/VOC2012/Annotations/<id>.xml      <object><name>person</name><actions>
                                                <jumping>0|1</jumping>..<other>0|1</other>
                                                </actions><bndbox>.. (1-based)
    VOCdevkit/VOC2012/ImageSets/Action/{train,val,trainval}.txt        image ids
    VOCdevkit/VOC2012/ImageSets/Action/<action>_{train,val,trainval}.txt
                                                "<id> <objindex> <1|-1>" per person
    VOCdevkit/VOC2012/Extras/<id>.json (+ _mask.png)    optional sidecar (SynthHAR only)

The items are the persons of the split's images that carry an ``<actions>`` element; non-person
objects are not items. ``person_index`` counts *all* objects of the XML, 1-based, in file
order, as the devkit (and the ``<action>_<set>.txt`` files) do. Labels come from the XML;
they agree with the per-action split files. A person whose only action is ``other`` is an
item with all-zero labels (the devkit keeps it as a negative for every scored action).

Departures from the raw files: boxes are converted to 0-based pixel ``xyxy`` (all four XML
coordinates minus 1) and clamped when they stick out of the image by at most 1 px.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch.utils.data import Dataset

from ._common import (
    REDOWNLOAD_HINT,
    SYNTHHAR_HINT,
    apply_transform,
    check_box,
    data_home,
    check_split,
    parse_xml,
    read_image,
    read_lines,
    read_xml_box,
    require,
    to_boxes,
)
from ._download import VOC2012_ARCHIVES, download_missing
from ._extras import read_sidecar

__all__ = ["VOCAction", "VOC_ACTIONS"]

#: The ten scored actions, in devkit order (``other`` is annotated but not scored).
VOC_ACTIONS = (
    "jumping", "phoning", "playinginstrument", "reading", "ridingbike",
    "ridinghorse", "running", "takingphoto", "usingcomputer", "walking",
)


class _Person(NamedTuple):
    image_id: str
    person_index: int  # 1-based index among all objects of the XML
    person_rank: int  # 0-based index among the XML's person objects (sidecar order)
    labels: list[float]  # multi-hot over VOC_ACTIONS
    box: list[float]  # 0-based xyxy, unchecked
    image_boxes: list[list[float]]  # every annotated person of the image
    xml: Path


def _flag(actions: ET.Element, name: str, xml: Path) -> float:
    text = actions.findtext(name)
    if text is None:
        return 0.0
    try:
        return 1.0 if float(text) > 0 else 0.0
    except ValueError:
        raise ValueError(
            f"Malformed XML in {xml}: <{name}> holds {text!r}, not 0 or 1; "
            "restore the file from the official archive."
        ) from None


def read_persons(image_id: str, xml: Path) -> list[_Person]:
    """The annotated persons of one VOC XML file, in file order."""
    objects = list(parse_xml(xml).iter("object"))
    found = []  # (person_index, person_rank, labels, box)
    rank = 0
    for index, obj in enumerate(objects, start=1):
        if obj.findtext("name", "").strip() != "person":
            continue
        actions = obj.find("actions")
        if actions is not None:
            labels = [_flag(actions, name, xml) for name in VOC_ACTIONS]
            found.append((index, rank, labels, read_xml_box(obj, xml)))
        rank += 1
    boxes = [box for *_, box in found]
    return [_Person(image_id, i, r, lab, box, boxes, xml) for i, r, lab, box in found]


def _missing_message(root: Path) -> str:
    """The one sentence for a root that exists but holds no VOC 2012 Action tree."""
    expected = root / "VOCdevkit" / "VOC2012"
    stanford = (root / "XMLAnnotations").is_dir() or (root / "ImageSplits").is_dir()
    found = " (it holds a Stanford40 tree, a different dataset)" if stanford else ""
    return (
        f"PASCAL VOC 2012 Action is missing: {root}{found} has no VOC folder {expected} with "
        f"Annotations/, ImageSets/Action/ and JPEGImages/; pass download=True, or extract "
        f"VOCtrainval_11-May-2012.tar into {root} (the course's VOC root is {data_home() / 'voc2012'}), "
        "or generate SynthHAR with harlearn.data.make_synthhar(root)."
    )


class VOCAction(Dataset):
    """PASCAL VOC 2012 Action: one item per annotated person, ten multi-hot action labels.

    Args:
        root: the folder holding ``VOCdevkit/`` (``root/VOCdevkit/VOC2012`` and ``root/VOC2012``
            are accepted too); the course keeps it at ``$HARLEARN_DATA/voc2012``
            (:func:`harlearn.data.course_root` with ``layout="voc"``).
        split: ``"train"``, ``"val"`` or ``"trainval"``.
        transform: a ``torchvision.transforms.v2`` transform applied to the whole item dict; the
            person ``box`` travels as ``BoundingBoxes`` [1, 4] and comes back as float [4].
        download: fetch and extract ``VOCtrainval_11-May-2012.tar`` (about 2 GB) into ``root``
            when the images are missing.

    Attributes:
        classes: the ten scored actions in devkit order (``VOC_ACTIONS``).
        base: the folder holding ``JPEGImages`` (normally ``root/VOCdevkit/VOC2012``).

    Each item is a dict:

    - ``image``: ``tv_tensors.Image`` uint8 [3, H, W], RGB;
    - ``labels``: float32 [10] multi-hot over ``classes`` (all zeros for an ``other``-only person);
    - ``box``: float32 [4], this person, 0-based XYXY;
    - ``boxes``: ``tv_tensors.BoundingBoxes`` float32 [P, 4], every annotated person of the image;
    - ``image_id``: e.g. ``2010_000001``;
    - ``person_index``: int, the 1-based object index used by the split files;
    - with a sidecar only: ``mask`` (``Mask`` bool [H, W], this person), ``keypoints``
      (float32 [17, 3]), ``object_boxes`` [O, 4] and ``object_names``.

    Raises:
        FileNotFoundError: the root, the VOC folder (``VOCdevkit/VOC2012`` with
            ``Annotations/`` and ``ImageSets/Action/``), the images, the split file, an image
            or an XML is missing.
        ValueError: unknown split or malformed XML; when an item is read, a corrupt image or a
            box outside the image.
    """

    SPLITS = ("train", "val", "trainval")

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        download: bool = False,
    ) -> None:
        self.root = Path(root).expanduser()
        self.split = check_split(split, self.SPLITS, "VOC Action")
        self.transform = transform
        self.classes = list(VOC_ACTIONS)
        base = self._find_base(self.root)
        if download and base is None:
            download_missing(self.root, VOC2012_ARCHIVES, "VOC 2012 Action")
            base = self._find_base(self.root)
        require(self.root, "VOC 2012 dataset", SYNTHHAR_HINT)
        if base is None:
            raise FileNotFoundError(_missing_message(self.root))
        self.base = base
        self._images = require(self.base / "JPEGImages", "VOC 2012 images", SYNTHHAR_HINT)
        xml_dir = require(self.base / "Annotations", "VOC 2012 annotations", SYNTHHAR_HINT)
        split_file = self.base / "ImageSets" / "Action" / f"{split}.txt"
        require(split_file, f"VOC 2012 Action {split} split file", SYNTHHAR_HINT)
        present = set(os.listdir(self._images))
        self._persons: list[_Person] = []
        for line in read_lines(split_file):
            image_id = line.split()[0]
            if f"{image_id}.jpg" not in present:
                raise FileNotFoundError(
                    f"Image {self._images / (image_id + '.jpg')} is listed in {split_file} but missing: "
                    "re-download the dataset (download=True) or regenerate SynthHAR."
                )
            xml = require(xml_dir / f"{image_id}.xml", f"annotation for {image_id}", REDOWNLOAD_HINT)
            self._persons.extend(read_persons(image_id, xml))

    @staticmethod
    def _find_base(root: Path) -> Path | None:
        """The VOC 2012 folder: ``root/VOCdevkit/VOC2012``, ``root/VOC2012`` or ``root`` itself.

        A candidate counts only when it holds VOC's own ``Annotations/`` and
        ``ImageSets/Action/``: a ``JPEGImages/`` alone is not enough, since a Stanford40 tree
        (``JPEGImages/``, ``XMLAnnotations/``, ``ImageSplits/``) has one too, and taking it for
        VOC would skip ``download=True``.
        """
        for base in (root / "VOCdevkit" / "VOC2012", root / "VOC2012", root):
            if (base / "Annotations").is_dir() and (base / "ImageSets" / "Action").is_dir():
                return base
        return None

    @property
    def targets(self) -> torch.Tensor:
        """Multi-hot labels of every item, float32 [N, 10] (read from the XML, no image is decoded)."""
        return torch.tensor([p.labels for p in self._persons], dtype=torch.float32).reshape(-1, 10)

    def __len__(self) -> int:
        return len(self._persons)

    def __getitem__(self, index: int) -> dict[str, Any]:
        person = self._persons[index]
        image = read_image(self._images / f"{person.image_id}.jpg")
        size = tuple(image.shape[-2:])  # (H, W)
        item: dict[str, Any] = {
            "image": image,
            "labels": torch.tensor(person.labels, dtype=torch.float32),
            "box": torch.tensor(check_box(person.box, size, person.xml), dtype=torch.float32),
            "boxes": to_boxes([check_box(b, size, person.xml) for b in person.image_boxes], size),
            "image_id": person.image_id,
            "person_index": person.person_index,
        }
        sidecar = read_sidecar(self.base / "Extras", person.image_id, size)
        if sidecar is not None:
            item.update(sidecar.person_extras(person.person_rank, size))
        return apply_transform(item, self.transform)

    def __repr__(self) -> str:
        images = len({p.image_id for p in self._persons})
        return f"VOCAction(split={self.split!r}, {len(self)} persons in {images} images, root='{self.root}')"
