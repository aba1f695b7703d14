"""Tests of harlearn.models.cnn: equivalence with torchvision, widths, weights, fine-tuning."""

from __future__ import annotations

import os
import urllib.error

import pytest
import torch
import torchvision
from torch import nn

import harlearn.models
from harlearn.models.cnn import (
    backbone_parameters,
    densenet121,
    finetune_model,
    googlenet,
    head_parameters,
    pretrained_weights_path,
    resnet50,
    vgg16,
)

ARCHS = ["vgg16", "resnet50", "googlenet", "densenet121"]
OURS = {"vgg16": vgg16, "resnet50": resnet50, "googlenet": googlenet, "densenet121": densenet121}
WEIGHTS = {
    "vgg16": torchvision.models.VGG16_Weights,
    "resnet50": torchvision.models.ResNet50_Weights,
    "googlenet": torchvision.models.GoogLeNet_Weights,
    "densenet121": torchvision.models.DenseNet121_Weights,
}
HEAD = {"vgg16": "classifier.6", "resnet50": "fc", "googlenet": "fc", "densenet121": "classifier"}
FULL_FEATURES = {"vgg16": 512, "resnet50": 2048, "googlenet": 1024, "densenet121": 1024}


def torchvision_model(arch: str, **kwargs) -> nn.Module:
    """torchvision's reference model with random weights."""
    if arch == "googlenet":
        kwargs = {"aux_logits": False, "transform_input": False, "init_weights": True, **kwargs}
    return getattr(torchvision.models, arch)(weights=None, **kwargs)


def randomize_norms(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm non-trivial statistics and affine parameters, so a wrong eps or a
    missing/misplaced norm changes the eval-mode output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0.0, 0.1, generator=g)
                m.running_var.uniform_(0.5, 1.5, generator=g)
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0.0, 0.1, generator=g)
    return model


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_public_import_paths():
    from harlearn.models.densenet import densenet121 as d
    from harlearn.models.googlenet import googlenet as g
    from harlearn.models.resnet import resnet50 as r
    from harlearn.models.vgg import vgg16 as v

    assert (v, r, g, d) == (vgg16, resnet50, googlenet, densenet121)
    for name in ["finetune_model", "head_parameters", "backbone_parameters", *ARCHS]:
        assert name in harlearn.models.__all__ and hasattr(harlearn.models, name)


@pytest.mark.parametrize("arch", ARCHS)
def test_matches_torchvision(arch):
    torch.manual_seed(0)
    reference = randomize_norms(torchvision_model(arch)).eval()
    ours = OURS[arch]().eval()

    theirs_sd, ours_sd = reference.state_dict(), ours.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    assert {k: v.shape for k, v in ours_sd.items()} == {k: v.shape for k, v in theirs_sd.items()}
    assert num_params(ours) == num_params(reference) == WEIGHTS[arch].IMAGENET1K_V1.meta["num_params"]

    ours.load_state_dict(theirs_sd, strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected, actual = reference(x), ours(x)
    assert actual.shape == (2, 1000)
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)


def test_googlenet_transform_input_matches_torchvision():
    reference = randomize_norms(torchvision_model("googlenet", transform_input=True)).eval()
    ours = googlenet(transform_input=True).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), atol=1e-5, rtol=1e-5)


def test_resnet_dilation_matches_torchvision():
    dilate = [False, True, True]
    reference = randomize_norms(torchvision_model("resnet50", replace_stride_with_dilation=dilate)).eval()
    ours = resnet50(replace_stride_with_dilation=dilate).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), atol=1e-5, rtol=1e-5)
        assert ours.forward_features(x).shape == (1, 2048, 8, 8)  # stride 8


