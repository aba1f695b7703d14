"""Calibrate SynthHAR's difficulty: how well does a small CNN trained from scratch on a CPU do?

The ``book`` profile trains on SynthHAR at 96 px (written at 128 px, 100 + 100 images per
class). SynthHAR is tuned so that a small CNN (4 conv layers with BatchNorm, AdamW, about
10 epochs, a few CPU minutes) lands well above chance (1/16 = 6 %) and well below 100 %:
roughly 45-80 % test accuracy, leaving room for every chapter's method to make a
difference. The script also prints how often the confusable pairs are mistaken for each
other compared with any other pair of classes.

It reads the JPEGs of the Stanford40 layout with PIL (not the harlearn loaders)::

    python benchmarks/calibrate_synthhar.py                 # generates the book-sized dataset
    python benchmarks/calibrate_synthhar.py --root DIR --epochs 10 --width 32
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image


def load_split(root: Path, split: str, size: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """All images of a Stanford40-layout split as uint8 [N, 3, size, size] and int labels [N]."""
    rows = (root / "ImageSplits" / "actions.txt").read_text().splitlines()[1:]
    classes = [r.split()[0] for r in rows if r.strip()]
    names = (root / "ImageSplits" / f"{split}.txt").read_text().split()
    xs, ys = [], []
    for name in names:
        with Image.open(root / "JPEGImages" / name) as im:
            xs.append(np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR)))
        ys.append(classes.index(name.rsplit("_", 1)[0]))
    x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).contiguous()  # [N, H, W, 3] -> [N, 3, H, W]
    return x, torch.tensor(ys), classes


class SmallCNN(nn.Module):
    """Four conv-BN-ReLU-maxpool stages (width w, 2w, 4w, 8w), global average pooling, linear head."""

    def __init__(self, num_classes: int, width: int = 32) -> None:
        super().__init__()
        layers, c = [], 3
        for i in range(4):
            w = width * 2**i
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((2, 3)))  # [B, C, h, w] -> [B, C] -> [B, K]


def augment(x: torch.Tensor, pad: int = 8) -> torch.Tensor:
    """Random translation (reflect-padded crop) and horizontal flip of a float batch [B, 3, H, W]."""
    b, _, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    i, j = np.random.randint(0, 2 * pad + 1, 2)
    out = xp[:, :, i:i + h, j:j + w]
    flip = torch.rand(b) < 0.5
    out[flip] = out[flip].flip(3)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=None, help="a SynthHAR root (default: generate the book-sized one)")
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    torch.set_num_threads(a.threads)
    root = a.root
    if root is None:
        from harlearn.data.synthhar import synthhar_root

        root = synthhar_root("book", layout="stanford40")
    t0 = time.perf_counter()
    xtr, ytr, classes = load_split(root, "train", a.size)
    xte, yte, _ = load_split(root, "test", a.size)
    print(f"data: {root} train {tuple(xtr.shape)} test {tuple(xte.shape)} ({time.perf_counter() - t0:.1f} s)")
    mean = xtr.float().mean((0, 2, 3), keepdim=True) / 255
    std = xtr.float().std((0, 2, 3), keepdim=True) / 255
    norm = lambda x: (x.float() / 255 - mean) / std  # noqa: E731

    model = SmallCNN(len(classes), a.width)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.05)
    steps = a.epochs * ((len(xtr) + a.batch_size - 1) // a.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, a.lr, total_steps=steps, pct_start=0.2)
    t0 = time.perf_counter()
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        correct, total_loss = 0, 0.0
        for k in range(0, len(xtr), a.batch_size):
            idx = perm[k:k + a.batch_size]
            xb, yb = augment(norm(xtr[idx])), ytr[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
        print(f"epoch {epoch + 1:2d}: loss {total_loss / len(xtr):.3f} train acc {correct / len(xtr):.3f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(norm(xte[k:k + 256])).argmax(1) for k in range(0, len(xte), 256)])
    acc = (pred == yte).float().mean().item()
    k = len(classes)
    cm = np.zeros((k, k), int)
    for t, q in zip(yte.tolist(), pred.tolist()):
        cm[t, q] += 1
    print(f"\ntest accuracy {acc:.3f} (chance {1 / k:.3f}); {a.epochs} epochs, width {a.width}, {time.perf_counter() - t0:.0f} s training")
    rate = cm / cm.sum(1, keepdims=True)
    for i, c in enumerate(classes):
        print(f"  {c:20s} {rate[i, i]:.2f}   most confused with {classes[int(np.argsort(rate[i])[-2])] if rate[i].argmax() == i else classes[int(rate[i].argmax())]}")
    from harlearn.data.synthhar import CONFUSABLE_PAIRS

    sym = rate + rate.T  # confusion in both directions
    off = sym[~np.eye(k, dtype=bool)]
    print(f"\nmean confusion between two classes (both directions): {off.mean():.3f}")
    for x, y in CONFUSABLE_PAIRS:
        i, j = classes.index(x), classes.index(y)
        rank = int((off > sym[i, j]).sum() / 2) + 1
        print(f"  {x:16s} <-> {y:18s} {sym[i, j]:.3f}  (rank {rank} of {k * (k - 1) // 2} pairs)")


if __name__ == "__main__":
    main()
