"""Tests of harlearn.models.lga: shapes, SAM/PAM against their definitions, masks, the LGA loss."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset
from torchvision import tv_tensors

from harlearn.data.transforms import boxes_to_mask
from harlearn.models.lga import (
    LossGuidedActivationNet,
    box_from_keypoints,
    human_mask_loss,
    lga_loss_fn,
    mask_from_keypoints,
    person_masks,
    predicting_activation_map,
    sum_of_activation_maps,
)
from harlearn.train import TrainConfig, fit, logits_of


def tiny_model(num_classes: int = 3, **kwargs) -> LossGuidedActivationNet:
    torch.manual_seed(0)
    kwargs.setdefault("dilate_last_stage", True)  # stride 16: maps large enough at tiny inputs
    return LossGuidedActivationNet(num_classes, base_width=4, **kwargs)


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def test_output_shapes_and_strides():
    model = tiny_model(5).eval()
    out = model(torch.randn(2, 3, 112, 112))
    assert list(out) == ["logits", "heatmap", "features"]  # logits first
    assert out["logits"].shape == (2, 5)
    assert out["heatmap"].shape == (2, 1, 7, 7)  # stride 16: 112 / 16
    assert out["features"].shape == (2, 64, 7, 7)  # 1024 * 4 / 64 channels
    assert logits_of(out) is out["logits"]
    assert ((out["heatmap"] > 0) & (out["heatmap"] < 1)).all()  # sigmoid
    assert (out["features"] >= 0).all()  # F_cls is after a ReLU
    # Stride 16 with dilation (64 -> 4, as 224 -> 14), 32 without (64 -> 2, as 448 -> 14).
    assert model(torch.randn(1, 3, 64, 64))["heatmap"].shape[-2:] == (4, 4)
    plain = tiny_model(dilate_last_stage=False).eval()
    assert plain(torch.randn(1, 3, 64, 64))["heatmap"].shape[-2:] == (2, 2)


def test_production_widths_and_names_do_not_change_with_width():
    with torch.device("meta"):  # the full-width model, without allocating it
        full = LossGuidedActivationNet(40)
    assert full.backbone.num_features == 2048
    assert (full.cls_conv.in_channels, full.cls_conv.out_channels) == (2048, 1024)
    assert full.fc.weight.shape == (40, 1024)
    convs = [m for m in full.loc_branch if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(2048, 512), (512, 64), (64, 32), (32, 1)]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in [full.cls_conv, *convs])
    assert isinstance(full.loc_branch[-1], nn.Sigmoid)
    narrow = LossGuidedActivationNet(40, base_width=16)
    assert narrow.cls_conv.out_channels == 256
    assert [m.out_channels for m in narrow.loc_branch if isinstance(m, nn.Conv2d)] == [128, 16, 8, 1]
    assert list(narrow.state_dict()) == list(full.state_dict())


def test_heatmap_activation_options():
    assert isinstance(tiny_model(heatmap_activation="relu").loc_branch[-1], nn.ReLU)
    assert isinstance(tiny_model(heatmap_activation="none").loc_branch[-1], nn.Identity)
    with pytest.raises(ValueError, match="heatmap_activation"):
        tiny_model(heatmap_activation="softmax")
    with pytest.raises(ValueError, match="backbone"):
        LossGuidedActivationNet(3, backbone="vgg16")


# --------------------------------------------------------------------------------------------
# SAM and PAM
# --------------------------------------------------------------------------------------------


def loop_sam(features: torch.Tensor, normalize: bool) -> torch.Tensor:
    """SAM written with loops, straight from the definition."""
    b_, c_, h_, w_ = features.shape
    sam = torch.zeros(b_, h_, w_, dtype=torch.float64)
    for b in range(b_):
        for k in range(c_):
            channel = features[b, k].double()
            lo, hi = float(channel.min()), float(channel.max())
            for i in range(h_):
                for j in range(w_):
                    v = float(channel[i, j])
                    if normalize:
                        v = (v - lo) / (hi - lo) if hi > lo else 0.0
                    sam[b, i, j] += v
    return sam


def test_sum_of_activation_maps_matches_loops():
    g = torch.Generator().manual_seed(0)
    features = torch.rand(2, 3, 4, 5, generator=g) * torch.tensor([1.0, 10.0, 100.0]).view(1, 3, 1, 1)
    features[1, 2] = 7.0  # a constant channel contributes 0 when normalised (no NaN)
    for normalize in (True, False):
        sam = sum_of_activation_maps(features, normalize=normalize)
        assert sam.shape == (2, 4, 5)
        torch.testing.assert_close(sam.double(), loop_sam(features, normalize), rtol=1e-5, atol=1e-5)
    normalised = sum_of_activation_maps(features)
    assert normalised.min() >= 0 and normalised.max() <= 3  # each channel adds at most 1


def test_predicting_activation_map_matches_loops():
    g = torch.Generator().manual_seed(1)
    features, weight = torch.randn(2, 3, 4, 5, generator=g), torch.randn(6, 3, generator=g)
    classes = torch.tensor([4, 1])
    pam = predicting_activation_map(features, weight, classes)
    assert pam.shape == (2, 4, 5)
    for b in range(2):
        for i in range(4):
            for j in range(5):
                expected = sum(weight[classes[b], k] * features[b, k, i, j] for k in range(3))
                torch.testing.assert_close(pam[b, i, j], expected)
    one = predicting_activation_map(features, weight, 4)  # one int for the whole batch
    torch.testing.assert_close(one[0], pam[0])


@torch.no_grad()
def test_pam_is_the_cam_of_the_predicted_class():
    """Zhou et al.: GAP and the fc commute, so the CAM's mean plus the bias is the logit."""
    model = tiny_model(4).eval()
    maps = model.activation_maps(torch.randn(3, 3, 64, 64))
    c_star = maps["logits"].argmax(dim=1)
    assert torch.equal(maps["class_index"], c_star)
    cam = torch.einsum("kc,bchw->bkhw", model.fc.weight, maps["features"])  # all classes' CAMs
    torch.testing.assert_close(maps["pam"], cam[torch.arange(3), c_star])
    logits_from_cam = cam.mean(dim=(2, 3)) + model.fc.bias  # [B, num_classes]
    torch.testing.assert_close(logits_from_cam, maps["logits"], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(maps["sam"], sum_of_activation_maps(maps["features"]))


# --------------------------------------------------------------------------------------------
# Masks and the mask loss
# --------------------------------------------------------------------------------------------


def test_human_mask_loss_is_l2_and_zero_iff_equal():
    g = torch.Generator().manual_seed(2)
    heatmap, mask = torch.rand(2, 1, 3, 3, generator=g), (torch.rand(2, 1, 3, 3, generator=g) > 0.5).float()
    assert human_mask_loss(mask.clone(), mask) == 0
    expected = sum(float(heatmap.flatten()[n] - mask.flatten()[n]) ** 2 for n in range(18))
    torch.testing.assert_close(human_mask_loss(heatmap, mask, "sum"), torch.tensor(expected))
    torch.testing.assert_close(human_mask_loss(heatmap, mask), torch.tensor(expected / 18))
    assert human_mask_loss(heatmap, mask, "none").shape == (2, 1, 3, 3)
    nudged = mask.clone()
    nudged[1, 0, 2, 2] += 1e-3
    assert human_mask_loss(nudged, mask) > 0
    # [B, h, w] mask with a [B, 1, h, w] heatmap; a larger mask is area-averaged first.
    torch.testing.assert_close(human_mask_loss(heatmap, mask[:, 0]), human_mask_loss(heatmap, mask))
    big = mask.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)  # [2, 1, 6, 6]
    torch.testing.assert_close(human_mask_loss(heatmap, big), human_mask_loss(heatmap, mask))
    with pytest.raises(ValueError, match="batch"):
        human_mask_loss(heatmap, mask[:1])


