"""The program ``tests/test_ddp.py`` starts with torchrun: two gloo processes train with ``fit``.

``python -m torch.distributed.run --nproc_per_node=2 ... tests/_ddp_worker.py OUT`` runs, in
every process: the model without BatchNorm (2 epochs), the BatchNorm model with synchronised
BatchNorm (2 epochs with checkpoints, then resumed from last.pt to 3 epochs) and the BatchNorm
model without synchronisation (2 epochs). Each process saves its final weights and histories to
``OUT/rank<r>.pt``; the test compares them with one process and with each other.

The models and data live here, so the test builds the single-process references from the same code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset, default_collate


class Blobs(Dataset):
    """48 deterministic 8x8 images of three classes (no augmentation: the order is all that is random)."""

    classes = ["a", "b", "c"]

    def __init__(self, n: int = 48, offset: int = 0) -> None:
        g = torch.Generator().manual_seed(123 + offset)
        self.labels = torch.arange(n) % 3
        self.images = torch.randn(n, 3, 8, 8, generator=g) * 0.5
        self.images[:, 0] += self.labels.view(-1, 1, 1).float()  # class signal in channel 0

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.images[i], "label": int(self.labels[i]), "index": i}


def make_model(batchnorm: bool) -> nn.Module:
    """Conv (+ BatchNorm), ReLU, pool, linear; no dropout. Seeded: every call, the same weights.

    Before a BatchNorm the conv has no bias: BatchNorm cancels it, so its gradient is zero up to
    rounding, which Adam would blow up into steps of random sign.
    """
    torch.manual_seed(0)
    norm = [nn.BatchNorm2d(6)] if batchnorm else []
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, bias=not batchnorm), *norm, nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(6, 3))


def config(**changes):
    from harlearn.train import TrainConfig

    base = dict(epochs=2, lr=0.05, optimizer="adamw", weight_decay=0.01, schedule="step", step_size=1,
                gamma=0.5, warmup_epochs=0.5, batch_size=8, seed=7, progress=False)
    base.update(changes)
    return TrainConfig(**base)


def train(model: nn.Module, cfg, resume: bool = False):
    from harlearn.train import fit

    return fit(model, Blobs(), Blobs(20, offset=1), cfg, device="cpu", collate_fn=default_collate, resume=resume)


def plain(model: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def main(out: Path) -> None:
    from harlearn import distributed

    assert distributed.init_from_env(timeout_s=60), "expected to be started by torchrun with 2 processes"
    result = {}

    model = make_model(batchnorm=False)
    history = train(model, config())
    result["nobn"] = (plain(model), history.as_dict())

    model = make_model(batchnorm=True)
    history = train(model, config(sync_batchnorm=True, checkpoint_dir=str(out / "syncbn")))
    result["syncbn_2"] = (plain(model), history.as_dict())
    model = make_model(batchnorm=True)  # a fresh model: everything comes from last.pt
    history = train(model, config(epochs=3, sync_batchnorm=True, checkpoint_dir=str(out / "syncbn")), resume=True)
    result["syncbn_resumed_3"] = (plain(model), history.as_dict())
    result["syncbn_layers"] = sorted({type(m).__name__ for m in model.modules()})

    model = make_model(batchnorm=True)
    history = train(model, config())
    result["bn_unsynced"] = (plain(model), history.as_dict())

    torch.save(result, out / f"rank{distributed.rank()}.pt")
    distributed.destroy()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main(Path(sys.argv[1]))
