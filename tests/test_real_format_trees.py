"""The small real-format trees that smoke mode reads (issue 14): the real loaders, nothing downloaded."""

from __future__ import annotations

import os

import pytest
import torch
from PIL import Image

from harlearn.data import UCF101, Stanford40, VOCAction, VOC_ACTIONS, _download, course_datasets, course_root
from harlearn.data import transforms as T
from harlearn.data.testing import MARKER, STANFORD40_CLASSES, main, write_real_format


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    root = tmp_path_factory.mktemp("smoke-data")
    return root, write_real_format(root)


def test_stanford40_tree_has_every_class_in_both_splits(trees):
    _, roots = trees
    train, test = Stanford40(roots["stanford40"], "train"), Stanford40(roots["stanford40"], "test")
    assert len(STANFORD40_CLASSES) == 40 and len(set(STANFORD40_CLASSES)) == 40
    assert train.classes == list(STANFORD40_CLASSES) == sorted(STANFORD40_CLASSES, key=str.lower)
    assert (len(train), len(test)) == (80, 80)
    assert set(train.targets) == set(test.targets) == set(range(40))
    # retrieval (chapter 8) searches the test split against itself: every query needs a match
    assert min(test.targets.count(c) for c in range(40)) >= 2


def test_stanford40_tree_has_the_hard_cases(trees):
    _, roots = trees
    data = Stanford40(roots["stanford40"], "train")
    items = [data[i] for i in range(len(data))]
    persons = [len(item["boxes"]) for item in items]
    assert max(persons) >= 3 and min(persons) == 1  # multi-person files
    sizes = {tuple(item["image"].shape[-2:]) for item in items}
    assert len(sizes) > 20 and all(h % 2 and w % 2 for h, w in sizes)  # varied, odd sizes
    assert all(item["image"].shape[0] == 3 for item in items)  # grey-scale files come back as RGB
    modes = {Image.open(p).mode for p in (roots["stanford40"] / "JPEGImages").iterdir()}
    assert modes == {"L", "RGB"}
    # a box with xmax = W + 1 (1-based) is clamped to the image (in either split)
    test = Stanford40(roots["stanford40"], "test")
    both = items + [test[i] for i in range(len(test))]
    assert any(float(item["boxes"][:, 2].max()) == item["image"].shape[-1] for item in both)
    xml = [p.read_text() for p in (roots["stanford40"] / "XMLAnnotations").iterdir()]
    assert any("<name>person</name>" in t for t in xml) and any("<name>applauding</name>" in t for t in xml)


def test_voc_tree_has_every_action_in_train_and_val(trees):
    _, roots = trees
    train, val = VOCAction(roots["voc"], "train"), VOCAction(roots["voc"], "val")
    for data in (train, val):
        positives = data.targets.sum(0)
        assert (positives > 0).all(), dict(zip(VOC_ACTIONS, positives.tolist()))
        assert (data.targets.sum(1) == 0).any()  # an "other"-only person
        assert (data.targets.sum(1) >= 2).any()  # a person doing two actions
        assert len(data) > len(set(p.image_id for p in data._persons))  # several persons per image
    trainval = VOCAction(roots["voc"], "trainval")
    assert len(trainval) == len(train) + len(val)
    images = {p.stem for p in (roots["voc"] / "VOCdevkit" / "VOC2012" / "JPEGImages").iterdir()}
    in_sets = {p.image_id for p in trainval._persons}
    assert len(images - in_sets) == 1  # a detection-only image, in no action set


def test_voc_split_files_agree_with_the_xml(trees):
    _, roots = trees
    data = VOCAction(roots["voc"], "val")
    labels = {(p.image_id, p.person_index): p.labels for p in data._persons}
    folder = roots["voc"] / "VOCdevkit" / "VOC2012" / "ImageSets" / "Action"
    for k, action in enumerate(VOC_ACTIONS):
        rows = [line.split() for line in (folder / f"{action}_val.txt").read_text().splitlines()]
        assert {(i, int(n)): int(v) for i, n, v in rows} == {key: 1 if lab[k] else -1 for key, lab in labels.items()}


