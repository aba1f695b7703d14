"""Tests of harlearn.widgets: the prediction explorer on a tiny model and a fake dataset."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from harlearn.widgets import PredictionExplorer  # noqa: E402

CLASSES = ["applauding", "jumping", "phoning", "reading", "running", "walking_the_dog", "waving_hands"]


class FakeDataset(torch.utils.data.Dataset):
    """Twelve normalised 16x16 images, each with a person box, a label and an id."""

    def __init__(self, n: int = 12) -> None:
        g = torch.Generator().manual_seed(0)
        self.images = torch.randn(n, 3, 16, 16, generator=g)
        self.targets = [i % len(CLASSES) for i in range(n)]

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.images[i], "label": self.targets[i],
                "boxes": torch.tensor([[2.0, 1.0, 12.0, 15.0]]), "image_id": f"fake_{i:03d}"}


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, len(CLASSES)))


@pytest.fixture
def explorer():
    yield PredictionExplorer(tiny_model(), FakeDataset(), CLASSES, seed=0)
    plt.close("all")


def test_builds_with_controls_and_a_view(explorer):
    assert 0 <= explorer.index < 12
    assert explorer.index_box.value == explorer.index
    assert explorer.widget.children[-1] is explorer.output
    assert explorer._drawn == explorer.index
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_refresh_changes_the_sample(explorer):
    seen = [explorer.index]
    for _ in range(5):
        new = explorer.refresh()
        assert new != seen[-1]
        assert explorer.index == new == explorer.index_box.value
        assert explorer._drawn == new
        seen.append(new)
    assert len(set(seen)) > 2


def test_refresh_respects_the_class_filter(explorer):
    explorer.class_filter.value = 3  # "reading": items 3 and 10
    for _ in range(4):
        assert explorer.dataset.targets[explorer.refresh()] == 3


def test_index_box_shows_that_image(explorer):
    target = (explorer.index + 1) % 12
    explorer.index_box.value = target
    assert explorer.index == target == explorer._drawn


def test_top_k_matches_softmax(explorer):
    model, data = explorer.model, explorer.dataset
    for index in (0, 5):
        top = explorer.top_k(index)
        assert len(top) == 5
        values = [p for _, p in top]
        assert values == sorted(values, reverse=True)
        assert 0.0 < sum(values) <= 1.0 + 1e-6
        with torch.no_grad():
            probs = model(data[index]["image"][None]).softmax(-1)[0]
        expected_order = probs.argsort(descending=True)[:5].tolist()
        assert [name for name, _ in top] == [CLASSES[c] for c in expected_order]
        np.testing.assert_allclose(values, probs[expected_order].numpy(), rtol=1e-5)
    assert abs(explorer.probabilities(0).sum() - 1.0) < 1e-5
    assert len(explorer.top_k(0, k=100)) == len(CLASSES)


def test_model_mode_is_restored(explorer):
    explorer.model.train()
    explorer.probabilities(7)
    assert explorer.model.training


def test_figure_has_image_and_bars(explorer):
    fig = explorer.figure(2)
    image_ax, bar_ax = fig.axes[:2]
    assert image_ax.images, "the image is drawn"
    assert len(bar_ax.patches) == 5
    assert "true: phoning" in image_ax.get_title()
    plt.close(fig)
    explorer.render_static()  # outside a notebook: displays the figure's repr, must not fail


def test_bad_index_is_a_clear_error(explorer):
    with pytest.raises(IndexError, match="outside the dataset"):
        explorer.show(12)