@pytest.mark.parametrize("arch", ARCHS)
def test_narrow_model(arch):
    torch.manual_seed(0)
    model = OURS[arch](num_classes=10, base_width=16).eval()
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        features = model.forward_features(x)
        logits = model(x)
    assert model.num_features == FULL_FEATURES[arch] // 4
    assert features.shape == (3, model.num_features, 2, 2)
    assert logits.shape == (3, 10) and torch.isfinite(logits).all()
    torch.testing.assert_close(model.forward_head(features), logits)
    # far fewer parameters than the production model (VGG keeps a 1024-wide classifier)
    assert num_params(model) < 0.1 * WEIGHTS[arch].IMAGENET1K_V1.meta["num_params"]
    # names never change with width
    with torch.device("meta"):
        full = OURS[arch](num_classes=10)
    assert list(model.state_dict()) == list(full.state_dict())


def test_width_knobs():
    assert vgg16(num_classes=4, base_width=8, classifier_width=64).classifier[0].out_features == 64
    with pytest.raises(ValueError, match="base_width"):
        resnet50(base_width=0)


def test_resnet_forward_features_strides():
    model = resnet50(num_classes=3, base_width=8).eval()
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        assert model.forward_features(x).shape == (2, 256, 2, 3)  # [B, 2048w, H/32, W/32]
    model16 = resnet50(num_classes=3, base_width=8, replace_stride_with_dilation=[False, False, True]).eval()
    with torch.no_grad():
        assert model16.forward_features(x).shape == (2, 256, 4, 6)  # stride 16
        assert model16(x).shape == (2, 3)
    with pytest.raises(ValueError, match="replace_stride_with_dilation"):
        resnet50(replace_stride_with_dilation=[True])


@pytest.mark.parametrize("arch", ARCHS)
def test_finetune_model(arch):
    torch.manual_seed(0)
    model = OURS[arch](num_classes=10, base_width=8)
    old_head = model.get_submodule(HEAD[arch])
    same = finetune_model(model, 7, freeze_backbone=True)
    assert same is model
    head = model.get_submodule(HEAD[arch])
    assert isinstance(head, nn.Linear) and head is not old_head
    assert (head.in_features, head.out_features) == (old_head.in_features, 7)

    head_params, body_params = head_parameters(model), backbone_parameters(model)
    assert [id(p) for p in head_params] == [id(head.weight), id(head.bias)]
    assert {id(p) for p in head_params + body_params} == {id(p) for p in model.parameters()}
    assert len(head_params) + len(body_params) == len(list(model.parameters()))
    assert all(p.requires_grad for p in head_params)
    assert not any(p.requires_grad for p in body_params)

    # one optimisation step moves the head only
    model.train()
    before = [p.detach().clone() for p in body_params]
    head_before = head.weight.detach().clone()
    optimizer = torch.optim.SGD(
        [{"params": body_params, "lr": 0.1}, {"params": head_params, "lr": 1.0}]
    )
    loss = nn.functional.cross_entropy(model(torch.randn(2, 3, 64, 64)), torch.tensor([1, 6]))
    loss.backward()
    optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(before, body_params))
    assert not torch.equal(head_before, head.weight)

    finetune_model(model, 3)  # unfreezes
    assert all(p.requires_grad for p in model.parameters())


def test_finetune_torchvision_and_unknown_models():
    model = finetune_model(torchvision.models.resnet18(weights=None), 5, freeze_backbone=True)
    assert model.fc.out_features == 5 and not model.conv1.weight.requires_grad
    with pytest.raises(TypeError, match="head_name"):
        finetune_model(nn.Sequential(nn.Conv2d(3, 4, 1)), 2)


def test_weights_file_names():
    # the file names torch hub caches under, as the offline error message prints them
    expected = {
        "vgg16": "vgg16-397923af.pth",
        "resnet50": "resnet50-0676ba61.pth",
        "googlenet": "googlenet-1378be20.pth",
        "densenet121": "densenet121-a639ec97.pth",
    }
    for arch, name in expected.items():
        weights = WEIGHTS[arch].IMAGENET1K_V1
        assert weights.url.endswith("/" + name)
        assert pretrained_weights_path(weights) == os.path.join(torch.hub.get_dir(), "checkpoints", name)


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An empty torch hub cache in tmp_path, and no network: a download raises URLError."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError("no network (test)")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    return checkpoints


