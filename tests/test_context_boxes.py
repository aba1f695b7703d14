"""A frozen detector's proposals found once per image (``with_context_boxes``) move with the image."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.transforms import v2

from harlearn.data import Stanford40, collate
from harlearn.models.retrieval import WithContextBoxes, context_boxes_from_batch, with_context_boxes


class FakeDetector(nn.Module):
    """A torchvision-style detector: one confident box (the left half) and one weak box per image."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.calls = 0
        self.seen = []

    def forward(self, images):
        self.calls += 1
        out = []
        for im in images:
            self.seen.append(tuple(im.shape))
            h, w = im.shape[-2:]
            out.append({"boxes": torch.tensor([[0.0, 0.0, w / 2, h / 2], [1.0, 1.0, 3.0, 3.0]]),
                        "scores": torch.tensor([0.9, 0.1]), "labels": torch.tensor([1, 2])})
        return out


def test_proposals_are_found_once_and_move_with_the_flip(stanford40_root):
    flip = v2.RandomHorizontalFlip(p=1.0)
    dataset = Stanford40(stanford40_root, split="train", transform=flip)
    raw = Stanford40(stanford40_root, split="train")
    detector = FakeDetector()
    wrapped = with_context_boxes(dataset, detector, batch_size=2)
    assert isinstance(wrapped, WithContextBoxes) and len(wrapped) == len(raw)
    assert detector.calls == 2  # 3 images in batches of 2, before any training
    assert detector.seen == [tuple(raw[i]["image"].shape) for i in range(len(raw))]  # the original images
    assert wrapped.classes == raw.classes and wrapped.targets == raw.targets
    for i in range(len(raw)):
        item, original = wrapped[i], raw[i]
        h, w = original["image"].shape[-2:]
        assert torch.equal(item["image"], original["image"].flip(-1))  # the transform still runs
        box = item["object_boxes"].as_subclass(torch.Tensor)
        assert box.shape == (1, 4)  # the weak box is dropped
        assert torch.allclose(box, torch.tensor([[w - w / 2, 0.0, float(w), h / 2]]))  # flipped with the image
    assert detector.calls == 2  # reading items never calls the detector again
    # without a detector, the context regions of a batch are these boxes (and the other persons)
    contexts = context_boxes_from_batch(collate([wrapped[2], wrapped[2]]), k=10)
    expected = wrapped[2]["object_boxes"].as_subclass(torch.Tensor)[0]
    assert all(any(torch.allclose(c, expected) for c in ctx) for ctx in contexts)


def test_one_box_set_per_item(stanford40_root):
    raw = Stanford40(stanford40_root, split="train")
    with pytest.raises(ValueError, match="3 items"):
        WithContextBoxes(raw, [torch.zeros(0, 4)])


def test_max_images_cuts_the_detector_pass(stanford40_root):
    dataset = Stanford40(stanford40_root, split="train")
    detector = FakeDetector()
    wrapped = with_context_boxes(dataset, detector, batch_size=1, max_images=2)
    assert detector.calls == 2 and len(wrapped) == 3
    assert wrapped[0]["object_boxes"].shape == (1, 4) and wrapped[2]["object_boxes"].shape == (0, 4)
