"""The persons of a batch, read once for both layouts (harlearn.data.batch)."""

from __future__ import annotations

import pytest
import torch

from harlearn.data import Stanford40, VOCAction, collate
from harlearn.data import transforms as T
from harlearn.data.batch import anchor_boxes, person_boxes_per_item
from harlearn.models.convit import person_boxes
from harlearn.models.retrieval import anchor_boxes_from_batch


def test_stanford40_anchor_is_the_first_person(stanford40_root):
    data = Stanford40(stanford40_root, split="train", transform=T.eval_transform(32))
    batch = collate([data[i] for i in range(len(data))])
    anchors = anchor_boxes(batch)
    assert anchors.shape == (len(data), 4)
    for anchor, boxes in zip(anchors, batch["boxes"]):
        assert torch.equal(anchor, boxes.as_subclass(torch.Tensor)[0].float())
    persons = person_boxes_per_item(batch)
    assert [len(p) for p in persons] == [len(b) for b in batch["boxes"]]
    assert any(len(p) == 2 for p in persons)  # jumping_001 has two persons
    # the models read the same boxes
    assert torch.equal(anchor_boxes_from_batch(batch), anchors)
    assert all(torch.equal(a[None], b) for a, b in zip(anchors, person_boxes(batch)))


def test_voc_anchor_is_the_items_own_person(voc_root):
    data = VOCAction(voc_root, split="train", transform=T.eval_transform(32))
    batch = collate([data[i] for i in range(len(data))])
    assert torch.equal(anchor_boxes(batch), batch["box"].float())
    assert all(p.shape == (1, 4) for p in person_boxes_per_item(batch))


def test_no_box_means_the_whole_image_or_none():
    batch = {"image": torch.zeros(2, 3, 8, 10), "boxes": [None, torch.zeros(0, 4)]}
    assert anchor_boxes(batch).tolist() == [[0, 0, 10, 8], [0, 0, 10, 8]]
    assert person_boxes_per_item(batch)[0] is None
    with pytest.raises(ValueError, match="different sizes"):
        anchor_boxes({"image": [torch.zeros(3, 4, 4), torch.zeros(3, 5, 5)]})
