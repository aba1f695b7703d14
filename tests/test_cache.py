"""InMemory (decode once, both layouts) and flip_shift (boxes move with the pixels)."""

from __future__ import annotations

import pytest
import torch

from harlearn.data import Stanford40, VOCAction
from harlearn.data import transforms as T
from harlearn.data.cache import InMemory


def test_tensor_mode_stanford40(stanford40_root):
    data = Stanford40(stanford40_root, split="train", transform=T.eval_transform(32))
    cache = InMemory(data)
    assert len(cache) == len(data) and cache.classes == data.classes and cache.targets == data.targets
    item = cache[0]
    assert type(item["image"]) is torch.Tensor and item["image"].shape == (3, 32, 32)
    assert torch.equal(item["image"], data[0]["image"].as_subclass(torch.Tensor))
    assert cache.images.shape == (len(data), 3, 32, 32)
    assert len(cache.column("boxes")) == len(data)


def test_tensor_mode_voc_and_half(voc_root):
    data = VOCAction(voc_root, split="train", transform=T.eval_transform(32))
    cache = InMemory(data, half=True)
    assert cache.items[0]["image"].dtype == torch.float16
    item = cache[0]
    assert item["image"].dtype == torch.float32 and item["labels"].shape == (len(data.classes),)
    assert len(cache.targets) == len(data)


def test_augment_and_views_share_the_cache(stanford40_root):
    data = Stanford40(stanford40_root, split="train", transform=T.eval_transform(32))
    cache = InMemory(data, augment=T.flip_shift)
    plain = cache.plain()
    assert plain.items is cache.items
    torch.manual_seed(0)
    seen = {tuple(cache[0]["image"].flatten()[:50].tolist()) for _ in range(8)}
    assert len(seen) > 1  # a new augmentation on every access
    assert torch.equal(plain[0]["image"], plain[0]["image"])
    assert torch.equal(cache.items[0]["image"], plain[0]["image"])  # the cache itself is never changed


def test_item_mode_runs_the_transform_every_time(stanford40_root):
    data = Stanford40(stanford40_root, split="train")
    cache = InMemory(data, transform=T.train_transform(24))
    assert cache[0]["image"].shape == (3, 24, 24)
    with pytest.raises(ValueError, match="not both"):
        InMemory(data, transform=T.eval_transform(24), augment=T.flip_shift)


def test_flip_shift_moves_boxes_with_the_pixels():
    h = w = 16
    image = torch.zeros(3, h, w)
    image[:, 6:10, 5:9] = 1.0  # a bright square at x 5..9, y 6..10: a shift of 4 px keeps it inside
    item = {"image": image, "boxes": torch.tensor([[5.0, 6.0, 9.0, 10.0]]), "label": 3}
    for seed in range(20):
        out = T.flip_shift(item, max_shift=0.25, generator=torch.Generator().manual_seed(seed))
        x1, y1, x2, y2 = out["boxes"][0].round().long().tolist()
        inside = out["image"][0, y1:y2, x1:x2]
        assert inside.numel() == 16 and bool((inside == 1).all()), seed
        assert out["image"][0].sum() == 16  # the square stays whole inside a 1/4 shift
        assert out["label"] == 3
    assert torch.equal(item["image"], image)  # the input is not changed
    boxes = {tuple(T.flip_shift(item, max_shift=0.0)["boxes"][0].tolist()) for _ in range(30)}
    assert boxes == {(5.0, 6.0, 9.0, 10.0), (16 - 9.0, 6.0, 16 - 5.0, 10.0)}  # flipped or not, no shift


def test_flip_shift_on_a_batch_gives_each_image_its_own():
    torch.manual_seed(0)
    batch = torch.arange(16.0).reshape(1, 1, 4, 4).expand(8, 3, 4, 4).contiguous()
    out = T.flip_shift(batch, max_shift=0.25)
    assert out.shape == batch.shape
    assert len({tuple(x.flatten().tolist()) for x in out}) > 1
    with pytest.raises(ValueError):
        T.flip_shift(torch.zeros(3, 4, 4))


def test_tensor_items_are_what_fit_and_predict_read():
    from harlearn.data import TensorItems
    from harlearn.inference import predict
    from harlearn.train import TrainConfig, fit

    x, y = torch.randn(10, 4), torch.arange(10) % 3
    items = TensorItems(x, y, transform=lambda v: 2 * v)
    assert len(items) == 10 and items.targets == y.tolist()
    item = items[3]
    assert torch.equal(item["image"], 2 * x[3]) and item["label"] == 0 and isinstance(item["label"], int)
    model = torch.nn.Linear(4, 3)
    fit(model, items, None, TrainConfig(epochs=1, batch_size=4, lr=1e-2), device="cpu")
    logits = predict(model, TensorItems(x, y), device="cpu")["logits"]
    assert logits.shape == (10, 3)
    multi = TensorItems(x, torch.eye(3)[y])
    assert torch.equal(multi[4]["labels"], torch.eye(3)[1]) and "label" not in multi[4]
    with pytest.raises(ValueError, match="10 inputs and 9 labels"):
        TensorItems(x, y[:9])
