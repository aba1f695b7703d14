"""The training loop every chapter uses: explicit, short, and resumable exactly.

One function, :func:`fit`, trains a classifier on a dataset of item dicts (see
``harlearn.data``): it builds the DataLoaders, the optimizer (SGD or AdamW) and a per-step
learning-rate schedule (linear warmup, then cosine or step decay), runs mixed precision on CUDA,
stops on a non-finite loss, evaluates on a validation set after every epoch and writes
checkpoints atomically. :func:`evaluate` and :func:`predict` run a model over a dataset for the
metrics of :mod:`harlearn.metrics`.

How resume stays exact: at the start of epoch ``e`` the loop reseeds Python, numpy and torch
(and the DataLoader's shuffling generator) from ``(config.seed, e)`` only. The shuffling, the
random augmentations and dropout of epoch ``e`` therefore do not depend on what ran before,
and a checkpoint needs only the model, optimizer, scheduler and gradient-scaler states plus the
history to continue bit for bit. (A side effect: :func:`fit` leaves the global random generators
seeded from the last epoch.)

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
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from harlearn import metrics

__all__ = [
    "TrainConfig",
    "History",
    "fit",
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


@dataclass
class TrainConfig:
    """Everything :func:`fit` needs besides the model and the data."""

    epochs: int = 10  # passes over the training set
    lr: float = 1e-3  # peak learning rate, reached after the warmup
    optimizer: str = "adamw"  # "sgd" (with momentum) or "adamw"
    momentum: float = 0.9  # SGD momentum (unused by AdamW)
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


class History:
    """Per-epoch records of a :func:`fit` run.

    Each record is a dict with ``epoch`` (1-based), ``train_loss``, ``train_acc``, ``val_loss``,
    ``val_acc``, ``val_map`` (NaN without validation data), ``lr`` (of the epoch's last step) and
    ``seconds``. ``history["val_acc"]`` is the list of one key over the epochs,
    ``history[-1]`` a record, ``history.last`` the last record.
    """

    def __init__(self, records: list[dict[str, float]] | None = None) -> None:
        self.records: list[dict[str, float]] = list(records or [])

    def append(self, record: dict[str, float]) -> None:
        """Add one epoch's record."""
        self.records.append(dict(record))

    def __getitem__(self, key: str | int) -> Any:
        if isinstance(key, int):
            return self.records[key]
        if self.records and key not in self.records[0]:
            raise KeyError(f"{key!r} is not in the history; keys: {self.keys()}.")
        return [r.get(key) for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[dict[str, float]]:
        return iter(self.records)

    def __repr__(self) -> str:
        return f"History({len(self)} epochs, last={self.last})"

    def keys(self) -> list[str]:
        """The record keys, in order."""
        return list(self.records[0]) if self.records else []

    @property
    def last(self) -> dict[str, float] | None:
        """The last epoch's record (None before the first epoch)."""
        return self.records[-1] if self.records else None

    def as_dict(self) -> dict[str, list]:
        """``{key: [value per epoch]}``, e.g. for ``pandas.DataFrame(history.as_dict())``."""
        return {k: self[k] for k in self.keys()}

    @classmethod
    def from_dict(cls, columns: dict[str, list]) -> "History":
        """The inverse of :meth:`as_dict`."""
        n = len(next(iter(columns.values()), []))
        return cls([{k: v[i] for k, v in columns.items()} for i in range(n)])

    def best(self, key: str, mode: str | None = None) -> dict[str, float]:
        """The record of the best epoch by ``key`` (NaN values ignored).

        Args:
            key: a record key, e.g. ``"val_map"``.
            mode: ``"max"`` or ``"min"``; default ``"min"`` for keys containing ``loss``.

        Returns:
            The whole record, e.g. ``history.best("val_map")["epoch"]``.
        """
        mode = mode or ("min" if "loss" in key else "max")
        scored = [r for r in self.records if not math.isnan(float(r[key]))]
        if not scored:
            raise ValueError(f"No epoch has a value for {key!r}.")
        pick = max if mode == "max" else min
        return pick(scored, key=lambda r: r[key])


# --------------------------------------------------------------------------------------------
# Pieces of the loop
# --------------------------------------------------------------------------------------------


def logits_of(output: Any) -> torch.Tensor:
    """The logits in a model's output: the tensor, a tuple's first entry or ``out["logits"]``."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict):
        return output["logits"]
    if isinstance(output, (tuple, list)):
        return output[0]
    raise TypeError(f"Cannot find logits in a model output of type {type(output).__name__}.")


def default_loss(
    model: nn.Module, batch: dict[str, Any], label_smoothing: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of ``model(batch["image"])`` against ``batch["label"]``.

    When the batch has multi-hot ``"labels"`` (VOC Action) the loss is binary cross-entropy with
    logits instead. ``batch["label"]`` may be class indices ``[B]`` or class probabilities
    ``[B, C]`` (after mixup).

    Args:
        model: the classifier.
        batch: a collated batch on the model's device.
        label_smoothing: passed to ``F.cross_entropy`` (not used by the BCE loss).

    Returns:
        ``(loss, logits)``.
    """
    logits = logits_of(model(batch["image"]))
    return _criterion(logits, batch, label_smoothing), logits


def _criterion(logits: torch.Tensor, batch: dict[str, Any], label_smoothing: float = 0.0):
    """BCE-with-logits against multi-hot ``labels`` if present, else cross-entropy."""
    if "labels" in batch:
        return F.binary_cross_entropy_with_logits(logits.float(), batch["labels"].float())
    return F.cross_entropy(logits.float(), batch["label"], label_smoothing=label_smoothing)


def _targets(batch: dict[str, Any]) -> torch.Tensor:
    """Targets for the metrics: multi-hot ``labels``, else hard class indices."""
    if "labels" in batch:
        return batch["labels"]
    label = batch["label"]
    return label.argmax(dim=1) if label.ndim == 2 else label  # soft (mixup) labels -> indices


def _to_device(obj: Any, device: torch.device, channels_last: bool = False) -> Any:
    """Move every tensor in a (nested) batch to ``device``; images optionally to NHWC."""
    if isinstance(obj, torch.Tensor):
        obj = obj.to(device, non_blocking=True)
        if channels_last and obj.ndim == 4:
            obj = obj.contiguous(memory_format=torch.channels_last)
        return obj
    if isinstance(obj, dict):
        return {k: _to_device(v, device, channels_last and k == "image") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


def _collate(collate_fn: Callable | None) -> Callable:
    """The given collate function, or ``harlearn.data.collate`` (imported when needed)."""
    if collate_fn is not None:
        return collate_fn
    from harlearn.data import collate

    return collate


def _autocast_dtype(device: torch.device, amp: bool) -> torch.dtype | None:
    """bf16 on CUDA when supported, else fp16; None (no autocast) off CUDA or without amp."""
    if not amp or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


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
        return torch.optim.AdamW(groups, lr=config.lr)
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
# Evaluation
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def predict(
    model: nn.Module,
    data: Dataset,
    *,
    device: torch.device | str | None = None,
    batch_size: int = 64,
    forward: Callable[[nn.Module, dict], Any] | None = None,
    loss_fn: Callable[[nn.Module, dict], tuple[torch.Tensor, torch.Tensor]] | None = None,
    collate_fn: Callable | None = None,
    num_workers: int = 0,
    amp: bool = False,
    channels_last: bool = False,
    max_batches: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Run a model over a dataset in eval mode, in order, and collect its outputs.

    Args:
        model: the model (moved to ``device``).
        data: a dataset of item dicts.
        device: default ``harlearn.profiles.device()``.
        batch_size: items per forward pass.
        forward: ``forward(model, batch) -> output`` instead of ``model(batch["image"])``
            (e.g. to pass boxes, or to return embeddings for retrieval); the output may be a
            tensor, a tuple or a dict (see :func:`logits_of`).
        loss_fn: ``loss_fn(model, batch) -> (loss, logits)``; when given it computes both.
        collate_fn: default ``harlearn.data.collate``.
        num_workers: DataLoader workers.
        amp: autocast on CUDA (as in :class:`TrainConfig`).
        channels_last: NHWC images and model.
        max_batches: stop after this many batches.
        progress: show a progress bar.

    Returns:
        A dict with ``logits`` (``[N, C]`` float32 array), ``targets`` (``[N]`` or ``[N, C]``
        array; None when the items have no labels) and ``loss`` (the mean loss: from
        ``loss_fn`` when given, NaN with a custom ``forward`` whose output need not be logits,
        else from the default criterion).
    """
    from harlearn import profiles

    device = torch.device(device) if device is not None else profiles.device()
    model.to(device).eval()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    dtype = _autocast_dtype(device, amp)
    loader = DataLoader(
        data, batch_size=batch_size, shuffle=False, num_workers=num_workers,
        collate_fn=_collate(collate_fn), pin_memory=device.type == "cuda",
    )
    outputs, targets, loss_sum, n = [], [], 0.0, 0
    for i, batch in enumerate(tqdm(loader, desc="eval", leave=False, disable=not progress)):
        if max_batches is not None and i >= max_batches:
            break
        batch = _to_device(batch, device, channels_last)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            has_targets = "labels" in batch or "label" in batch
            if loss_fn is not None:
                loss, logits = loss_fn(model, batch)
            elif forward is not None:  # custom outputs (maybe embeddings): no loss
                loss, logits = None, logits_of(forward(model, batch))
            else:
                logits = logits_of(model(batch["image"]))
                loss = _criterion(logits, batch) if has_targets else None
        size = logits.shape[0]
        outputs.append(logits.float().cpu())
        if has_targets:
            targets.append(_targets(batch).cpu())
        if loss is not None:
            loss_sum, n = loss_sum + float(loss.detach()) * size, n + size
    return {
        "logits": torch.cat(outputs).numpy(),
        "targets": torch.cat(targets).numpy() if targets else None,
        "loss": loss_sum / n if n else float("nan"),
    }


def evaluate(
    model: nn.Module,
    data: Dataset,
    *,
    device: torch.device | str | None = None,
    batch_size: int = 64,
    forward: Callable[[nn.Module, dict], Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """:func:`predict`, then accuracy and mAP.

    The mAP is the VOC AP per class (see :mod:`harlearn.metrics`) on the softmax probabilities
    (sigmoid for multi-hot targets), averaged over the classes with positives.

    Args:
        model: the classifier.
        data: a dataset of item dicts with ``label`` (or multi-hot ``labels``).
        device: default ``harlearn.profiles.device()``.
        batch_size: items per forward pass.
        forward: see :func:`predict`.
        **kwargs: more :func:`predict` arguments (``loss_fn``, ``collate_fn``, ``amp``, ...).

    Returns:
        ``{"logits", "targets", "loss", "accuracy", "mAP"}`` (arrays and floats).
    """
    out = predict(model, data, device=device, batch_size=batch_size, forward=forward, **kwargs)
    logits, targets = torch.from_numpy(out["logits"]).double(), out["targets"]
    if targets is None:
        raise ValueError("evaluate needs items with 'label' or 'labels'; use predict instead.")
    multilabel = targets.ndim == 2
    probs = (logits.sigmoid() if multilabel else logits.softmax(dim=1)).numpy()
    out["accuracy"] = metrics.accuracy(out["logits"], targets)
    out["mAP"] = metrics.mean_average_precision(probs, targets)
    return out


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------


def fit(
    model: nn.Module,
    train_data: Dataset,
    val_data: Dataset | None = None,
    config: TrainConfig | None = None,
    *,
    loss_fn: Callable[[nn.Module, dict], tuple[torch.Tensor, torch.Tensor]] | None = None,
    metric_fn: Callable[[np.ndarray, np.ndarray], dict[str, float]] | None = None,
    device: torch.device | str | None = None,
    resume: bool = False,
    collate_fn: Callable | None = None,
) -> History:
    """Train ``model`` on ``train_data`` and return the per-epoch :class:`History`.

    Args:
        model: the classifier; trained in place and left on ``device``.
        train_data: a dataset of item dicts (``image`` and ``label`` or multi-hot ``labels``).
        val_data: evaluated after every epoch when given (``val_loss``, ``val_acc``, ``val_map``).
        config: a :class:`TrainConfig` (default ``TrainConfig()``).
        loss_fn: ``loss_fn(model, batch) -> (loss, logits)`` replacing :func:`default_loss`
            (e.g. to add LGA's mask loss). Also used for the validation loss when given; the
            default validation loss is the plain criterion, without label smoothing.
        metric_fn: ``metric_fn(val_logits, val_targets) -> {name: value}``; each value is added
            to the epoch record as ``val_<name>``.
        device: default ``harlearn.profiles.device()`` (CUDA, then MPS, then CPU).
        resume: continue from ``config.checkpoint_dir/last.pt`` when it exists (exactly as if
            never interrupted); train from scratch when it does not.
        collate_fn: default ``harlearn.data.collate``.

    Returns:
        The :class:`History` of all epochs (including those before a resume).

    Raises:
        RuntimeError: on a non-finite loss (naming the epoch and step), or when the checkpoint
            to resume from is corrupt.
    """
    from harlearn import profiles

    config = config or TrainConfig()
    device = torch.device(device) if device is not None else profiles.device()
    model.to(device)
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    collate = _collate(collate_fn)
    train_loss = loss_fn or partial(default_loss, label_smoothing=config.label_smoothing)
    dtype = _autocast_dtype(device, config.amp)  # None = full precision
    autocast = partial(torch.autocast, device.type, dtype=dtype or torch.float32,
                       enabled=dtype is not None)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)

    # Data: the generator is reseeded every epoch, so epoch e's order depends on (seed, e) only.
    generator = torch.Generator()
    train_loader = DataLoader(
        train_data, batch_size=config.batch_size, shuffle=True, generator=generator,
        drop_last=len(train_data) > config.batch_size,  # no 1-image batch for BatchNorm
        num_workers=config.num_workers, collate_fn=collate, pin_memory=device.type == "cuda",
    )
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
    if resume and (ckpt_dir / "last.pt").exists():
        state = load_checkpoint(ckpt_dir / "last.pt", model, optimizer, scheduler, scaler)
        history, start_epoch = History.from_dict(state["history"]), state["epoch"]
        _warn_config_change(state["config"], config)
    best = max((r["val_map"] for r in history if not math.isnan(r["val_map"])), default=-1.0)

    for epoch in range(start_epoch, config.epochs):
        epoch_seed = _epoch_seed(config.seed, epoch)
        seed_everything(epoch_seed)  # augmentation and dropout of this epoch
        generator.manual_seed(epoch_seed)  # shuffling of this epoch
        model.train()
        start, loss_sum, correct, seen = time.perf_counter(), 0.0, 0.0, 0
        bar = tqdm(train_loader, total=steps_per_epoch, leave=False, disable=not config.progress,
                   desc=f"epoch {epoch + 1}/{config.epochs}")
        for step, batch in enumerate(bar):
            if step >= steps_per_epoch:
                break
            batch = _to_device(batch, device, config.channels_last)
            with autocast():
                loss, logits = train_loss(model, batch)
            loss_value = float(loss.detach())  # one host sync per step
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

            size = logits.shape[0]
            loss_sum += loss_value * size
            correct += metrics.accuracy(logits.float(), _targets(batch)) * size
            seen += size
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")

        record = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
                  "val_loss": math.nan, "val_acc": math.nan, "val_map": math.nan}
        if val_data is not None:
            val = evaluate(model, val_data, device=device, batch_size=config.batch_size,
                           loss_fn=loss_fn, collate_fn=collate, num_workers=config.num_workers,
                           amp=config.amp, channels_last=config.channels_last,
                           max_batches=config.max_batches)
            record.update(val_loss=val["loss"], val_acc=val["accuracy"], val_map=val["mAP"])
            if metric_fn is not None:
                for name, value in metric_fn(val["logits"], val["targets"]).items():
                    record[f"val_{name}"] = float(value)
        record.update(lr=lr, seconds=time.perf_counter() - start)
        history.append(record)
        if config.progress:
            tqdm.write(" ".join(f"{k}={v:.4g}" for k, v in record.items() if not math.isnan(v)))

        if ckpt_dir is not None:  # last.pt every epoch; best.pt when val mAP improves
            args = (model, optimizer, scheduler, scaler, epoch + 1, history, config)
            save_checkpoint(ckpt_dir / "last.pt", *args)
            if record["val_map"] > best:
                best = record["val_map"]
                save_checkpoint(ckpt_dir / "best.pt", *args)
    return history


def _warn_config_change(saved: dict[str, Any], config: TrainConfig) -> None:
    """Warn when a resumed run changes settings that alter the result."""
    harmless = {"num_workers", "progress", "checkpoint_dir"}
    if config.schedule != "cosine":  # extending a run only changes the cosine schedule
        harmless.add("epochs")
    now = {k: _plain(v) for k, v in dataclasses.asdict(config).items()}
    changed = sorted(k for k in now if k not in harmless and saved.get(k) != now[k])
    if changed:
        warnings.warn(
            f"Resuming with changed settings {changed}: the result will differ from an "
            "uninterrupted run.",
            stacklevel=3,
        )
