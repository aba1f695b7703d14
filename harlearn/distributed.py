"""Training on several processes (GPUs, machines) with PyTorch's own launcher, ``torchrun``.

The course has one training loop, :func:`harlearn.train.fit`. Started by ``torchrun``, every
process runs the same program; :func:`init_from_env` reads the variables torchrun sets
(``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) and opens the
process group (NCCL on CUDA, gloo on a CPU). Once it is open, ``fit`` trains data-parallel:

- the model is wrapped in :class:`~torch.nn.parallel.DistributedDataParallel` (:func:`wrap`;
  ``device_ids=None`` on a CPU), which averages the gradients of all processes at every step;
- each process reads its own share of every global batch (:class:`SameOrderDistributedSampler`):
  together the processes see exactly the batches one process would, so ``config.batch_size``
  stays the *global* batch and the recipe's learning rate keeps its meaning;
- with ``config.sync_batchnorm`` the BatchNorm statistics are those of the global batch
  (:func:`convert_sync_batchnorm`: ``torch.nn.SyncBatchNorm`` on CUDA, :class:`CPUSyncBatchNorm`
  on a CPU, where torch's needs CUDA);
- losses and accuracies are summed over the processes, the validation set is split between
  them and its predictions gathered (:func:`evaluate_sharded`), so every process holds the same
  history; only rank 0 shows progress and writes checkpoints.

Launch (one machine, 4 GPUs)::

    torchrun --nproc_per_node=4 -m harlearn train resnet50 --data stanford40 --profile full

Not a paper's method: PyTorch's DDP recipe (https://pytorch.org/docs/stable/notes/ddp.html).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

__all__ = [
    "init_from_env",
    "is_distributed",
    "rank",
    "world_size",
    "is_main",
    "barrier",
    "destroy",
    "local_device",
    "wrap",
    "unwrap",
    "convert_sync_batchnorm",
    "CPUSyncBatchNorm",
    "SameOrderDistributedSampler",
    "epoch_permutation",
    "all_reduce_sum",
    "evaluate_sharded",
]


# --------------------------------------------------------------------------------------------
# The process group
# --------------------------------------------------------------------------------------------


def launched_by_torchrun() -> bool:
    """Whether torchrun (or another launcher with its variables) started this process."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


def init_from_env(timeout_s: float = 1800.0) -> bool:
    """Open the default process group from torchrun's environment variables, once.

    NCCL when CUDA is available (each process on ``cuda:LOCAL_RANK``), gloo otherwise. Does
    nothing outside torchrun (a plain ``python`` run stays a single process) or when the group
    is already open.

    Args:
        timeout_s: how long a collective may wait for the other processes before failing.

    Returns:
        Whether this process is now one of several (``world_size() > 1``).
    """
    if not dist.is_available() or not launched_by_torchrun():
        return False
    if not dist.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(seconds=timeout_s))
    return world_size() > 1


def is_distributed() -> bool:
    """Whether a process group is open (then :func:`harlearn.train.fit` trains data-parallel)."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """The number of processes (1 without a process group)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Whether this is rank 0, the process that prints and writes files."""
    return rank() == 0


def barrier() -> None:
    """Wait for every process (nothing without a process group)."""
    if is_distributed():
        dist.barrier()


def destroy() -> None:
    """Close the process group, if one is open."""
    if is_distributed():
        dist.destroy_process_group()


def local_device(device: torch.device) -> torch.device:
    """``device`` with this process's GPU index filled in (``cuda`` -> ``cuda:LOCAL_RANK``)."""
    if device.type == "cuda" and device.index is None:
        index = int(os.environ.get("LOCAL_RANK", torch.cuda.current_device()))
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    return device


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


class _DistributedDataParallel(nn.parallel.DistributedDataParallel):
    """DDP that also answers the wrapped model's attributes (``model.k``, ``model.backbone``).

    The course's loss functions receive the model being trained and some read its attributes;
    through this wrapper they work unchanged, and their ``model(...)`` calls go through DDP's
    forward (which the gradient averaging needs).
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            module = self.__dict__.get("_modules", {}).get("module")
            if module is None:
                raise
            return getattr(module, name)


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` in DistributedDataParallel (``device_ids=None`` on a CPU, ``[index]`` on a GPU).

    DDP copies rank 0's weights to every process when it is built, so all start equal.
    """
    device_ids = [device.index] if device.type == "cuda" else None
    return _DistributedDataParallel(model, device_ids=device_ids)


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DDP wrapper (the model itself otherwise)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


