"""Smoke mode's pretrained stand-ins (issue 14): every loading site, the same loading code, no network.

With ``HARLEARN_SMOKE=1`` each pretrained loader must return the production model (same keys
and shapes as with the real checkpoint) filled from a random stand-in that went through the
loader's own fetch-adapt-load path, while no host is reachable and every download function
fails at once.
"""

from __future__ import annotations

import socket

import pytest
import torch
import torchvision
from torchvision.models import (
    DenseNet121_Weights,
    GoogLeNet_Weights,
    ResNet50_Weights,
    VGG16_Weights,
)
from torchvision.models.detection import (
    FasterRCNN_MobileNet_V3_Large_FPN_Weights,
    FasterRCNN_ResNet50_FPN_Weights,
)

from harlearn import pretrained_source
from harlearn.models.backbones import densenet121, googlenet, resnet50, vgg16
from harlearn.models.detection import fasterrcnn
from harlearn.transformers import swin_tiny_patch4_window7_224, vit_small_patch16_224

timm = pytest.importorskip("timm")


@pytest.fixture
def smoke(tmp_path, monkeypatch):
    """Smoke mode on, empty weight caches, no host reachable, every download raises."""
    import timm.models._hub as timm_hub
    from huggingface_hub import constants

    monkeypatch.setenv("HARLEARN_SMOKE", "1")
    monkeypatch.setenv("HARLEARN_PROFILE", "full")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def no_network(*args, **kwargs):
        raise AssertionError("smoke mode must not touch the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(timm_hub, "hf_hub_download", no_network)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)


def _same_layout(model: torch.nn.Module, reference: torch.nn.Module) -> None:
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    want = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert got == want


@pytest.mark.parametrize(
    ("factory", "weights"),
    [(resnet50, ResNet50_Weights.IMAGENET1K_V1), (googlenet, GoogLeNet_Weights.IMAGENET1K_V1),
     (densenet121, DenseNet121_Weights.IMAGENET1K_V1)],
    ids=["resnet50", "googlenet", "densenet121"],
)
def test_torchvision_backbones_load_their_stand_in(smoke, factory, weights):
    model = factory(num_classes=40, pretrained=True)
    _same_layout(model, factory(num_classes=40))  # the production model, head replaced
    standin = pretrained_source.torchvision_stand_in(weights)
    state = model.state_dict()
    convs = [k for k, v in state.items() if v.ndim == 4]  # the stem and every later convolution
    for key in (convs[0], convs[-1]):
        legacy = key.replace(".conv2.", ".conv.2.")  # DenseNet's file names (see pretrained_source)
        assert torch.equal(state[key], standin[key] if key in standin else standin[legacy]), key


def test_vgg16_loads_its_stand_in(smoke):
    model = vgg16(num_classes=5, pretrained=True)
    standin = pretrained_source.torchvision_stand_in(VGG16_Weights.IMAGENET1K_V1)
    assert set(standin) == set(model.state_dict())  # VGG's file: the model's keys exactly
    assert torch.equal(model.features[0].weight, standin["features.0.weight"])
    assert model.classifier[6].out_features == 5


def test_stand_ins_have_the_checkpoint_formats():
    """DenseNet's file has legacy names and no counters; GoogLeNet's has its auxiliary heads."""
    dense = pretrained_source.torchvision_stand_in(DenseNet121_Weights.IMAGENET1K_V1)
    assert "features.denseblock1.denselayer1.norm.1.weight" in dense
    assert not any(k.endswith("num_batches_tracked") for k in dense)
    assert not any(".norm1." in k for k in dense)
    goog = pretrained_source.torchvision_stand_in(GoogLeNet_Weights.IMAGENET1K_V1)
    assert "aux1.fc2.weight" in goog and goog["fc.weight"].shape == (1000, 1024)


def test_a_key_mapping_bug_fails_in_smoke_mode(smoke, monkeypatch):
    """DenseNet's legacy-name fix-up is what makes its file load: without it, smoke mode fails."""
    import harlearn.models.backbones.densenet as densenet_module

    monkeypatch.setattr(densenet_module, "_rename_legacy_keys", lambda state: state)
    with pytest.raises(RuntimeError, match="norm.1.weight"):
        densenet121(num_classes=40, pretrained=True)


def test_stand_ins_are_seeded_and_leave_the_global_random_state_alone():
    state = torch.get_rng_state()
    a = pretrained_source.torchvision_stand_in(ResNet50_Weights.IMAGENET1K_V2)
    b = pretrained_source.torchvision_stand_in(ResNet50_Weights.IMAGENET1K_V2)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = pretrained_source.torchvision_stand_in(ResNet50_Weights.IMAGENET1K_V1)
    assert not torch.equal(a["conv1.weight"], c["conv1.weight"])  # one stand-in per checkpoint


@pytest.mark.parametrize(
    ("backbone", "weights", "builder"),
    [("mobilenet_v3", FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1,
      torchvision.models.detection.fasterrcnn_mobilenet_v3_large_fpn),
     ("resnet50", FasterRCNN_ResNet50_FPN_Weights.COCO_V1, torchvision.models.detection.fasterrcnn_resnet50_fpn)],
    ids=["mobilenet_v3", "resnet50"],
)
def test_the_coco_detector_loads_its_stand_in_through_torchvision(smoke, backbone, weights, builder):
    model = fasterrcnn(2, pretrained=True, backbone=backbone)
    standin = pretrained_source.torchvision_stand_in(weights)
    state = model.state_dict()
    assert set(state) == set(standin)  # the file's keys: frozen BatchNorm, no counters
    norms = [m for m in model.backbone.modules() if "BatchNorm" in type(m).__name__]
    assert norms and all(isinstance(m, torchvision.ops.FrozenBatchNorm2d) for m in norms)  # the pretrained branch
    assert model.roi_heads.box_predictor.cls_score.out_features == 2
    same = [k for k in standin if not k.startswith("roi_heads.box_predictor")]
    assert all(torch.equal(state[k], standin[k]) for k in same)


def test_an_unexpected_download_in_smoke_mode_is_refused(smoke):
    with pretrained_source.torchvision_fetch(ResNet50_Weights.IMAGENET1K_V1):
        with pytest.raises(pretrained_source.StandInError, match="no stand-in for"):
            VGG16_Weights.IMAGENET1K_V1.get_state_dict()


def test_vit_and_deit_load_their_stand_ins_through_timm(smoke):
    model = vit_small_patch16_224(pretrained=True, num_classes=40)
    assert model.pretrained_name == "vit_small_patch16_224"
    standin = pretrained_source.timm_stand_in("vit_small_patch16_224")
    assert torch.equal(model.blocks[5].attn.qkv.weight, standin["blocks.5.attn.qkv.weight"])
    assert model.head.out_features == 40
    deit = vit_small_patch16_224(pretrained="deit", num_classes=40, global_pool="avg")  # norm -> fc_norm
    standin = pretrained_source.timm_stand_in("deit_small_patch16_224.fb_in1k")
    assert torch.equal(deit.fc_norm.weight, standin["norm.weight"])
    _same_layout(deit, vit_small_patch16_224(num_classes=40, global_pool="avg"))


def test_swin_loads_its_stand_in_through_timm(smoke):
    model = swin_tiny_patch4_window7_224(pretrained=True, num_classes=40)
    assert model.pretrained_name == "swin_tiny_patch4_window7_224"
    standin = pretrained_source.timm_stand_in("swin_tiny_patch4_window7_224")
    key = "layers.2.blocks.3.attn.qkv.weight"
    assert torch.equal(model.state_dict()[key], standin[key])
    _same_layout(model, swin_tiny_patch4_window7_224(num_classes=40))


def test_off_smoke_mode_nothing_changes(monkeypatch):
    monkeypatch.delenv("HARLEARN_SMOKE", raising=False)
    assert not pretrained_source.stand_ins_active()
    from torchvision.models import _api

    real = _api.load_state_dict_from_url
    with pretrained_source.torchvision_fetch(ResNet50_Weights.IMAGENET1K_V1):
        assert _api.load_state_dict_from_url is real
