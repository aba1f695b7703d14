"""The experiment kit: what every chapter needs around the code it teaches.

A chapter shows the blocks it builds and imports its plumbing from here:

- :func:`setup`: the first cell of every chapter (profile, device, seed, the ``ci`` warning, the
  chapter name its results are recorded under);
- :func:`recipe`: the one from-scratch (or fine-tuning) training recipe per model family, per
  profile, as a :class:`harlearn.train.TrainConfig`;
- :func:`course_vit`: the ViT size of chapters 4 and 5 per profile;
- :func:`run_seeds`: the seed loop;
- :func:`mean_std` / :func:`pm`: mean ± the **sample** standard deviation (ddof = 1) over seeds,
  the one statistic of the course;
- :func:`differs` / :func:`difference` / :func:`compare`: the one rule for "a real difference";
- cost counters: :func:`count_parameters`, :func:`count_macs`, :func:`images_per_second`,
  :func:`hardware_name`, and the estimated GPU time of a chapter's ``full`` run
  (:func:`gpu_estimate`, :func:`gpu_budget`);
- :func:`record`: every number a results table shows goes into
  ``_build/results/<chapter>.json``; ``python -m harlearn.experiments summary`` prints them all
  and what changed since the previous build (``make book`` runs it);
- :func:`conclude`: a sentence chosen from this run's numbers, flagged as such in ``ci``.

**The rule for a real difference.** Two sets of per-seed results ``a`` and ``b`` differ when
the 95 % confidence interval of the difference of their means excludes zero: Welch's t
interval for independent runs, the paired t interval when ``a[i]`` and ``b[i]`` share seed
``i`` (same data order, same initialisation where the models allow it). Results against a
fixed level (``b`` a number: the chance level, a uniform map's value) use the one-sample t
interval of ``a - b``. With one seed there is
no spread and nothing is called a real difference. With three seeds the interval is wide
(the t quantile for 2 degrees of freedom is 4.3), so only large, consistent gaps pass: that is
what three seeds can tell.

Not a paper's method; the statistics are the textbook ones (``scipy.stats.t``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "RECIPES",
    "setup",
    "recipe",
    "course_vit",
    "run_seeds",
    "mean_std",
    "pm",
    "Difference",
    "difference",
    "differs",
    "compare",
    "count_parameters",
    "count_macs",
    "images_per_second",
    "hardware_name",
    "FULL_GMACS",
    "GPU_EFFECTIVE_TFLOPS",
    "gpu_estimate",
    "gpu_budget",
    "chance_accuracy",
    "chance_map",
    "record",
    "results_dir",
    "load_results",
    "summary",
    "conclude",
]

# --------------------------------------------------------------------------------------------
# Set-up
# --------------------------------------------------------------------------------------------

_STATE: dict[str, Any] = {"chapter": None, "profile": None, "device": None, "reset": set()}


def setup(chapter: str, seed: int = 0, profile: Any = None, quiet: bool = False):
    """The first code cell of a chapter: read the profile, pick the device, seed, say so.

    Args:
        chapter: the chapter's file stem (e.g. ``"04_vision_transformers"``): its results are
            recorded in ``<results>/<chapter>.json``.
        seed: seeds Python, numpy and torch.
        profile: a :class:`harlearn.profiles.Profile`; default ``profiles.current()``.
        quiet: do not print the profile line.

    Returns:
        ``(P, device)``: the profile and the ``torch.device`` to run on.
    """
    from harlearn import profiles
    from harlearn.train import seed_everything

    P = profile or profiles.current()
    device = profiles.device()
    seed_everything(seed)
    _STATE.update(chapter=chapter, profile=P, device=device, setup_at=_dt.datetime.now().isoformat(timespec="seconds"))
    if not quiet:
        print(P.describe(device))
        if P.name == "ci":
            print("ci profile: this run only proves that the code runs; none of its numbers is a result.")
        elif P.name == "book":
            print("book profile: CPU-sized (the course's budget is about 5 minutes a chapter on two cores).")
        elif getattr(P, "smoke", False):
            print("full profile in smoke mode: the full code path on a few batches with random stand-in "
                  "weights; it only proves that the code runs; none of its numbers is a result.")
    return P, device


def _profile(profile: Any = None):
    if profile is not None:
        return profile
    if _STATE["profile"] is not None:
        return _STATE["profile"]
    from harlearn import profiles

    return profiles.current()


# --------------------------------------------------------------------------------------------
# Recipes
# --------------------------------------------------------------------------------------------

#: The training recipes of the course, per model family. ``lr`` may be a number or ``"P.lr"``
#: (the profile's from-scratch rate) or ``"P.lr/10"``. Every chapter takes its recipe from here,
#: changing only what its lesson is about (``recipe(P, "cnn", epochs=4)``).
RECIPES: dict[str, dict[str, Any]] = {
    # CNNs with BatchNorm (the small CNN, ResNets, DenseNet, GoogLeNet) from random weights:
    # AdamW, a short warmup and a cosine decay converge in minutes on a CPU. With
    # ``zero_init_residual=True`` on the ResNets (every residual branch starts as the identity).
    # ``channels_last``: NHWC convolutions, 1.26x faster per training step on this course's CPU
    # (benchmarks/bench_cpu_training.py), the same numbers up to rounding.
    "cnn": dict(optimizer="adamw", lr="P.lr", weight_decay=0.05, schedule="cosine", warmup_epochs=0.5,
                channels_last=True),
    # A CNN without BatchNorm (VGG-16): the same, at a ten times smaller rate (it diverges at P.lr).
    "cnn-nobn": dict(optimizer="adamw", lr="P.lr/10", weight_decay=0.05, schedule="cosine", warmup_epochs=1.0,
                     channels_last=True),
    # ViT, Swin and their relatives from random weights: AdamW at 1e-3 with a one-epoch warmup
    # (DeiT's recipe, Touvron et al. arXiv:2012.12877, at a CPU's batch size), gradient clipping.
    "transformer": dict(optimizer="adamw", lr=1e-3, weight_decay=0.05, schedule="cosine", warmup_epochs=1.0,
                        grad_clip=1.0),
    # Fine-tuning pretrained weights: ImageNet's in full, a ten times smaller rate than from scratch
    # (its runs are long); the course checkpoints in book/ci at the profile's from-scratch rate
    # ("P.lr if zoo"): their runs are a few dozen steps, in which a tenth of the rate barely moves the
    # new head (benchmarks/bench_finetune_rate.py: 6.6 % at 1e-4, 68.4 % at 3e-3, 10.6 % from scratch).
    "finetune": dict(optimizer="adamw", lr="1e-4, P.lr if zoo", weight_decay=0.05, schedule="cosine",
                     warmup_epochs=0.5, channels_last=True),
    # MAE pre-training (He et al. arXiv:2111.06377, Table 8: AdamW, wd 0.05, warmup, cosine);
    # the base rate 1.5e-4 x batch / 256 of the paper is too slow for a CPU's few epochs.
    "mae": dict(optimizer="adamw", lr=1e-3, weight_decay=0.05, schedule="cosine", warmup_epochs=1.0),
}


def recipe(profile: Any = None, family: str = "cnn", **changes: Any):
    """The course's training recipe for a model family, sized by the profile.

    Args:
        profile: a :class:`~harlearn.profiles.Profile` (default: the one :func:`setup` read).
        family: a key of :data:`RECIPES`: ``"cnn"``, ``"cnn-nobn"``, ``"transformer"``,
            ``"finetune"`` or ``"mae"``.
        **changes: any :class:`~harlearn.train.TrainConfig` field to override
            (``epochs``, ``seed``, ``lr``, ...).

    Returns:
        A :class:`~harlearn.train.TrainConfig`: the family's optimiser and schedule, the
        profile's epochs, batch size, workers and batch cap, mixed precision on (used where the
        device supports it), no progress bars. In smoke mode (``P.smoke``) the epochs, batch
        size and batch cap are at most the profile's, whatever ``changes`` asks for.
    """
    from harlearn.train import TrainConfig

    P = _profile(profile)
    if family not in RECIPES:
        raise ValueError(f"Unknown recipe family {family!r}: choose one of {sorted(RECIPES)}.")
    base = dict(RECIPES[family])
    if base.get("lr") == "P.lr":
        base["lr"] = P.lr
    elif base.get("lr") == "P.lr/10":
        base["lr"] = P.lr / 10
    elif base.get("lr") == "1e-4, P.lr if zoo":
        base["lr"] = P.lr if getattr(P, "weights", "imagenet") == "zoo" else 1e-4
    config = dict(epochs=P.epochs, batch_size=P.batch_size, num_workers=P.num_workers,
                  max_batches=P.max_batches, amp=True, progress=False, seed=0)
    config.update(base)
    unknown = set(changes) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise ValueError(f"recipe() got unknown TrainConfig fields {sorted(unknown)}.")
    config.update(changes)
    if getattr(P, "smoke", False):  # smoke mode cuts the work of every recipe, a chapter's own epochs too
        config["epochs"] = min(config["epochs"], P.epochs)
        config["batch_size"] = min(config["batch_size"], P.batch_size)
        config["max_batches"] = min(config["max_batches"] or P.max_batches, P.max_batches)
    if config["warmup_epochs"] > config["epochs"] / 2:  # a short run warms up for at most half of it
        config["warmup_epochs"] = config["epochs"] / 4
    return TrainConfig(**config)


def course_vit(profile: Any = None) -> tuple[int, dict[str, Any]]:
    """The ViT of chapters 4 and 5, sized by the profile.

    ``full``: ViT-S/16 at 224 px (DeiT-S, Touvron et al. arXiv:2012.12877). ``ci`` / ``book``:
    64-px images cut into 8x8-pixel patches (an 8x8 grid of 64 tokens), 4 blocks of width 64
    with 4 heads, which trains on two CPU cores in minutes: the size of the course checkpoints
    ``vit_ch4`` and ``mae_vit_ch5`` (:mod:`harlearn.zoo`), so both profiles can fine-tune them.

    Returns:
        ``(image_size, kwargs)`` for ``VisionTransformer(image_size, num_classes=..., **kwargs)``.
    """
    P = _profile(profile)
    if P.name == "full":
        return 224, dict(patch_size=16, embed_dim=384, depth=12, num_heads=6)
    return 64, dict(patch_size=8, embed_dim=64, depth=4, num_heads=4)


# --------------------------------------------------------------------------------------------
# Seeds and statistics
# --------------------------------------------------------------------------------------------


def run_seeds(fn: Callable[[int], Any], seeds: Iterable[int] | None = None, *, desc: str | None = None,
              verbose: bool = True) -> list[Any]:
    """Run ``fn(seed)`` once per seed, each after seeding everything with that seed.

    Args:
        fn: the experiment for one seed.
        seeds: default the profile's ``seeds``.
        desc: a name for the progress lines (``desc seed 1: 12 s``).
        verbose: print one line per seed with its time.

    Returns:
        ``[fn(seed) for seed in seeds]``.
    """
    from harlearn.train import seed_everything

    seeds = list(_profile().seeds if seeds is None else seeds)
    out = []
    for seed in seeds:
        start = time.perf_counter()
        seed_everything(seed)
        out.append(fn(seed))
        if verbose:
            print(f"{desc or 'run'} seed {seed}: {time.perf_counter() - start:.0f} s")
    return out


def _values(values: Iterable[float]) -> np.ndarray:
    values = np.asarray([float(v) for v in values], dtype=float)
    if values.size == 0:
        raise ValueError("No values: a statistic needs at least one run.")
    return values


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """Mean and **sample** standard deviation (ddof = 1) of per-seed values.

    Args:
        values: one number per seed.

    Returns:
        ``(mean, std)``; ``std`` is NaN for a single value (one run has no spread).
    """
    v = _values(values)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else math.nan


def pm(values: Iterable[float], scale: float = 100.0, digits: int = 1) -> str:
    """``"mean ± std"`` of per-seed values (sample std), e.g. ``pm(accuracies)`` → ``"41.2 ± 1.3"``.

    Args:
        values: one number per seed.
        scale: multiply by this first (100: fractions shown as percent).
        digits: decimals.

    Returns:
        ``"m ± s"``, or ``"m (1 seed)"`` for a single value.
    """
    m, s = mean_std(scale * _values(values))
    return f"{m:.{digits}f} (1 seed)" if math.isnan(s) else f"{m:.{digits}f} ± {s:.{digits}f}"


@dataclasses.dataclass(frozen=True)
class Difference:
    """The difference ``mean(a) - mean(b)`` with its 95 % confidence interval."""

    delta: float  # mean(a) - mean(b)
    low: float  # the interval's lower end (NaN without spread)
    high: float  # its upper end
    paired: bool  # paired (per-seed) or Welch (independent) interval
    n: int  # seeds (per side; the smaller one for Welch)

    @property
    def real(self) -> bool:
        """The course's rule: the interval excludes zero."""
        return bool(not math.isnan(self.low) and (self.low > 0 or self.high < 0))


