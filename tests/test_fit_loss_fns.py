"""One training loop: harlearn.train.fit with loss functions that give no logits (MAE, detector)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torchvision import tv_tensors

from harlearn.inference import unpack_loss_output
from harlearn.models.detection import detection_loss_fn, fasterrcnn
from harlearn.train import TrainConfig, evaluate, fit
from harlearn.transformers.mae import MaskedAutoencoder, mae_loss_fn
from harlearn.transformers.vit import VisionTransformer


def _smooth_images(n: int, size: int = 16, seed: int = 0) -> list[dict]:
    """Low-frequency random images (4 x 4 noise upsampled): something an MAE can learn."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(n, 3, 4, 4, generator=g)
    images = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    return [{"image": images[i], "label": i % 2} for i in range(n)]


def test_fit_pretrains_the_mae_and_records_no_accuracy():
    torch.manual_seed(0)
    encoder = VisionTransformer(16, 4, num_classes=0, embed_dim=32, depth=1, num_heads=2)
    mae = MaskedAutoencoder(encoder, decoder_dim=32, decoder_depth=1, decoder_num_heads=2)
    config = TrainConfig(epochs=2, lr=2e-3, batch_size=8, weight_decay=0.05, betas=(0.9, 0.95),
                         warmup_epochs=0.2, progress=False)
    history = fit(mae, _smooth_images(64), _smooth_images(16, seed=1), config,
                  loss_fn=mae_loss_fn(0.75), device="cpu")
    losses = history["train_loss"]
    assert losses[1] < losses[0]
    assert all(math.isnan(a) for a in history["train_acc"] + history["val_acc"] + history["val_map"])
    assert all(math.isfinite(v) for v in history["val_loss"])
    assert not mae.encoder.pos_embed.requires_grad  # the frozen sin-cos table stays frozen


def test_fit_accepts_a_plain_loss_tensor_and_evaluate_copes_without_logits():
    torch.manual_seed(0)
    model = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 1))

    def loss_fn(m: nn.Module, batch: dict) -> torch.Tensor:
        return m(batch["image"]).pow(2).mean()  # drive the output to zero

    data = _smooth_images(32)
    history = fit(model, data, data, TrainConfig(epochs=3, lr=0.1, optimizer="sgd", batch_size=8, progress=False),
                  loss_fn=loss_fn, device="cpu")
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert math.isnan(history.last["train_acc"]) and math.isfinite(history.last["val_loss"])
    out = evaluate(model, data, loss_fn=loss_fn, device="cpu")
    assert out["logits"] is None and math.isnan(out["accuracy"]) and math.isnan(out["mAP"])
    loss = torch.tensor(1.0)
    assert unpack_loss_output(loss) == (loss, None, {})
    assert unpack_loss_output((loss, None, {"a": loss}))[2] == {"a": loss}


def _box_items(n: int = 4, size: int = 64) -> list[dict]:
    """Dark noise images, each with one bright 20 x 36 'person' whose box is annotated."""
    g = torch.Generator().manual_seed(0)
    items = []
    for i in range(n):
        image = (torch.rand(3, size, size, generator=g) * 60).to(torch.uint8)
        x1, y1 = 8 + 4 * i, 6 + 2 * i
        image[:, y1 : y1 + 36, x1 : x1 + 20] = 220
        boxes = tv_tensors.BoundingBoxes([[x1, y1, x1 + 20, y1 + 36]], format="XYXY", canvas_size=(size, size))
        items.append({"image": tv_tensors.Image(image), "label": 0, "boxes": boxes, "image_id": f"im{i}"})
    return items


def test_fit_trains_the_detector_with_its_loss_terms():
    torch.manual_seed(0)
    model = fasterrcnn(2, min_size=64, width=8)
    config = TrainConfig(epochs=6, lr=3e-3, batch_size=4, schedule="none", grad_clip=10.0, progress=False)
    history = fit(model, _box_items(), None, config, loss_fn=detection_loss_fn(), device="cpu")
    terms = ("loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg")
    assert set(history.keys()) >= set(terms)
    for record in history:  # train_loss is the sum of the four terms (one batch per epoch)
        assert math.isclose(record["train_loss"], sum(record[t] for t in terms), rel_tol=1e-5)
        assert math.isnan(record["train_acc"])
    assert history["train_loss"][-1] < history["train_loss"][0]