@pytest.mark.parametrize("arch", ARCHS)
def test_pretrained_offline_error(arch, offline_hub):
    expected_path = str(offline_hub / os.path.basename(WEIGHTS[arch].IMAGENET1K_V1.url))
    with pytest.raises(RuntimeError, match="could not be downloaded") as info:
        OURS[arch](num_classes=5, pretrained=True)
    message = str(info.value)
    assert expected_path in message and "pretrained=False" in message
    assert isinstance(info.value.__cause__, urllib.error.URLError)


def test_pretrained_corrupt_file(offline_hub):
    path = offline_hub / "resnet50-0676ba61.pth"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="could not be read"):
        resnet50(pretrained=True)


def test_pretrained_rejects_narrow_widths_and_unknown_names(offline_hub):
    with pytest.raises(ValueError, match="base_width=16"):
        resnet50(pretrained=True, base_width=16)
    with pytest.raises(ValueError, match="classifier_width=256"):
        vgg16(pretrained=True, classifier_width=256)
    with pytest.raises(ValueError, match="choose one of IMAGENET1K_V1"):
        densenet121(pretrained="IMAGENET1K_V9")


def test_pretrained_resnet50_from_cache_replaces_head(offline_hub):
    torch.manual_seed(0)
    reference = torchvision_model("resnet50")
    torch.save(reference.state_dict(), offline_hub / "resnet50-0676ba61.pth")

    model = resnet50(num_classes=5, pretrained=True)
    assert isinstance(model.fc, nn.Linear) and model.fc.out_features == 5
    expected = reference.state_dict()
    for key, value in model.state_dict().items():
        if not key.startswith("fc."):
            assert torch.equal(value, expected[key]), key

    same_head = resnet50(pretrained=True)
    assert torch.equal(same_head.fc.weight, reference.fc.weight)

    # a named torchvision entry: a different file name
    torch.save(reference.state_dict(), offline_hub / "resnet50-11ad3fa6.pth")
    assert resnet50(num_classes=2, pretrained="IMAGENET1K_V2").fc.out_features == 2


def test_pretrained_googlenet_matches_torchvision_pretrained(offline_hub):
    # torchvision's file holds the auxiliary heads too, and the weights expect transform_input
    torch.manual_seed(0)
    source = randomize_norms(torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True))
    torch.save(source.state_dict(), offline_hub / "googlenet-1378be20.pth")

    weights = torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1
    reference = torchvision.models.googlenet(weights=weights).eval()
    ours = googlenet(pretrained=True).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), atol=1e-5, rtol=1e-5)
    assert googlenet(num_classes=3, pretrained=True).fc.out_features == 3


def test_pretrained_densenet121_legacy_keys(offline_hub):
    # the published DenseNet file uses the old "norm.1" key names; both loaders rename them
    torch.manual_seed(0)
    source = randomize_norms(torchvision_model("densenet121"))
    legacy = {}
    for key, value in source.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue  # the 2017 file predates this buffer; BatchNorm fills it in on load
        for old, new in [("norm1", "norm.1"), ("conv1", "conv.1"), ("norm2", "norm.2"), ("conv2", "conv.2")]:
            if ".denselayer" in key and f".{old}." in key:
                key = key.replace(f".{old}.", f".{new}.")
        legacy[key] = value
    assert any(".norm.1." in key for key in legacy)
    torch.save(legacy, offline_hub / "densenet121-a639ec97.pth")

    reference = torchvision.models.densenet121(weights="IMAGENET1K_V1").eval()
    ours = densenet121(pretrained=True).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), atol=1e-5, rtol=1e-5)
    model = densenet121(num_classes=4, pretrained=True)
    assert model.classifier.out_features == 4
    assert torch.equal(model.features.conv0.weight, source.features.conv0.weight)
