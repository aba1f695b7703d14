"""ConViT: the ViT-as-a-layer, where its maps come from, the person branch and the late fusion."""

import math

import pytest
import torch
import torch.nn.functional as F

from harlearn.models.convit import (
    ConViT,
    ConViTWithPersonBranch,
    HumanBranch,
    ViTConvLayer,
    feature_map_size,
    fit_fusion_weights,
    fuse_probabilities,
    person_boxes,
    person_branch_forward,
    person_branch_loss,
    predict_branches,
)
from harlearn.models.resnet import ResNet
from harlearn.train import default_loss


# ------------------------------------------------------------------------------------------
# ViTConvLayer
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pos_embed", ["learned", "sincos", "none"])
def test_vit_conv_layer_maps_a_feature_map_to_one_of_the_same_shape(pos_embed):
    torch.manual_seed(0)
    layer = ViTConvLayer(16, 3, 5, depth=2, num_heads=4, pos_embed=pos_embed)
    x = torch.randn(2, 16, 3, 5)
    y, attention = layer(x, return_attention=True)
    assert y.shape == x.shape
    assert len(attention) == 2 and all(a.shape == (2, 4, 15, 15) for a in attention)
    torch.testing.assert_close(attention[0].sum(-1), torch.ones(2, 4, 15))  # rows are distributions
    torch.testing.assert_close(layer(x), y)  # the fused path agrees with the attention path
    # the position table is learned only when asked, and a sincos table is not saved
    assert ("pos_embed" in dict(layer.named_parameters())) == (pos_embed == "learned")
    assert ("pos_embed" in layer.state_dict()) == (pos_embed == "learned")


def test_every_output_position_sees_every_input_position_unlike_a_3x3_conv():
    torch.manual_seed(0)
    layer = ViTConvLayer(8, 6, 6, num_heads=2).eval()
    conv = torch.nn.Conv2d(8, 8, 3, padding=1)
    x = torch.randn(1, 8, 6, 6)
    bumped = x.clone()
    bumped[:, :, 0, 0] += torch.randn(8)  # perturb one region, the top-left corner (not by a
    # constant over channels: the blocks' LayerNorms would remove that)
    changed = (layer(bumped) - layer(x)).abs().amax(dim=1)[0]  # [H, W]
    assert (changed > 1e-6).all()  # all 36 positions changed: a global receptive field
    conv_changed = (conv(bumped) - conv(x)).abs().amax(dim=1)[0]
    assert (conv_changed > 1e-6).sum() == 4  # a 3x3 conv only reaches the 2x2 neighbourhood


def test_without_position_embeddings_the_layer_is_permutation_equivariant():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 4, 3)
    perm = torch.randperm(12)

    def permuted(t):  # reorder the 12 positions of a [B, C, 4, 3] map
        return t.flatten(2)[:, :, perm].reshape(t.shape)

    plain = ViTConvLayer(8, 4, 3, num_heads=2, pos_embed="none").eval()
    torch.testing.assert_close(plain(permuted(x)), permuted(plain(x)), atol=1e-5, rtol=1e-5)
    located = ViTConvLayer(8, 4, 3, num_heads=2, pos_embed="learned").eval()
    assert not torch.allclose(located(permuted(x)), permuted(located(x)), atol=1e-4)


def test_vit_conv_layer_rejects_a_map_of_another_size():
    layer = ViTConvLayer(8, 4, 4, num_heads=2)
    with pytest.raises(ValueError, match="built for maps of 8 x 4 x 4"):
        layer(torch.randn(1, 8, 5, 4))
    with pytest.raises(ValueError, match="pos_embed"):
        ViTConvLayer(8, 4, 4, num_heads=2, pos_embed="rope")


# ------------------------------------------------------------------------------------------
# ConViT
# ------------------------------------------------------------------------------------------


def test_feature_map_sizes_match_the_resnet():
    resnet = ResNet(base_width=4).eval()
    for size in (64, 97, (50, 90)):
        hw = (size, size) if isinstance(size, int) else size
        b = resnet
        with torch.no_grad():
            c3 = b.layer3(b.layer2(b.layer1(b.maxpool(b.relu(b.bn1(b.conv1(torch.zeros(1, 3, *hw))))))))
            c4 = b.layer4(c3)
        assert feature_map_size(size, 16) == tuple(c3.shape[-2:])
        assert feature_map_size(size, 32) == tuple(c4.shape[-2:])
    assert feature_map_size(224, 16) == (14, 14) and feature_map_size(224, 32) == (7, 7)


def test_convit_at_224_has_vits_on_the_14x14_layer3_map_and_the_7x7_layer4_map():
    model = ConViT(5, base_width=4, image_size=224, mlp_ratio=1.0)
    assert model.map_sizes == ((14, 14), (7, 7))
    assert (model.vit1.channels, model.vit1.height, model.vit1.width) == (64, 14, 14)  # 1024 at width 64
    assert (model.vit2.channels, model.vit2.height, model.vit2.width) == (128, 7, 7)  # 2048 at width 64
    assert model.vit1.pos_embed.shape == (1, 196, 64) and model.vit2.pos_embed.shape == (1, 49, 128)
    assert isinstance(model.vit1.norm, torch.nn.Identity)  # layer4 reads ViT-1's output
    assert isinstance(model.vit2.norm, torch.nn.LayerNorm)


