"""Ragged person boxes through ``harlearn.data.collate`` (issue 14): Stanford40 images hold 1-3 persons.

torch's default collate stacks every tensor of a batch and crashes on boxes of different
lengths; chapter 5's ``pretrain`` and ``features`` (``fit`` / ``predict`` on the real Stanford40
items, boxes included) crashed that way. ``harlearn.data.collate`` keeps the boxes per image.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, default_collate

from harlearn import experiments, profiles
from harlearn.data import Stanford40, VOCAction, collate
from harlearn.data import transforms as T
from harlearn.data.testing import write_real_format
from harlearn.train import fit, predict
from harlearn.transformers import MaskedAutoencoder, VisionTransformer
from harlearn.transformers.mae import mae_loss_fn


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    return write_real_format(tmp_path_factory.mktemp("smoke-data"))


def _ragged_batch(data, size=4):
    """The first ``size`` items with at least two different person counts."""
    counts = {}
    for i in range(len(data)):
        counts.setdefault(len(data[i]["boxes"]), i)
        if len(counts) >= 2:
            break
    first = sorted(counts.values())
    rest = [i for i in range(len(data)) if i not in first][: size - len(first)]
    return [data[i] for i in first + rest]


def test_default_collate_crashes_on_ragged_boxes_and_ours_keeps_them_per_image(roots):
    data = Stanford40(roots["stanford40"], "train", transform=T.train_transform(224))
    items = _ragged_batch(data)
    assert len({len(item["boxes"]) for item in items}) >= 2
    with pytest.raises(RuntimeError):
        default_collate(items)
    batch = collate(items)
    assert batch["image"].shape == (4, 3, 224, 224) and batch["label"].shape == (4,)
    assert [tuple(b.shape) for b in batch["boxes"]] == [(len(item["boxes"]), 4) for item in items]
    assert batch["image_id"] == [item["image_id"] for item in items]


def test_voc_person_box_is_stacked_and_image_boxes_stay_a_list(roots):
    data = VOCAction(roots["voc"], "train", transform=T.eval_transform(224))
    items = _ragged_batch(data)
    batch = collate(items)
    assert batch["box"].shape == (4, 4) and batch["labels"].shape == (4, 10)
    assert isinstance(batch["boxes"], list) and len({len(b) for b in batch["boxes"]}) >= 2
    assert batch["person_index"].dtype == torch.long


def test_ragged_batches_cross_worker_processes(roots):
    data = Stanford40(roots["stanford40"], "train", transform=T.eval_transform(224))
    loader = DataLoader(data, batch_size=8, num_workers=1, collate_fn=collate)
    batch = next(iter(loader))
    assert batch["image"].shape == (8, 3, 224, 224) and len(batch["boxes"]) == 8


def test_chapter5_pretrain_and_features_run_on_real_format_items(roots):
    """Chapter 5's full path in smoke size: MAE pre-training and features on items with ragged boxes."""
    P = profiles.as_smoke(cuda=False)
    train = Stanford40(roots["stanford40"], "train", transform=T.train_transform(P.image_size))
    test = Stanford40(roots["stanford40"], "test", transform=T.eval_transform(P.image_size))
    vit = dict(patch_size=16, embed_dim=32, depth=1, num_heads=2)
    torch.manual_seed(0)
    mae = MaskedAutoencoder(VisionTransformer(P.image_size, num_classes=0, **vit), mask_ratio=0.75,
                            decoder_dim=32, decoder_depth=1, decoder_num_heads=2)
    recipe = experiments.recipe(P, "mae", epochs=200, betas=(0.9, 0.95))  # smoke: 1 epoch x 2 batches of 4
    history = fit(mae, train, None, recipe, loss_fn=mae_loss_fn(0.75), device="cpu")
    assert len(history["train_loss"]) == 1 and torch.isfinite(torch.tensor(history["train_loss"])).all()
    out = predict(mae.encoder, test, device="cpu", batch_size=P.batch_size, max_batches=P.max_batches,
                  forward=lambda m, batch: m.forward_features(batch["image"])[:, 1:].mean(1))
    assert out["logits"].shape == (P.batch_size * P.max_batches, 32) and out["targets"].shape == (8,)
