"""The training loop every chapter uses: explicit, short, and resumable exactly.

One function, :func:`fit`, trains every model of the course on a dataset of item dicts (see
``harlearn.data``): classifiers (the default loss), models with their own loss (LGA, ConViT's
person branch, retrieval), the masked autoencoder (``harlearn.transformers.mae.mae_loss_fn``)
and the detector (:func:`train_detector`, ``harlearn.models.detection.detection_loss_fn``). It
builds the DataLoaders, the optimizer (SGD or AdamW) and a per-step learning-rate schedule
(linear warmup, then cosine or step decay), runs mixed precision on CUDA, stops on a non-finite
loss, evaluates on a validation set after every epoch and writes checkpoints atomically.

A loss function is ``loss_fn(model, batch)`` returning ``(loss, logits)``, ``(loss, None)``
(no logits: no accuracy), ``(loss, logits_or_None, {name: term})`` (named terms logged per
epoch) or a plain loss tensor; see :mod:`harlearn.inference`, which also holds :func:`predict`
and :func:`evaluate` (re-exported here), and :mod:`harlearn.history` (:class:`History`).
Dependencies point one way: this module may import models, models never import it.

How resume stays exact: at the start of epoch ``e`` the loop reseeds Python, numpy and torch
(and the DataLoader's shuffling generator) from ``(config.seed, e)`` only. The shuffling, the
random augmentations and dropout of epoch ``e`` therefore do not depend on what ran before,
and a checkpoint needs only the model, optimizer, scheduler and gradient-scaler states plus the
history to continue bit for bit. (A side effect: :func:`fit` leaves the global random generators
seeded from the last epoch.) With ``num_workers > 0`` the worker processes persist across epochs
(no restart cost each epoch), so their random streams would run on; instead each item is drawn
with the generators seeded from ``(epoch seed, index)`` (:class:`_SeededItems`), which makes an
item's augmentation the same whichever worker loads it and after a resume.

Started by ``torchrun`` (several processes, once :func:`harlearn.distributed.init_from_env` has
opened the process group), the same loop trains data-parallel: DistributedDataParallel, each
process reading its share of every global batch of ``config.batch_size`` images (so the
processes together see exactly the batches one process sees), optional synchronised BatchNorm
(``config.sync_batchnorm``), losses, accuracies and the validation summed over the processes,
progress and checkpoints on rank 0 only; see :mod:`harlearn.distributed`. Without a process
group nothing of this runs and the loop is the single-process one.

This is not a paper's method; it follows common practice (no weight decay on biases and norm
weights, warmup, cosine decay, bf16/fp16 autocast, ``torch.load(..., weights_only=True)``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import tempfile
import time
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm.auto import tqdm

from harlearn import distributed, metrics
from harlearn.history import History
from harlearn.inference import (
    LossFn,
    _autocast_dtype,
    _collate,
    _to_device,
    batch_size_of,
    evaluate,
    predict,
    unpack_loss_output,
)
from harlearn.losses import classification_loss as _criterion  # noqa: F401 (kept for old imports)
from harlearn.losses import default_loss, logits_of
from harlearn.losses import targets_of as _targets

__all__ = [
    "TrainConfig",
    "History",
    "fit",
    "train_detector",
    "evaluate",
    "predict",
    "default_loss",
    "logits_of",
    "seed_everything",
    "save_checkpoint",
    "load_checkpoint",
]

CHECKPOINT_FORMAT = "harlearn-checkpoint-1"


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, numpy's global generator and torch (all devices).

    Args:
        seed: any non-negative integer.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _epoch_seed(seed: int, epoch: int) -> int:
    """A well-mixed seed that depends only on ``(seed, epoch)``."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def _item_seed(epoch_seed: int, index: int) -> int:
    """The seed item ``index`` is drawn with in the epoch seeded ``epoch_seed`` (workers > 0)."""
    return int(np.random.SeedSequence([epoch_seed, index]).generate_state(1)[0])