def test_person_masks_by_hand():
    boxes = [
        tv_tensors.BoundingBoxes([[0, 0, 8, 8]], format="XYXY", canvas_size=(16, 16)),
        torch.tensor([[8.0, 0, 16, 4], [0, 12, 6, 16]]),  # two persons: the union
    ]
    masks = person_masks(boxes, 16, (4, 4))
    assert masks.shape == (2, 1, 4, 4) and masks.dtype == torch.float32
    expected = torch.zeros(2, 4, 4)
    expected[0, :2, :2] = 1
    expected[1, 0, 2:] = 1
    expected[1, 3, 0] = 1
    expected[1, 3, 1] = 0.5  # x in [4, 6) covers half of the cell [4, 8)
    torch.testing.assert_close(masks[:, 0], expected)
    with pytest.raises(ValueError, match="no person boxes"):
        person_masks([None], 16, 4)


def test_mask_from_keypoints_by_hand():
    keypoints = torch.tensor([[10.0, 10, 2], [20, 30, 1], [39, 0, 0]])  # the last is not labelled
    # Tight box [10, 10, 20, 30]: 10 x 20, centre (15, 20); +50 % -> 15 x 30 -> [7.5, 5, 22.5, 35].
    box = box_from_keypoints(keypoints, (40, 40))
    torch.testing.assert_close(box, torch.tensor([[7.5, 5, 22.5, 35]]))
    mask = mask_from_keypoints(keypoints, (40, 40))
    assert mask.shape == (40, 40)
    assert mask[5:35, 8:22].eq(1).all() and mask[:5].eq(0).all() and mask[35:].eq(0).all()
    assert mask[20, 7] == 0.5 and mask[20, 22] == 0.5 and mask[20, 23] == 0 and mask[20, 6] == 0
    torch.testing.assert_close(mask_from_keypoints(keypoints, (40, 40), out_size=4),
                               boxes_to_mask(box, (40, 40), 4))
    # Clipped to the image: [1, 1, 5, 5] grows to [0, 0, 7, 7], then x2 and y2 stop at 6.
    edge = torch.tensor([[1.0, 1, 2], [5, 5, 2]])
    torch.testing.assert_close(box_from_keypoints(edge, (6, 6), enlarge=1.0), torch.tensor([[0.0, 0, 6, 6]]))
    with pytest.raises(ValueError, match="visible"):
        mask_from_keypoints(torch.tensor([[1.0, 1, 0]]), (8, 8))


