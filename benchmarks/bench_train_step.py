"""One ResNet-50 training step at 224 px: harlearn's loop against timm's own, on the same device.

Three ways to train a ResNet-50 on ImageNet-sized batches (default: batch 64, 224 px, mixed
precision, channels_last, AdamW), each timed over ``--steps`` steps after ``--warmup`` steps:

* ``harlearn-step``: the body of ``harlearn.train.fit``'s loop on a batch already on the device,
  with fit's own pieces (its optimizer and autocast choice, GradScaler, ``default_loss``, one
  host sync per step for the non-finite-loss check, the per-step lr schedule, the accuracy);
* ``harlearn-fit``: ``harlearn.train.fit`` itself on an in-memory dataset of random images (its
  DataLoader, collate, pinned host-to-device copies included), timed from its History;
* ``timm-step``: the step of timm's ``train.py`` (``timm.create_model("resnet50")``,
  ``timm.optim.create_optimizer_v2``, ``torch.autocast``, ``timm.utils.NativeScaler`` for fp16,
  ``cudnn.benchmark = True`` as the script sets it, no host sync).

Both models are randomly initialised (nothing is downloaded). Run one variant per process
(``--which``) so that global switches (cuDNN's autotuner) do not leak between them; the output
is one JSON line. ``benchmarks/gpu_check.sh`` runs all three on a GPU. On a CPU it runs too (for
a quick check of the script, e.g. ``--batch 2 --size 64 --steps 2 --warmup 1``).

Not a paper's method: a benchmark.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch
from torch import nn


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(step, device: torch.device, warmup: int, steps: int) -> float:
    """Seconds per step over ``steps`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return (time.perf_counter() - start) / steps


def _batch(args, device, channels_last):
    images = torch.randn(args.batch, 3, args.size, args.size, device=device)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images, torch.randint(0, 1000, (args.batch,), device=device)


def harlearn_step(args, device) -> dict:
    from functools import partial

    from harlearn import metrics
    from harlearn.inference import _autocast_dtype
    from harlearn.losses import default_loss
    from harlearn.models import resnet50
    from harlearn.train import TrainConfig, _make_optimizer, lr_factor

    config = TrainConfig(epochs=1, lr=1e-3, optimizer="adamw", weight_decay=0.05, batch_size=args.batch,
                         amp=args.amp, channels_last=args.channels_last, progress=False)
    model = resnet50(num_classes=1000).to(device)
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    model.train()
    dtype = _autocast_dtype(device, config.amp)
    autocast = partial(torch.autocast, device.type, dtype=dtype or torch.float32, enabled=dtype is not None)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    optimizer = _make_optimizer(model, config)
    total = args.warmup + args.steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, partial(lr_factor, config=config, steps_per_epoch=total))
    images, labels = _batch(args, device, config.channels_last)
    batch = {"image": images, "label": labels}

    def step():  # fit's loop body, from the loss on
        with autocast():
            loss, logits = default_loss(model, batch)
        loss_value = float(loss.detach())  # fit's one host sync per step
        if not math.isfinite(loss_value):
            raise RuntimeError("non-finite loss")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        metrics.accuracy(logits.detach().float(), batch["label"])

    seconds = _timed(step, device, args.warmup, args.steps)
    return dict(dtype=str(dtype).replace("torch.", "") if dtype else "float32", seconds_per_step=seconds)


def harlearn_fit(args, device) -> dict:
    from torch.utils.data import Dataset

    from harlearn.inference import _autocast_dtype
    from harlearn.models import resnet50
    from harlearn.train import TrainConfig, fit

    n = args.batch * (args.steps + 1)

    class Random(Dataset):  # decoded, normalised images, as a cached dataset hands them out
        def __init__(self):
            g = torch.Generator().manual_seed(0)
            self.images = torch.randn(min(n, 4 * args.batch), 3, args.size, args.size, generator=g)

        def __len__(self):
            return n

        def __getitem__(self, i):
            return {"image": self.images[i % len(self.images)], "label": i % 1000}

    config = TrainConfig(epochs=2, lr=1e-3, optimizer="adamw", weight_decay=0.05, batch_size=args.batch,
                         amp=args.amp, channels_last=args.channels_last, progress=False,
                         max_batches=max(args.steps, args.warmup), num_workers=args.workers)
    model = resnet50(num_classes=1000)
    history = fit(model, Random(), None, config, device=device)
    seconds = history[-1]["seconds"] / config.max_batches  # the second epoch: warm
    dtype = _autocast_dtype(device, args.amp)
    return dict(dtype=str(dtype).replace("torch.", "") if dtype else "float32", seconds_per_step=seconds,
                workers=args.workers)


def timm_step(args, device) -> dict:
    import timm
    import timm.optim
    import timm.utils

    from harlearn.inference import _autocast_dtype

    torch.backends.cudnn.benchmark = True  # as timm's train.py sets it
    model = timm.create_model("resnet50", pretrained=False, num_classes=1000).to(device)
    if args.channels_last:
        model.to(memory_format=torch.channels_last)
    model.train()
    dtype = _autocast_dtype(device, args.amp)  # the same precision as harlearn's
    optimizer = timm.optim.create_optimizer_v2(model, "adamw", lr=1e-3, weight_decay=0.05)
    scaler = timm.utils.NativeScaler(device=device.type) if dtype == torch.float16 else None
    loss_fn = nn.CrossEntropyLoss().to(device)
    images, labels = _batch(args, device, args.channels_last)

    def step():  # timm train.py's train_one_epoch, one step, no logging
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = loss_fn(model(images), labels)
        optimizer.zero_grad()
        if scaler is not None:
            scaler(loss, optimizer, parameters=model.parameters())
        else:
            loss.backward()
            optimizer.step()

    seconds = _timed(step, device, args.warmup, args.steps)
    return dict(dtype=str(dtype).replace("torch.", "") if dtype else "float32", seconds_per_step=seconds,
                timm=timm.__version__)


VARIANTS = {"harlearn-step": harlearn_step, "harlearn-fit": harlearn_fit, "timm-step": timm_step}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--which", choices=sorted(VARIANTS), required=True)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--workers", type=int, default=0, help="harlearn-fit's DataLoader workers")
    parser.add_argument("--no-amp", dest="amp", action="store_false")
    parser.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(0)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    out = VARIANTS[args.which](args, device)
    out.update(which=args.which, device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               batch=args.batch, size=args.size, amp=args.amp, channels_last=args.channels_last,
               images_per_second=args.batch / out["seconds_per_step"], torch=torch.__version__)
    if device.type == "cuda":
        out["peak_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
