"""The real datasets live in separate roots: ``$HARLEARN_DATA/stanford40`` and ``$HARLEARN_DATA/voc2012``.

A Stanford40 tree has a ``JPEGImages/`` folder too; it must never be taken for VOC (that
skipped ``download=True`` and then asked for it).
"""

from __future__ import annotations

import shutil

import pytest

from harlearn.data import VOCAction, course_datasets, course_root
from harlearn.data import _download


def test_course_root_gives_each_real_dataset_its_own_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HARLEARN_DATA", str(tmp_path))
    assert course_root("full") == tmp_path / "stanford40"  # the old call: Stanford40
    assert course_root("full", layout="stanford40") == tmp_path / "stanford40"
    assert course_root("full", layout="voc") == tmp_path / "voc2012"
    with pytest.raises(ValueError, match="Unknown layout 'coco'"):
        course_root("full", layout="coco")
    with pytest.raises(ValueError, match="context_bias=0.9 only applies to SynthHAR"):
        course_root("full", context_bias=0.9, layout="voc")


def test_full_reads_both_real_datasets_in_place_without_downloading(stanford40_root, voc_root, tmp_path, monkeypatch):
    monkeypatch.setenv("HARLEARN_DATA", str(tmp_path))
    assert stanford40_root == tmp_path / "stanford40"
    shutil.move(voc_root, tmp_path / "voc2012")

    def no_download(*args, **kwargs):
        raise AssertionError("nothing may be downloaded when the files are there")

    monkeypatch.setattr(_download.pooch, "retrieve", no_download)
    train, test = course_datasets("full")
    assert (len(train), len(test)) == (3, 3) and train.root == tmp_path / "stanford40"
    voc_train, voc_val = course_datasets("full", layout="voc")
    assert (len(voc_train), len(voc_val)) == (3, 1)
    assert voc_train.base == tmp_path / "voc2012" / "VOCdevkit" / "VOC2012"


def test_a_stanford40_root_is_not_voc_and_the_error_says_where_voc_goes(stanford40_root, tmp_path, monkeypatch):
    monkeypatch.setenv("HARLEARN_DATA", str(tmp_path))
    assert VOCAction._find_base(stanford40_root) is None
    with pytest.raises(FileNotFoundError) as info:
        VOCAction(stanford40_root, "train")
    message = str(info.value)
    assert message.startswith("PASCAL VOC 2012 Action is missing")
    assert "holds a Stanford40 tree" in message
    assert str(stanford40_root / "VOCdevkit" / "VOC2012") in message  # the folder to create
    assert str(tmp_path / "voc2012") in message  # the course's VOC root
    assert "download=True" in message and "VOCtrainval_11-May-2012.tar" in message
