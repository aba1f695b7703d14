"""Data-parallel training through torchrun: two gloo processes on the loopback interface, on a CPU.

One torchrun launch (``tests/_ddp_worker.py``, bounded by a timeout) trains the worker's models
in two processes; the tests compare the result with one process and the same global batch:

- without BatchNorm, the weights (and the history) agree to 1e-5 (the summation order differs);
- with synchronised BatchNorm they agree too (the statistics are the global batch's), the run
  writes one checkpoint (rank 0's), which a plain single-process model loads strictly, and a
  resume from it continues as one process would; without synchronisation they do not agree
  (each process normalises its own half-batch), so the comparison can fail;
- the README's command, ``torchrun --nproc_per_node=2 -m harlearn train ...``, trains with two
  processes, rank 0 alone printing and writing the run folder.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from _ddp_worker import Blobs, config, make_model, plain, train

from harlearn import distributed
from harlearn.train import _epoch_seed, load_checkpoint

WORKER = Path(__file__).resolve().parent / "_ddp_worker.py"
ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 240


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(*program: str) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node=2 PROGRAM...`` with gloo on the loopback interface, bounded by a timeout."""
    env = dict(os.environ, GLOO_SOCKET_IFNAME="lo", MASTER_ADDR="127.0.0.1", OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={free_port()}", *program]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    print(f"two gloo processes: {time.perf_counter() - start:.1f} s")
    return proc


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """Run the worker with torchrun (2 processes, gloo, loopback) once; load what each rank saved."""
    out = tmp_path_factory.mktemp("ddp")
    torchrun(str(WORKER), str(out))
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    return out, ranks


def assert_close(a: dict, b: dict, atol: float) -> float:
    assert a.keys() == b.keys()
    worst = 0.0
    for k in a:
        if a[k].is_floating_point():
            worst = max(worst, float((a[k] - b[k]).abs().max()))
        else:
            assert torch.equal(a[k], b[k]), k
    assert worst <= atol, f"largest difference {worst:.3g} > {atol:g}"
    return worst


@pytest.mark.parametrize("workers", [0, 2])
def test_the_processes_share_the_single_process_order(workers):
    """Step k of W processes (batch B / W each) covers exactly the global batch k of one process's fit
    (loading in the main process, or in persistent workers)."""
    from harlearn.train import default_loss, fit

    data, B, epochs = Blobs(), 8, 2
    seen = []  # the items of every step of a single-process fit

    def record(model, batch):
        seen.append(sorted(batch["index"].tolist()))
        return default_loss(model, batch)

    fit(make_model(batchnorm=False), data, None, config(epochs=epochs, num_workers=workers), device="cpu",
        collate_fn=torch.utils.data.default_collate, loss_fn=record)
    for world in (2, 4):
        steps = []
        for epoch in range(epochs):
            shares = []
            for r in range(world):
                sampler = distributed.SameOrderDistributedSampler(data, lambda e: _epoch_seed(7, e),
                                                                  num_replicas=world, rank=r,
                                                                  with_workers=workers > 0)
                sampler.set_epoch(epoch)
                shares.append(list(sampler))
            b = B // world
            steps += [sorted(i for share in shares for i in share[k * b:(k + 1) * b]) for k in range(len(data) // B)]
        assert steps == seen


def test_two_processes_give_one_process_weights_without_batchnorm(two_processes):
    _, ranks = two_processes
    weights, history = ranks[0]["nobn"]
    assert_close(ranks[1]["nobn"][0], weights, 0.0)  # DDP keeps the replicas identical
    model = make_model(batchnorm=False)
    single = train(model, config())
    assert_close(weights, plain(model), 1e-5)
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "val_map", "lr"):
        assert history[key] == pytest.approx(single[key], abs=1e-5), key


def test_sync_batchnorm_completes_writes_one_checkpoint_and_resumes(two_processes):
    out, ranks = two_processes
    assert ranks[0]["syncbn_layers"] == ["AdaptiveAvgPool2d", "CPUSyncBatchNorm", "Conv2d", "Flatten",
                                         "Linear", "ReLU", "Sequential"]
    assert sorted(p.name for p in (out / "syncbn").iterdir()) == ["best.pt", "last.pt"]  # rank 0's only

    # the checkpoint is a plain model's: a single process loads it strictly and resumes from it
    state = load_checkpoint(out / "syncbn" / "last.pt", make_model(batchnorm=True))
    assert state["epoch"] == 3 and state["config"]["sync_batchnorm"] is True

    # synchronised statistics are the global batch's: two processes = one process, also after the resume
    for name, epochs in (("syncbn_2", 2), ("syncbn_resumed_3", 3)):
        weights, history = ranks[0][name]
        assert_close(ranks[1][name][0], weights, 0.0)
        model = make_model(batchnorm=True)
        single = train(model, config(epochs=epochs))
        assert_close(weights, plain(model), 1e-5)
        assert history["epoch"] == list(range(1, epochs + 1))
        assert history["train_loss"] == pytest.approx(single["train_loss"], abs=1e-5)

    # ... and the comparison can fail: unsynchronised BatchNorm normalises each half-batch alone
    model = make_model(batchnorm=True)
    train(model, config())
    with pytest.raises(AssertionError, match="largest difference"):
        assert_close(ranks[0]["bn_unsynced"][0], plain(model), 1e-3)


def test_the_harlearn_command_under_torchrun(tmp_path):
    """The README's command on a tiny dataset in the Stanford40 layout: one run folder, rank 0's."""
    from _fixtures import write_stanford40

    from harlearn import cli

    classes = ["applauding", "jumping", "reading"]
    images = [{"id": f"{c}_{i:03d}", "split": "train" if i <= 6 else "test", "size": (40, 32),
               "persons": [(2, 2, 30, 28)]} for c in classes for i in range(1, 9)]
    root = write_stanford40(tmp_path / "stanford40", images, classes)
    out = tmp_path / "run"
    proc = torchrun("-m", "harlearn", "train", "small-cnn", "--data", "stanford40", "--root", str(root),
                    "--profile", "ci", "--batch-size", "4", "--val-fraction", "0.2", "--sync-bn", "--out", str(out))
    assert proc.stdout.count("over 2 processes") == 1  # rank 0 alone prints
    assert sorted(p.name for p in out.iterdir()) == sorted(cli.RUN_FILES)  # rank 0 alone writes
    config = json.loads((out / "config.json").read_text())
    assert config["world_size"] == 2 and config["train_config"]["sync_batchnorm"] is True
    assert (config["train_items"], config["val_items"]) == (14, 4)
    assert json.loads((out / "history.json").read_text())["epoch"] == [1]