def difference(a: Sequence[float], b: Sequence[float] | float, paired: bool = False,
               level: float = 0.95) -> Difference:
    """The difference of two sets of per-seed results, with its confidence interval.

    Args:
        a: one result per seed.
        b: one result per seed, or one number: a fixed level (the chance level, a uniform
            map's value), against which ``a`` is judged by the one-sample t interval.
        paired: ``a[i]`` and ``b[i]`` share seed ``i`` (paired t interval on ``a - b``);
            else Welch's interval for independent runs. A fixed level is always paired.
        level: the confidence level.

    Returns:
        A :class:`Difference`; ``.real`` applies the course's rule.
    """
    from scipy import stats

    if isinstance(b, (int, float, np.integer, np.floating)):  # a fixed level: one-sample interval
        a = _values(a)
        b, paired = np.full(a.size, float(b)), True
    a, b = _values(a), _values(b)
    delta = float(a.mean() - b.mean())
    q = (1 + level) / 2
    if paired:
        if a.size != b.size:
            raise ValueError(f"A paired comparison needs as many values on each side ({a.size} vs {b.size}).")
        n = a.size
        if n < 2:
            return Difference(delta, math.nan, math.nan, True, n)
        d = a - b
        se = d.std(ddof=1) / math.sqrt(n)
        half = stats.t.ppf(q, n - 1) * se
    else:
        n = int(min(a.size, b.size))
        if n < 2:
            return Difference(delta, math.nan, math.nan, False, n)
        va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
        se = math.sqrt(va + vb)
        if se == 0:
            half = 0.0
        else:  # Welch-Satterthwaite degrees of freedom
            dof = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
            half = stats.t.ppf(q, dof) * se
    if se == 0:  # no spread at all: any non-zero gap is consistent over seeds
        return Difference(delta, delta, delta, paired, n)
    return Difference(delta, delta - half, delta + half, paired, n)


