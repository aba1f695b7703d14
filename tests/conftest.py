"""Shared fixtures: one torch thread, tiny datasets written in the real layouts (see ``_fixtures.py``)."""

from __future__ import annotations

import pytest
import torch
from _fixtures import write_stanford40, write_voc

STANFORD_CLASSES = ["applauding", "jumping", "reading"]


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    """Unit tests run many tiny ops: one intra-op thread is faster than two fighting over them."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def no_smoke_mode(monkeypatch):
    """Unit tests see the loaders as a user does: smoke mode off unless a test turns it on.

    (``HARLEARN_SMOKE=1`` belongs to the notebook run in ``full`` smoke mode; set in the
    environment of a unit test run, it would replace every pretrained checkpoint by a stand-in.)
    """
    monkeypatch.delenv("HARLEARN_SMOKE", raising=False)


@pytest.fixture
def stanford40_root(tmp_path):
    """Six images of three classes; one has two persons, one is grayscale, one box touches the edge."""
    images = [
        {"id": "applauding_001", "split": "train", "size": (40, 30), "persons": [(1, 1, 20, 25)]},
        {"id": "applauding_002", "split": "test", "size": (40, 30), "persons": [(5, 5, 15, 15)]},
        {"id": "jumping_001", "split": "train", "size": (32, 24),
         "persons": [(2, 3, 12, 20), (15, 4, 30, 22)]},
        {"id": "jumping_002", "split": "test", "size": (32, 24), "persons": [(1, 1, 32, 24)]},
        {"id": "reading_001", "split": "train", "size": (36, 28), "persons": [(3, 3, 37, 28)],
         "gray": True},  # xmax = W + 1: within the 1 px slack, clamped
        {"id": "reading_002", "split": "test", "size": (36, 28), "persons": [(10, 2, 30, 27)]},
    ]
    return write_stanford40(tmp_path / "stanford40", images, STANFORD_CLASSES)


@pytest.fixture
def voc_root(tmp_path):
    """Three images: two persons + a dog, an ``other``-only person, a multi-action person."""
    images = [
        {"id": "2010_000001", "split": "train", "size": (48, 36), "objects": [
            {"name": "person", "box": (2, 2, 20, 30), "actions": {"jumping"}},
            {"name": "dog", "box": (22, 20, 40, 34)},
            {"name": "person", "box": (25, 3, 45, 33), "actions": {"phoning", "walking"}},
        ]},
        {"id": "2010_000002", "split": "train", "size": (40, 30), "objects": [
            {"name": "person", "box": (5, 5, 30, 28), "actions": {"other"}},
        ]},
        {"id": "2011_000003", "split": "val", "size": (40, 30), "objects": [
            {"name": "bicycle", "box": (1, 10, 20, 30)},
            {"name": "person", "box": (3, 1, 22, 25), "actions": {"ridingbike"}},
        ]},
    ]
    return write_voc(tmp_path / "voc", images)