class _SeededItems(Dataset):
    """``dataset[i]`` drawn with Python, numpy and torch seeded from ``(epoch seed, i)``.

    Read through :class:`_EpochTagged`, whose keys are ``(epoch seed, i)``: what a persistent
    worker draws for an item then depends on the epoch and the item only, not on the worker or
    on what it loaded before.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch_seed, index = key
        seed_everything(_item_seed(epoch_seed, index))
        return self.dataset[index]


class _EpochTagged(Sampler):
    """``(epoch seed, index)`` keys for :class:`_SeededItems`.

    In ``sampler``'s order, or without one a permutation of ``range(n)`` drawn from the epoch seed
    alone: the same however often the loader opens an iterator (``tqdm.auto`` opens two).
    """

    def __init__(self, sampler: Sampler | None = None, n: int | None = None) -> None:
        self.sampler, self.n, self.epoch_seed = sampler, n, 0

    def __len__(self) -> int:
        return len(self.sampler) if self.sampler is not None else int(self.n)  # type: ignore[arg-type]

    def __iter__(self):
        epoch_seed = self.epoch_seed  # fixed when the epoch's iteration starts
        if self.sampler is not None:
            order = list(self.sampler)
        else:
            order = distributed.epoch_permutation(int(self.n), epoch_seed)
        return iter([(epoch_seed, int(i)) for i in order])


def _train_loader(data: Dataset, config: "TrainConfig", generator: torch.Generator, collate: Callable,
                  device: torch.device, *, world: int, rank: int
                  ) -> tuple[DataLoader, "distributed.SameOrderDistributedSampler | None", "_EpochTagged | None"]:
    """fit's training DataLoader, the DDP sampler fit calls ``set_epoch`` on, and, with workers,
    the sampler whose ``epoch_seed`` fit sets (each None where it does not apply).

    * One process, no workers (the book's path): a shuffling loader that draws from ``generator``.
    * Workers (``num_workers > 0``, kept alive across epochs): every item is drawn with generators
      seeded from ``(epoch seed, index)`` (:class:`_SeededItems`), in an order drawn from the epoch
      seed alone (:class:`_EpochTagged`), so resuming gives the same batches.
    * Under DDP (``world > 1``): this process's share of the order a single process would draw
      (:class:`~harlearn.distributed.SameOrderDistributedSampler`), ``batch_size / world`` per step.
    """
    workers = config.num_workers > 0
    options = dict(batch_size=config.batch_size // world,
                   drop_last=len(data) > config.batch_size,  # no 1-image batch for BatchNorm
                   num_workers=config.num_workers, collate_fn=collate,
                   pin_memory=device.type == "cuda", persistent_workers=workers)
    if world == 1 and not workers:
        return DataLoader(data, shuffle=True, generator=generator, **options), None, None
    sampler = None
    if world > 1:
        sampler = distributed.SameOrderDistributedSampler(data, partial(_epoch_seed, config.seed),
                                                          num_replicas=world, rank=rank, with_workers=workers)
    if not workers:
        return DataLoader(data, sampler=sampler, generator=generator, **options), sampler, None
    tagged = _EpochTagged(sampler, n=len(data))
    return DataLoader(_SeededItems(data), sampler=tagged, generator=torch.Generator(), **options), sampler, tagged


def _rank_seed(seed: int, epoch: int, rank: int) -> int:
    """The augmentation / dropout seed of process ``rank`` > 0 in epoch ``epoch`` (rank 0: ``_epoch_seed``)."""
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0])


@dataclass
class TrainConfig:
    """Everything :func:`fit` needs besides the model and the data."""

    epochs: int = 10  # passes over the training set
    lr: float = 1e-3  # peak learning rate, reached after the warmup
    optimizer: str = "adamw"  # "sgd" (with momentum) or "adamw"
    momentum: float = 0.9  # SGD momentum (unused by AdamW)
    betas: tuple[float, float] = (0.9, 0.999)  # AdamW's betas (MAE pre-trains with (0.9, 0.95))
    weight_decay: float = 1e-4  # L2 / decoupled decay, on weights only (not biases or norms)
    schedule: str = "cosine"  # lr schedule after warmup: "cosine" (to 0), "step" or "none"
    step_size: int = 10  # "step": multiply the lr by gamma every step_size epochs
    gamma: float = 0.1  # "step": the decay factor
    warmup_epochs: float = 0.0  # linear warmup from ~0 to lr over this many epochs
    batch_size: int = 64  # images per optimisation step (and per evaluation batch)
    num_workers: int = 0  # DataLoader worker processes (0 = load in the main process)
    amp: bool = False  # mixed precision on CUDA: bf16 if supported, else fp16 + GradScaler
    channels_last: bool = False  # NHWC memory format (faster convolutions on recent GPUs)
    grad_clip: float | None = None  # clip the global gradient norm to this value
    label_smoothing: float = 0.0  # for the default cross-entropy loss
    seed: int = 0  # seeds init-independent randomness: shuffling, augmentation, dropout
    max_batches: int | None = None  # cap on batches per epoch, train and val (ci profile)
    checkpoint_dir: str | None = None  # where last.pt / best.pt go; None = no checkpoints
    progress: bool = True  # tqdm progress bars and one summary line per epoch
    sync_batchnorm: bool = False  # several processes (torchrun): BatchNorm statistics of the global batch


# --------------------------------------------------------------------------------------------
# Pieces of the loop
# --------------------------------------------------------------------------------------------


def _make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD or AdamW; weight decay on weight matrices/kernels only (not biases or norms)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim > 1], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    if config.optimizer == "adamw":
        # the fused kernel: the same update for every parameter in one call instead of a Python loop over
        # them (the optimizer step of the narrow ResNet-50 is 4x faster on this course's CPU; see the
        # channels_last+fused mode of benchmarks/bench_cpu_training.py for the whole training step)
        fused = all(p.device.type in ("cpu", "cuda") and p.dtype in (torch.float32, torch.float16, torch.bfloat16)
                    for p in params)
        return torch.optim.AdamW(groups, lr=config.lr, betas=tuple(config.betas), fused=fused or None)
    raise ValueError(f"optimizer must be 'sgd' or 'adamw', got {config.optimizer!r}.")


def lr_factor(step: int, *, config: TrainConfig, steps_per_epoch: int) -> float:
    """The learning-rate multiplier at optimisation step ``step`` (0-based).

    Args:
        step: the number of optimisation steps already taken.
        config: gives ``epochs``, ``warmup_epochs``, ``schedule``, ``step_size``, ``gamma``.
        steps_per_epoch: optimisation steps in one epoch.

    Returns:
        A factor in ``[0, 1]``: linear warmup, then cosine decay to 0, step decay or constant.
    """
    epoch = step / steps_per_epoch  # fractional epochs done
    if epoch < config.warmup_epochs:
        return (step + 1) / (config.warmup_epochs * steps_per_epoch)
    if config.schedule == "cosine":
        progress = (epoch - config.warmup_epochs) / max(config.epochs - config.warmup_epochs, 1e-8)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    if config.schedule == "step":
        return config.gamma ** (int(epoch) // config.step_size)
    if config.schedule == "none":
        return 1.0
    raise ValueError(f"schedule must be 'cosine', 'step' or 'none', got {config.schedule!r}.")


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A config value as a plain Python object that ``weights_only`` loading accepts."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)  # Path and friends


def _rng_state() -> dict[str, Any]:
    """The global RNG states as tensors and plain lists (loadable with ``weights_only``)."""
    py = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`_rng_state` saved."""
    version, keys, gauss = state["python"]
    random.setstate((version, tuple(keys), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
    scaler: torch.amp.GradScaler | None = None,
    epoch: int = 0,
    history: History | None = None,
    config: TrainConfig | None = None,
) -> Path:
    """Write a checkpoint atomically: a temporary file in the same folder, fsync, rename.

    A crash while writing leaves the previous file intact. Only tensors and plain Python
    containers are stored, so :func:`load_checkpoint` can use ``weights_only=True``.

    Args:
        path: the checkpoint file (its folder is created).
        model: its ``state_dict`` is saved.
        optimizer: optional; its state is saved.
        scheduler: optional learning-rate scheduler; its state is saved.
        scaler: optional ``torch.amp.GradScaler``; its state is saved.
        epoch: the number of completed epochs.
        history: the :class:`History` so far (saved as a dict of lists).
        config: the :class:`TrainConfig` (saved as a dict).

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format": CHECKPOINT_FORMAT,
        "epoch": int(epoch),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "history": history.as_dict() if history is not None else {},
        "config": {k: _plain(v) for k, v in dataclasses.asdict(config).items()} if config else {},
        "rng": _rng_state(),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
    scaler: torch.amp.GradScaler | None = None,
    *,
    map_location: str | torch.device = "cpu",
    restore_rng: bool = False,
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    Args:
        path: the checkpoint file.
        model: when given, its weights are loaded (strictly).
        optimizer: when given, its state is loaded.
        scheduler: when given, its state is loaded.
        scaler: when given, its state is loaded.
        map_location: where tensors are loaded before being copied into the objects.
        restore_rng: also restore the global Python / numpy / torch RNG states.

    Returns:
        The checkpoint dict: ``epoch``, ``model``, ``optimizer``, ``scheduler``, ``scaler``,
        ``history`` (dict of lists; ``History.from_dict`` rebuilds it), ``config`` (dict), ``rng``.

    Raises:
        FileNotFoundError: the file does not exist.
        RuntimeError: the file is truncated, corrupt or not a harlearn checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}.")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise RuntimeError(
            f"Checkpoint {path} is corrupt or truncated and cannot be read ({err}). "
            "Delete it to train from scratch, or resume from another checkpoint."
        ) from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise RuntimeError(f"{path} is not a harlearn checkpoint (written by save_checkpoint).")
    if model is not None:
        model.load_state_dict(state["model"])
    for obj, key in ((optimizer, "optimizer"), (scheduler, "scheduler"), (scaler, "scaler")):
        if obj is not None and state[key] is not None:
            obj.load_state_dict(state[key])
    if restore_rng:
        _set_rng_state(state["rng"])
    return state


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------


def fit(
    model: nn.Module,
    train_data: Dataset,
    val_data: Dataset | None = None,
    config: TrainConfig | None = None,
    *,
    loss_fn: LossFn | None = None,
    metric_fn: Callable[[np.ndarray, np.ndarray], dict[str, float]] | None = None,
    device: torch.device | str | None = None,
    resume: bool = False,
    collate_fn: Callable | None = None,
) -> History:
    """Train ``model`` on ``train_data`` and return the per-epoch :class:`History`.

    Args:
        model: the model; trained in place and left on ``device``.
        train_data: a dataset of item dicts (``image`` and ``label`` or multi-hot ``labels``;
            a ``loss_fn`` may read other keys and need no labels).
        val_data: evaluated after every epoch when given (``val_loss``, ``val_acc``, ``val_map``),
            in eval mode (so not for the detector, whose eval mode returns detections).
        config: a :class:`TrainConfig` (default ``TrainConfig()``).
        loss_fn: ``loss_fn(model, batch)`` replacing :func:`default_loss` (e.g. to add LGA's mask
            loss), returning ``(loss, logits)``, ``(loss, None)`` (no logits: ``train_acc``,
            ``val_acc`` and ``val_map`` are NaN, e.g. ``mae_loss_fn``), ``(loss, logits_or_None,
            {name: scalar})`` (each named term is averaged into the epoch's record, e.g. the
            detector's four losses) or a plain loss tensor. Also used for the validation loss
            when given; the default validation loss is the plain criterion, without label
            smoothing.
        metric_fn: ``metric_fn(val_logits, val_targets) -> {name: value}``; each value is added
            to the epoch record as ``val_<name>``.
        device: default ``harlearn.profiles.device()`` (CUDA, then MPS, then CPU).
        resume: continue from ``config.checkpoint_dir/last.pt`` when it exists (exactly as if
            never interrupted); train from scratch when it does not.
        collate_fn: default ``harlearn.data.collate``.

    With a ``torch.distributed`` process group open (``torchrun``), every process calls ``fit``
    with the same arguments and trains its share (see the module docstring): ``batch_size`` is
    the global batch and must be divisible by the number of processes; ``device`` ``"cuda"``
    means this process's GPU (``LOCAL_RANK``); only rank 0 writes checkpoints and prints.

    Returns:
        The :class:`History` of all epochs (including those before a resume). ``best.pt`` is
        the epoch with the best ``val_map`` or, without logits, the lowest ``val_loss``.

    Raises:
        RuntimeError: on a non-finite loss (naming the epoch and step), or when the checkpoint
            to resume from is corrupt.
    """
    from harlearn import profiles

    config = config or TrainConfig()
    device = torch.device(device) if device is not None else profiles.device()
    ddp = distributed.is_distributed()  # several processes (torchrun): data-parallel
    rank, world = distributed.rank(), distributed.world_size()
    if ddp:
        device = distributed.local_device(device)
        if config.batch_size % world:
            raise ValueError(
                f"batch_size={config.batch_size} is the global batch of {world} processes and must be "
                f"divisible by {world}: pass a multiple of {world}."
            )
        if config.sync_batchnorm:
            model = distributed.convert_sync_batchnorm(model, device)
    model.to(device)
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    # what the loss function calls: the DDP wrapper (which averages the gradients) or the model
    net = distributed.wrap(model, device) if ddp else model
    show = config.progress and rank == 0
    collate = _collate(collate_fn)
    train_loss = loss_fn or partial(default_loss, label_smoothing=config.label_smoothing)
    dtype = _autocast_dtype(device, config.amp)  # None = full precision
    autocast = partial(torch.autocast, device.type, dtype=dtype or torch.float32,
                       enabled=dtype is not None)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)

    # Data: the generator is reseeded every epoch, so epoch e's order depends on (seed, e) only.
    generator = torch.Generator()
    train_loader, ddp_sampler, tagged = _train_loader(train_data, config, generator, collate, device,
                                                      world=world if ddp else 1, rank=rank)
    steps_per_epoch = min(len(train_loader), config.max_batches or len(train_loader))
    if steps_per_epoch == 0:
        raise ValueError("train_data is empty: there is nothing to train on.")
    optimizer = _make_optimizer(model, config)
    schedule = partial(lr_factor, config=config, steps_per_epoch=steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)

    # Resume: model, optimizer, scheduler, scaler and history from last.pt.
    history, start_epoch = History(), 0
    ckpt_dir = Path(config.checkpoint_dir) if config.checkpoint_dir else None
    if resume and ckpt_dir is None:
        raise ValueError("resume=True needs config.checkpoint_dir (where last.pt is).")
    if ddp and resume:  # every process must resume, or none: they train in lockstep
        found = distributed.all_reduce_sum([float((ckpt_dir / "last.pt").exists())], device)[0]
        if found not in (0, world):
            raise ValueError(
                f"resume=True: {ckpt_dir / 'last.pt'} is visible to {found:.0f} of {world} processes: put "
                "checkpoint_dir on a file system every machine shares (rank 0 writes it there)."
            )
    if resume and (ckpt_dir / "last.pt").exists():
        state = load_checkpoint(ckpt_dir / "last.pt", model, optimizer, scheduler, scaler)
        history, start_epoch = History.from_dict(state["history"]), state["epoch"]
        _warn_config_change(state["config"], config)
    best = max((_score(r) for r in history if not math.isnan(_score(r))), default=-math.inf)

    for epoch in range(start_epoch, config.epochs):
        epoch_seed = _epoch_seed(config.seed, epoch)
        if not ddp:
            seed_everything(epoch_seed)  # augmentation and dropout of this epoch
            generator.manual_seed(epoch_seed)  # shuffling of this epoch
        else:  # the same order everywhere; each process its own augmentation, dropout and workers
            ddp_sampler.set_epoch(epoch)
            rank_seed = epoch_seed if rank == 0 else _rank_seed(config.seed, epoch, rank)
            seed_everything(rank_seed)
            generator.manual_seed(rank_seed)
        if tagged is not None:  # workers: each item's own seed (the same item, the same draw on any process)
            tagged.epoch_seed = epoch_seed
        net.train()
        start, loss_sum, correct, seen, scored = time.perf_counter(), 0.0, 0.0, 0, 0
        term_sums: dict[str, float] = {}
        bar = tqdm(train_loader, total=steps_per_epoch, leave=False, disable=not show,
                   desc=f"epoch {epoch + 1}/{config.epochs}")
        for step, batch in enumerate(bar):
            if step >= steps_per_epoch:
                break
            batch = _to_device(batch, device, config.channels_last)
            with autocast():
                loss, logits, terms = unpack_loss_output(train_loss(net, batch))
            size = batch_size_of(batch)
            if not ddp:
                loss_value = float(loss.detach())  # one host sync per step
            else:  # the global batch's loss: every process sees the same value (and stops together)
                step_loss, step_size = distributed.all_reduce_sum([float(loss.detach()) * size, size], device)
                loss_value = step_loss / step_size
            if not math.isfinite(loss_value):
                raise RuntimeError(
                    f"Non-finite loss ({loss_value}) at epoch {epoch + 1}, step {step + 1}: "
                    f"lower the learning rate (lr={config.lr:g}), turn amp off, or set grad_clip."
                )
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if config.grad_clip is not None:
                scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            lr = optimizer.param_groups[0]["lr"]  # the lr this step used
            scheduler.step()

            if ddp:  # counted over all processes
                loss_sum, seen = loss_sum + step_loss, seen + int(step_size)
            else:
                loss_sum, seen = loss_sum + loss_value * size, seen + size
            for name, term in terms.items():
                term_sums[name] = term_sums.get(name, 0.0) + float(term) * size
            if logits is not None:  # no logits (MAE, detector): no accuracy
                correct += metrics.accuracy(logits.detach().float(), _targets(batch)) * size
                scored += size
            shown = {"loss": f"{loss_sum / seen:.3f}"}
            if scored:
                shown["acc"] = f"{correct / scored:.3f}"
            bar.set_postfix(shown)

        if ddp:  # accuracy and named terms summed over the processes (the loss already is)
            names = sorted(term_sums)
            correct, scored, *sums = distributed.all_reduce_sum(
                [correct, scored, *(term_sums[k] for k in names)], device)
            term_sums = dict(zip(names, sums))
        record = {"epoch": epoch + 1, "train_loss": loss_sum / seen,
                  "train_acc": correct / scored if scored else math.nan,
                  "val_loss": math.nan, "val_acc": math.nan, "val_map": math.nan,
                  **{name: value / seen for name, value in term_sums.items()}}
        if val_data is not None and not ddp:
            val = evaluate(model, val_data, device=device, batch_size=config.batch_size,
                           loss_fn=loss_fn, collate_fn=collate, num_workers=config.num_workers,
                           amp=config.amp, channels_last=config.channels_last,
                           max_batches=config.max_batches)
        elif val_data is not None:  # each process a share of the items, the outputs gathered
            val = distributed.evaluate_sharded(
                model, val_data, device=device, batch_size=config.batch_size, loss_fn=loss_fn,
                collate_fn=collate, num_workers=config.num_workers, amp=config.amp,
                channels_last=config.channels_last, max_batches=config.max_batches)
        if val_data is not None:
            record.update(val_loss=val["loss"], val_acc=val["accuracy"], val_map=val["mAP"])
            if metric_fn is not None and val["logits"] is not None:
                for name, value in metric_fn(val["logits"], val["targets"]).items():
                    record[f"val_{name}"] = float(value)
        record.update(lr=lr, seconds=time.perf_counter() - start)
        history.append(record)
        if show:
            tqdm.write(" ".join(f"{k}={v:.4g}" for k, v in record.items() if not math.isnan(v)))

        if ckpt_dir is not None:  # last.pt every epoch; best.pt when the validation improves
            args = (model, optimizer, scheduler, scaler, epoch + 1, history, config)
            improved = _score(record) > best  # the same on every process (the record is)
            if rank == 0:  # one checkpoint, the unwrapped model's (no "module." prefix)
                save_checkpoint(ckpt_dir / "last.pt", *args)
                if improved:
                    save_checkpoint(ckpt_dir / "best.pt", *args)
            if improved:
                best = _score(record)
            if ddp:  # nobody reads last.pt (a resume) before rank 0 has written it
                distributed.barrier()
    return history


def train_detector(
    model: nn.Module,
    dataset: Dataset,
    epochs: int = 1,
    *,
    batch_size: int = 8,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    key: str = "boxes",
    labels: int | Sequence[str] | None = None,
    grad_clip: float | None = 10.0,
    max_batches: int | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
    collate_fn: Callable | None = None,
    progress: bool = True,
) -> History:
    """Train a torchvision detector on a dataset of item dicts: :func:`fit` with the detector's loss.

    ``fit(model, dataset, None, config, loss_fn=detection_loss_fn(key, labels))`` with AdamW, a
    constant learning rate and gradient-norm clipping (see
    :func:`harlearn.models.detection.detection_loss_fn`). Like every :func:`fit` run, the
    shuffling and the detector's sampling of anchors and proposals in epoch ``e`` are seeded
    from ``(seed, e)``; weight decay skips biases and norms.

    Args:
        model: A detector from :func:`harlearn.models.detection.fasterrcnn` (trained in place,
            left on ``device``).
        dataset: Items with ``image`` (uint8, or float in ``[0, 1]``: not normalised) and the
            boxes under ``key``; augment with torchvision.transforms.v2 so the boxes follow.
        epochs: Passes over the dataset.
        batch_size: Images per step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        key: The boxes to learn (see :func:`harlearn.models.detection.detection_targets`).
        labels: The box classes (see :func:`harlearn.models.detection.detection_targets`).
        grad_clip: Clip the global gradient norm to this (``None``: no clipping).
        max_batches: Cap on steps per epoch.
        seed: Seeds the shuffling and the detector's random sampling.
        device: Default ``harlearn.profiles.device()``.
        collate_fn: Default ``harlearn.data.collate``.
        progress: Show a progress bar and a line per epoch.

    Returns:
        The :class:`History`: per-epoch ``train_loss`` (the sum of the four losses),
        ``loss_classifier``, ``loss_box_reg``, ``loss_objectness``, ``loss_rpn_box_reg``,
        ``lr`` and ``seconds`` (``train_acc`` and the ``val_*`` keys are NaN):
        ``plot_history(history, ("loss",))`` draws it.
    """
    from harlearn.models.detection import detection_loss_fn  # train imports models, not the reverse

    if len(dataset) == 0:
        raise ValueError("The dataset is empty: there is nothing to train the detector on.")
    config = TrainConfig(
        epochs=epochs, lr=lr, optimizer="adamw", weight_decay=weight_decay, schedule="none",
        batch_size=batch_size, grad_clip=grad_clip, seed=seed, max_batches=max_batches,
        progress=progress,
    )
    return fit(model, dataset, None, config, loss_fn=detection_loss_fn(key, labels), device=device,
               collate_fn=collate_fn)


def _score(record: dict[str, float]) -> float:
    """What ``best.pt`` maximises: ``val_map``, or ``-val_loss`` without logits (NaN: no score)."""
    return record["val_map"] if not math.isnan(record["val_map"]) else -record["val_loss"]


def _warn_config_change(saved: dict[str, Any], config: TrainConfig) -> None:
    """Warn when a resumed run changes settings that alter the result."""
    harmless = {"num_workers", "progress", "checkpoint_dir"}
    if config.schedule != "cosine":  # extending a run only changes the cosine schedule
        harmless.add("epochs")
    now = {k: _plain(v) for k, v in dataclasses.asdict(config).items()}
    # a setting missing from an older checkpoint did not exist then: it had its default
    changed = sorted(k for k in now if k not in harmless and saved.get(k, now[k]) != now[k])
    if changed:
        warnings.warn(
            f"Resuming with changed settings {changed}: the result will differ from an "
            "uninterrupted run.",
            stacklevel=3,
        )
