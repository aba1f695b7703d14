"""Box-aware transforms: geometry follows the image, the crop keeps the person, masks, mixup."""

from __future__ import annotations

import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from harlearn.data import Stanford40, VOCAction, collate
from harlearn.data._common import apply_transform
from harlearn.data.transforms import (
    COCO_FLIP_PERMUTATION,
    IMAGENET_MEAN,
    BatchMixUp,
    PhotometricRandAugment,
    RandomCropKeepBox,
    RandomHorizontalFlipPose,
    boxes_to_mask,
    eval_transform,
    kept_fraction,
    mixup,
    train_transform,
)


def _item(h=60, w=80, box=(10.0, 20.0, 30.0, 50.0)):
    """A VOC-like item whose image is 255 inside ``box`` and 0 elsewhere."""
    image = torch.zeros(3, h, w, dtype=torch.uint8)
    x1, y1, x2, y2 = (int(v) for v in box)
    image[:, y1:y2, x1:x2] = 255
    mask = torch.zeros(h, w, dtype=torch.bool)
    mask[y1:y2, x1:x2] = True
    return {
        "image": tv_tensors.Image(image),
        "labels": torch.zeros(10),
        "box": torch.tensor(box),
        "boxes": tv_tensors.BoundingBoxes([box, (50.0, 5.0, 70.0, 25.0)], format="XYXY", canvas_size=(h, w)),
        "mask": tv_tensors.Mask(mask),
        "keypoints": torch.tensor([[x1 + k, y1 + k, 2.0] for k in range(17)]),
        "person_index": 1,
    }


def test_flip_moves_box_mask_and_keypoints():
    out = apply_transform(_item(), RandomHorizontalFlipPose(p=1.0))
    assert type(out["box"]) is torch.Tensor and out["box"].tolist() == [50, 20, 70, 50]  # x' = 80 - x
    assert out["boxes"].as_subclass(torch.Tensor)[1].tolist() == [10, 5, 30, 25]
    assert out["mask"][20:50, 50:70].all() and out["mask"].sum() == 20 * 30
    assert (out["image"][0, 20:50, 50:70] == 255).all()
    # Position flips (x' = W - 1 - x) and left/right names swap: the new point 1 was point 2.
    original = _item()["keypoints"]
    assert out["keypoints"][1].tolist() == [79 - original[2, 0].item(), original[2, 1].item(), 2.0]
    assert out["keypoints"][:, 0].tolist() == [79 - original[p, 0].item() for p in COCO_FLIP_PERMUTATION]


def test_keypoints_cropped_away_become_invisible():
    def crop(item):  # a fixed window, x < 15
        return {k: v2.functional.crop(v, 0, 0, 60, 15) if isinstance(v, tv_tensors.TVTensor) else v
                for k, v in item.items()}

    out = apply_transform(_item(), crop)
    vis = out["keypoints"][:, 2]
    assert vis[:5].tolist() == [2.0] * 5 and vis[5:].sum() == 0  # x = 10 + k, window x < 15


def test_crop_keeps_min_fraction_over_many_draws():
    torch.manual_seed(0)
    crop = RandomCropKeepBox(0.7)
    box = torch.tensor([30.0, 12.0, 70.0, 90.0])
    windows = [crop.sample_window((100, 120), box) for _ in range(2000)]
    fractions = [kept_fraction(box, w) for w in windows]
    assert min(fractions) >= 0.7
    assert sum(f < 0.999 for f in fractions) > 200  # the crop does cut into the box sometimes
    assert len(set(windows)) > 500  # and it is random, not the whole-image fallback
    assert all(0 <= t and 0 <= left and t + h <= 100 and left + w <= 120 for t, left, h, w in windows)


def test_crop_on_items_keeps_the_voc_person_and_aligns_the_image():
    torch.manual_seed(1)
    crop = RandomCropKeepBox(0.7)
    for _ in range(60):
        out = apply_transform(_item(), crop)
        x1, y1, x2, y2 = out["box"].tolist()
        assert (x2 - x1) * (y2 - y1) >= 0.7 * 20 * 30 - 1e-4
        # The white pixels are exactly the (cropped) box: geometry followed the image.
        white = out["image"][0] == 255
        assert white.sum() == round((x2 - x1) * (y2 - y1))
        assert torch.equal(white, out["mask"])
        assert len(out["boxes"]) == 2  # the other person may be degenerate but is never dropped


