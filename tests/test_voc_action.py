"""VOC 2012 Action loader on tiny files written in the devkit layout."""

from __future__ import annotations

import pytest
import torch
from _fixtures import keypoints, write_jpeg, write_sidecar
from torchvision import tv_tensors

from harlearn.data import VOC_ACTIONS, VOCAction, collate
from harlearn.data.transforms import eval_transform, train_transform


def test_one_item_per_annotated_person(voc_root):
    ds = VOCAction(voc_root, "train")
    assert ds.classes == list(VOC_ACTIONS) and len(ds.classes) == 10
    # Image 1: persons are objects 1 and 3 (the dog, object 2, is not an item); image 2: object 1.
    keys = [(ds[i]["image_id"], ds[i]["person_index"]) for i in range(len(ds))]
    assert keys == [("2010_000001", 1), ("2010_000001", 3), ("2010_000002", 1)]
    item = ds[1]
    assert set(item) == {"image", "labels", "box", "boxes", "image_id", "person_index"}
    assert isinstance(item["image"], tv_tensors.Image) and item["image"].shape == (3, 36, 48)
    assert item["labels"].dtype == torch.float32 and item["labels"].shape == (10,)
    assert [ds.classes[i] for i in item["labels"].nonzero().flatten()] == ["phoning", "walking"]
    assert type(item["box"]) is torch.Tensor and item["box"].tolist() == [24, 2, 44, 32]
    assert isinstance(item["boxes"], tv_tensors.BoundingBoxes) and item["boxes"].canvas_size == (36, 48)
    assert item["boxes"].as_subclass(torch.Tensor).tolist() == [[1, 1, 19, 29], [24, 2, 44, 32]]
    # The "other"-only person is an item with all-zero labels.
    assert ds[2]["labels"].sum() == 0 and ds.targets[2].sum() == 0


def test_splits(voc_root):
    assert len(VOCAction(voc_root, "val")) == 1
    assert len(VOCAction(voc_root, "trainval")) == 4
    assert VOCAction(voc_root, "val")[0]["person_index"] == 2  # after a bicycle
    assert len(VOCAction(voc_root / "VOCdevkit" / "VOC2012", "train")) == 3  # root inside the devkit


@pytest.mark.parametrize("split", ["train", "val", "trainval"])
def test_labels_match_per_action_split_files(voc_root, split):
    ds = VOCAction(voc_root, split)
    sets = voc_root / "VOCdevkit" / "VOC2012" / "ImageSets" / "Action"
    for c, action in enumerate(ds.classes):
        lines = (sets / f"{action}_{split}.txt").read_text().splitlines()
        expected = {(i, int(k)): int(v) == 1 for i, k, v in (line.split() for line in lines)}
        got = {(ds[j]["image_id"], ds[j]["person_index"]): bool(ds.targets[j, c]) for j in range(len(ds))}
        assert got == expected, action


def test_sidecar_and_transforms(voc_root):
    base = voc_root / "VOCdevkit" / "VOC2012"
    persons = [
        {"box": [1, 1, 19, 29], "keypoints": keypoints(2, 2), "action": "jumping", "role": "actor"},
        {"box": [24, 2, 44, 32], "keypoints": keypoints(25, 3), "action": "phoning", "role": "actor"},
    ]
    write_sidecar(base / "Extras", "2010_000001", (48, 36), persons, [{"name": "phone", "box": [30, 5, 34, 9]}])
    item = VOCAction(voc_root, "train")[1]
    mask = item["mask"]
    assert isinstance(mask, tv_tensors.Mask) and mask.shape == (36, 48) and mask.sum() == 20 * 30
    assert mask[2:32, 24:44].all()
    assert item["keypoints"].shape == (17, 3) and item["keypoints"][0].tolist() == [25, 3, 2]
    assert item["object_names"] == ["phone"]

    out = VOCAction(voc_root, "train", transform=eval_transform(24))[1]
    assert out["image"].shape == (3, 24, 24) and out["image"].dtype == torch.float32
    assert type(out["box"]) is torch.Tensor and out["box"].shape == (4,)
    torch.testing.assert_close(out["box"], torch.tensor([12.0, 4 / 3, 22, 64 / 3]))
    assert out["mask"].shape == (24, 24)
    torch.testing.assert_close(out["keypoints"][0], torch.tensor([12.5, 2.0, 2.0]))

    torch.manual_seed(0)
    train = VOCAction(voc_root, "train", transform=train_transform(24))
    batch = collate([train[i] for i in range(len(train))])
    assert batch["image"].shape == (3, 3, 24, 24) and batch["labels"].shape == (3, 10)
    assert batch["box"].shape == (3, 4) and batch["person_index"].tolist() == [1, 3, 1]
    assert len(batch["boxes"]) == 3 and [m is None for m in batch["mask"]] == [False, False, True]


def test_errors(voc_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="No VOC 2012 dataset at"):
        VOCAction(tmp_path / "missing")
    with pytest.raises(ValueError, match="Unknown VOC Action split 'test'.*'train', 'val', 'trainval'"):
        VOCAction(voc_root, "test")
    sets = voc_root / "VOCdevkit" / "VOC2012" / "ImageSets" / "Action"
    (sets / "val.txt").unlink()
    with pytest.raises(FileNotFoundError, match="val split file"):
        VOCAction(voc_root, "val")
    xml = voc_root / "VOCdevkit" / "VOC2012" / "Annotations" / "2010_000002.xml"
    xml.write_text(xml.read_text().replace("<xmax>30</xmax>", "<xmax>45</xmax>"))
    ds = VOCAction(voc_root, "train")
    with pytest.raises(ValueError, match=r"\(5, 5, 45, 28\) in .*2010_000002.xml lies outside the 40x30 image"):
        ds[2]
    (voc_root / "VOCdevkit" / "VOC2012" / "JPEGImages" / "2010_000002.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(ValueError, match="Cannot decode image .*2010_000002.jpg"):
        ds[2]
    (voc_root / "VOCdevkit" / "VOC2012" / "JPEGImages" / "2010_000002.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="2010_000002.jpg is listed in .*train.txt but missing"):
        VOCAction(voc_root, "train")
    write_jpeg(voc_root / "VOCdevkit" / "VOC2012" / "JPEGImages" / "2010_000002.jpg", 40, 30)
    xml.write_text("<annotation><object><name>person</name><actions><jumping>yes</jumping>")
    with pytest.raises(ValueError, match="Malformed XML in .*2010_000002.xml"):
        VOCAction(voc_root, "train")
    xml.write_text(
        "<annotation><object><name>person</name><actions><jumping>yes</jumping></actions>"
        "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>"
    )
    with pytest.raises(ValueError, match="Malformed XML in .*2010_000002.xml: <jumping> holds 'yes'"):
        VOCAction(voc_root, "train")
    xml.write_text("<annotation><object><name>person</name><actions/></object></annotation>")
    with pytest.raises(ValueError, match="Malformed XML in .*2010_000002.xml: an <object> lacks a numeric <bndbox>"):
        VOCAction(voc_root, "train")
