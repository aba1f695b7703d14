"""Which CPU training mode is fastest for the course's models, at equal results?

Most of ``make book`` is CPU training on two cores. This measures one optimisation step
(forward, backward, AdamW) of the two models the book trains most, at their ``book`` sizes:

- the 4-layer CNN of chapters 1 and 4 (width 16, 96 px, batch 64);
- the course ResNet-50 (base width 8, 96 px, batch 32: chapters 3, 7, 8), plain and with CBAM;
- the chapter-4 ViT (64 px, 8x8 patches, dim 64, depth 4, 4 heads, batch 64);

in six modes: fp32; ``channels_last``; ``channels_last`` with the fused AdamW kernel
(``fused=True``, what ``harlearn.train`` uses); bf16 autocast (this CPU has AVX-512 BF16);
``channels_last`` + bf16; and ``torch.compile`` (fp32). Per mode it reports the median step time over ``--steps`` steps after
``--warmup`` steps, and, as the "equal results" check, the training loss after the same fixed
steps on the same fixed batch from the same initial weights (a mode that is faster but ends at a
different loss would change the book's numbers).

Run::

    python benchmarks/bench_cpu_training.py [--steps 10] [--warmup 3] [--no-compile]

Figures are printed, never asserted: they depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import time

import torch
from torch import nn

from harlearn.layers import add_attention
from harlearn.models import resnet50, small_cnn
from harlearn.transformers import VisionTransformer


def models() -> dict[str, tuple[nn.Module, torch.Tensor, torch.Tensor]]:
    torch.manual_seed(0)
    out = {}
    cnn = small_cnn(16, 16)
    out["4-layer CNN (width 16, 96 px, batch 64)"] = (cnn, torch.randn(64, 3, 96, 96), torch.randint(0, 16, (64,)))
    resnet = resnet50(16, base_width=8, zero_init_residual=True)
    out["ResNet-50 (width 8, 96 px, batch 32)"] = (resnet, torch.randn(32, 3, 96, 96), torch.randint(0, 16, (32,)))
    cbam = add_attention(resnet50(16, base_width=8, zero_init_residual=True), "cbam")
    out["ResNet-50 + CBAM (width 8, 96 px, batch 32)"] = (cbam, torch.randn(32, 3, 96, 96), torch.randint(0, 16, (32,)))
    vit = VisionTransformer(64, patch_size=8, embed_dim=64, depth=4, num_heads=4, num_classes=16)
    out["ViT (dim 64, depth 4, 64 px, batch 64)"] = (vit, torch.randn(64, 3, 64, 64), torch.randint(0, 16, (64,)))
    return out


def run(model: nn.Module, x: torch.Tensor, y: torch.Tensor, mode: str, steps: int, warmup: int):
    model = copy.deepcopy(model).train()
    channels_last = "channels_last" in mode
    bf16 = "bf16" in mode
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    forward = torch.compile(model) if mode == "compile" else model
    fused = True if "fused" in mode else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05, fused=fused)
    times, losses = [], []
    for step in range(warmup + steps):
        start = time.perf_counter()
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with ctx:
            loss = nn.functional.cross_entropy(forward(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
        if step >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times), losses[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--only", default=None, help="run only the models whose name contains this")
    parser.add_argument("--modes", default=None, help="comma-separated subset of the modes")
    args = parser.parse_args()
    modes = ["fp32", "channels_last", "channels_last+fused", "bf16", "channels_last+bf16"] + (
        [] if args.no_compile else ["compile"])
    if args.modes:
        modes = [m for m in modes if m in args.modes.split(",")]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"bf16 supported on CPU: {torch.backends.mkldnn.is_available()}")
    for name, (model, x, y) in models().items():
        if args.only and args.only not in name:
            continue
        print(f"\n{name}")
        base = None
        for mode in modes:
            t0 = time.perf_counter()
            try:
                step, loss = run(model, x, y, mode, args.steps, args.warmup)
            except Exception as err:  # e.g. torch.compile without a working compiler
                print(f"  {mode:20s} failed: {type(err).__name__}: {str(err)[:120]}")
                continue
            base = base or step
            print(f"  {mode:20s} {1000 * step:8.1f} ms/step  {x.shape[0] / step:7.1f} img/s  "
                  f"x{base / step:4.2f} vs fp32   loss after {args.warmup + args.steps} steps {loss:.4f}"
                  f"   (total {time.perf_counter() - t0:.0f} s incl. warm-up/compile)")


if __name__ == "__main__":
    main()