def test_convit_keeps_the_resnet_intact_and_loads_its_weights_by_name():
    torch.manual_seed(0)
    resnet = ResNet(base_width=4).eval()
    model = ConViT(3, base_width=4, image_size=64, mlp_ratio=1.0).eval()
    state = {k: v for k, v in resnet.state_dict().items() if not k.startswith("fc.")}
    missing, unexpected = model.backbone.load_state_dict(state, strict=False)
    assert missing == [] and unexpected == []  # every ResNet-50 weight, same name, same shape
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        maps = model.forward_maps(x)
        b = resnet
        c3 = b.layer3(b.layer2(b.layer1(b.maxpool(b.relu(b.bn1(b.conv1(x)))))))
        torch.testing.assert_close(maps["layer3"], c3)  # the trunk up to layer3 is the ResNet's
        torch.testing.assert_close(maps["layer4"], b.layer4(model.vit1(c3)))  # then ViT-1, layer4


def test_convit_forward_returns_logits_the_final_map_and_attention():
    torch.manual_seed(0)
    model = ConViT(5, base_width=4, image_size=64, mlp_ratio=1.0)
    x = torch.randn(2, 3, 64, 64)
    out = model(x, return_attention=True)
    assert out["logits"].shape == (2, 5)
    assert out["features"].shape == (2, 128, 2, 2)
    assert [a.shape for a in out["attention"]["vit1"]] == [(2, 4, 16, 16)] * 2
    assert [a.shape for a in out["attention"]["vit2"]] == [(2, 4, 4, 4)] * 2
    assert set(model(x)) == {"logits", "features"}
    loss, logits = default_loss(model, {"image": x, "label": torch.tensor([0, 4])})  # train.fit's loss
    loss.backward()
    assert math.isfinite(loss.item()) and model.vit1.pos_embed.grad is not None
    with pytest.raises(ValueError, match="'resnet50'"):
        ConViT(5, backbone="vgg16")


# ------------------------------------------------------------------------------------------
# Person branch
# ------------------------------------------------------------------------------------------


def test_human_branch_pools_10x6_then_5x3_and_reads_only_inside_the_box():
    torch.manual_seed(0)
    branch = HumanBranch(8, 3, roi_size=(10, 6), num_heads=2, spatial_scale=1 / 32, mlp_ratio=1.0).eval()
    features = torch.randn(2, 8, 4, 4)  # a 128 px image at stride 32
    person = [0.0, 0.0, 40.0, 60.0]
    boxes = [torch.tensor([person]), torch.tensor([person, [64, 64, 127, 127]])]
    logits, person_map = branch(features, boxes, return_features=True)
    assert logits.shape == (3, 3) and person_map.shape == (3, 8, 5, 3)
    # features far outside the first box (bottom-right cells, pixels >= 64) do not change its logits
    changed = features.clone()
    changed[:, :, 2:, 2:] += torch.randn(2, 8, 2, 2)
    again = branch(changed, boxes)
    torch.testing.assert_close(again[:2], logits[:2])
    assert not torch.allclose(again[2], logits[2])  # the box that covers them does change
    one_per_image = branch(features, torch.tensor([person, person]))  # a [B, 4] tensor
    torch.testing.assert_close(one_per_image[0], logits[0])


def _person_model(**kwargs):
    return ConViTWithPersonBranch(4, base_width=4, image_size=64, mlp_ratio=1.0, **kwargs)


def test_person_model_fuses_the_two_branches_probabilities():
    torch.manual_seed(0)
    model = _person_model().eval()
    model.set_fusion_weights(0.83, 0.17)  # the paper's Stanford40 weights
    x = torch.randn(2, 3, 64, 64)
    out = model(x, torch.tensor([[2.0, 2, 30, 60], [10, 0, 50, 63]]))
    expected = 0.83 * out["logits_convit"].softmax(1) + 0.17 * out["logits_human"].softmax(1)
    torch.testing.assert_close(out["probabilities"], expected)
    torch.testing.assert_close(out["logits"].softmax(1), expected, atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="sum to 1"):
        model.set_fusion_weights(0.5, 0.6)
    with pytest.raises(ValueError, match="one person box per image"):
        model(x, [torch.zeros(2, 4) + torch.tensor([0, 0, 9, 9.0]), torch.tensor([[0, 0, 9, 9.0]])])

    voc = _person_model(multilabel=True, person_feature="layer3").eval()
    out = voc(x, torch.tensor([[2.0, 2, 30, 60], [10, 0, 50, 63]]))
    expected = 0.5 * out["logits_convit"].sigmoid() + 0.5 * out["logits_human"].sigmoid()
    torch.testing.assert_close(out["logits"].sigmoid(), expected, atol=1e-6, rtol=1e-5)
    assert voc.human.spatial_scale == 1 / 16 and voc.human.vit1.channels == 64


