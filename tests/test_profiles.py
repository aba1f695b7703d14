"""The run profiles: one environment variable sets every size."""

import pytest
import torch

from harlearn import profiles


def test_current_reads_environment(monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, "ci")
    assert profiles.current().name == "ci"
    monkeypatch.setenv(profiles.ENV_VAR, " Full ")
    assert profiles.current().name == "full"


def test_default_is_book(monkeypatch):
    monkeypatch.delenv(profiles.ENV_VAR, raising=False)
    assert profiles.current().name == "book"


def test_unknown_profile_is_one_clear_sentence(monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, "fast")
    with pytest.raises(ValueError, match=r"Unknown harlearn profile 'fast'.*HARLEARN_PROFILE.*'book'"):
        profiles.current()


def test_profiles_grow_from_ci_to_full():
    ci, book, full = (profiles.get(n) for n in ("ci", "book", "full"))
    for field in ("image_size", "synth_images_per_class", "epochs", "width"):
        assert getattr(ci, field) < getattr(book, field) <= getattr(full, field), field
    assert ci.max_batches is not None and book.max_batches is None
    assert full.pretrained and not book.pretrained and full.dataset == "real"
    assert (full.weights, book.weights, profiles.get("ci").weights) == ("imagenet", "zoo", "zoo")
    assert len(book.seeds) >= 3  # claims in the book need spread


def test_describe_names_profile_and_device():
    text = profiles.get("ci").describe(torch.device("cpu"))
    assert text.startswith("harlearn profile 'ci' on cpu")


def test_replace_returns_a_changed_copy():
    ci = profiles.get("ci")
    assert ci.replace(epochs=3).epochs == 3 and ci.epochs == 1


# --- smoke mode: HARLEARN_SMOKE=1 with HARLEARN_PROFILE=full (issue 14) ----------------------


def test_smoke_is_full_with_only_the_work_cut(monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, "full")
    monkeypatch.setenv(profiles.SMOKE_ENV_VAR, "1")
    full, smoke = profiles.get("full"), profiles.current()
    assert smoke.smoke and not full.smoke
    assert smoke.name == "full"  # chapters branch on P.name: smoke takes full's branches
    for field in ("dataset", "image_size", "width", "pretrained", "lr", "synth_image_size"):
        assert getattr(smoke, field) == getattr(full, field), field
    assert (smoke.epochs, smoke.max_batches, smoke.batch_size) == (1, 2, 4)
    assert smoke.seeds == full.seeds[:1] and full.max_batches is None
    assert smoke.synth_images_per_class == 2 < full.synth_images_per_class  # chapter 6 generates SynthHAR


def test_smoke_workers_run_in_process_without_cuda_only():
    assert profiles.as_smoke(cuda=False).num_workers == 0
    assert profiles.as_smoke(cuda=True).num_workers == profiles.get("full").num_workers > 0


def test_smoke_is_off_unless_asked(monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, "full")
    for off in ("", "0", "false", "No", "off"):
        monkeypatch.setenv(profiles.SMOKE_ENV_VAR, off)
        assert not profiles.current().smoke, off
    monkeypatch.delenv(profiles.SMOKE_ENV_VAR)
    assert profiles.current() == profiles.get("full")
    monkeypatch.setenv(profiles.SMOKE_ENV_VAR, "maybe")
    with pytest.raises(ValueError, match=r"HARLEARN_SMOKE='maybe': use 1"):
        profiles.current()


@pytest.mark.parametrize("name", ["ci", "book", None])
def test_smoke_with_another_profile_is_an_error(monkeypatch, name):
    if name is None:
        monkeypatch.delenv(profiles.ENV_VAR, raising=False)  # the default, book
    else:
        monkeypatch.setenv(profiles.ENV_VAR, name)
    monkeypatch.setenv(profiles.SMOKE_ENV_VAR, "1")
    with pytest.raises(ValueError, match=r"does not apply to profile '(ci|book)'.*HARLEARN_PROFILE=full"):
        profiles.current()


def test_describe_says_smoke():
    text = profiles.as_smoke(cuda=False).describe(torch.device("cpu"))
    assert text.startswith("harlearn profile 'full' (smoke: ") and "stand-ins" in text
    assert "smoke" not in profiles.get("full").describe(torch.device("cpu"))
    assert profiles.as_smoke(profiles.as_smoke()) == profiles.as_smoke()  # idempotent


def test_smoke_caps_every_recipe(monkeypatch):
    from harlearn import experiments

    smoke = profiles.as_smoke(cuda=False)
    config = experiments.recipe(smoke, "mae", epochs=200, batch_size=64, max_batches=None)
    assert (config.epochs, config.batch_size, config.max_batches) == (1, 4, 2)
    full = experiments.recipe(profiles.get("full"), "mae", epochs=200)
    assert (full.epochs, full.batch_size, full.max_batches) == (200, 32, None)


def test_cap_cuts_loops_in_smoke_mode_only():
    smoke = profiles.as_smoke(cuda=False)
    assert smoke.cap(5532) == smoke.max_batches * smoke.batch_size == 8 and smoke.cap(3) == 3
    for name in ("ci", "book", "full"):
        assert profiles.get(name).cap(5532) == 5532