# --------------------------------------------------------------------------------------------
# The LGA loss with harlearn.train.fit
# --------------------------------------------------------------------------------------------


class FourImages(Dataset):
    """Four 64 px images of two classes, one person box each."""

    classes = ["a", "b"]

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(3)
        self.images = torch.randn(4, 3, 64, 64, generator=g)
        self.boxes = [[8.0, 4, 40, 60], [20, 0, 64, 32], [0, 16, 32, 64], [30, 30, 50, 62]]

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> dict:
        boxes = tv_tensors.BoundingBoxes([self.boxes[i]], format="XYXY", canvas_size=(64, 64))
        return {"image": self.images[i], "label": i % 2, "boxes": boxes, "image_id": f"img_{i}"}


def test_lga_loss_is_cross_entropy_plus_mask_loss():
    from harlearn.data import collate

    model = tiny_model(2).eval()
    batch = collate([FourImages()[i] for i in range(4)])
    with torch.no_grad():
        loss, logits = lga_loss_fn(mask_weight=0.5)(model, batch)
        out = model(batch["image"])
    masks = torch.stack([boxes_to_mask(b, (64, 64), (4, 4)) for b in batch["boxes"]])[:, None]
    ce = nn.functional.cross_entropy(out["logits"], batch["label"])
    expected = ce + 0.5 * ((out["heatmap"] - masks) ** 2).mean()
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(logits, out["logits"])
    # VOC Action items carry their own person as "box" [B, 4]: that one is used, not "boxes".
    voc = {**batch, "box": torch.tensor([[0.0, 0, 64, 64]] * 4)}
    with torch.no_grad():
        loss_voc, _ = lga_loss_fn(mask_weight=0.5)(model, voc)
    torch.testing.assert_close(loss_voc, ce + 0.5 * ((out["heatmap"] - 1) ** 2).mean())


def test_mask_term_trains_the_localisation_branch():
    from harlearn.data import collate

    batch = collate([FourImages()[i] for i in range(4)])
    for weight in (0.0, 1.0):
        model = tiny_model(2)
        loss, _ = lga_loss_fn(mask_weight=weight)(model, batch)
        loss.backward()
        grad = sum(float(p.grad.abs().sum()) for p in model.loc_branch.parameters() if p.grad is not None)
        assert (grad > 0) == (weight > 0)

    model = tiny_model(2)
    before = [p.detach().clone() for p in model.loc_branch.parameters()]
    config = TrainConfig(epochs=1, batch_size=2, lr=1e-2, progress=False)
    history = fit(model, FourImages(), config=config, loss_fn=lga_loss_fn(), device="cpu")
    assert len(history) == 1 and history.last["train_loss"] > 0
    changed = [not torch.equal(b, p.detach()) for b, p in zip(before, model.loc_branch.parameters())]
    assert all(changed)


def test_backbone_module_and_pretrained_width_check():
    from harlearn.models.resnet import resnet50

    torch.manual_seed(0)
    model = LossGuidedActivationNet(3, resnet50(base_width=4), base_width=4).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64))["heatmap"].shape[-2:] == (2, 2)  # stride 32
    with pytest.raises(TypeError, match="forward_features"):
        LossGuidedActivationNet(3, nn.Conv2d(3, 8, 3))
    with pytest.raises(ValueError, match="production width"):  # raised before any download
        LossGuidedActivationNet(3, pretrained=True, base_width=4)
