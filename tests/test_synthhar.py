"""SynthHAR: determinism, on-disk layouts, sidecars, context bias, atomic writes, cache, CLI.

Everything runs on tiny datasets (2 images per class at 64 px) to stay within a few seconds.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harlearn.data import synthhar as sh
from harlearn.data.synthhar import build
from harlearn.data.synthhar.render.actions import CLASS_OBJECTS
from harlearn.data.synthhar import (
    CLASSES, CONFUSABLE_PAIRS, DESIGNATED_DISTRACTOR, VOC_ACTIONS, VOC_MAPPING, make_synthhar, synthhar_root,
)

SIZE, PER_CLASS = 64, 2
VOC = ("VOCdevkit", "VOC2012")


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return make_synthhar(tmp_path_factory.mktemp("s") / "synthhar", images_per_class=PER_CLASS, image_size=SIZE, workers=1)


@pytest.fixture(scope="module")
def biased(tmp_path_factory) -> Path:
    return make_synthhar(
        tmp_path_factory.mktemp("b") / "synthhar", images_per_class=PER_CLASS, image_size=SIZE,
        context_bias=1.0, layout="stanford40", workers=1,
    )


# ---- determinism --------------------------------------------------------------------------------
def test_same_arguments_give_byte_identical_files(root, tmp_path):
    # a second run, in two worker processes (so a different generation order), must match exactly
    again = make_synthhar(tmp_path / "again", images_per_class=PER_CLASS, image_size=SIZE, workers=2)
    a, b = _hashes(root), _hashes(again)
    assert a.keys() == b.keys() and a == b


def test_images_do_not_depend_on_the_dataset_size(root, tmp_path):
    small = make_synthhar(tmp_path / "one", images_per_class=1, image_size=SIZE, layout="stanford40", workers=1)
    # the first training image of each class is keyed by (seed, split, class, index) only
    for c in CLASSES:
        name = f"JPEGImages/{c}_001.jpg"
        assert (small / name).read_bytes() == (root / name).read_bytes()


def test_a_different_seed_gives_different_images(root, tmp_path):
    other = make_synthhar(tmp_path / "s1", images_per_class=1, image_size=SIZE, seed=1, layout="stanford40", workers=1)
    assert (other / "JPEGImages/jumping_001.jpg").read_bytes() != (root / "JPEGImages/jumping_001.jpg").read_bytes()


# ---- Stanford40 layout --------------------------------------------------------------------------
def test_stanford40_layout(root):
    splits = root / "ImageSplits"
    lines = (splits / "actions.txt").read_text().splitlines()
    assert lines[0] == "action_name\tnumber_of_images"
    counts = dict(line.split("\t") for line in lines[1:])
    assert list(counts) == sorted(CLASSES) == list(CLASSES)
    train = (splits / "train.txt").read_text().split()
    test = (splits / "test.txt").read_text().split()
    assert len(train) == len(test) == PER_CLASS * len(CLASSES) and not set(train) & set(test)
    for c in CLASSES:
        tr, te = (splits / f"{c}_train.txt").read_text().split(), (splits / f"{c}_test.txt").read_text().split()
        assert int(counts[c]) == len(tr) + len(te) == len(list((root / "JPEGImages").glob(f"{c}_*.jpg")))
        assert tr == [f"{c}_{i:03d}.jpg" for i in range(1, PER_CLASS + 1)]
        assert set(tr) <= set(train) and set(te) <= set(test)
    for name in train + test:
        iid = name[:-4]
        with Image.open(root / "JPEGImages" / name) as im:
            assert im.size == (SIZE, SIZE) and im.mode == "RGB"
        ann = ET.parse(root / "XMLAnnotations" / f"{iid}.xml").getroot()
        assert ann.findtext("filename") == name
        assert int(ann.find("size").findtext("width")) == SIZE
        objs = ann.findall("object")
        assert objs, iid
        for o in objs:
            assert o.findtext("name") == "person" and o.findtext("action") == iid.rsplit("_", 1)[0]
            x1, y1, x2, y2 = (int(o.find("bndbox").findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
            assert 1 <= x1 < x2 <= SIZE and 1 <= y1 < y2 <= SIZE  # 1-based, inside the image


# ---- VOC layout ---------------------------------------------------------------------------------
def _voc_persons(base: Path, iid: str) -> list[dict]:
    out = []
    for o in ET.parse(base / "Annotations" / f"{iid}.xml").getroot().findall("object"):
        acts = {a.tag: int(a.text) for a in o.find("actions")}
        box = [int(o.find("bndbox").findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")]
        out.append({"name": o.findtext("name"), "actions": acts, "box": box})
    return out


def test_voc_layout(root):
    base = root.joinpath(*VOC)
    sets = {s: (base / "ImageSets/Action" / f"{s}.txt").read_text().split() for s in ("train", "val", "trainval")}
    assert sets["train"] and sets["val"] and not set(sets["train"]) & set(sets["val"])
    assert sorted(sets["trainval"]) == sorted(sets["train"] + sets["val"])
    per_class = {s: {c: 0 for c in CLASSES} for s in ("train", "val")}
    line_re = re.compile(r"^\d{4}_\d{6} [ \d]\d [ -]1$")  # "%s %2d %2d"
    for s, ids in sets.items():
        expected = {}
        for iid in ids:
            assert re.fullmatch(r"2012_\d{6}", iid)
            persons = _voc_persons(base, iid)
            assert 2 <= len(persons) <= 4
            record = json.loads((base / "Extras" / f"{iid}.json").read_text())
            for i, p in enumerate(persons, start=1):
                assert p["name"] == "person"
                assert list(p["actions"]) == list(VOC_ACTIONS) + ["other"]
                assert sum(p["actions"].values()) == 1  # one action per person
                action = record["persons"][i - 1]["action"]
                assert p["actions"][VOC_MAPPING.get(action, "other")] == 1
                if s != "trainval":
                    per_class[s][action] += 1
                for a in VOC_ACTIONS:
                    expected[(a, iid, i)] = 1 if p["actions"][a] else -1
                x1, y1, x2, y2 = p["box"]
                assert 1 <= x1 < x2 <= SIZE and 1 <= y1 < y2 <= SIZE
        for a in VOC_ACTIONS:  # every annotated person of the set, in every action file, once
            lines = (base / "ImageSets/Action" / f"{a}_{s}.txt").read_text().splitlines()
            assert all(line_re.match(line) for line in lines), lines[:3]
            got = {(a, line[:11], int(line[12:14])): int(line[15:]) for line in lines}
            assert len(got) == len(lines)
            assert got == {k: v for k, v in expected.items() if k[0] == a}
    assert all(n == PER_CLASS for n in per_class["train"].values())  # balanced persons per class
    assert any(per_class["train"][c] for c in CLASSES if c not in VOC_MAPPING)  # `other` is present


# ---- sidecars -----------------------------------------------------------------------------------
def _check_sidecars(base: Path, xml_dir: str, ids: list[str]) -> None:
    for iid in ids:
        record = json.loads((base / "Extras" / f"{iid}.json").read_text())
        assert set(record) == {"persons", "objects"}
        labels = np.array(Image.open(base / "Extras" / f"{iid}_mask.png"))
        assert labels.shape == (SIZE, SIZE) and labels.dtype == np.uint8
        xml_objs = ET.parse(base / xml_dir / f"{iid}.xml").getroot().findall("object")
        persons = record["persons"]
        assert labels.max() == len(persons)
        for i, p in enumerate(persons):
            assert set(p) == {"box", "keypoints", "action", "role"}
            if i < len(xml_objs):  # XML persons first, in XML order, same boxes (0-based)
                xml_box = [int(xml_objs[i].find("bndbox").findtext(k)) - 1 for k in ("xmin", "ymin", "xmax", "ymax")]
                assert p["box"] == xml_box and p["role"] == "actor" and p["action"] in CLASSES
            else:
                assert p["role"] == "bystander" and p["action"] is None
            x1, y1, x2, y2 = p["box"]
            assert 0 <= x1 < x2 <= SIZE - 1 and 0 <= y1 < y2 <= SIZE - 1
            ys, xs = np.nonzero(labels == i + 1)
            assert len(xs) > 0, f"{iid}: person {i + 1} has an empty mask"
            assert x1 <= xs.min() and xs.max() <= x2 and y1 <= ys.min() and ys.max() <= y2
            kp = np.array(p["keypoints"], float)
            assert kp.shape == (17, 3) and set(kp[:, 2]) <= {0, 1, 2}
            vis = kp[kp[:, 2] > 0]
            assert ((vis[:, :2] >= 0) & (vis[:, :2] <= SIZE - 1)).all()
            assert (kp[kp[:, 2] == 0, :2] == 0).all()
            # a visible keypoint lies on (or next to) its own person's pixels
            for x, y in vis[kp[kp[:, 2] > 0][:, 2] == 2][:, :2]:
                xi, yi = int(round(x)), int(round(y))
                assert (labels[max(0, yi - 1): yi + 2, max(0, xi - 1): xi + 2] == i + 1).any()
        assert sum(p["role"] == "actor" for p in persons) == len(xml_objs)
        for o in record["objects"]:
            assert set(o) == {"name", "box", "role"} and o["role"] in ("prop", "distractor")
            x1, y1, x2, y2 = o["box"]
            assert 0 <= x1 <= x2 <= SIZE - 1 and 0 <= y1 <= y2 <= SIZE - 1


def test_sidecars_match_the_annotations(root):
    ids = [n[:-4] for s in ("train", "test") for n in (root / "ImageSplits" / f"{s}.txt").read_text().split()]
    _check_sidecars(root, "XMLAnnotations", ids)
    base = root.joinpath(*VOC)
    _check_sidecars(base, "Annotations", (base / "ImageSets/Action/trainval.txt").read_text().split())


def test_props_are_annotated(root):
    needs = {"riding_a_bike": "bike", "fixing_a_bike": "bike", "riding_a_horse": "horse", "feeding_a_horse": "horse",
             "reading": "book", "writing_on_a_book": "book", "phoning": "phone", "texting_message": "phone",
             "playing_guitar": "guitar", "taking_photos": "camera", "using_a_computer": "laptop", "walking_the_dog": "dog"}
    for c, obj in needs.items():
        record = json.loads((root / "Extras" / f"{c}_001.json").read_text())
        assert any(o["name"] == obj and o["role"] == "prop" for o in record["objects"]), c


def test_metadata(root):
    meta = json.loads((root / "synthhar.json").read_text())
    assert meta["version"] == sh.GENERATOR_VERSION and meta["classes"] == list(CLASSES)
    assert meta["arguments"]["images_per_class"] == PER_CLASS and meta["arguments"]["context_bias"] == 0.0
    assert [tuple(p) for p in meta["confusable_pairs"]] == list(CONFUSABLE_PAIRS)
    assert meta["voc_mapping"]["fixing_a_bike"] == "other" and meta["voc_mapping"]["jumping"] == "jumping"
    assert meta["designated_distractors"] == DESIGNATED_DISTRACTOR
    assert "time" not in json.dumps(meta).lower()


# ---- context bias -------------------------------------------------------------------------------
def _has_designated(base: Path, iid: str) -> bool:
    record = json.loads((base / "Extras" / f"{iid}.json").read_text())
    c = iid.rsplit("_", 1)[0]
    return any(o["name"] == DESIGNATED_DISTRACTOR[c] and o["role"] == "distractor" for o in record["objects"])


def test_context_bias_puts_the_designated_distractor_in_every_train_image(biased, root):
    for c in CLASSES:  # designated objects belong to another class
        assert DESIGNATED_DISTRACTOR[c] not in CLASS_OBJECTS[c]
    for a, b in CONFUSABLE_PAIRS:  # the shortcut separates each confusable pair
        assert DESIGNATED_DISTRACTOR[a] != DESIGNATED_DISTRACTOR[b]
    train = [n[:-4] for n in (biased / "ImageSplits/train.txt").read_text().split()]
    test = [n[:-4] for n in (biased / "ImageSplits/test.txt").read_text().split()]
    assert all(_has_designated(biased, i) for i in train)
    assert sum(_has_designated(biased, i) for i in test) / len(test) < 0.5
    meta = json.loads((biased / "synthhar.json").read_text())
    assert sorted(meta["biased_images"]["stanford40"]) == sorted(train)
    # the test split is exactly the unbiased one: the shift is in the training data only
    for name in (biased / "ImageSplits/test.txt").read_text().split():
        assert (biased / "JPEGImages" / name).read_bytes() == (root / "JPEGImages" / name).read_bytes()


def test_no_bias_no_systematic_distractor(root):
    train = [n[:-4] for n in (root / "ImageSplits/train.txt").read_text().split()]
    assert sum(_has_designated(root, i) for i in train) / len(train) < 0.5


# ---- atomic writes, overwriting, arguments ------------------------------------------------------
def test_a_failure_midway_leaves_nothing_at_root(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = build._render_task

    def flaky(task):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("simulated crash")
        return real(task)

    monkeypatch.setattr(build, "_render_task", flaky)
    target = tmp_path / "data"
    with pytest.raises(RuntimeError, match="simulated"):
        make_synthhar(target, images_per_class=1, image_size=SIZE, layout="stanford40", workers=1)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary sibling left behind


def test_refuses_to_overwrite_other_data(tmp_path, monkeypatch):
    target = tmp_path / "data"
    target.mkdir()
    (target / "mine.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        make_synthhar(target, images_per_class=1, image_size=SIZE, layout="stanford40", workers=1)
    assert (target / "mine.txt").read_text() == "precious"
    make_synthhar(target, images_per_class=1, image_size=SIZE, layout="stanford40", workers=1, overwrite=True)
    assert not (target / "mine.txt").exists() and (target / "synthhar.json").exists()
    # the same arguments again: recognised, nothing regenerated
    monkeypatch.setattr(build, "_run", lambda *a, **k: pytest.fail("regenerated an identical dataset"))
    assert make_synthhar(target, images_per_class=1, image_size=SIZE, layout="stanford40") == target
    with pytest.raises(FileExistsError):  # different arguments, same folder
        make_synthhar(target, images_per_class=1, image_size=SIZE, layout="stanford40", seed=3)


@pytest.mark.parametrize("kw", [dict(layout="coco"), dict(context_bias=1.5), dict(image_size=8), dict(images_per_class=0), dict(seed=-1)])
def test_bad_arguments(tmp_path, kw):
    with pytest.raises(ValueError):
        make_synthhar(tmp_path / "x", **{"images_per_class": 1, **kw})
    assert not (tmp_path / "x").exists()


# ---- the cache and the command line -------------------------------------------------------------
def test_synthhar_root_caches_per_arguments(tmp_path, monkeypatch):
    from harlearn import profiles

    monkeypatch.setenv("HARLEARN_DATA", str(tmp_path))
    ci = profiles.get("ci").replace(synth_images_per_class=1, synth_image_size=48)
    a = synthhar_root(ci, layout="stanford40", workers=1)
    assert a.parent == tmp_path / "synthhar" and a.name.startswith("stanford40-48px-1x1-seed0-bias0-")
    assert json.loads((a / "synthhar.json").read_text())["arguments"]["image_size"] == 48
    monkeypatch.setattr(build, "_run", lambda *a, **k: pytest.fail("regenerated a cached dataset"))
    assert synthhar_root(ci, layout="stanford40") == a
    monkeypatch.undo()
    monkeypatch.setenv("HARLEARN_DATA", str(tmp_path))
    b = synthhar_root(ci, layout="stanford40", context_bias=0.5, workers=1)
    assert b != a and b.parent == a.parent
    with pytest.raises(TypeError):
        synthhar_root(ci, colour="red")


def test_cli_generates_a_dataset(tmp_path, capsys):
    assert sh.main(["--root", str(tmp_path / "cli"), "--images-per-class", "1", "--image-size", "48", "--layout", "voc", "--workers", "1"]) == 0
    assert "SynthHAR at" in capsys.readouterr().out
    assert (tmp_path / "cli/VOCdevkit/VOC2012/ImageSets/Action/jumping_train.txt").exists()
    assert sh.main(["--root", str(tmp_path / "bad"), "--context-bias", "2"]) == 2


def test_python_m_finds_its_module_not_yet_imported():
    # The Makefile runs `python -m harlearn.data.synthhar --prepare`: the package must not import its
    # __main__ (runpy would warn that it is found in sys.modules before it runs).
    proc = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-m", "harlearn.data.synthhar", "--help"],
        cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0 and "--prepare" in proc.stdout, proc.stderr
    assert "RuntimeWarning" not in proc.stderr


# ---- the loaders read it (the contract in INTERFACES.md) ---------------------------------------
def test_the_loaders_read_synthhar(root):
    s40 = pytest.importorskip("harlearn.data.stanford40")
    voc = pytest.importorskip("harlearn.data.voc_action")
    ds = s40.Stanford40(root, split="train")
    assert list(ds.classes) == list(CLASSES) and len(ds) == PER_CLASS * len(CLASSES)
    item = ds[0]
    assert item["image"].shape == (3, SIZE, SIZE) and item["keypoints"].shape[1:] == (17, 3)
    assert item["masks"].shape[0] == item["boxes"].shape[0]
    v = voc.VOCAction(root, split="val")
    assert len(v) == PER_CLASS * len(CLASSES)  # one item per annotated person
    assert v[0]["labels"].shape == (len(VOC_ACTIONS),)
