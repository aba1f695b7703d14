"""Running a model over a dataset: :func:`predict` (outputs, targets, loss) and :func:`evaluate`.

The evaluation half of the course's training loop, in a module of its own so that models can
use it (ConViT's ``predict_branches``, the retrieval embeddings) without importing the loop
(:mod:`harlearn.train`, which imports this module and re-exports both functions). It also holds
what the two share: moving a collated batch to a device, the default collate function, the
autocast choice, and :func:`unpack_loss_output`, the one reading of a loss function's result.

The loss-function contract (``fit``, ``predict``, ``evaluate``): ``loss_fn(model, batch)``
returns

* ``(loss, logits)``: a scalar loss and ``[B, C]`` class scores (accuracy and mAP are computed);
* ``(loss, None)``: a loss without logits (the MAE, the detector): no accuracy, ``train_acc``
  and ``val_acc`` / ``val_map`` are NaN, ``val_loss`` is kept;
* ``(loss, logits_or_None, terms)``: as above, plus a dict of named scalar terms (e.g. the
  detector's ``loss_classifier``) that :func:`harlearn.train.fit` averages into every epoch's
  record under their own names;
* or a plain scalar loss tensor, the same as ``(loss, None)``.

Not a paper's method: evaluation in ``eval()`` mode under ``torch.no_grad()``, in dataset order.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Union

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from harlearn import metrics
from harlearn.losses import classification_loss as _criterion
from harlearn.losses import logits_of
from harlearn.losses import targets_of as _targets

__all__ = ["predict", "evaluate", "scores_of_predictions", "unpack_loss_output", "batch_size_of", "LossFn"]

#: What a loss function may return (see the module docstring).
LossOutput = Union[
    torch.Tensor,
    tuple[torch.Tensor, Union[torch.Tensor, None]],
    tuple[torch.Tensor, Union[torch.Tensor, None], dict[str, Any]],
]
#: ``loss_fn(model, batch) -> LossOutput``.
LossFn = Callable[[nn.Module, dict], LossOutput]


def unpack_loss_output(output: LossOutput) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, Any]]:
    """Read what a loss function returned as ``(loss, logits or None, named terms)``.

    Args:
        output: A scalar loss tensor, ``(loss, logits_or_None)`` or
            ``(loss, logits_or_None, {name: scalar})``.

    Returns:
        ``(loss, logits, terms)``; ``logits`` is None and ``terms`` empty when not given.

    Raises:
        TypeError: Anything else.
    """
    if isinstance(output, torch.Tensor):
        return output, None, {}
    if isinstance(output, (tuple, list)) and len(output) in (2, 3):
        loss, logits = output[0], output[1]
        terms = dict(output[2]) if len(output) == 3 and output[2] is not None else {}
        return loss, logits, terms
    raise TypeError(
        "A loss function must return a loss tensor, (loss, logits_or_None) or "
        f"(loss, logits_or_None, terms), got {type(output).__name__}."
    )


def batch_size_of(batch: dict[str, Any]) -> int:
    """Images in a collated batch (``len(batch["image"])``: a stacked tensor or a list)."""
    return len(batch["image"])


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


def _native_bf16() -> bool:
    """Whether the current CUDA device computes bf16 natively (Ampere, compute capability 8.0+).

    ``torch.cuda.is_bf16_supported()`` alone also counts *emulated* bf16 (a T4, compute
    capability 7.5, says yes), which runs slowly and, as bf16, without a GradScaler. torch 2.3
    and later take ``including_emulation=False``; older versions lack the argument, and there
    the compute capability is checked directly.
    """
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # torch < 2.3: no including_emulation argument
        if getattr(torch.version, "hip", None):
            return True
        major, _ = torch.cuda.get_device_capability()
        return major >= 8


def _autocast_dtype(device: torch.device, amp: bool) -> torch.dtype | None:
    """The autocast dtype: None (full precision) off CUDA or without ``amp``.

    On CUDA, bf16 where the GPU computes it natively (A100, H100, RTX 30xx and later), else
    fp16, which :func:`harlearn.train.fit` pairs with a ``GradScaler`` (a T4 or V100 gets fp16).

    Args:
        device: the device the model runs on.
        amp: whether mixed precision is asked for.

    Returns:
        ``torch.bfloat16``, ``torch.float16`` or None.
    """
    if not amp or device.type != "cuda":
        return None
    return torch.bfloat16 if _native_bf16() else torch.float16


@torch.no_grad()
def predict(
    model: nn.Module,
    data: Dataset,
    *,
    device: torch.device | str | None = None,
    batch_size: int = 64,
    forward: Callable[[nn.Module, dict], Any] | None = None,
    loss_fn: LossFn | None = None,
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
        loss_fn: a loss function (see :func:`unpack_loss_output` for what it may return); when
            given it computes the loss and the logits (None logits: none are collected).
        collate_fn: default ``harlearn.data.collate``.
        num_workers: DataLoader workers.
        amp: autocast on CUDA (as in :class:`TrainConfig`).
        channels_last: NHWC images and model.
        max_batches: stop after this many batches.
        progress: show a progress bar.

    Returns:
        A dict with ``logits`` (``[N, C]`` float32 array; None when ``loss_fn`` gives no
        logits), ``targets`` (``[N]`` or ``[N, C]`` array; None when the items have no labels)
        and ``loss`` (the mean loss: from ``loss_fn`` when given, NaN with a custom ``forward``
        whose output need not be logits, else from the default criterion).
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
                loss, logits, _ = unpack_loss_output(loss_fn(model, batch))
            elif forward is not None:  # custom outputs (maybe embeddings): no loss
                loss, logits = None, logits_of(forward(model, batch))
            else:
                logits = logits_of(model(batch["image"]))
                loss = _criterion(logits, batch) if has_targets else None
        size = batch_size_of(batch)
        if logits is not None:
            outputs.append(logits.float().cpu())
        if has_targets:
            targets.append(_targets(batch).cpu())
        if loss is not None:
            loss_sum, n = loss_sum + float(loss.detach()) * size, n + size
    return {
        "logits": torch.cat(outputs).numpy() if outputs else None,
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
        ``{"logits", "targets", "loss", "accuracy", "mAP"}`` (arrays and floats); accuracy and
        mAP are NaN when the ``loss_fn`` gives no logits (e.g. the MAE's reconstruction loss).
    """
    out = predict(model, data, device=device, batch_size=batch_size, forward=forward, **kwargs)
    return scores_of_predictions(out)


def scores_of_predictions(out: dict[str, Any]) -> dict[str, Any]:
    """Add accuracy and mAP to what :func:`predict` returned (what :func:`evaluate` does after it).

    Args:
        out: ``{"logits", "targets", "loss"}`` as :func:`predict` returns them.

    Returns:
        ``out`` with ``accuracy`` and ``mAP`` (NaN when there are no logits).
    """
    if out["logits"] is None:  # a loss without logits: nothing to score
        return {**out, "accuracy": math.nan, "mAP": math.nan}
    logits, targets = torch.from_numpy(out["logits"]).double(), out["targets"]
    if targets is None:
        raise ValueError("evaluate needs items with 'label' or 'labels'; use predict instead.")
    multilabel = targets.ndim == 2
    probs = (logits.sigmoid() if multilabel else logits.softmax(dim=1)).numpy()
    out["accuracy"] = metrics.accuracy(out["logits"], targets)
    out["mAP"] = metrics.mean_average_precision(probs, targets)
    return out
