"""SynthHAR clips: classes only motion separates, UCF101's layout, disjoint seeds, and the UCF101 loader."""

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from harlearn.data import UCF101, collate
from harlearn.data.synthhar import build as course_build
from harlearn.data.synthhar import clips as K
from harlearn.data.synthhar import corpus as C
from harlearn.data.synthhar.render.clip_scene import render_clip
from harlearn.data.synthhar.render.figure import random_body
from harlearn.data.synthhar.render.motions import APPEARANCE_CLASSES, CLIP_CLASSES, MOTIONS, REVERSAL_PAIRS, RHYTHM_PAIRS
from harlearn.data.ucf101 import sample_indices
from harlearn.data.video_io import read_video, write_video

NAME = re.compile(r"^v_([A-Za-z]+)_g(\d\d)_c(\d\d)$")


def _states(keys) -> set[tuple[int, ...]]:
    return {tuple(np.random.SeedSequence(list(k)).generate_state(4)) for k in keys}


def test_clip_seeds_are_disjoint_from_every_still_image():
    clip_keys = []
    for seed in (0, 1, 2):
        clip_keys += [k for *_, k in K.clip_seed_keys(K.clips_arguments(100, 50, 16, 64, seed=seed))]
    assert {k[1] for k in clip_keys} == {K.CLIPS_LAYOUT_CODE}
    assert K.CLIPS_LAYOUT_CODE not in (*course_build._LAYOUT_CODE.values(), C.CORPUS_LAYOUT_CODE)
    still = [k for *_, k in C.corpus_seed_keys(C.corpus_arguments(C.CORPUS_IMAGES, C.CORPUS_VAL_IMAGES, 128, 0))]
    for seed in (0, 1, 2):
        args = course_build.canonical_arguments(100, None, 128, seed, 0.0, "both", True, None)
        tasks = course_build._stanford40_tasks(args, Path(".")) + course_build._voc_tasks(args, Path("."))
        still += [t["key"] for t in tasks] + [(seed, 1, code, 2**31 - 1) for code in (0, 1)]
    assert not _states(clip_keys) & _states(still)  # the streams, not just the keys
    assert len(_states(clip_keys)) == len(clip_keys)


def test_classes_come_in_motion_pairs_and_appearance_classes():
    paired = [c for p in REVERSAL_PAIRS + RHYTHM_PAIRS for c in p]
    assert sorted(paired + list(APPEARANCE_CLASSES)) == list(CLIP_CLASSES) == sorted(set(CLIP_CLASSES))
    assert len(REVERSAL_PAIRS) == 3 and len(RHYTHM_PAIRS) == 1 and set(MOTIONS) == set(CLIP_CLASSES)


def _keypoints(clip):
    return np.array([ps[0]["keypoints"] for ps in clip.persons])  # [T, 17, 3]: the actor's


@pytest.mark.parametrize("pair", REVERSAL_PAIRS)
def test_a_reversal_pair_is_the_same_clip_played_backwards(pair):
    a = render_clip(np.random.default_rng(7), pair[0], 32, 5, bystanders=False)
    b = render_clip(np.random.default_rng(7), pair[1], 32, 5, bystanders=False)
    np.testing.assert_allclose(_keypoints(a), _keypoints(b)[::-1])  # same frames, opposite order
    assert not np.allclose(_keypoints(a), _keypoints(b))  # and the order is what differs
    assert a.persons[0][0]["action"] == pair[0] and b.persons[0][0]["action"] == pair[1]


def test_the_rhythm_pair_shares_its_poses_and_differs_in_tempo():
    fast, slow = RHYTHM_PAIRS[0]
    body = random_body(np.random.default_rng(0))
    pf, ps = MOTIONS[fast](np.random.default_rng(3), body, 1.0), MOTIONS[slow](np.random.default_rng(3), body, 1.0)
    kp = lambda g: g.parts[0].keypoints  # noqa: E731
    np.testing.assert_allclose(kp(pf(0.0)), kp(ps(0.0)))  # the same frame at the start ...

    def claps(pose) -> int:  # hands meeting: local minima of the wrist distance
        d = np.array([np.linalg.norm(kp(pose(u))[9] - kp(pose(u))[10]) for u in np.linspace(0, 1, 97)])
        return int(((d[1:-1] < d[:-2]) & (d[1:-1] <= d[2:])).sum())

    assert claps(pf) >= 2 and claps(ps) <= 1  # ... but about three beats per clip against one