def test_crop_reference_union_and_first():
    item = {"image": tv_tensors.Image(torch.zeros(3, 50, 50, dtype=torch.uint8)),
            "boxes": tv_tensors.BoundingBoxes([[0, 0, 10, 10], [30, 30, 40, 45]], format="XYXY", canvas_size=(50, 50))}
    assert RandomCropKeepBox().reference_box(item).tolist() == [0, 0, 40, 45]
    assert RandomCropKeepBox(reference="first").reference_box(item).tolist() == [0, 0, 10, 10]
    with pytest.raises(ValueError, match="min_fraction"):
        RandomCropKeepBox(1.5)


def test_pipelines_on_datasets(stanford40_root, voc_root):
    torch.manual_seed(0)
    ds = Stanford40(stanford40_root, "train", transform=train_transform(32))
    batch = collate([ds[i] for i in range(len(ds))])
    assert batch["image"].shape == (3, 3, 32, 32) and batch["image"].dtype == torch.float32
    for boxes in batch["boxes"]:
        assert boxes.canvas_size == (32, 32)
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= 32).all()
    plain = eval_transform(32, normalize=False)(VOCAction(voc_root, "train")[0])
    assert 0.0 <= plain["image"].min() and plain["image"].max() <= 1.0
    normed = VOCAction(voc_root, "train", transform=eval_transform(32))[0]
    torch.testing.assert_close(normed["image"][0], (plain["image"][0] - IMAGENET_MEAN[0]) / 0.229)


def test_photometric_randaugment_leaves_geometry():
    torch.manual_seed(0)
    item = _item()
    item["image"] = tv_tensors.Image(torch.randint(0, 256, (3, 60, 80), dtype=torch.uint8))
    changed = 0
    for _ in range(20):
        out = PhotometricRandAugment(num_ops=3)(dict(item))
        assert torch.equal(out["boxes"], item["boxes"]) and torch.equal(out["mask"], item["mask"])
        assert torch.equal(out["keypoints"], item["keypoints"]) and torch.equal(out["box"], item["box"])
        assert out["image"].shape == item["image"].shape and out["image"].dtype == torch.uint8
        changed += not torch.equal(out["image"], item["image"])
    assert changed > 10


def test_boxes_to_mask():
    mask = boxes_to_mask(torch.tensor([[2.0, 1.0, 6.0, 3.0], [5.0, 5.0, 8.0, 8.0]]), (8, 8))
    assert mask.dtype == torch.float32 and mask.shape == (8, 8)
    assert mask.sum() == 4 * 2 + 3 * 3 and mask[1:3, 2:6].eq(1).all() and mask[0].eq(0).all()
    half = boxes_to_mask([[0.0, 0.0, 2.5, 1.0]], (2, 4))
    assert half.tolist() == [[1, 1, 0.5, 0], [0, 0, 0, 0]]
    # At feature-map resolution each cell is the covered fraction of its area.
    small = boxes_to_mask(torch.tensor([[0.0, 0.0, 16.0, 8.0]]), (16, 16), out_size=4)
    assert small.shape == (4, 4)
    assert small.tolist() == [[1.0] * 4, [1.0] * 4, [0.0] * 4, [0.0] * 4]
    cell = boxes_to_mask(torch.tensor([[0.0, 0.0, 2.0, 2.0]]), (8, 8), out_size=(2, 2))
    assert cell.tolist() == [[0.25, 0.0], [0.0, 0.0]]
    assert boxes_to_mask(torch.zeros(0, 4), (3, 5), out_size=(14, 14)).sum() == 0


def test_mixup_soft_targets():
    torch.manual_seed(0)
    batch = {"image": torch.rand(4, 3, 8, 8), "label": torch.tensor([0, 1, 2, 1]), "image_id": list("abcd")}
    out = mixup(batch, num_classes=3, alpha=0.4)
    assert out["label"].shape == (4, 3) and torch.allclose(out["label"].sum(1), torch.ones(4))
    assert out["image"].shape == (4, 3, 8, 8) and out["image_id"] == list("abcd")
    lam = out["label"][0, 0].item()  # item 0 (class 0) mixed with item 3 (class 1)
    torch.testing.assert_close(out["image"][0], lam * batch["image"][0] + (1 - lam) * batch["image"][3])
    multi = BatchMixUp(alpha=1.0)({"image": torch.rand(2, 3, 4, 4), "labels": torch.eye(2, 10)})
    assert multi["labels"].shape == (2, 10) and multi["labels"].sum(1).allclose(torch.ones(2))
    with pytest.raises(ValueError, match="num_classes"):
        mixup(batch)
    with pytest.raises(ValueError, match="alpha > 0"):
        BatchMixUp(alpha=0.0)
