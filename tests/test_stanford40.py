"""Stanford40 loader on tiny files written in the distributed layout."""

from __future__ import annotations

import shutil

import pytest
import torch
from _fixtures import keypoints, write_sidecar
from conftest import STANFORD_CLASSES
from torchvision import tv_tensors

from harlearn.data import Stanford40, collate


def test_classes_items_and_boxes(stanford40_root):
    ds = Stanford40(stanford40_root, "train")
    assert ds.classes == STANFORD_CLASSES
    assert len(ds) == 3 and ds.image_ids == ["applauding_001", "jumping_001", "reading_001"]
    assert ds.targets == [0, 1, 2]
    item = ds[1]
    assert set(item) == {"image", "label", "boxes", "image_id"}
    assert isinstance(item["image"], tv_tensors.Image)
    assert item["image"].dtype == torch.uint8 and item["image"].shape == (3, 24, 32)
    assert item["label"] == 1 and item["image_id"] == "jumping_001"
    boxes = item["boxes"]
    assert isinstance(boxes, tv_tensors.BoundingBoxes) and boxes.dtype == torch.float32
    assert boxes.canvas_size == (24, 32) and boxes.format == tv_tensors.BoundingBoxFormat.XYXY
    # 1-based (2, 3, 12, 20) and (15, 4, 30, 22) -> 0-based, both persons kept in XML order.
    torch.testing.assert_close(boxes.as_subclass(torch.Tensor), torch.tensor([[1.0, 2, 11, 19], [14, 3, 29, 21]]))


def test_subset_keeps_classes_targets_and_ids(stanford40_root):
    ds = Stanford40(stanford40_root, "train")
    part = ds.subset([2, 0])
    assert part.classes == ds.classes and len(part) == 2 and len(ds) == 3
    assert part.targets == [2, 0] and part.image_ids == ["reading_001", "applauding_001"]
    assert part[0]["image_id"] == "reading_001"


def test_grayscale_becomes_rgb_and_one_pixel_slack_is_clamped(stanford40_root):
    item = Stanford40(stanford40_root, "train")[2]
    assert item["image"].shape == (3, 28, 36)
    # XML xmax = 37 = W + 1 -> 0-based 36 = W: clamped to the canvas, not an error.
    torch.testing.assert_close(item["boxes"].as_subclass(torch.Tensor), torch.tensor([[2.0, 2, 36, 27]]))


def test_label_falls_back_to_file_prefix(stanford40_root):
    xml = stanford40_root / "XMLAnnotations" / "reading_002.xml"
    xml.write_text(xml.read_text().replace("<action>reading</action>", ""))
    ds = Stanford40(stanford40_root, "test")
    assert ds.targets == [0, 1, 2]


def test_sidecar_extras(stanford40_root):
    persons = [
        {"box": [1, 2, 11, 19], "keypoints": keypoints(2, 3), "action": "jumping", "role": "actor"},
        {"box": [14, 3, 29, 21], "keypoints": keypoints(15, 3), "action": "jumping", "role": "actor"},
        {"box": [30, 0, 32, 3], "keypoints": keypoints(0, 0), "action": None, "role": "bystander"},
    ]
    objects = [{"name": "ball", "box": [20, 10, 25, 15], "role": "prop"}]
    write_sidecar(stanford40_root / "Extras", "jumping_001", (32, 24), persons, objects)
    ds = Stanford40(stanford40_root, "train")
    item = ds[1]
    masks = item["masks"]
    assert isinstance(masks, tv_tensors.Mask) and masks.shape == (2, 24, 32) and masks.dtype == torch.bool
    assert masks[0, 2:19, 1:11].all() and not masks[0, :, 12:].any()
    assert masks[1, 3:21, 14:29].all() and not (masks[0] & masks[1]).any()
    assert masks.sum() == 10 * 17 + 15 * 18  # the bystander (label 3) is in no person's mask
    assert item["keypoints"].shape == (2, 17, 3) and item["keypoints"][1, 0].tolist() == [15, 3, 2]
    assert item["object_names"] == ["ball"]
    assert item["object_boxes"].as_subclass(torch.Tensor).tolist() == [[20, 10, 25, 15]]
    assert item["bystander_boxes"].as_subclass(torch.Tensor).tolist() == [[30, 0, 32, 3]]
    assert "masks" not in ds[0]  # no sidecar, no extras


def test_collate_keeps_per_image_lists(stanford40_root):
    from torchvision.transforms import v2

    ds = Stanford40(stanford40_root, "train", transform=v2.Resize((16, 16)))
    batch = collate([ds[i] for i in range(3)])
    assert batch["image"].shape == (3, 3, 16, 16) and type(batch["image"]) is torch.Tensor
    assert batch["label"].tolist() == [0, 1, 2] and batch["label"].dtype == torch.long
    assert [len(b) for b in batch["boxes"]] == [1, 2, 1]
    assert batch["image_id"] == ["applauding_001", "jumping_001", "reading_001"]
    unequal = collate([Stanford40(stanford40_root, "train")[i] for i in range(3)])
    assert isinstance(unequal["image"], list)


def test_transform_sees_whole_item(stanford40_root):
    from torchvision.transforms import v2

    item = Stanford40(stanford40_root, "train", transform=v2.RandomHorizontalFlip(p=1.0))[0]
    # 0-based (0, 0, 19, 24) in a 40-wide image -> x' = 40 - x.
    assert item["boxes"].as_subclass(torch.Tensor).tolist() == [[21, 0, 40, 24]]


def test_errors(stanford40_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="No Stanford40 dataset at .*make_synthhar"):
        Stanford40(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="Unknown Stanford40 split 'val'.*'train', 'test'"):
        Stanford40(stanford40_root, "val")
    (stanford40_root / "ImageSplits" / "test.txt").unlink()
    with pytest.raises(FileNotFoundError, match="test split file"):
        Stanford40(stanford40_root, "test")
    (stanford40_root / "XMLAnnotations" / "reading_001.xml").unlink()
    with pytest.raises(FileNotFoundError, match="No annotation for reading_001.jpg at .*reading_001.xml"):
        Stanford40(stanford40_root, "train")
    (stanford40_root / "JPEGImages" / "jumping_001.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="jumping_001.jpg is listed in .*train.txt.*re-download"):
        Stanford40(stanford40_root, "train")
    shutil.rmtree(stanford40_root / "JPEGImages")
    with pytest.raises(FileNotFoundError, match="No Stanford40 images at .*JPEGImages"):
        Stanford40(stanford40_root)


def test_corrupt_image_malformed_xml_and_box_outside(stanford40_root):
    images, xmls = stanford40_root / "JPEGImages", stanford40_root / "XMLAnnotations"
    (images / "applauding_001.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    ds = Stanford40(stanford40_root, "train")
    with pytest.raises(ValueError, match="Cannot decode image .*applauding_001.jpg"):
        ds[0]
    xml = xmls / "jumping_001.xml"
    xml.write_text(xml.read_text().replace("<xmax>30</xmax>", "<xmax>40</xmax>"))
    with pytest.raises(ValueError, match=r"\(15, 4, 40, 22\) in .*jumping_001.xml lies outside the 32x24 image"):
        Stanford40(stanford40_root, "train")[1]
    xml.write_text("<annotation><object>")
    with pytest.raises(ValueError, match="Malformed XML in .*jumping_001.xml"):
        Stanford40(stanford40_root, "train")