def test_every_class_renders_a_moving_actor_in_a_still_scene():
    for i, c in enumerate(CLIP_CLASSES):
        clip = render_clip(np.random.default_rng(i), c, 32, 5)
        assert len(clip.frames) == 5 and clip.frames[0].size == (32, 32)
        kp = _keypoints(clip)
        assert np.abs(kp[:, :, :2] - kp[:1, :, :2]).max() > 0.3, c  # the actor moves
        assert clip.persons[0][0]["role"] == "actor"


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return K.make_clips(tmp_path_factory.mktemp("clips") / "c", clips_per_class=2, test_clips_per_class=1, frames=4,
                        frame_size=32, workers=1)


def test_clips_are_written_in_ucf101s_layout(clips):
    lists = clips / "ucfTrainTestlist"
    assert (lists / "classInd.txt").read_text().splitlines() == [f"{i + 1} {c}" for i, c in enumerate(CLIP_CLASSES)]
    train = [line.split() for line in (lists / "trainlist01.txt").read_text().splitlines()]
    test = (lists / "testlist01.txt").read_text().splitlines()
    assert len(train) == 2 * 12 and len(test) == 12 and all(len(t) == 2 for t in train) and all(" " not in t for t in test)
    for rel, label in train:
        cls, stem = rel[:-4].split("/")
        m = NAME.match(stem)
        assert m and m.group(1) == cls and 8 <= int(m.group(2)) <= 25 and CLIP_CLASSES[int(label) - 1] == cls
        assert (clips / "UCF-101" / rel).is_file() and (clips / "Extras" / cls / f"{stem}.json").is_file()
    assert all(1 <= int(NAME.match(Path(t).stem).group(2)) <= 7 for t in test)  # split 1: groups 1-7 are test
    meta = json.loads((clips / "synthclips.json").read_text())
    assert meta["counts"] == {"train": 24, "test": 12} and meta["arguments"]["frames"] == 4


def test_same_arguments_same_bytes_whatever_the_workers(clips, tmp_path):
    again = K.make_clips(tmp_path / "again", clips_per_class=2, test_clips_per_class=1, frames=4, frame_size=32, workers=2)
    assert _digest(again) == _digest(clips)
    assert K.make_clips(clips, clips_per_class=2, test_clips_per_class=1, frames=4, frame_size=32) == clips  # cached
    with pytest.raises(FileExistsError):
        K.make_clips(clips, clips_per_class=3, frames=4, frame_size=32)


