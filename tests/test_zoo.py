"""The course checkpoints (harlearn.zoo) and their pretraining corpus (harlearn.data.synthhar.corpus).

Everything is tiny (a corpus of 40 + 12 images at 64 px; networks of width 2 at 32 px, one or
two steps), so the file runs in seconds. The shipped registry is checked file by file: every
entry's recipe must equal the recipe the code holds and every file must match its sha256.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from harlearn import zoo
from harlearn.data import PretrainingCorpus, collate
from harlearn.data.synthhar import build as course_build
from harlearn.data.synthhar import corpus as C
from harlearn.data.synthhar.render.actions import CLASSES, VOC_ACTIONS
from harlearn.zoo import recipes as R
from harlearn.zoo import registry as Z

IMAGES, VAL, SIZE = 40, 12, 64


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return C.make_corpus(tmp_path_factory.mktemp("c") / "corpus", images=IMAGES, val_images=VAL, image_size=SIZE, workers=1)


def _tiny(recipe: R.Recipe, name: str, **changes) -> R.Recipe:
    train = dict(recipe.train, epochs=1, batch_size=8, max_batches=2)
    return recipe.replace(name=name, train=train, **changes)


@pytest.fixture(scope="module")
def registry(corpus, tmp_path_factory) -> Path:
    """A registry with three tiny entries (a CNN, a Swin, an MAE), each built from a recipe in seconds."""
    out = tmp_path_factory.mktemp("zoo")
    tiny = {
        "tiny_resnet": _tiny(R.RECIPES["resnet50_w8"], "tiny_resnet", kwargs=dict(base_width=2), image_size=32),
        "tiny_swin": _tiny(R.RECIPES["swin_ch4"], "tiny_swin", image_size=32, kwargs=dict(
            img_size=32, patch_size=4, embed_dim=8, depths=(1, 1), num_heads=(1, 2), window_size=4, drop_path_rate=0.0)),
        "tiny_mae": _tiny(R.RECIPES["mae_vit_ch5"], "tiny_mae", image_size=32, kwargs=dict(
            encoder=dict(img_size=32, patch_size=8, embed_dim=16, depth=1, num_heads=2),
            decoder_dim=8, decoder_depth=1, decoder_num_heads=2, mask_ratio=0.75)),
    }
    for r in tiny.values():
        zoo.build(recipe=r, out_dir=out, corpus=corpus, device="cpu", resume=False, progress=False)
    return out


# ---- the corpus ----------------------------------------------------------------------------------
def _states(keys) -> set[tuple[int, ...]]:
    """What each key seeds: the first 128 bits of its SeedSequence state (equal keys, equal states)."""
    return {tuple(np.random.SeedSequence(list(k)).generate_state(4)) for k in keys}


def _course_keys(seed: int, per_class: int) -> list[tuple[int, ...]]:
    """Every seed key a course dataset of this size draws from (each image's, and VOC's shuffles)."""
    args = course_build.canonical_arguments(per_class, None, 128, seed, 0.0, "both", True, None)
    tasks = course_build._stanford40_tasks(args, Path(".")) + course_build._voc_tasks(args, Path("."))
    perms = [(seed, course_build._LAYOUT_CODE["voc"], code, 2**31 - 1) for code in course_build._SPLIT_CODE.values()]
    return [t["key"] for t in tasks] + perms


def test_corpus_seeds_are_disjoint_from_every_course_split():
    corpus_keys = [k for _, _, k in C.corpus_seed_keys(C.corpus_arguments(C.CORPUS_IMAGES, C.CORPUS_VAL_IMAGES, 128, 0))]
    assert len(corpus_keys) == 21_000 and {k[1] for k in corpus_keys} == {C.CORPUS_LAYOUT_CODE}
    assert C.CORPUS_LAYOUT_CODE not in course_build._LAYOUT_CODE.values()
    course = []
    for seed in (0, 1, 2):  # the book's seed (0) and the ones its exercises suggest, at the full profile's size
        keys = _course_keys(seed, 400)
        assert {k[1] for k in keys} <= set(course_build._LAYOUT_CODE.values())
        course += keys
    # the states, not just the keys: SeedSequence pads a short key with zeros, so compare what they seed
    assert not _states(corpus_keys) & _states(course)
    assert len(_states(corpus_keys)) == len(corpus_keys)  # and no two corpus images share a stream


def test_corpus_label_space_is_not_the_course_actions(corpus):
    labels = set(C.CORPUS_LABELS)
    assert len(labels) == len(C.CORPUS_LABELS) == 29
    assert not labels & set(CLASSES)
    assert not labels & (set(VOC_ACTIONS) | {"other"})
    words = {w for name in labels for w in name.split("_")}
    assert not words & {"jumping", "running", "walking", "riding", "phoning", "reading", "waving", "applauding"}
    assert (corpus / "labels.txt").read_text().split() == list(C.CORPUS_LABELS)


def test_corpus_is_deterministic(corpus, tmp_path):
    again = C.make_corpus(tmp_path / "again", images=IMAGES, val_images=VAL, image_size=SIZE, workers=2)
    assert _hashes(again) == _hashes(corpus)
    other = C.make_corpus(tmp_path / "seed1", images=2, val_images=1, image_size=SIZE, seed=1, workers=1)
    assert (other / "JPEGImages/train_000001.jpg").read_bytes() != (corpus / "JPEGImages/train_000001.jpg").read_bytes()


def test_corpus_is_cached_and_atomic(corpus, tmp_path, monkeypatch):
    before = (corpus / "corpus.json").stat().st_mtime_ns
    assert C.make_corpus(corpus, images=IMAGES, val_images=VAL, image_size=SIZE) == corpus  # same arguments: kept
    assert (corpus / "corpus.json").stat().st_mtime_ns == before
    with pytest.raises(FileExistsError, match="overwrite=True"):
        C.make_corpus(corpus, images=IMAGES + 1, val_images=VAL, image_size=SIZE)

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(C, "_write", boom)
    with pytest.raises(RuntimeError):
        C.make_corpus(tmp_path / "broken", images=3, val_images=1, image_size=SIZE, workers=1)
    assert not (tmp_path / "broken").exists() and not list(tmp_path.glob(".broken*"))


def test_corpus_root_caches_under_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HARLEARN_DATA", str(tmp_path))
    root = C.corpus_root(images=3, val_images=1, image_size=SIZE, workers=1, progress=False)
    assert root.parent == tmp_path / "synthhar-corpus" and C.is_same_corpus(root, C.corpus_arguments(3, 1, SIZE, 0))
    assert C.corpus_root(images=3, val_images=1, image_size=SIZE) == root


def test_corpus_loader_items(corpus):
    train, val = PretrainingCorpus(corpus, "train"), PretrainingCorpus(corpus, "val")
    assert (len(train), len(val)) == (IMAGES, VAL) and train.classes == list(C.CORPUS_LABELS)
    meta = json.loads((corpus / "corpus.json").read_text())
    assert meta["counts"] == {"train": IMAGES, "val": VAL} and meta["labels"] == list(C.CORPUS_LABELS)
    item = train[0]
    assert item["image"].dtype == torch.uint8 and tuple(item["image"].shape) == (3, SIZE, SIZE)
    assert item["labels"].dtype == torch.float32 and item["labels"].shape == (29,)
    assert item["labels"].tolist() == train.targets[0] and item["image_id"] == "train_000001"
    people = item["boxes"].shape[0]
    assert people >= 1 and item["keypoints"].shape == (people, 17, 3)
    assert item["object_boxes"].shape == (len(item["object_names"]), 4)
    # labels agree with the annotations: objects drawn, people's primitives, the count
    ann = json.loads((corpus / "annotations" / "train.jsonl").read_text().splitlines()[0])
    names = {train.classes[i] for i, v in enumerate(item["labels"].tolist()) if v}
    expected = {o["name"] for o in ann["objects"]} | {p for q in ann["persons"] for p in q["primitives"]}
    assert names == expected | ({"several_people"} if people > 1 else set())
    batch = collate([train[i] for i in range(4)])
    assert batch["labels"].shape == (4, 29) and batch["image"].shape == (4, 3, SIZE, SIZE)
    with pytest.raises(ValueError, match="split"):
        PretrainingCorpus(corpus, "test")
    with pytest.raises(FileNotFoundError, match="corpus_root"):
        PretrainingCorpus(corpus / "nowhere")


# ---- the registry --------------------------------------------------------------------------------
def test_build_writes_weights_manifest_and_history(registry):
    assert zoo.list(registry) == ["tiny_mae", "tiny_resnet", "tiny_swin"]
    e = zoo.info("tiny_resnet", registry)
    for key in ("architecture", "sha256", "pretraining", "history", "recipe", "seed", "file"):
        assert key in e
    assert e["sha256"] == Z.sha256_of(registry / e["file"]) and e["dtype"] == "float16"
    assert e["pretraining"]["labels"] == list(C.CORPUS_LABELS) and e["pretraining"]["objective"] == "multilabel"
    assert len(e["history"]) == 1 and e["history"][0]["val_map"] is not None
    assert e["num_classes"] == 29
    state = torch.load(registry / e["file"], weights_only=True)
    assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())
    assert zoo.info("tiny_mae", registry)["pretraining"]["val_map"] is None  # MAE: a loss, no mAP


def test_load_checks_the_hash_first(registry, tmp_path):
    import shutil

    copy = tmp_path / "zoo"
    shutil.copytree(registry, copy)
    path = copy / zoo.info("tiny_resnet", copy)["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(zoo.ZooIntegrityError, match=r"tiny_resnet\.pt.*sha256.*python -m harlearn\.zoo build tiny_resnet"):
        zoo.load("tiny_resnet", registry=copy)
    path.unlink()
    with pytest.raises(FileNotFoundError, match=r"tiny_resnet\.pt.*missing.*make zoo"):
        zoo.load("tiny_resnet", registry=copy)
    with pytest.raises(ValueError, match="No course checkpoint called 'nope'"):
        zoo.load("nope", registry=copy)


def test_load_uses_weights_only(registry, monkeypatch):
    seen = []
    real = torch.load

    def spy(*args, **kwargs):
        seen.append(kwargs.get("weights_only"))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    zoo.load("tiny_resnet", registry=registry)
    assert seen == [True]


@pytest.mark.parametrize("name", ["tiny_resnet", "tiny_swin", "tiny_mae"])
def test_load_restores_the_weights_and_replaces_the_head(registry, name):
    e = zoo.info(name, registry)
    state = torch.load(registry / e["file"], weights_only=True)
    model = zoo.load(name, registry=registry)
    for k, v in model.state_dict().items():  # strict load, up-cast from half precision
        assert torch.equal(v, state[k].to(v.dtype)), k
    x = torch.randn(2, 3, 32, 32)
    head = zoo.load(name, num_classes=5, registry=registry).eval()
    assert hasattr(head, "forward_features") and hasattr(head, "forward_head")
    with torch.no_grad():
        assert head(x).shape == (2, 5)
        assert torch.allclose(head.forward_head(head.forward_features(x)), head(x))
    if name != "tiny_mae":  # the pretrained model: the corpus's 29 labels
        with torch.no_grad():
            assert model.eval()(x).shape == (2, 29)
        # the body is the pretrained one: features agree with the loaded model
        with torch.no_grad():
            assert torch.allclose(head.forward_features(x), model.forward_features(x))


def test_registry_from_the_environment(registry, monkeypatch):
    monkeypatch.setenv(Z.ENV_VAR, str(registry))
    assert zoo.list() == zoo.list(registry) and zoo.registry_dir() == registry


def test_cli(registry, capsys):
    from harlearn.zoo.__main__ import main

    assert main(["--registry", str(registry), "list"]) == 0
    out = capsys.readouterr().out
    assert "tiny_resnet" in out and "resnet50_w8" in out and "not built" in out
    assert main(["--registry", str(registry), "info", "tiny_swin"]) == 0
    assert json.loads(capsys.readouterr().out)["architecture"] == "swin"
    assert main(["--registry", str(registry), "build", "no_such_recipe"]) == 2
    assert "No zoo recipe" in capsys.readouterr().err


def test_cli_build_trains_each_named_recipe(monkeypatch, capsys, tmp_path):
    """``build NAME...`` hands every name to :func:`harlearn.zoo.build.build` (stubbed: no training here)."""
    import sys

    from harlearn.zoo.__main__ import main

    calls = []

    def fake_build(name, out_dir, **kwargs):
        calls.append((name, out_dir))
        return {"file": f"{name}.pt", "bytes": 2**20, "sha256": "0" * 64}

    # the module, not the package attribute ``harlearn.zoo.build`` (which is the function)
    monkeypatch.setattr(sys.modules["harlearn.zoo.build"], "build", fake_build)
    assert main(["--registry", str(tmp_path), "build", "vit_ch4", "swin_ch4"]) == 0
    assert calls == [("vit_ch4", str(tmp_path)), ("swin_ch4", str(tmp_path))]
    assert "built vit_ch4: vit_ch4.pt" in capsys.readouterr().out


# ---- the recipes and the shipped registry --------------------------------------------------------
def test_every_recipe_builds_its_model():
    for r in R.RECIPES.values():
        model = Z.construct(r.architecture, r.as_dict()["kwargs"], len(C.CORPUS_LABELS)).eval()
        x = torch.randn(1, 3, r.image_size, r.image_size)
        with torch.no_grad():
            if r.objective == "mae":
                loss, pred, mask = model(x)
                assert torch.isfinite(loss)
                model = Z.replace_head(model, 16)
            assert model(x).shape == (1, 16 if r.objective == "mae" else 29), r.name
        assert hasattr(model, "forward_features") and hasattr(model, "forward_head"), r.name
        assert r.as_dict() == json.loads(json.dumps(r.as_dict()))  # plain JSON, as the manifest keeps it


def test_shipped_registry_matches_the_code():
    """Every shipped checkpoint: the recipe the code holds, its file present, its sha256, the size budget."""
    folder = Z.registry_dir(Path(zoo.__file__).parent / "weights")
    manifest = Z.read_manifest(folder)
    assert manifest["format"] == Z.FORMAT
    total = 0
    for name, e in manifest["checkpoints"].items():
        assert name in R.RECIPES, f"{name} is shipped but no recipe in harlearn.zoo.recipes holds it"
        assert e["recipe"] == R.RECIPES[name].as_dict(), f"{name}: the shipped recipe differs from the code's: rebuild it"
        path = folder / e["file"]
        assert path.is_file(), f"{path} is listed in the manifest but missing"
        assert Z.sha256_of(path) == e["sha256"], f"{path} does not match its sha256"
        total += path.stat().st_size
    assert total <= 40 * 2**20
    files = {p.name for p in folder.glob("*.pt")}
    assert files == {e["file"] for e in manifest["checkpoints"].values()}, "a weight file without a manifest entry"


# ---- pretrained="zoo": a model the caller builds, started from the checkpoint that fits it -------
def test_factory_zoo_source_loads_the_fitting_checkpoint(registry, monkeypatch):
    from harlearn.models import resnet50

    monkeypatch.setenv(Z.ENV_VAR, str(registry))
    model = resnet50(5, pretrained="zoo", base_width=2, zero_init_residual=False)  # init-only arguments may differ
    assert model.zoo_checkpoint == "tiny_resnet" and model.fc.out_features == 5
    reference = zoo.load("tiny_resnet", registry=registry)
    ours, theirs = model.state_dict(), reference.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs if not k.startswith("fc."))
    assert not torch.equal(ours["fc.weight"][:1], theirs["fc.weight"][:1, :])  # a fresh head, another shape
    with pytest.raises(ValueError, match=r"No course checkpoint fits this resnet50.*tiny_resnet.*pretrained=False"):
        resnet50(5, pretrained="zoo", base_width=3)


def test_initialise_a_transformer_the_caller_built(registry):
    from harlearn.transformers.swin import SwinTransformer

    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in zoo.info("tiny_swin", registry)["kwargs"].items()}
    model = SwinTransformer(num_classes=7, **{**kwargs, "drop_path_rate": 0.1})
    assert zoo.find(model, registry) == "tiny_swin"
    zoo.initialise(model, registry=registry)
    reference = zoo.load("tiny_swin", registry=registry)
    assert torch.equal(model.patch_embed.proj.weight, reference.patch_embed.proj.weight)
    assert model.head.fc.out_features == 7
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model.eval().forward_features(x), reference.eval().forward_features(x), atol=1e-6)
    with pytest.raises(ValueError, match="does not fit"):  # a named checkpoint of another size
        zoo.initialise(SwinTransformer(num_classes=7, **{**kwargs, "embed_dim": 16}), "tiny_swin", registry=registry)


def test_the_chapters_models_have_the_checkpoints_sizes():
    """ci and book build chapter 4's ViT (and chapter 5's encoder) at the size of vit_ch4 / mae_vit_ch5."""
    from harlearn import experiments, profiles

    for name in ("ci", "book"):
        size, kwargs = experiments.course_vit(profiles.get(name))
        assert {"img_size": size, **kwargs} == R.RECIPES["vit_ch4"].kwargs == R.RECIPES["mae_vit_ch5"].kwargs["encoder"]