def test_full_profile_reads_the_trees_through_course_root(trees, monkeypatch):
    root, roots = trees
    monkeypatch.setenv("HARLEARN_DATA", str(root))

    def no_download(*args, **kwargs):
        raise AssertionError("nothing may be downloaded when the files are there")

    monkeypatch.setattr(_download.pooch, "retrieve", no_download)
    assert course_root("full", layout="stanford40") == roots["stanford40"]
    assert course_root("full", layout="voc") == roots["voc"]
    train, test = course_datasets("full", train_transform=T.train_transform(224), eval_transform=T.eval_transform(224))
    assert train[0]["image"].shape == (3, 224, 224) and len(test.classes) == 40
    voc_train, voc_val = course_datasets("full", layout="voc", eval_transform=T.eval_transform(224))
    assert voc_val[0]["image"].shape == (3, 224, 224) and len(voc_train.classes) == 10


def test_every_file_decodes_and_the_trees_are_small(trees):
    root, roots = trees
    for split in ("train", "test"):
        data = Stanford40(roots["stanford40"], split, transform=T.train_transform(224))
        for i in range(len(data)):
            item = data[i]
            assert item["image"].shape == (3, 224, 224) and torch.isfinite(item["image"]).all()
    data = VOCAction(roots["voc"], "trainval", transform=T.eval_transform(224))
    assert all(data[i]["box"].shape == (4,) for i in range(len(data)))
    size = sum(p.stat().st_size for name in ("stanford40", "voc2012") for p in (root / name).rglob("*") if p.is_file())
    assert size < 600 * 1024, f"{size / 1024:.0f} KB"


def test_writing_again_is_a_no_op_and_new_arguments_rewrite(tmp_path):
    roots = write_real_format(tmp_path, train_per_class=1, test_per_class=1, voc_images_per_action=1)
    image = roots["stanford40"] / "JPEGImages" / "applauding_001.jpg"
    stamp = image.stat().st_mtime_ns
    os.utime(image, ns=(stamp - 10**9, stamp - 10**9))
    write_real_format(tmp_path, train_per_class=1, test_per_class=1, voc_images_per_action=1)
    assert image.stat().st_mtime_ns == stamp - 10**9  # untouched
    write_real_format(tmp_path, train_per_class=1, test_per_class=1, voc_images_per_action=1, seed=1)
    assert image.stat().st_mtime_ns != stamp - 10**9  # rewritten
    assert len(Stanford40(roots["stanford40"], "train")) == 40


def test_a_folder_it_did_not_write_is_never_touched(tmp_path, stanford40_root):
    assert stanford40_root == tmp_path / "stanford40" and not (stanford40_root / MARKER).exists()
    with pytest.raises(FileExistsError, match="was not written by harlearn.data.testing"):
        write_real_format(tmp_path)
    assert len(Stanford40(stanford40_root, "train")) == 3  # the fixture's tree, intact


def test_command_line(tmp_path, capsys):
    assert main([str(tmp_path), "--train-per-class", "1", "--test-per-class", "1", "--voc-images-per-action", "1"]) == 0
    out = capsys.readouterr().out
    assert "stanford40:" in out and "80 JPEGs" in out and "voc:" in out


def test_ucf101_tree_is_the_official_layout_and_reads_as_ucf101(trees):
    _, roots = trees
    ucf = roots["ucf101"]
    assert sorted(p.name for p in ucf.iterdir() if p.name != MARKER) == ["UCF-101", "ucfTrainTestlist"]  # no sidecar
    train, test = UCF101(ucf, "train", num_frames=4), UCF101(ucf, "test", num_frames=4, size=112)
    assert (len(train), len(test)) == (24, 24) and len(train.classes) == 12
    item = test[0]
    assert item["video"].shape == (3, 4, 112, 112) and "keypoints" not in item