def differs(a: Sequence[float], b: Sequence[float] | float, paired: bool = False) -> bool:
    """The course's one rule for "a real difference": see the module docstring.

    Args:
        a: one result per seed.
        b: one result per seed, or a fixed level (a number, e.g. the chance level).
        paired: ``a[i]`` and ``b[i]`` share seed ``i``.

    Returns:
        True when the 95 % confidence interval of ``mean(a) - mean(b)`` excludes zero.
    """
    return difference(a, b, paired=paired).real


def compare(name_a: str, a: Sequence[float], name_b: str, b: Sequence[float] | float, *, paired: bool = False,
            scale: float = 100.0, unit: str = "points", higher_is_better: bool = True, digits: int = 1) -> str:
    """A sentence comparing two sets of per-seed results by the course's rule.

    Args:
        name_a: what ``a`` is ("the ViT").
        a: one result per seed.
        name_b: what ``b`` is.
        b: one result per seed, or a fixed level (a number).
        paired: see :func:`difference`.
        scale: multiply the difference by this (100: fractions as percentage points).
        unit: the unit of the scaled difference.
        higher_is_better: ``beats`` / ``trails`` when higher (else lower) values are better.
        digits: decimals.

    Returns:
        E.g. "the ViT beats the CNN by 4.1 points (95 % interval 1.2 to 7.0)", or "the ViT and
        the CNN cannot be told apart (+0.8 points, 95 % interval -2.3 to 3.9)".
    """
    d = difference(a, b, paired=paired)
    f = lambda x: f"{scale * x:.{digits}f}"  # noqa: E731
    if math.isnan(d.low):
        return f"{name_a} and {name_b} differ by {scale * d.delta:+.{digits}f} {unit} (one seed: no spread to judge by)"
    interval = f"95 % interval {f(d.low)} to {f(d.high)}"
    if not d.real:
        return f"{name_a} and {name_b} cannot be told apart ({scale * d.delta:+.{digits}f} {unit}, {interval})"
    better = (d.delta > 0) == higher_is_better
    return f"{name_a} {'beats' if better else 'trails'} {name_b} by {f(abs(d.delta))} {unit} ({interval})"


