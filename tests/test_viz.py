"""Tests of harlearn.viz: every plot draws what it is given (matplotlib Agg backend)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib import patches  # noqa: E402
from PIL import Image  # noqa: E402

from harlearn import viz  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_to_image_array_layouts_and_denormalisation():
    mean, std = np.array(viz.IMAGENET_MEAN), np.array(viz.IMAGENET_STD)
    raw = np.random.default_rng(0).random((5, 6, 3)).astype(np.float32)
    normalised = torch.from_numpy(((raw - mean) / std).transpose(2, 0, 1))  # [3, H, W]
    np.testing.assert_allclose(viz.to_image_array(normalised), raw, atol=1e-5)
    np.testing.assert_allclose(viz.to_image_array(raw), raw)  # already in [0, 1]: unchanged
    u8 = (raw * 255).astype(np.uint8)
    assert viz.to_image_array(Image.fromarray(u8)).shape == (5, 6, 3)
    np.testing.assert_allclose(viz.to_image_array(torch.from_numpy(u8).permute(2, 0, 1)),
                               u8 / 255.0, atol=1e-6)
    assert viz.to_image_array(np.zeros((5, 6))).shape == (5, 6, 3)  # grayscale


def test_plot_history():
    history = {"epoch": [1, 2, 3], "train_loss": [2.0, 1.0, 0.5], "val_loss": [2.1, 1.2, 0.9],
               "train_acc": [0.3, 0.6, 0.8], "val_acc": [0.2, 0.5, 0.7],
               "val_map": [float("nan")] * 3, "lr": [0.1, 0.05, 0.0]}
    fig = viz.plot_history(history)
    assert len(fig.axes) == 2 and all(len(a.get_lines()) == 2 for a in fig.axes)
    np.testing.assert_allclose(fig.axes[0].get_lines()[1].get_ydata(), [2.1, 1.2, 0.9])
    records = [dict(zip(history, v)) for v in zip(*history.values())]  # list of records
    _, ax = plt.subplots()
    assert viz.plot_history(records, metrics=("lr",), ax=ax) is ax.figure
    with pytest.raises(KeyError):
        viz.plot_history(history, metrics=("map",))  # only NaN: nothing to draw


def test_plot_confusion_matrix():
    cm = np.array([[3, 1, 0], [0, 2, 2], [0, 0, 0]])
    ax = viz.plot_confusion_matrix(cm, ["a", "b", "c"])
    data = ax.collections[0].get_array().reshape(3, 3)
    np.testing.assert_allclose(data, [[0.75, 0.25, 0], [0, 0.5, 0.5], [0, 0, 0]])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert ax.get_ylabel() == "true" and len(ax.texts) == 9
    ax = viz.plot_confusion_matrix(cm, normalize=False, annot=False)
    assert ax.collections[0].get_array().max() == 3 and not ax.texts


def test_show_images_tensors_and_items():
    batch = torch.randn(5, 3, 16, 16)
    boxes = [torch.tensor([[1.0, 2.0, 10.0, 12.0]])] * 5
    fig = viz.show_images(batch, titles=list("abcde"), boxes=boxes, ncols=3)
    assert len(fig.axes) == 6
    assert sum(isinstance(p, patches.Rectangle) for p in fig.axes[0].patches) == 1
    assert fig.axes[4].get_title() == "e" and not fig.axes[5].images
    items = [{"image": torch.randint(0, 255, (3, 16, 16), dtype=torch.uint8), "label": i,
              "boxes": torch.tensor([[0.0, 0.0, 5.0, 5.0], [4.0, 4.0, 9.0, 9.0]]),
              "image_id": f"x_{i}"} for i in range(2)]
    fig = viz.show_images(items, class_names=["run", "jump"])
    assert [a.get_title() for a in fig.axes] == ["run", "jump"]
    assert len(fig.axes[1].patches) == 2


def test_draw_item_every_annotation():
    h, w = 20, 24
    masks = torch.zeros(2, h, w, dtype=torch.bool)
    masks[0, 2:10, 2:8] = True
    masks[1, 5:15, 10:20] = True
    kps = torch.rand(2, 17, 3) * torch.tensor([w, h, 0.0]) + torch.tensor([0.0, 0.0, 2.0])
    kps[0, 0, 2] = 0  # the nose is not visible: its two limbs (0-1, 0-2) are not drawn
    item = {"image": torch.randint(0, 255, (3, h, w), dtype=torch.uint8), "label": 1,
            "image_id": "jumping_001", "boxes": torch.tensor([[2.0, 2, 8, 10], [10, 5, 20, 15]]),
            "masks": masks, "keypoints": kps, "object_boxes": torch.tensor([[1.0, 1, 4, 4]]),
            "object_names": ["ball"], "bystander_boxes": torch.zeros(0, 4)}
    ax = viz.draw_item(item, class_names=["a", "jumping"])
    assert ax.get_title() == "jumping_001: jumping"
    assert len(ax.images) == 3  # the image and two masks
    assert len(ax.patches) == 3  # two persons, one object
    assert len(ax.get_lines()) == 2 * len(viz.COCO_SKELETON) - 2
    assert [t.get_text() for t in ax.texts] == ["ball"]
    bare = viz.draw_item(item, show_masks=False, show_keypoints=False, show_objects=False)
    assert len(bare.images) == 1 and len(bare.patches) == 2 and not bare.get_lines()
    voc = {"image": torch.rand(3, h, w), "labels": torch.tensor([1.0, 0, 1]), "mask": masks[0],
           "box": torch.tensor([2.0, 2, 8, 10]), "keypoints": kps[0], "image_id": "2010_000001"}
    ax = viz.draw_item(voc, class_names=["jumping", "phoning", "reading"])
    assert ax.get_title() == "2010_000001: jumping, reading" and len(ax.images) == 2


def test_overlay_heatmap():
    image = torch.rand(3, 32, 32)
    heat = torch.zeros(1, 4, 4)
    heat[0, 0, 0] = 5.0
    ax = viz.overlay_heatmap(image, heat, alpha=0.4)
    shown = ax.images[1].get_array()
    assert shown.shape == (32, 32) and shown.max() == pytest.approx(1.0) and shown.min() == 0.0
    assert shown[0, 0] > shown[-1, -1] and ax.images[1].get_alpha() == 0.4
    with pytest.raises(ValueError):
        viz.overlay_heatmap(image, torch.zeros(2, 3, 4))