class _AllReduceSum(torch.autograd.Function):
    """Sum over the processes; the gradient of every process's copy is the sum of all their gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class CPUSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are those of the global batch, for CPU processes (gloo).

    ``torch.nn.SyncBatchNorm`` runs on GPUs only. This is the same computation written with
    autograd-aware collectives: one all-reduce of the per-channel sums of ``x`` and ``x**2``
    and of the count (in float64) gives the global mean and (biased) variance; the running
    statistics are updated with the unbiased variance, as ``BatchNorm`` does. Its backward
    all-reduces the gradient of those sums, so each process's gradient includes the paths
    through the other processes' statistics. In eval mode, or without a process group, it is a
    plain BatchNorm. The parameters and buffers are BatchNorm's (same ``state_dict`` keys).
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {x.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        if not (self.training and is_distributed() and world_size() > 1):
            return super().forward(x)
        C = x.shape[1]
        dims = [0, *range(2, x.dim())]  # every axis but the channels
        xd = x.double()
        count = xd.new_tensor([x.numel() // C])
        stats = _AllReduceSum.apply(torch.cat([xd.sum(dims), (xd * xd).sum(dims), count]))  # [2C + 1], summed
        n = stats[-1]
        mean = stats[:C] / n  # [C]
        var = (stats[C : 2 * C] / n - mean * mean).clamp(min=0)  # [C], biased
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(m * mean.to(self.running_mean.dtype))
                unbiased = var * n / (n - 1).clamp(min=1)
                self.running_var.mul_(1 - m).add_(m * unbiased.to(self.running_var.dtype))
        shape = [1, C] + [1] * (x.dim() - 2)
        y = ((xd - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)).to(x.dtype)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def convert_sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """Replace every BatchNorm of ``model`` by a synchronised one, in place.

    ``torch.nn.SyncBatchNorm`` on CUDA, :class:`CPUSyncBatchNorm` elsewhere. The new layers keep
    the old ones' parameters and buffers (the same tensors), so the optimizer, the state-dict
    keys and checkpoints are unchanged; outside a process group they behave as BatchNorm.

    Returns:
        ``model`` (a new module only when ``model`` itself is a BatchNorm).
    """
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    out = model
    if isinstance(model, nn.modules.batchnorm._BatchNorm) and not isinstance(
        model, (nn.SyncBatchNorm, CPUSyncBatchNorm)
    ):
        out = CPUSyncBatchNorm(model.num_features, model.eps, model.momentum, model.affine,
                               model.track_running_stats)
        if model.affine:
            out.weight, out.bias = model.weight, model.bias
        out.running_mean, out.running_var = model.running_mean, model.running_var
        out.num_batches_tracked = model.num_batches_tracked
        out.training = model.training
    for name, child in model.named_children():
        out.add_module(name, convert_sync_batchnorm(child, device))
    return out


# --------------------------------------------------------------------------------------------
# The data
# --------------------------------------------------------------------------------------------


def epoch_permutation(n: int, epoch_seed: int) -> list[int]:
    """The order of ``range(n)`` in an epoch whose seed is ``epoch_seed``, when ``fit`` has workers.

    ``torch.randperm`` from a generator seeded with the epoch seed alone, so the order does not
    depend on how often a loader opens an iterator. :func:`harlearn.train.fit` (its
    ``_EpochTagged`` sampler) and :class:`SameOrderDistributedSampler` both draw it here.
    """
    return torch.randperm(int(n), generator=torch.Generator().manual_seed(int(epoch_seed))).tolist()


class SameOrderDistributedSampler(DistributedSampler):
    """Each process's share of the order one process's shuffling ``DataLoader`` would draw.

    :func:`harlearn.train.fit` shuffles a single process's data with
    ``DataLoader(shuffle=True, generator=g)``, ``g`` reseeded from ``(seed, epoch)`` every
    epoch. ``DistributedSampler`` draws its own permutation (``randperm`` seeded with
    ``seed + epoch``); this one draws the single process's (through a ``DataLoader`` over the
    indices, with the same seed), drops the tail that does not fill every process equally, and
    gives rank ``r`` the positions ``r, r + W, r + 2W, ...``. With per-process batches of
    ``B / W``, step ``k`` of the ``W`` processes then covers positions ``kB .. kB + B - 1``:
    exactly the global batch ``k`` of one process with batches of ``B``.

    Args:
        dataset: the training set.
        seed_of_epoch: ``epoch -> seed`` of the single-process shuffling generator.
        num_replicas: the number of processes (default: the process group's).
        rank: this process's rank (default: the process group's).
        with_workers: the single process loads with workers (``num_workers > 0``): its order then
            is ``randperm`` from the epoch's seed alone (see ``fit``).
    """

    def __init__(self, dataset: Dataset, seed_of_epoch: Callable[[int], int], *,
                 num_replicas: int | None = None, rank: int | None = None, with_workers: bool = False) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, drop_last=True)
        self.seed_of_epoch, self.with_workers = seed_of_epoch, with_workers

    def single_process_order(self) -> list[int]:
        """The permutation one process's loop draws in this epoch.

        It is drawn the way :func:`harlearn.train.fit` draws it: a shuffling ``DataLoader`` with
        the epoch's generator seed, iterated through ``tqdm.auto`` (whose wrapper opens one
        extra iterator, and each iterator takes one number from the generator for its worker
        seeds before the permutation is drawn). ``tests/test_ddp.py`` checks the result against
        the order a single-process ``fit`` really trains in.
        """
        from tqdm.auto import tqdm

        n = len(self.dataset)  # type: ignore[arg-type]
        if n == 0:
            return []
        if self.with_workers:  # fit's _EpochTagged: a permutation from the epoch seed alone
            return epoch_permutation(n, self.seed_of_epoch(self.epoch))
        generator = torch.Generator()
        generator.manual_seed(self.seed_of_epoch(self.epoch))
        loader = DataLoader(range(n), batch_size=n, shuffle=True, generator=generator)
        return next(iter(tqdm(loader, disable=True))).tolist()

    def __iter__(self):
        order = self.single_process_order()[: self.total_size]  # drop the uneven tail
        return iter(order[self.rank : self.total_size : self.num_replicas])


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """The sums over all processes of a few numbers (float64; the numbers themselves alone)."""
    if not is_distributed():
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def evaluate_sharded(model: nn.Module, data: Dataset, *, batch_size: int, max_batches: int | None = None,
                     **kwargs: Any) -> dict[str, Any]:
    """:func:`harlearn.inference.evaluate` with the items split between the processes.

    Rank ``r`` predicts items ``r, r + W, ...`` (of the first ``max_batches * batch_size``
    when capped, the items one process would evaluate); the outputs are gathered and put back
    in dataset order on every process, so accuracy, mAP and the loss are those of the whole set.

    Args:
        model: the (unwrapped) model.
        data: the validation set.
        batch_size: items per forward pass.
        max_batches: as in :func:`~harlearn.inference.evaluate`: the first
            ``max_batches * batch_size`` items only.
        **kwargs: more :func:`~harlearn.inference.predict` arguments.

    Returns:
        What :func:`~harlearn.inference.evaluate` returns.
    """
    from harlearn.inference import predict, scores_of_predictions

    n = len(data)
    if max_batches is not None:
        n = min(n, max_batches * batch_size)
    W, r = world_size(), rank()
    mine = list(range(r, n, W))
    out = predict(model, Subset(data, mine), batch_size=batch_size, **kwargs) if mine else None
    part = None if out is None else {
        "logits": out["logits"], "targets": out["targets"],
        "loss_sum": out["loss"] * len(mine) if not np.isnan(out["loss"]) else None, "n": len(mine),
    }
    parts: list[Any] = [None] * W
    dist.all_gather_object(parts, part)
    merged: dict[str, Any] = {}
    for key in ("logits", "targets"):
        pieces = [(i, p[key]) for i, p in enumerate(parts) if p is not None and p[key] is not None]
        if not pieces:
            merged[key] = None
            continue
        first = pieces[0][1]
        full = np.empty((n, *first.shape[1:]), dtype=first.dtype)
        for i, arr in pieces:
            full[i:n:W] = arr
        merged[key] = full
    losses = [(p["loss_sum"], p["n"]) for p in parts if p is not None and p["loss_sum"] is not None]
    merged["loss"] = sum(s for s, _ in losses) / sum(k for _, k in losses) if losses else float("nan")
    return scores_of_predictions(merged)