# --------------------------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------------------------


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """The number of parameters (optionally only those that require a gradient)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _example(model: nn.Module, inputs: Any, image_size: int | None, batch: int) -> Any:
    if inputs is not None:
        return inputs
    if image_size is None:
        raise ValueError("Give count_macs / images_per_second an image_size or example inputs.")
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    return torch.randn(batch, 3, image_size, image_size, device=device)


@torch.no_grad()
def count_macs(model: nn.Module, image_size: int | None = None, inputs: Any = None, *,
               forward: Callable[..., Any] | None = None) -> float:
    """Multiply-accumulates of one forward pass of one image (``FlopCounterMode`` FLOPs / 2).

    Args:
        model: the model (put in eval mode for the count, then restored).
        image_size: the side of a square RGB input ``[1, 3, S, S]``.
        inputs: or an example input (a tensor or a tuple of arguments) for one image.
        forward: ``forward(model, *inputs)`` instead of ``model(*inputs)``, to count one step
            of a model (e.g. ``lambda m, x: m.forward_encoder(x, 0.75)``).

    Returns:
        The MACs (counted on matrix products and convolutions, as papers count them).
    """
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    x = _example(model, inputs, image_size, 1)
    x = x if isinstance(x, tuple) else (x,)
    model.eval()
    with FlopCounterMode(display=False) as counter:
        forward(model, *x) if forward is not None else model(*x)
    model.train(was_training)
    return counter.get_total_flops() / 2


def images_per_second(model: nn.Module, image_size: int | None = None, *, inputs: Any = None,
                      batch: int = 32, train: bool = False, repeats: int = 3) -> float:
    """Measured throughput on the model's device: forward (``train=False``) or forward + backward.

    Args:
        model: the model (its parameters' device is used).
        image_size: the side of a square RGB input.
        inputs: or an example batch.
        batch: images per call when ``image_size`` is given.
        train: time a training step (forward, ``sum().backward()``) instead of inference.
        repeats: timed calls after one warm-up call; the fastest one counts.

    Returns:
        Images per second (the best of ``repeats``; a measurement, not a promise). In smoke mode
        (``P.smoke``) the batch is the profile's and one call, without a warm-up, is timed: the
        code path runs, the number means nothing.
    """
    from harlearn.losses import logits_of

    P = _STATE["profile"]
    smoke = getattr(P, "smoke", False)
    if smoke:
        batch, repeats = min(batch, P.batch_size), 1

    x = _example(model, inputs, image_size, batch)
    if smoke:  # an example batch a chapter passed: cut to the profile's batch as well
        x = tuple(t[:batch] for t in x) if isinstance(x, tuple) else x[:batch]
    n = (x[0] if isinstance(x, tuple) else x).shape[0]
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    was_training = model.training
    model.train(train)
    times = []
    warmup = 0 if smoke else 1  # smoke mode: the one call is the measurement
    for _ in range(warmup + repeats):
        start = time.perf_counter()
        with torch.set_grad_enabled(train):
            out = model(*x) if isinstance(x, tuple) else model(x)
            if train:
                logits_of(out).float().sum().backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return n / min(times[warmup:])


def hardware_name(device: torch.device | None = None) -> str:
    """The GPU's name, or the CPU model and the number of threads torch uses."""
    device = device or _STATE["device"] or torch.device("cpu")
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    return f"{cpu}, {torch.get_num_threads()} CPU threads"


#: Forward GMACs per image at 224 px (the ``full`` input; the detector at its 800-px input), as
#: :func:`count_macs` measures them on the library's models (tests/test_experiments.py checks
#: several). For :func:`gpu_estimate`.
FULL_GMACS: dict[str, float] = {
    "small_cnn": 2.86,  # small_cnn(40, 64)
    "resnet50": 4.09,
    "vgg16": 15.47,
    "googlenet": 1.50,
    "densenet121": 2.83,
    "vit_small_patch16_224": 4.60,
    "swin_tiny_patch4_window7_224": 4.49,
    "fasterrcnn_resnet50_fpn": 134.4,  # torchvision's figure for its COCO model at 800 px
}

#: Effective mixed-precision throughput of one GPU, in TFLOP/s, for :func:`gpu_estimate`.
#: From NVIDIA's published ResNet-50 v1.5 figures (DeepLearningExamples, PyTorch, 21.03 NGC
#: container): 2,470 training images/s on one A100-80GB, and 1,198 inference images/s on a T4
#: (its training throughput is not published; the same efficiency is assumed), at 8.2 GFLOP per
#: forward pass and 3x that per training image; then halved for a notebook's data pipeline
#: (JPEG decoding in a few workers instead of DALI). An assumption, stated as one.
GPU_EFFECTIVE_TFLOPS: dict[str, float] = {"T4": 0.5 * 1198 * 8.18e-3, "A100": 0.5 * 2470 * 3 * 8.18e-3}


def gpu_estimate(work: Iterable[tuple[str | float, float, float]],
                 gpus: dict[str, float] | None = None) -> dict[str, float]:
    """Estimated seconds of GPU time of some work, per GPU: an estimate, not a measurement.

    Args:
        work: rows ``(model, training images, inference images)``: ``model`` a key of
            :data:`FULL_GMACS` or forward GMACs per image; a training image costs three forward
            passes (forward and backward), an inference image one.
        gpus: name -> effective TFLOP/s (default :data:`GPU_EFFECTIVE_TFLOPS`).

    Returns:
        ``{gpu: seconds}``.
    """
    flops = 0.0
    for model, train_images, infer_images in work:
        gmacs = FULL_GMACS[model] if isinstance(model, str) else float(model)
        flops += 2e9 * gmacs * (3 * train_images + infer_images)
    return {name: flops / (tflops * 1e12) for name, tflops in (gpus or GPU_EFFECTIVE_TFLOPS).items()}


def gpu_budget(work: Iterable[tuple[str | float, float, float]]) -> str:
    """One sentence for a chapter's setup cell in ``full``: its estimated GPU time on a T4 and an A100."""
    def span(seconds: float) -> str:
        return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{max(1, round(seconds / 60))} min"

    est = gpu_estimate(list(work))
    return ("Estimated GPU time of this chapter's full run (from its models' MACs and NVIDIA's published "
            "ResNet-50 throughputs, halved for a notebook's data pipeline; an estimate, not a measurement): "
            + ", ".join(f"{span(s)} on one {g}" for g, s in est.items()) + ".")


def chance_accuracy(num_classes: int) -> float:
    """The accuracy of guessing among ``num_classes`` balanced classes: 1 / C."""
    return 1.0 / num_classes


def chance_map(targets: Any) -> float:
    """The mAP of a random scorer: the mean positive rate over the classes with positives.

    Args:
        targets: class indices ``[N]`` or multi-hot ``[N, C]``.
    """
    t = np.asarray(targets)
    if t.ndim == 1:
        t = np.eye(int(t.max()) + 1)[t]
    rates = t.mean(axis=0)
    return float(rates[rates > 0].mean())


# --------------------------------------------------------------------------------------------
# Results you can diff
# --------------------------------------------------------------------------------------------


def results_dir() -> Path:
    """Where :func:`record` writes: ``$HARLEARN_RESULTS``, else ``<book root>/_build/results``
    (the first folder upwards with a ``_toc.yml``), else ``<data_home>/results``."""
    env = os.environ.get("HARLEARN_RESULTS")
    if env:
        return Path(env)
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file():
            return folder / "_build" / "results"
    from harlearn.data import data_home

    return Path(data_home()) / "results"


def _write_json(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(content, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def record(table: str, row: str, metric: str, values: Iterable[float], *, chance: float | None = None,
           seeds: Sequence[int] | None = None, note: str = "", failure_demo: bool = False,
           higher_is_better: bool = True, chapter: str | None = None) -> dict:
    """Store one number of a results table (with its per-seed values) in the chapter's JSON.

    The first record of a chapter in a process starts its file afresh, so the file always
    holds exactly the last run's numbers.

    Args:
        table: which table of the chapter ("Table 1: baselines").
        row: the row ("ResNet-50 (ours)").
        metric: the column ("test accuracy").
        values: one value per seed (fractions for accuracies and mAPs).
        chance: the chance level of this metric on this data (:func:`chance_accuracy`,
            :func:`chance_map`).
        seeds: the seeds of ``values`` (default the profile's seeds when the counts match).
        note: anything a reader of the numbers must know.
        failure_demo: the row shows a deliberate failure (e.g. GoogLeNet without BatchNorm): it
            is exempt from the "learned: at least 3x chance" check.
        higher_is_better: for the check and the summary.
        chapter: default the chapter given to :func:`setup`.

    Returns:
        The stored record.
    """
    chapter = chapter or _STATE["chapter"]
    if not chapter:
        raise ValueError("record() needs the chapter: call experiments.setup('NN_name') first, or pass chapter=.")
    P = _profile()
    values = [float(v) for v in values]
    mean, std = mean_std(values)
    if seeds is None and len(values) == len(P.seeds):
        seeds = list(P.seeds)
    entry = {
        "table": table, "row": row, "metric": metric, "values": values,
        "seeds": list(seeds) if seeds is not None else None, "n": len(values),
        "mean": mean, "std": _finite(std), "chance": chance, "higher_is_better": higher_is_better,
        "failure_demo": bool(failure_demo), "note": note,
    }
    path = results_dir() / f"{chapter}.json"
    if chapter in _STATE["reset"] and path.is_file():
        content = json.loads(path.read_text())
    else:
        device = _STATE["device"] or torch.device("cpu")
        content = {"chapter": chapter, "profile": P.name + (" (smoke)" if getattr(P, "smoke", False) else ""),
                   "device": hardware_name(device),
                   "torch": torch.__version__,
                   "started": _STATE.get("setup_at") or _dt.datetime.now().isoformat(timespec="seconds"),
                   "records": []}
        _STATE["reset"].add(chapter)
    key = (table, row, metric)
    content["records"] = [r for r in content["records"] if (r["table"], r["row"], r["metric"]) != key] + [entry]
    content["updated"] = _dt.datetime.now().isoformat(timespec="seconds")
    _write_json(path, content)
    return entry


def load_results(folder: str | os.PathLike | None = None) -> dict[str, dict]:
    """Every chapter's results JSON in ``folder`` (default :func:`results_dir`), by chapter."""
    folder = Path(folder) if folder is not None else results_dir()
    out = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            out[path.stem] = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON ({err}): delete it and rebuild that chapter.") from None
    return out


def _learned(r: dict) -> bool | None:
    """At least 3x the chance level (for a higher-is-better metric with a chance level)."""
    if r.get("chance") in (None, 0) or not r.get("higher_is_better", True):
        return None
    return r["mean"] >= 3 * r["chance"]


def _fmt(r: dict) -> str:
    s = "" if r.get("std") is None else f" ± {r['std']:.4f}"
    return f"{r['mean']:.4f}{s} (n={r['n']})"


def _run_time(content: dict) -> str:
    """``", ran 4.2 min"``: from the chapter's setup cell to its last recorded number."""
    try:
        seconds = (_dt.datetime.fromisoformat(content["updated"]) - _dt.datetime.fromisoformat(content["started"]))
    except (KeyError, TypeError, ValueError):
        return ""
    return f", ran {seconds.total_seconds() / 60:.1f} min from setup to its last record"


def summary(folder: str | os.PathLike | None = None, previous: str | os.PathLike | None = None) -> str:
    """A text summary of all chapters' results, and what changed since ``previous``.

    Args:
        folder: the results folder (default :func:`results_dir`).
        previous: a copy of an earlier build's results folder, to diff against.

    Returns:
        The summary (``python -m harlearn.experiments summary`` prints it). Rows below 3x chance
        that are not failure demonstrations are marked ``BELOW 3x CHANCE``.
    """
    now = load_results(folder)
    before = load_results(previous) if previous is not None else {}
    lines = []
    for chapter, content in now.items():
        lines.append(f"== {chapter} ({content.get('profile')} profile, {content.get('device')}, {content.get('updated')}"
                     f"{_run_time(content)})")
        old = {(r["table"], r["row"], r["metric"]): r for r in before.get(chapter, {}).get("records", [])}
        same_profile = before.get(chapter, {}).get("profile") == content.get("profile")
        for r in content["records"]:
            flag = ""
            learned = _learned(r)
            if r.get("failure_demo"):
                flag = "  [failure demo]"
            elif learned is False:
                flag = f"  BELOW 3x CHANCE ({r['chance']:.4f})"
            change = ""
            prev = old.pop((r["table"], r["row"], r["metric"]), None)
            if before and same_profile:
                change = "  (new)" if prev is None else (
                    "" if abs(prev["mean"] - r["mean"]) < 1e-12 else f"  (was {_fmt(prev)})")
            lines.append(f"  {r['table']} | {r['row']} | {r['metric']}: {_fmt(r)}{flag}{change}")
        if before and same_profile:
            lines += [f"  removed: {t} | {row} | {m}" for (t, row, m) in old]
    if not now:
        lines.append(f"No results in {Path(folder) if folder else results_dir()}.")
    return "\n".join(lines)


def conclude(text: str, profile: Any = None) -> None:
    """Show a sentence whose wording was chosen from this run's numbers (flagged in ``ci``)."""
    from IPython.display import Markdown, display

    text = ". ".join(part[:1].upper() + part[1:] for part in text.split(". "))  # sentences start with a capital
    P = _profile(profile)
    if P.name == "ci" or getattr(P, "smoke", False):
        run = "`full` smoke" if getattr(P, "smoke", False) else "`ci`"
        text = f"*({run} run: the wording below is chosen mechanically from numbers that are not results.)* " + text
    display(Markdown(text))


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harlearn.experiments",
                                     description="Summarise the chapters' recorded results.")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("summary", help="print every chapter's results and what changed")
    s.add_argument("folder", nargs="?", default=None, help="results folder (default _build/results)")
    s.add_argument("--previous", default=None, help="an earlier build's results folder to diff against")
    s.add_argument("--save-previous", action="store_true",
                   help="then copy the results to --previous, for the next build's diff")
    args = parser.parse_args(argv)
    folder = Path(args.folder) if args.folder else results_dir()
    previous = Path(args.previous) if args.previous and Path(args.previous).is_dir() else None
    print(summary(folder, previous))
    if args.save_previous and args.previous:
        import shutil

        target = Path(args.previous)
        shutil.rmtree(target, ignore_errors=True)
        if folder.is_dir():
            shutil.copytree(folder, target)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
