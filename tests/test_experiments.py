"""The experiment kit: statistics against scipy/numpy, the rule, recipes, records, cost counters."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from harlearn import experiments as E
from harlearn import profiles


def test_mean_std_is_the_sample_std():
    values = [0.41, 0.45, 0.38, 0.5]
    mean, std = E.mean_std(values)
    assert mean == pytest.approx(np.mean(values))
    assert std == pytest.approx(np.std(values, ddof=1))
    assert std != pytest.approx(np.std(values))  # not the population std
    assert math.isnan(E.mean_std([0.3])[1])
    with pytest.raises(ValueError):
        E.mean_std([])


def test_pm_formats_percent_and_one_seed():
    assert E.pm([0.40, 0.42, 0.44]) == "42.0 ± 2.0"
    assert E.pm([0.4]) == "40.0 (1 seed)"
    assert E.pm([1.0, 3.0], scale=1, digits=2) == "2.00 ± 1.41"


def test_difference_matches_scipy_welch_and_paired():
    a, b = np.array([0.50, 0.55, 0.53, 0.58]), np.array([0.45, 0.47, 0.52, 0.44])
    welch = E.difference(a, b)
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (welch.low, welch.high) == pytest.approx((ci.low, ci.high))
    paired = E.difference(a, b, paired=True)
    ci = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert (paired.low, paired.high) == pytest.approx((ci.low, ci.high))
    # the rule agrees with the two-sided t-test at 5 %
    assert welch.real == (stats.ttest_ind(a, b, equal_var=False).pvalue < 0.05)
    assert paired.real == (stats.ttest_rel(a, b).pvalue < 0.05)


def test_differs_rule_edge_cases():
    assert not E.differs([0.5], [0.1])  # one seed: nothing is called real
    assert E.differs([0.50, 0.51, 0.52], [0.30, 0.31, 0.32])
    assert not E.differs([0.50, 0.30, 0.40], [0.45, 0.35, 0.41])
    assert E.differs([1, 2, 3], [1.5, 2.5, 3.5], paired=True)  # a constant per-seed gap
    assert not E.differs([1, 2, 3], [1.5, 2.5, 3.5])  # unpaired, the spread hides it
    assert not E.differs([0.2, 0.2], [0.2, 0.2])
    with pytest.raises(ValueError):
        E.difference([1, 2], [1, 2, 3], paired=True)


def test_compare_sentences():
    assert "beats" in E.compare("A", [0.5, 0.51, 0.52], "B", [0.3, 0.31, 0.32])
    assert "trails" in E.compare("A", [0.3, 0.31, 0.32], "B", [0.5, 0.51, 0.52])
    assert "beats" in E.compare("A", [1.0, 1.1, 1.2], "B", [2.0, 2.1, 2.2], higher_is_better=False)
    assert "cannot be told apart" in E.compare("A", [0.5, 0.3, 0.4], "B", [0.45, 0.35, 0.41])
    assert "no spread" in E.compare("A", [0.5], "B", [0.4])


def test_recipe_families_and_changes():
    P = profiles.get("ci")
    cnn = E.recipe(P, "cnn")
    assert (cnn.optimizer, cnn.lr, cnn.epochs, cnn.batch_size, cnn.max_batches) == ("adamw", P.lr, P.epochs,
                                                                                  P.batch_size, P.max_batches)
    assert E.recipe(P, "cnn-nobn").lr == pytest.approx(P.lr / 10)
    # fine-tuning: the course checkpoints (ci, book) at the from-scratch rate, ImageNet weights (full) at 1e-4
    assert E.recipe(P, "finetune").lr == P.lr and E.recipe(profiles.get("book"), "finetune").lr == 3e-3
    assert E.recipe(profiles.get("full"), "finetune").lr == 1e-4
    vit = E.recipe(P, "transformer", epochs=8, seed=3)
    assert (vit.lr, vit.epochs, vit.seed, vit.grad_clip) == (1e-3, 8, 3, 1.0)
    assert E.recipe(P, "cnn", epochs=1).warmup_epochs <= 0.5  # a short run warms up for at most half of it
    with pytest.raises(ValueError, match="Unknown recipe family"):
        E.recipe(P, "rnn")
    with pytest.raises(ValueError, match="unknown TrainConfig fields"):
        E.recipe(P, "cnn", learning_rate=1)


def test_run_seeds_seeds_each_call():
    draws = E.run_seeds(lambda seed: (seed, torch.rand(()).item()), seeds=[0, 1, 0], verbose=False)
    assert [d[0] for d in draws] == [0, 1, 0]
    assert draws[0][1] == draws[2][1] != draws[1][1]


def test_cost_counters():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    assert E.count_parameters(model) == 3 * 8 * 9 + 8 + 8 * 4 + 4
    model[0].weight.requires_grad_(False)
    assert E.count_parameters(model, trainable_only=True) == 8 + 8 * 4 + 4
    assert E.count_macs(model, 16) == 16 * 16 * 8 * 27 + 8 * 4  # conv MACs + linear MACs
    assert E.images_per_second(model, 16, batch=4, repeats=1) > 0
    assert E.images_per_second(model, 16, batch=4, repeats=1, train=True) > 0


def test_images_per_second_in_smoke_mode_times_the_profiles_batch(monkeypatch):
    from harlearn import profiles

    seen = []
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2))
    model.register_forward_hook(lambda m, inputs, out: seen.append(inputs[0].shape[0]))
    monkeypatch.setitem(E._STATE, "profile", profiles.as_smoke(cuda=False))
    E.images_per_second(model, inputs=torch.randn(64, 3, 8, 8), repeats=3)  # a chapter's example batch of 64
    assert seen == [4]  # the profile's batch of 4: one timed call, no warm-up


def test_chance_levels():
    assert E.chance_accuracy(16) == 1 / 16
    assert E.chance_map([0, 1, 1, 1]) == pytest.approx((0.25 + 0.75) / 2)
    assert E.chance_map(np.array([[1, 0, 0], [1, 1, 0]])) == pytest.approx((1.0 + 0.5) / 2)  # class 3: no positive


def test_record_writes_a_fresh_file_and_summary_diffs(tmp_path, monkeypatch):
    monkeypatch.setenv("HARLEARN_RESULTS", str(tmp_path / "results"))
    monkeypatch.setitem(E._STATE, "reset", set())
    E.setup("99_test", profile=profiles.get("ci"), quiet=True)
    E.record("T", "good", "accuracy", [0.5], chance=0.1)
    E.record("T", "bad", "accuracy", [0.12], chance=0.1)
    E.record("T", "demo", "accuracy", [0.1], chance=0.1, failure_demo=True)
    E.record("T", "good", "accuracy", [0.6], chance=0.1)  # the same key again: replaced
    content = json.loads((tmp_path / "results" / "99_test.json").read_text())
    assert content["profile"] == "ci"
    assert [r["row"] for r in content["records"]] == ["bad", "demo", "good"]
    assert content["records"][-1]["values"] == [0.6] and content["records"][-1]["std"] is None
    text = E.summary(tmp_path / "results")
    assert "bad | accuracy" in text and "BELOW 3x CHANCE" in text.split("bad | accuracy")[1].splitlines()[0]
    assert "[failure demo]" in text
    # a previous build, then a new run of the chapter (a new process starts the file afresh)
    E._main(["summary", str(tmp_path / "results"), "--previous", str(tmp_path / "prev"), "--save-previous"])
    E._STATE["reset"].clear()
    E.record("T", "good", "accuracy", [0.7], chance=0.1)
    E.record("T", "new", "accuracy", [0.7], chance=0.1)
    text = E.summary(tmp_path / "results", tmp_path / "prev")
    assert "(was 0.6000" in text and "(new)" in text and "removed: T | bad | accuracy" in text


def test_summary_gives_the_time_from_setup_to_the_last_record(tmp_path, monkeypatch):
    monkeypatch.setenv("HARLEARN_RESULTS", str(tmp_path / "results"))
    monkeypatch.setitem(E._STATE, "reset", set())
    E.setup("99_timed", profile=profiles.get("ci"), quiet=True)
    monkeypatch.setitem(E._STATE, "setup_at", "2026-01-01T10:00:00")  # setup ran 3 minutes before the record
    E.record("T", "r", "accuracy", [0.5])
    path = tmp_path / "results" / "99_timed.json"
    content = json.loads(path.read_text())
    assert content["started"] == "2026-01-01T10:00:00"
    content["updated"] = "2026-01-01T10:03:00"
    path.write_text(json.dumps(content))
    assert "ran 3.0 min from setup to its last record" in E.summary(tmp_path / "results")


def test_record_needs_a_chapter(monkeypatch):
    monkeypatch.setitem(E._STATE, "chapter", None)
    with pytest.raises(ValueError, match="setup"):
        E.record("T", "r", "m", [1.0])


@pytest.mark.parametrize("kind", ["none", "se", "cbam", "nonlocal"])
def test_channels_last_of_the_cnn_recipe_gives_the_same_outputs(kind):
    """The cnn recipes train in channels_last: every course CNN block must give the same result in NHWC."""
    from harlearn.layers import add_attention
    from harlearn.models import resnet50

    assert E.recipe(profiles.get("ci"), "cnn").channels_last
    torch.manual_seed(0)
    model = resnet50(5, base_width=4)
    if kind != "none":
        add_attention(model, kind, **({"nonlocal_layer": "layer2"} if kind == "nonlocal" else {}))
    model.eval()
    x = torch.randn(2, 3, 64, 64)
    ref = model(x)
    model = model.to(memory_format=torch.channels_last)
    out = model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


def test_difference_against_a_fixed_level_is_the_one_sample_interval():
    a = np.array([1.1, 1.2, 1.15])
    d = E.difference(a, 1.0)
    ci = stats.ttest_1samp(a, 1.0).confidence_interval(0.95)
    assert (d.low + 1.0, d.high + 1.0) == pytest.approx((ci.low, ci.high))
    assert E.differs(a, 1.0) and not E.differs([0.9, 1.2, 1.0], 1)
    assert math.isnan(E.difference([1.3], 1.0).low)


def test_full_gmacs_are_what_count_macs_measures():
    from harlearn.models import resnet50, small_cnn
    from harlearn.transformers import vit_small_patch16_224

    for key, model in [("resnet50", resnet50(40)), ("small_cnn", small_cnn(40, 64)),
                       ("vit_small_patch16_224", vit_small_patch16_224(num_classes=40))]:
        measured = E.count_macs(model.eval(), 224) / 1e9
        assert abs(measured - E.FULL_GMACS[key]) < 0.01 * measured, (key, measured)


def test_gpu_estimate_counts_three_passes_per_training_image():
    one = E.gpu_estimate([(1.0, 0, 1000)], gpus={"X": 1.0})["X"]
    assert one == pytest.approx(2e12 / 1e12)  # 1000 images x 2 GFLOP at 1 TFLOP/s
    train = E.gpu_estimate([(1.0, 1000, 0)], gpus={"X": 1.0})["X"]
    assert train == pytest.approx(3 * one)
    # ResNet-50 at the A100's published rate: 2,470 training images/s, halved for the data pipeline
    a100 = E.gpu_estimate([("resnet50", 2470, 0)])["A100"]
    assert a100 == pytest.approx(2.0, rel=0.01)
    line = E.gpu_budget([("resnet50", 30 * 4000, 30 * 5532)])
    assert "T4" in line and "A100" in line and "estimate" in line
