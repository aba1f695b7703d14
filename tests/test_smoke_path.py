"""The ``full`` path in smoke mode, end to end at library level (issue 14): what a chapter's setup does.

``HARLEARN_PROFILE=full HARLEARN_SMOKE=1 HARLEARN_DATA=<trees>``: the real loaders on the
real-format trees, an ImageNet ResNet-50 (stand-in) fine-tuned with the course's recipe at
224 px for smoke mode's two batches, evaluated, and the COCO detector (stand-in) run on images.
"""

from __future__ import annotations

import socket

import numpy as np
import pytest

from harlearn import experiments, profiles
from harlearn.data import Stanford40, _download, cached_datasets
from harlearn.data.testing import write_real_format
from harlearn.models import resnet50
from harlearn.models.detection import detect_persons, fasterrcnn
from harlearn.train import evaluate, fit


@pytest.fixture
def smoke_env(tmp_path, monkeypatch):
    write_real_format(tmp_path)
    monkeypatch.setenv("HARLEARN_DATA", str(tmp_path))
    monkeypatch.setenv("HARLEARN_PROFILE", "full")
    monkeypatch.setenv("HARLEARN_SMOKE", "1")
    monkeypatch.setenv("HARLEARN_RESULTS", str(tmp_path / "results"))

    def no_network(*args, **kwargs):
        raise AssertionError("smoke mode must not touch the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(_download.pooch, "retrieve", no_network)
    return tmp_path


def test_full_smoke_fine_tunes_and_evaluates_a_pretrained_resnet50(smoke_env, capsys, monkeypatch):
    monkeypatch.setattr(experiments, "_STATE", dict(experiments._STATE, reset=set()))  # setup's state stays here
    P, device = experiments.setup("smoke_path", profile=None)
    assert "smoke" in capsys.readouterr().out and P.smoke and P.name == "full"
    train, test = cached_datasets(P)  # full: the real loaders, from disk, 224 px
    assert train.root == smoke_env / "stanford40" and len(train.classes) == 40
    model = resnet50(len(train.classes), pretrained=P.pretrained)
    history = fit(model, train, None, experiments.recipe(P, "finetune"), device=device)
    assert len(history) == 1 and np.isfinite(history[-1]["train_loss"])
    out = evaluate(model, test, device=device, batch_size=P.batch_size, max_batches=P.max_batches)
    assert out["logits"].shape == (P.cap(len(test)), 40)


def test_full_smoke_runs_the_coco_detector(smoke_env):
    P = profiles.current()
    raw = Stanford40(smoke_env / "stanford40", "test")
    detector = fasterrcnn(pretrained=P.pretrained, min_size=224, max_size=448).eval()
    boxes = detect_persons(detector, [raw[i]["image"] for i in range(2)])
    assert len(boxes) == 2 and all(b.ndim == 2 and b.shape[-1] == 4 for b in boxes)
