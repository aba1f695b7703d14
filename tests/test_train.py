"""Tests of harlearn.train: the loop, exact resume, checkpoints, evaluation (CPU, tiny data)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset, default_collate

from harlearn import metrics
from harlearn.train import (
    History,
    TrainConfig,
    evaluate,
    fit,
    load_checkpoint,
    lr_factor,
    predict,
    save_checkpoint,
    seed_everything,
)



class TinyDataset(Dataset):
    """Learnable item dicts with random augmentation from torch, numpy and Python RNGs."""

    classes = ["a", "b", "c"]

    def __init__(self, n: int = 48, multilabel: bool = False, augment: bool = True) -> None:
        g = torch.Generator().manual_seed(123)
        self.labels = torch.arange(n) % 3
        self.images = torch.randn(n, 3, 8, 8, generator=g) * 0.5
        self.images[:, 0] += self.labels.view(-1, 1, 1).float()  # class signal in channel 0
        self.multilabel, self.augment = multilabel, augment

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        image = self.images[i].clone()
        if self.augment:
            image = image + 0.1 * torch.randn_like(image)  # torch RNG
            if np.random.rand() < 0.5:  # numpy RNG
                image = image.flip(-1)
            image = image * random.uniform(0.9, 1.1)  # Python RNG
        item = {"image": image, "image_id": f"img_{i:03d}"}
        if self.multilabel:
            item["labels"] = nn.functional.one_hot(self.labels[i], 3).float()
        else:
            item["label"] = int(self.labels[i])
        return item


class TinyNet(nn.Module):
    """Conv, BatchNorm, dropout, linear: every kind of state the loop must restore."""

    def __init__(self, output: str = "tensor") -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2),
        )
        self.head = nn.Linear(6, 3)
        self.output = output

    def forward(self, x: torch.Tensor):
        logits = self.head(self.features(x))
        if self.output == "tuple":
            return logits, None
        if self.output == "dict":
            return {"logits": logits}
        return logits


def make_model(seed: int = 0, output: str = "tensor") -> TinyNet:
    torch.manual_seed(seed)
    return TinyNet(output)


def config(**kw) -> TrainConfig:
    base = dict(epochs=4, lr=0.05, optimizer="adamw", weight_decay=0.01, schedule="cosine",
                warmup_epochs=1, batch_size=8, seed=7, progress=False)
    base.update(kw)
    return TrainConfig(**base)


def run(model, cfg, **kw):
    return fit(model, TinyDataset(), TinyDataset(24, augment=False), cfg, device="cpu",
               collate_fn=default_collate, **kw)


class Crash(Exception):
    pass


def crash_at_epoch(epoch: int, steps_per_epoch: int):
    """A loss_fn that trains normally, then crashes at the first step of ``epoch`` (1-based)."""
    from harlearn.train import default_loss

    calls = {"n": 0}

    def loss_fn(model, batch):
        if model.training:
            calls["n"] += 1
            if calls["n"] > (epoch - 1) * steps_per_epoch:
                raise Crash()
        return default_loss(model, batch)

    return loss_fn


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


# ---- the loop --------------------------------------------------------------------------------


def test_fit_learns_and_records_history():
    h = run(make_model(), config(epochs=3))
    assert isinstance(h, History) and len(h) == 3
    assert h["epoch"] == [1, 2, 3]
    assert set(h.keys()) >= {"train_loss", "train_acc", "val_loss", "val_acc", "val_map", "lr",
                             "seconds"}
    assert h["train_loss"][-1] < h["train_loss"][0]
    assert h.last["val_acc"] > 0.6  # the classes are easy to separate
    assert h.best("val_loss")["val_loss"] == min(h["val_loss"])
    assert h.best("val_map")["val_map"] == max(h["val_map"])
    assert History.from_dict(h.as_dict()).records == h.records


def test_resume_after_crash_is_bit_identical(tmp_path):
    cfg_a = config(checkpoint_dir=str(tmp_path / "a"))
    model_a = make_model()
    hist_a = run(model_a, cfg_a)  # 4 uninterrupted epochs

    cfg_b = config(checkpoint_dir=str(tmp_path / "b"))
    with pytest.raises(Crash):  # dies at the start of epoch 3
        run(make_model(), cfg_b, loss_fn=crash_at_epoch(3, steps_per_epoch=6))
    assert load_checkpoint(tmp_path / "b" / "last.pt")["epoch"] == 2

    epoch2 = load_checkpoint(tmp_path / "b" / "last.pt")["model"]
    model_b = make_model(seed=99)  # different init: resume must overwrite everything
    random.seed(5), np.random.seed(5), torch.manual_seed(5)  # and not depend on global RNGs
    hist_b = run(model_b, cfg_b, resume=True)  # epochs 3-4
    assert_same_weights(model_a, model_b)
    for key in ("train_loss", "train_acc", "val_loss", "val_map", "lr"):
        assert hist_b[key] == hist_a[key], key
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["best.pt", "last.pt"]

    # ... and the test can fail: another seed gives other augmentations and other weights.
    with pytest.raises(Crash):
        run(make_model(), config(seed=8, checkpoint_dir=str(tmp_path / "c")),
            loss_fn=crash_at_epoch(3, steps_per_epoch=6))
    other = load_checkpoint(tmp_path / "c" / "last.pt")["model"]
    assert not torch.equal(other["head.weight"], epoch2["head.weight"])


def test_persistent_workers_resume_bit_identically(tmp_path):
    """num_workers > 0: the workers live across epochs, and each item is drawn from (epoch seed, index)."""
    cfg_a = config(epochs=3, num_workers=2, checkpoint_dir=str(tmp_path / "a"))
    model_a = make_model()
    hist_a = run(model_a, cfg_a)
    cfg_b = config(epochs=3, num_workers=2, checkpoint_dir=str(tmp_path / "b"))
    with pytest.raises(Crash):  # dies at the start of epoch 2
        run(make_model(), cfg_b, loss_fn=crash_at_epoch(2, steps_per_epoch=6))
    model_b = make_model(seed=99)
    hist_b = run(model_b, cfg_b, resume=True)
    assert_same_weights(model_a, model_b)
    assert hist_b["train_loss"] == hist_a["train_loss"]

    # the items' draws depend on the epoch (not the same augmentation every epoch) and on the seed
    from harlearn.train import _EpochTagged, _SeededItems

    items = _SeededItems(TinyDataset())
    assert torch.equal(items[(1, 5)]["image"], items[(1, 5)]["image"])
    assert not torch.equal(items[(1, 5)]["image"], items[(2, 5)]["image"])
    tagged = _EpochTagged(range(3))
    tagged.epoch_seed = 11
    assert list(tagged) == [(11, 0), (11, 1), (11, 2)] and len(tagged) == 3
    shuffled = _EpochTagged(n=10)
    shuffled.epoch_seed = 3
    assert list(shuffled) == list(shuffled) and sorted(i for _, i in shuffled) == list(range(10))


def test_resume_extends_a_finished_run(tmp_path):
    cfg = config(schedule="step", step_size=1, gamma=0.5, warmup_epochs=0)
    full = make_model()
    run(full, cfg)
    part = make_model()
    ckpt = str(tmp_path)
    run(part, config(schedule="step", step_size=1, gamma=0.5, warmup_epochs=0, epochs=2,
                     checkpoint_dir=ckpt))
    h = run(part, config(schedule="step", step_size=1, gamma=0.5, warmup_epochs=0,
                         checkpoint_dir=ckpt), resume=True)
    assert h["epoch"] == [1, 2, 3, 4]
    assert_same_weights(full, part)
    # resuming a finished run trains nothing and returns its history
    again = run(part, config(schedule="step", step_size=1, gamma=0.5, warmup_epochs=0,
                             checkpoint_dir=ckpt), resume=True)
    assert again.as_dict() == h.as_dict()


def test_corrupt_checkpoint_error_names_the_file(tmp_path):
    run(make_model(), config(epochs=1, checkpoint_dir=str(tmp_path)))
    last = tmp_path / "last.pt"
    data = last.read_bytes()
    last.write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(RuntimeError, match="last.pt.*corrupt"):
        run(make_model(), config(epochs=2, checkpoint_dir=str(tmp_path)), resume=True)
    last.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match=str(last)):
        load_checkpoint(last)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")


def test_save_checkpoint_is_atomic_and_weights_only(tmp_path, monkeypatch):
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    hist = History([{"epoch": 1, "train_loss": 1.0, "val_map": math.nan}])
    path = save_checkpoint(tmp_path / "ck.pt", model, opt, epoch=1, history=hist,
                           config=TrainConfig(checkpoint_dir=tmp_path))
    torch.manual_seed(1)
    expected = torch.rand(3)
    torch.manual_seed(1)
    save_checkpoint(tmp_path / "rng.pt", model)
    torch.rand(3)
    state = load_checkpoint(tmp_path / "rng.pt", restore_rng=True)  # weights_only=True inside
    assert torch.equal(torch.rand(3), expected)

    state = load_checkpoint(path, make_model(seed=3))
    assert state["epoch"] == 1 and state["config"]["checkpoint_dir"] == str(tmp_path)
    assert History.from_dict(state["history"])["train_loss"] == [1.0]

    # a crash while writing leaves the old file intact and no temporary file behind
    before = path.read_bytes()
    monkeypatch.setattr(torch, "save", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        save_checkpoint(path, model)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt", "rng.pt"]


def test_non_finite_loss_stops_with_a_clear_error():
    def nan_loss(model, batch):
        logits = model(batch["image"])
        return logits.sum() * float("nan"), logits

    with pytest.raises(RuntimeError, match=r"epoch 1, step 1.*learning rate"):
        run(make_model(), config(epochs=1), loss_fn=nan_loss)


@pytest.mark.parametrize("output", ["tuple", "dict"])
def test_model_outputs_multilabel_and_options(output):
    data = TinyDataset(multilabel=True)
    cfg = config(epochs=1, optimizer="sgd", schedule="none", amp=True, channels_last=True,
                 grad_clip=1.0, label_smoothing=0.1, max_batches=2)
    seen = []
    h = fit(make_model(output=output), data, TinyDataset(12, multilabel=True), cfg,
            device="cpu", collate_fn=default_collate,
            metric_fn=lambda logits, targets: seen.append(logits.shape) or {"n": len(logits)})
    assert h.last["val_n"] == 12 and seen == [(12, 3)]
    assert math.isfinite(h.last["val_map"]) and math.isfinite(h.last["train_loss"])


def test_lr_schedule():
    cfg = TrainConfig(epochs=10, warmup_epochs=2, schedule="cosine")
    f = [lr_factor(s, config=cfg, steps_per_epoch=5) for s in range(50)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)  # linear warmup
    assert f[10] == pytest.approx(1.0) and f[30] == pytest.approx(0.5)  # cosine, halfway
    assert all(a >= b for a, b in zip(f[10:], f[11:]))
    step = TrainConfig(epochs=10, schedule="step", step_size=3, gamma=0.1)
    assert lr_factor(14, config=step, steps_per_epoch=5) == pytest.approx(1.0)
    assert lr_factor(15, config=step, steps_per_epoch=5) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        lr_factor(0, config=TrainConfig(schedule="linear"), steps_per_epoch=1)


def test_evaluate_and_predict():
    seed_everything(0)
    model = make_model()
    data = TinyDataset(20, augment=False)
    out = evaluate(model, data, device="cpu", batch_size=6, collate_fn=default_collate)
    assert out["logits"].shape == (20, 3) and out["targets"].shape == (20,)
    assert out["accuracy"] == metrics.accuracy(out["logits"], out["targets"])
    probs = torch.from_numpy(out["logits"]).double().softmax(1).numpy()
    assert out["mAP"] == pytest.approx(metrics.mean_average_precision(probs, out["targets"]))
    logits = torch.from_numpy(out["logits"])
    ce = nn.functional.cross_entropy(logits, torch.from_numpy(out["targets"]))
    assert out["loss"] == pytest.approx(float(ce), rel=1e-5)
    # predict with a custom forward (embeddings): no loss, outputs in dataset order
    emb = predict(model, data, device="cpu", collate_fn=default_collate,
                  forward=lambda m, b: m.features(b["image"]))
    assert emb["logits"].shape == (20, 6) and math.isnan(emb["loss"])


def test_fit_with_the_library_collate():
    data = pytest.importorskip("harlearn.data")
    if not hasattr(data, "collate"):
        pytest.skip("harlearn.data.collate is not there yet")
    h = fit(make_model(), TinyDataset(16), TinyDataset(8, augment=False),
            config(epochs=1, batch_size=8), device="cpu")  # collate_fn defaults to it
    assert len(h) == 1 and math.isfinite(h.last["val_loss"])


# ---- mixed precision (issue 14) -----------------------------------------


def test_autocast_picks_bf16_only_where_native(monkeypatch):
    """A T4 (compute capability 7.5) emulates bf16: fp16 (with a GradScaler) instead."""
    from harlearn import inference

    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    for capability, expected in (((7, 5), torch.float16), ((8, 0), torch.bfloat16)):
        def is_bf16_supported(including_emulation: bool = True, _major=capability[0]) -> bool:
            return _major >= 8 or including_emulation  # what torch answers on that GPU

        monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
        assert inference._autocast_dtype(cuda, amp=True) == expected, capability
        assert inference._autocast_dtype(cuda, amp=False) is None
        assert inference._autocast_dtype(cpu, amp=True) is None

        def old_is_bf16_supported() -> bool:  # torch < 2.3: no including_emulation argument
            return True

        monkeypatch.setattr(torch.cuda, "is_bf16_supported", old_is_bf16_supported)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None, _c=capability: _c)
        monkeypatch.setattr(torch.version, "hip", None)
        assert inference._autocast_dtype(cuda, amp=True) == expected, capability
