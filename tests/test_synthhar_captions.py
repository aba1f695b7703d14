"""SynthHAR captions: derived from what each scene holds, deterministic, compositional; the held-out set."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from harlearn.data import Stanford40, collate
from harlearn.data.cache import InMemory
from harlearn.data.captions import CaptionDataset
from harlearn.data.synthhar import CLASS_OBJECTS, CLASSES, DISTRACTOR_OBJECTS, make_synthhar
from harlearn.data.synthhar import captions as C
from harlearn.data.transforms import eval_transform

SIZE = 48


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return make_synthhar(tmp_path_factory.mktemp("cap") / "synthhar", images_per_class=3, test_images_per_class=2,
                         image_size=SIZE, layout="both", workers=1)


def _records(root: Path):
    for path in sorted((root / "Extras").glob("*.json")):
        yield path.stem, json.loads(path.read_text())


# ---- by hand ------------------------------------------------------------------------------------
RECORD = {
    "persons": [
        {"action": "riding_a_bike", "role": "actor"}, {"action": "riding_a_bike", "role": "actor"},
        {"action": None, "role": "bystander"},
    ],
    "objects": [
        {"name": "bike", "role": "prop"}, {"name": "bike", "role": "prop"},
        {"name": "dog", "role": "distractor"}, {"name": "book", "role": "distractor"}, {"name": "book", "role": "distractor"},
    ],
}


def test_captions_of_a_scene_written_out_by_hand():
    f = C.scene_facts(RECORD)
    assert f == C.SceneFacts(("riding_a_bike", "riding_a_bike"), 1, ("dog", "book"), ("bike",))
    assert f.num_people == 3
    assert C.captions(f) == (
        "a photo of two people riding bikes.",
        "two people riding bikes, with a dog and a book nearby, and one other person in the background.",
        "three people in the picture: two people riding bikes while one other person stands by.",
        "next to a dog and a book, two people riding bikes; three people in all.",
        "two people riding bikes.",
    )
    alone = C.scene_facts({"persons": [{"action": "writing_on_a_book", "role": "actor"}],
                           "objects": [{"name": "table", "role": "prop"}, {"name": "book", "role": "prop"}]})
    assert C.caption(alone, 0) == "a photo of a person writing in a book at a table."
    assert C.caption(alone, 2) == "one person in the picture: a person writing in a book at a table."


def test_a_scene_without_an_actor_has_no_caption():
    with pytest.raises(ValueError, match="no actor"):
        C.scene_facts({"persons": [{"action": None, "role": "bystander"}], "objects": []})


# ---- what the generated scenes hold ---------------------------------------------------------------
def test_every_caption_says_what_the_scene_holds(root):
    n = 0
    for image_id, record in _records(root):
        f = C.scene_facts(record)
        actors = [p for p in record["persons"] if p["role"] == "actor"]
        assert list(f.actions) == [p["action"] for p in actors]
        assert f.num_people == len(record["persons"])
        for a in f.actions:
            verb, obj = C.VERB_OBJECT[a]
            if obj is not None:  # the object a caption names is really in the scene, as the actor's prop
                assert obj in f.props, (image_id, a, f.props)
                assert obj in CLASS_OBJECTS[a]
        assert set(f.distractors) <= set(DISTRACTOR_OBJECTS)
        assert not set(f.distractors) & {o for a in f.actions for o in CLASS_OBJECTS[a]}
        caps = C.captions(f)
        assert len(caps) == C.NUM_TEMPLATES and len(set(caps)) >= 3
        many = len(f.actions) > 1
        assert all(C.action_phrase(f.actions[0], plural=many and len(set(f.actions)) == 1) in c for c in caps)
        full = caps[1]
        assert all(o in full for o in f.distractors)
        assert (f"{C._number(f.bystanders)} other" in full) == (f.bystanders > 0)
        assert caps[2].startswith(f"{C._number(f.num_people)} {'person' if f.num_people == 1 else 'people'} in the picture")
        n += 1
    assert n == 16 * 5


def test_captions_are_deterministic_and_fit_a_short_context(root):
    from harlearn.clip import get_tokenizer

    tokenizer = get_tokenizer(context_length=77)
    texts = [c for image_id, _ in _records(root) for c in C.captions(C.read_scene_facts(root, image_id))]
    again = [c for image_id, _ in _records(root) for c in C.captions(C.read_scene_facts(root, image_id))]
    assert texts == again
    lengths = (tokenizer(texts) != 0).sum(dim=1)  # start and end tokens included
    assert int(lengths.max()) <= 32, max(texts, key=len)  # the Stanford40 layout: a context of 32 suffices


def test_the_voc_layout_gives_several_actors_in_one_caption(root):
    voc = root / "VOCdevkit" / "VOC2012"
    facts = [C.read_scene_facts(voc, p.stem) for p in sorted((voc / "Extras").glob("*.json"))]
    assert all(len(f.actions) >= 2 for f in facts)
    mixed = next(f for f in facts if len(set(f.actions)) > 1)
    assert " and a person " in C.caption(mixed, 4) or " and two people " in C.caption(mixed, 4)


def test_real_data_has_no_captions_and_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="SynthHAR"):
        C.read_scene_facts(tmp_path, "applauding_001")


# ---- the held-out combinations --------------------------------------------------------------------
def test_the_held_out_combinations_are_unseen_but_composable():
    held = C.held_out_classes()
    assert held == ("riding_a_horse", "texting_message")
    seen = C.seen_classes()
    assert set(seen) | set(held) == set(CLASSES) and not set(seen) & set(held)
    seen_pairs = {C.VERB_OBJECT[c] for c in seen}
    for verb, obj in C.HELD_OUT_COMBINATIONS:
        assert (verb, obj) not in seen_pairs
        assert any(v == verb for v, _ in seen_pairs), verb  # the verb is learned with another object
        assert any(o == obj for _, o in seen_pairs), obj  # the object is learned with another verb
    phrases = [C.class_text(c) for c in CLASSES]
    assert len(set(phrases)) == len(CLASSES)  # every class has its own prompt
    assert C.class_text("texting_message") == "typing on a phone" and C.class_text("texting_message", "name") == "texting message"


def test_caption_dataset_holds_out_the_combinations_and_tokenizes(root):
    from harlearn.clip import get_tokenizer

    base = Stanford40(root, "train", transform=eval_transform(32))
    tokenizer = get_tokenizer(context_length=40)
    full = CaptionDataset(base, template=1)
    train = CaptionDataset(base, template="random", tokenizer=tokenizer, hold_out=True)
    held = {CLASSES.index(c) for c in C.held_out_classes()}
    assert len(full) == 48 and len(train) == 48 - 2 * 3
    assert not held & set(train.targets) and held <= set(full.targets)
    assert all(not set(f.actions) & set(C.held_out_classes()) for f in train.facts)

    item = full[0]
    assert item["caption"] == C.caption(C.read_scene_facts(root, item["image_id"]), 1)
    torch.manual_seed(0)
    a = [train[i]["caption"] for i in range(6)]
    torch.manual_seed(0)
    b = [train[i]["caption"] for i in range(6)]
    assert a == b  # "random" draws from torch's generator: reproducible under a seed
    assert all(c in train.captions(i) for i, c in enumerate(a))
    batch = collate([train[i] for i in range(4)])
    assert batch["text"].shape == (4, 40) and batch["text"].dtype == torch.long and batch["image"].shape == (4, 3, 32, 32)
    assert isinstance(batch["caption"], list) and len(batch["caption"]) == 4
    every = CaptionDataset(base, template="all", tokenizer=tokenizer)[0]
    assert len(every["captions"]) == C.NUM_TEMPLATES and every["text"].shape == (C.NUM_TEMPLATES, 40)
    assert full.texts(0)[:2] == [C.caption(f, 0) for f in full.facts[:2]]


def test_caption_dataset_reads_an_in_memory_cache_that_keeps_the_ids(root):
    base = Stanford40(root, "test", transform=eval_transform(32))
    cache = InMemory(base, keys=("image", "label", "image_id"))
    ds = CaptionDataset(cache, template=0)
    assert len(ds) == 32 and ds[3]["caption"] == C.caption(C.read_scene_facts(root, base.image_ids[3]), 0)
    with pytest.raises(ValueError, match="image_id"):
        CaptionDataset(InMemory(base, keys=("image", "label")))


def test_write_captions_writes_the_derived_captions_beside_the_images(root):
    path = C.write_captions(root)
    assert path == root / C.CAPTIONS_FILE and not list(root.glob(".captions.jsonl.tmp*"))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 16 * 5
    test = CaptionDataset(Stanford40(root, "test"), template=0)
    by_id = {d["image_id"]: d for d in lines}
    for i, image_id in enumerate(Stanford40(root, "test").image_ids):
        assert by_id[image_id]["captions"] == list(test.captions(i))
    assert sum(d["held_out"] for d in lines) == 2 * 5


def test_a_small_clip_trains_on_captions_with_fit(root, tmp_path):
    """fit + clip_loss_fn on caption items: the loss is finite, the temperature logged and clamped."""
    from harlearn.clip import CLIP, LOGIT_SCALE_MAX, clip_loss_fn, get_tokenizer
    from harlearn.train import TrainConfig, fit

    tokenizer = get_tokenizer(context_length=40)
    data = CaptionDataset(Stanford40(root, "train", transform=eval_transform(32)), tokenizer=tokenizer, hold_out=True)
    torch.manual_seed(0)
    model = CLIP(16, dict(layers=1, width=32, head_width=16, patch_size=8, image_size=32),
                 dict(context_length=40, width=32, heads=2, layers=1), init_logit_scale=5.0)
    history = fit(model, data, config=TrainConfig(epochs=1, batch_size=8, max_batches=2, lr=1e-3, progress=False),
                  loss_fn=clip_loss_fn, device="cpu")
    record = history[-1]
    assert math.isfinite(record["train_loss"])
    assert 99.0 < record["logit_scale"] <= 100.0 + 1e-4  # started at exp(5) = 148 > 100: clamped, then one step
    assert model.logit_scale.item() <= LOGIT_SCALE_MAX + 1e-6
