"""The ``harlearn`` command end to end on SynthHAR (ci sizes, in a temporary folder), and its errors.

``data`` generates SynthHAR, ``train`` writes a run folder (a couple of batches in ``ci``),
``eval`` scores its checkpoint (checked against scoring it by hand), ``--resume`` continues it,
the retrieval model is scored by mAP / Rank-k with re-ranking, and every user mistake gets one
sentence. (``torchrun ... -m harlearn train`` is tested in ``test_ddp.py``.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch

from harlearn import catalog, cli, metrics

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A private $HARLEARN_DATA with SynthHAR made by ``harlearn data synthhar`` (ci sizes)."""
    home = tmp_path_factory.mktemp("cli")
    patch = pytest.MonkeyPatch()
    patch.setenv("HARLEARN_DATA", str(home / "data"))
    patch.setenv("HARLEARN_PROFILE", "ci")
    assert cli.main(["data", "synthhar", "--root", str(home / "synth"), "--profile", "ci"]) == 0
    yield home
    patch.undo()


@pytest.fixture(scope="module")
def run(home):
    """``harlearn train small-cnn`` on SynthHAR, ci sizes: its run folder."""
    out = home / "run"
    assert cli.main(["train", "small-cnn", "--data", "synthhar", "--root", str(home / "synth"),
                     "--profile", "ci", "--out", str(out)]) == 0
    return out


def test_data_generates_synthhar_in_both_layouts(home, capsys):
    root = home / "synth"
    assert (root / "synthhar.json").is_file() and (root / "JPEGImages").is_dir()
    assert (root / "VOCdevkit" / "VOC2012" / "ImageSets" / "Action").is_dir()
    assert cli.main(["data", "synthhar", "--root", str(root), "--profile", "ci"]) == 0  # already there
    out = capsys.readouterr().out
    assert "synthhar (stanford40 layout): 192 train, 192 test, 16 classes" in out
    assert "synthhar-voc (voc layout): 192 train, 192 val, 10 classes" in out


def test_train_writes_a_run_folder(run):
    assert sorted(p.name for p in run.iterdir()) == sorted(cli.RUN_FILES)
    config = json.loads((run / "config.json").read_text())
    assert (config["model"], config["data"], config["profile"], config["num_classes"]) == ("small-cnn", "synthhar", "ci", 16)
    assert config["train_items"] + config["val_items"] == 192 and config["val_items"] == 20
    assert config["train_config"]["max_batches"] == 4 and config["recipe_family"] == "cnn"
    history = json.loads((run / "history.json").read_text())
    csv_lines = (run / "history.csv").read_text().splitlines()
    assert history["epoch"] == [1] and len(csv_lines) == 2 and csv_lines[0].startswith("epoch,train_loss")
    from harlearn.train import load_checkpoint

    assert load_checkpoint(run / "best.pt")["epoch"] == 1


