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
    assert len(book.seeds) >= 3  # claims in the book need spread


def test_describe_names_profile_and_device():
    text = profiles.get("ci").describe(torch.device("cpu"))
    assert text.startswith("harlearn profile 'ci' on cpu")


def test_replace_returns_a_changed_copy():
    ci = profiles.get("ci")
    assert ci.replace(epochs=3).epochs == 3 and ci.epochs == 1