def test_clips_root_caches_under_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HARLEARN_DATA", str(tmp_path))
    root = K.clips_root("ci", clips_per_class=1, test_clips_per_class=1, frames=2, frame_size=16, workers=1)
    assert root.parent == tmp_path / "synthhar-clips" and K.is_same_clips(root, json.loads((root / "synthclips.json").read_text())["arguments"])
    assert not [p for p in root.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left
    assert K.clips_root("ci", clips_per_class=1, test_clips_per_class=1, frames=2, frame_size=16) == root


def test_ucf101_reads_synthhar_clips_with_their_keypoints(clips):
    train = UCF101(clips, "train", num_frames=4)
    assert train.classes == list(CLIP_CLASSES) and len(train) == 24
    item = train[5]
    assert item["video"].shape == (3, 4, 32, 32) and item["video"].dtype == torch.float32
    assert train.classes[item["label"]] in item["video_id"]
    assert item["keypoints"].shape == (4, 17, 3) and item["box"].shape == (4, 4)
    batch = collate([train[0], train[1]])
    assert batch["video"].shape == (2, 3, 4, 32, 32) and batch["label"].tolist() == [0, 0]
    # the decoded frames are the rendered ones, through MPEG-4's 4:2:0 colour
    args = K.clips_arguments(2, 1, 4, 32)
    split, cls, name, key = K.clip_seed_keys(args)[5]
    rendered = np.asarray(render_clip(np.random.default_rng(np.random.SeedSequence(list(key))), cls, 32, 4).frames[1], float)
    decoded = read_video(clips / "UCF-101" / cls / f"{name}.avi")[1].astype(float)
    assert 10 * np.log10(255**2 / ((decoded - rendered) ** 2).mean()) > 24
    small = UCF101(clips, "test", num_frames=2, size=16)[0]
    assert small["video"].shape == (3, 2, 16, 16) and small["keypoints"][..., :2].max() < 16


def _real_tree(root: Path) -> Path:
    """A tiny tree in the real UCF101 layout, with its naming quirk and three folds, no sidecar."""
    rng = np.random.default_rng(0)
    files = {"ApplyEyeMakeup": ["v_ApplyEyeMakeup_g01_c01", "v_ApplyEyeMakeup_g08_c01"],
             "HandstandPushups": ["v_HandStandPushups_g01_c01", "v_HandStandPushups_g08_c02"]}
    for cls, stems in files.items():
        (root / "UCF-101" / cls).mkdir(parents=True)
        for stem in stems:
            write_video(root / "UCF-101" / cls / f"{stem}.avi", rng.integers(0, 255, (7, 30, 40, 3), dtype=np.uint8), fps=25)
    lists = root / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 HandstandPushups\n")
    for fold in (1, 2, 3):
        (lists / f"trainlist0{fold}.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\nHandstandPushups/v_HandStandPushups_g08_c02.avi 2\r\n")
        (lists / f"testlist0{fold}.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\r\nHandstandPushups/v_HandStandPushups_g01_c01.avi\r\n")
    return root


def test_ucf101_reads_the_real_layout(tmp_path):
    root = _real_tree(tmp_path / "ucf101")
    test = UCF101(root, "test", fold=2, num_frames=4, size=24)
    assert test.classes == ["ApplyEyeMakeup", "HandstandPushups"] and test.targets == [0, 1]
    item = test[1]
    assert item["video"].shape == (3, 4, 24, 24) and "keypoints" not in item
    assert item["video_id"] == "v_HandStandPushups_g01_c01" and item["frame_indices"] == sample_indices(7, 4)
    train = UCF101(root, "train", num_frames=3, random_offset=True, seed=1)
    first = train[0]["frame_indices"]
    train.set_epoch(1)
    assert all(0 <= i < 7 for i in first) and len(train[0]["frame_indices"]) == 3


def test_ucf101_errors_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="UCF101.rar"):
        UCF101(tmp_path / "nowhere")
    root = _real_tree(tmp_path / "ucf101")
    with pytest.raises(ValueError, match="split"):
        UCF101(root, "val")
    with pytest.raises(ValueError, match="1, 2 and 3"):
        UCF101(root, fold=4)
    (root / "UCF-101" / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g08_c01.avi").unlink()
    with pytest.raises(FileNotFoundError, match="listed"):
        UCF101(root, "train")
    bad = root / "UCF-101" / "HandstandPushups" / "v_HandStandPushups_g01_c01.avi"
    bad.write_bytes(b"not a video")
    with pytest.raises(ValueError, match="corrupt"):
        UCF101(root, "test")[1]


def test_sample_indices_spread_over_the_clip_symmetrically():
    assert sample_indices(16, 4) == [2, 6, 9, 13]
    assert sample_indices(17, 8) == [1, 3, 5, 7, 9, 11, 13, 15] and sample_indices(17, 9)[4] == 8  # the middle
    assert sample_indices(3, 5) == [0, 0, 1, 2, 2]
    for length in (7, 8, 16, 17, 175):
        for n in (1, 2, 3, 8, 9, 16):
            idx = sample_indices(length, n)
            mirrored = [length - 1 - i for i in reversed(idx)]
            keep = [k for k in range(n) if not (n % 2 and length % 2 == 0 and k == n // 2)]  # no exact middle frame
            assert idx == sorted(idx) and [idx[k] for k in keep] == [mirrored[k] for k in keep], (length, n)
    r = sample_indices(100, 10, np.random.default_rng(0))
    assert all(10 * k <= i < 10 * (k + 1) for k, i in enumerate(r))