def test_the_same_command_gives_the_same_weights(home, run, tmp_path):
    assert cli.main(["train", "small-cnn", "--data", "synthhar", "--root", str(home / "synth"), "--profile", "ci",
                     "--out", str(tmp_path / "again")]) == 0
    from harlearn.train import load_checkpoint

    a, b = (load_checkpoint(r / "best.pt")["model"] for r in (run, tmp_path / "again"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_eval_reports_the_chapters_metrics(home, run, capsys):
    scores_file = home / "scores.json"
    assert cli.main(["eval", str(run / "best.pt"), "--json", str(scores_file)]) == 0
    table = capsys.readouterr().out
    for name in ("accuracy", "precision", "recall", "f1", "mAP"):
        assert name in table
    result = json.loads(scores_file.read_text())
    assert (result["split"], result["items"], result["epoch"]) == ("test", 192, 1)

    # the same numbers, scored by hand from the checkpoint
    from harlearn.data import Stanford40
    from harlearn.data import transforms as T
    from harlearn.train import load_checkpoint, predict

    model = catalog.build_model("small-cnn", 16, profile="ci")
    load_checkpoint(run / "best.pt", model)
    out = predict(model, Stanford40(home / "synth", "test", transform=T.eval_transform(64)), device="cpu")
    expected = metrics.summary(out["logits"], out["targets"])
    for name in ("accuracy", "precision", "recall", "f1", "mAP"):
        assert result["scores"][name] == pytest.approx(expected[name]), name
    assert len(result["per_class"]) == 16


def test_resume_continues_the_run(home, run, tmp_path, capsys):
    copy = shutil.copytree(run, tmp_path / "run")
    args = ["train", "small-cnn", "--data", "synthhar", "--root", str(home / "synth"), "--profile", "ci",
            "--out", str(copy)]
    assert cli.main(args) == 2  # the run exists: say how to continue it
    assert "pass --resume to continue it" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="epochs"):  # a longer cosine schedule than the first run's
        assert cli.main(args + ["--resume", "--epochs", "2"]) == 0
    history = json.loads((copy / "history.json").read_text())
    first = json.loads((run / "history.json").read_text())
    assert history["epoch"] == [1, 2] and history["train_loss"][0] == first["train_loss"][0]
    assert cli.main(["train", "vit", "--data", "synthhar", "--root", str(home / "synth"), "--profile", "ci",
                     "--out", str(copy), "--resume"]) == 2  # another model's run
    assert "holds a run of small-cnn on synthhar" in capsys.readouterr().err


def test_retrieval_model_is_scored_by_map_and_rank_k(home, capsys):
    out = home / "retrieval"
    assert cli.main(["train", "retrieval", "--data", "synthhar", "--root", str(home / "synth"), "--profile", "ci",
                     "--out", str(out), "--val-fraction", "0"]) == 0
    assert (out / "best.pt").read_bytes() == (out / "last.pt").read_bytes()  # no validation: best = last
    capsys.readouterr()
    assert cli.main(["eval", str(out), "--rerank", "--json", "-"]) == 0
    printed = capsys.readouterr().out
    scores = json.loads(printed[printed.index("{"):])["scores"]
    assert set(scores) >= {"mAP", "rank1", "rank5", "mAP_rerank", "rank1_rerank", "rank5_rerank"}
    assert all(0.0 <= scores[k] <= 1.0 for k in ("mAP", "rank1", "rank5", "mAP_rerank"))
    assert scores["rank1"] <= scores["rank5"]


@pytest.mark.parametrize("argv, sentence", [
    (["train", "resnet49", "--data", "synthhar"], "Unknown model 'resnet49': choose one of small-cnn, vgg16,"),
    (["train", "small-cnn", "--data", "imagenet"], "Unknown dataset 'imagenet': use one of synthhar, synthhar-voc,"),
    (["data", "coco"], "Unknown dataset 'coco': use one of synthhar, stanford40, voc."),
    (["train", "retrieval", "--data", "synthhar-voc"], "retrieval trains on single-label data: use --data synthhar, stanford40."),
    (["train", "small-cnn", "--data", "synthhar", "--profile", "huge"], "Unknown profile 'huge': use ci, book or full."),
    (["train", "small-cnn", "--data", "stanford40", "--root", "{tmp}/nowhere"], "No dataset folder at {tmp}/nowhere: create it with"),
    (["data", "stanford40", "--root", "{tmp}"], "(`harlearn data stanford40 --download` fetches it)"),
    (["train", "small-cnn", "--data", "synthhar", "--pretrained", "zoo"], "no course checkpoint for 'small-cnn'"),
    (["train", "small-cnn", "--data", "synthhar", "--pretrained", "{tmp}/missing.pt"], "No weights file at {tmp}/missing.pt"),
    (["train", "small-cnn", "--data", "synthhar", "--pretrained", "imagenet"], "There are no ImageNet weights for small-cnn"),
    (["eval", "{tmp}/missing.pt"], "No checkpoint at {tmp}/missing.pt: pass best.pt or last.pt"),
    (["eval", "{run}/best.pt", "--split", "val"], "Unknown split 'val' for synthhar: use one of train, test."),
    (["eval", "{run}/best.pt", "--data", "synthhar-voc"], "was trained on the stanford40 layout"),
])
def test_every_mistake_gets_one_sentence(argv, sentence, home, run, tmp_path, capsys):
    fill = {"tmp": str(tmp_path), "run": str(run)}
    argv = [a.format(**fill) for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"harlearn {argv[0]}: error: ") and "\n" not in err, err
    assert sentence.format(**fill) in err


@pytest.mark.parametrize("verb", ["data", "train", "eval", "zoo"])
def test_every_verb_has_help(verb, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([verb, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: harlearn {verb}")
    if verb == "train":
        assert all(name in text for name in catalog.MODELS)


def test_the_console_script_and_python_m():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"harlearn": "harlearn.cli:main"}
    proc = subprocess.run([sys.executable, "-m", "harlearn", "--version"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0 and proc.stdout.startswith("harlearn "), proc.stderr


@pytest.mark.parametrize("name", list(catalog.MODELS))
def test_every_course_model_builds_and_trains_data_parallel_ready(name):
    """Logits of the right shape, and a gradient for every parameter (DDP requires it)."""
    spec = catalog.MODELS[name]
    size = catalog.default_image_size(name, "ci")
    model = catalog.build_model(name, 5, profile="ci")
    torch.manual_seed(0)
    batch = {"image": torch.randn(2, 3, size, size), "label": torch.tensor([0, 3]),
             "boxes": [torch.tensor([[4.0, 4.0, size - 8.0, size - 4.0]])] * 2,
             "object_boxes": [torch.tensor([[1.0, 1.0, 12.0, 12.0]])] * 2}
    from harlearn.losses import default_loss

    loss, logits = (spec.loss() if spec.loss else default_loss)(model, batch)[:2]
    assert logits.shape == (2, 5)
    loss.backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []


def test_zoo_verb_is_the_zoo_command_line(capsys):
    from harlearn.zoo import RECIPES

    assert cli.main(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in RECIPES)
    assert cli.main(["zoo", "info", "no-such-checkpoint"]) == 2
