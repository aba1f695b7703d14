"""The Faster R-CNN detector: targets from our batches, a short training run, detections, weights."""

import os
import urllib.error

import pytest
import torch
from torchvision import tv_tensors
from torchvision.models.detection import FasterRCNN_MobileNet_V3_Large_FPN_Weights

from harlearn.data import collate
from harlearn.models.detection import (
    detect_persons,
    detection_images,
    detection_targets,
    fasterrcnn,
    train_detector,
)


def _items(n: int = 4, size: int = 64) -> list[dict]:
    """Dark noise images, each with one bright 20 x 36 'person' whose box is annotated."""
    g = torch.Generator().manual_seed(0)
    items = []
    for i in range(n):
        image = (torch.rand(3, size, size, generator=g) * 60).to(torch.uint8)
        x1, y1 = 8 + 4 * i, 6 + 2 * i
        image[:, y1 : y1 + 36, x1 : x1 + 20] = 220
        box = [[x1, y1, x1 + 20, y1 + 36]]
        boxes = tv_tensors.BoundingBoxes(box, format="XYXY", canvas_size=(size, size))
        items.append({"image": tv_tensors.Image(image), "label": 0, "boxes": boxes, "image_id": f"im{i}"})
    return items


def test_the_small_detector_trains_and_its_loss_decreases():
    torch.manual_seed(0)
    model = fasterrcnn(2, min_size=64, width=8)
    history = train_detector(model, _items(), epochs=12, batch_size=4, lr=3e-3, device="cpu", progress=False)
    losses = history["train_loss"]
    assert len(losses) == 12 and all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.6 * losses[0]
    assert set(history.keys()) >= {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}


def test_detect_persons_returns_sorted_boxes_per_image_and_restores_the_mode():
    torch.manual_seed(0)
    model = fasterrcnn(2, min_size=64, width=8, box_score_thresh=0.0)
    model.train()
    images = torch.stack([it["image"] for it in _items(3)])
    boxes, scores = detect_persons(model, images, score_threshold=0.0, return_scores=True)
    assert model.training
    assert len(boxes) == 3 and len(scores) == 3
    for b, s in zip(boxes, scores):
        assert b.dtype == torch.float32 and b.ndim == 2 and b.shape[1] == 4 and len(b) == len(s)
        assert (s[:-1] >= s[1:]).all()  # best first
        assert ((b[:, 2] >= b[:, 0]) & (b[:, 3] >= b[:, 1])).all() and (b >= 0).all() and (b <= 64).all()
    kept = detect_persons(model, images[0], score_threshold=float(scores[0][0]) + 1e-6)
    assert len(kept) == 1 and kept[0].shape == (0, 4)


def test_detection_targets_and_images_from_collated_batches():
    batch = collate(_items(2))
    targets = detection_targets(batch)
    assert [t["labels"].tolist() for t in targets] == [[1], [1]]
    assert targets[0]["boxes"].dtype == torch.float32 and type(targets[0]["boxes"]) is torch.Tensor
    images = detection_images(batch)
    assert images[0].dtype == torch.float32 and 0 <= images[0].min() and images[0].max() <= 1
    with pytest.raises(ValueError, match="normalised already"):
        detection_images(torch.randn(1, 3, 8, 8) * 3)

    objects = {"object_boxes": [torch.tensor([[1.0, 1, 5, 5], [2, 2, 2, 9]]), None],
               "object_names": [["bike", "phone"], None]}
    t = detection_targets(objects, key="object_boxes", labels=["phone", "bike"])
    assert t[0]["labels"].tolist() == [2]  # the degenerate (zero-width) phone box is dropped
    assert t[1]["boxes"].shape == (0, 4) and t[1]["labels"].shape == (0,)
    with pytest.raises(ValueError, match="not in the detector's classes"):
        detection_targets(objects, key="object_boxes", labels=["horse"])
    voc = {"box": torch.tensor([[1.0, 2, 3, 4], [0, 0, 5, 5]])}
    t = detection_targets(voc, key="box", labels=3)
    assert [x["boxes"].tolist() for x in t] == [[[1, 2, 3, 4]], [[0, 0, 5, 5]]]
    assert [x["labels"].tolist() for x in t] == [[3], [3]]


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An empty torch hub cache and no network: a download raises URLError."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network (test)")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path / "hub" / "checkpoints"


def test_pretrained_offline_error_names_the_file_and_the_fix(offline_hub):
    weights = FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1
    with pytest.raises(RuntimeError) as info:
        fasterrcnn(2, pretrained=True)
    message = str(info.value)
    assert str(offline_hub / os.path.basename(weights.url)) in message
    assert "pretrained=False" in message
    assert isinstance(info.value.__cause__, urllib.error.URLError)
    with pytest.raises(ValueError, match="no pretrained weights for the small"):
        fasterrcnn(2, pretrained=True, backbone="small")
    with pytest.raises(ValueError, match="Unknown detector backbone"):
        fasterrcnn(2, backbone="yolo")