def test_person_boxes_voc_item_box_stanford_first_person_or_the_whole_image():
    images = torch.zeros(3, 3, 32, 48)
    two_persons = torch.tensor([[1.0, 2, 3, 4], [5, 6, 7, 8]])
    stanford = {"image": images, "boxes": [two_persons, torch.zeros(0, 4), None]}
    got = person_boxes(stanford)
    assert [b.tolist() for b in got] == [[[1, 2, 3, 4]], [[0, 0, 48, 32]], [[0, 0, 48, 32]]]
    voc = {"image": images[:2], "box": torch.tensor([[1.0, 1, 9, 9], [2, 2, 8, 8]]),
           "boxes": [torch.zeros(3, 4), torch.zeros(2, 4)]}
    assert [b.tolist() for b in person_boxes(voc)] == [[[1, 1, 9, 9]], [[2, 2, 8, 8]]]


def test_person_branch_loss_trains_both_branches():
    torch.manual_seed(0)
    model = _person_model()
    batch = {"image": torch.randn(2, 3, 64, 64), "label": torch.tensor([1, 3]),
             "boxes": [torch.tensor([[2.0, 2, 30, 60]]), torch.tensor([[10.0, 0, 50, 63]])]}
    loss, logits = person_branch_loss(model, batch)
    out = person_branch_forward(model, batch)
    expected = sum(F.cross_entropy(out[k], batch["label"]) for k in ("logits_convit", "logits_human"))
    torch.testing.assert_close(loss, expected)
    assert logits.shape == (2, 4)
    loss.backward()
    assert model.convit.fc.weight.grad.abs().sum() > 0 and model.human.fc.weight.grad.abs().sum() > 0
    multi = {**batch, "labels": torch.tensor([[1.0, 0, 0, 1], [0, 1, 0, 0]])}
    loss, _ = person_branch_loss(model, multi)
    assert math.isfinite(loss.item())

    items = [{"image": batch["image"][i], "label": int(batch["label"][i]), "boxes": batch["boxes"][i]}
             for i in range(2)]
    convit_logits, human_logits, targets = predict_branches(model, items, device="cpu")
    model.eval()
    with torch.no_grad():
        out = person_branch_forward(model, batch)
    torch.testing.assert_close(torch.from_numpy(convit_logits), out["logits_convit"])
    torch.testing.assert_close(torch.from_numpy(human_logits), out["logits_human"])
    assert targets.tolist() == [1, 3]


# ------------------------------------------------------------------------------------------
# Fusion weights
# ------------------------------------------------------------------------------------------


def _grid_loss(a, b, labels, w):
    p = fuse_probabilities(a.double(), b.double(), w, multilabel=labels.ndim == 2).clamp(1e-12, 1 - 1e-12)
    if labels.ndim == 2:
        return float(-(labels * p.log() + (1 - labels) * (1 - p).log()).mean())
    return float(-p.gather(1, labels[:, None]).log().mean())


def test_fusion_weight_goes_to_the_perfect_branch():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 5, (200,), generator=g)
    perfect = 6.0 * F.one_hot(labels, 5).float()
    noise = torch.randn(200, 5, generator=g) * 3
    w_convit, w_human = fit_fusion_weights(perfect, noise, labels)
    assert w_convit > 0.97 and w_convit + w_human == pytest.approx(1.0)
    w_convit, w_human = fit_fusion_weights(noise.numpy(), perfect.numpy(), labels.numpy())  # arrays too
    assert w_human > 0.97
    multi = (torch.rand(200, 5, generator=g) < 0.3).float()
    w_convit, _ = fit_fusion_weights(12.0 * multi - 6.0, noise, multi)  # multi-hot: BCE of sigmoids
    assert w_convit > 0.97


@pytest.mark.parametrize("multilabel", [False, True])
def test_fusion_weight_minimises_the_loss_on_a_fine_grid(multilabel):
    g = torch.Generator().manual_seed(1)
    if multilabel:
        labels = (torch.rand(300, 4, generator=g) < 0.3).float()
    else:
        labels = torch.randint(0, 4, (300,), generator=g)
    target = labels if multilabel else F.one_hot(labels, 4).float()
    a = 2.0 * target + torch.randn(300, 4, generator=g) * 1.5  # two informative, noisy branches
    b = 1.0 * target + torch.randn(300, 4, generator=g) * 1.0
    w, _ = fit_fusion_weights(a, b, labels, steps=11)
    best = min(_grid_loss(a, b, labels, i / 10000) for i in range(10001))
    assert 0.0 < w < 1.0
    assert _grid_loss(a, b, labels, w) <= best + 1e-9
    assert fit_fusion_weights(a, b, labels, steps=11) == (w, 1.0 - w)  # deterministic
