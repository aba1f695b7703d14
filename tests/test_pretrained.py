"""Pretrained weights offline (issue 14): the local cache first, else one clear sentence at once.

The network is made unreachable here the way it is on an offline machine (a TCP connection
fails), while the hub's download functions are replaced by ones that would sleep for a minute,
as the Hugging Face client does with its retries: a test that reaches them takes > 5 s.
"""

from __future__ import annotations

import socket
import time

import pytest
import torch

import harlearn.transformers.pretrained as pretrained_module
from harlearn.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from harlearn.models.backbones import resnet50
from harlearn.transformers import (
    PretrainedWeightsUnavailable,
    pretrained_normalization,
    swin_tiny_patch4_window7_224,
    timm_weights_file,
    vit_small_patch16_224,
    vit_tiny_patch16_224,
)
from harlearn.transformers.vit import checkpoint_name

timm = pytest.importorskip("timm")
huggingface_hub = pytest.importorskip("huggingface_hub")


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """Empty Hugging Face and torch hub caches; no host reachable; downloads would hang."""
    import timm.models._hub as timm_hub
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "http_proxy", "https_proxy", "HTTP_PROXY",
                "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    probes = []

    def no_route(address, *args, **kwargs):
        probes.append(address)
        raise OSError(101, "Network is unreachable")

    def hang(*args, **kwargs):
        time.sleep(60)  # what ~50 s of hub retries look like
        raise OSError("retries exhausted")

    monkeypatch.setattr(socket, "create_connection", no_route)
    monkeypatch.setattr(timm_hub, "hf_hub_download", hang)
    monkeypatch.setattr(torch.hub, "download_url_to_file", hang)
    return tmp_path / "hf", probes


def _fails_fast(build):
    start = time.perf_counter()
    with pytest.raises(RuntimeError) as info:
        build()
    assert time.perf_counter() - start < 5.0
    return str(info.value)


def test_offline_vit_fails_at_once_and_says_what_to_do(offline):
    message = _fails_fast(lambda: vit_small_patch16_224(pretrained=True, num_classes=40))
    assert message.startswith("Could not load the pretrained weights of 'vit_small_patch16_224' through timm")
    assert "huggingface.co cannot be reached" in message
    for hint in ("book profile", "HARLEARN_PROFILE=book", "Hugging Face cache",
                 "timm/vit_small_patch16_224.augreg_in21k_ft_in1k", "pretrained=False"):
        assert hint in message, hint
    assert message.count(". ") == 0  # one sentence
    assert offline[1], "the host was probed"


def test_offline_swin_and_deit_fail_at_once(offline):
    message = _fails_fast(lambda: swin_tiny_patch4_window7_224(pretrained=True, num_classes=40))
    assert "'swin_tiny_patch4_window7_224'" in message and "book profile" in message
    message = _fails_fast(lambda: vit_small_patch16_224(pretrained="deit", num_classes=40))
    assert "'deit_small_patch16_224.fb_in1k'" in message


def test_hf_hub_offline_needs_no_probe(offline, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    message = _fails_fast(lambda: vit_tiny_patch16_224(pretrained=True, img_size=32))
    assert "HF_HUB_OFFLINE is set" in message and offline[1] == []


def test_offline_torchvision_weights_fail_at_once(offline):
    message = _fails_fast(lambda: resnet50(num_classes=5, pretrained=True))
    assert "could not be downloaded" in message and "book profile" in message


def _cache_standin(cache, repo: str, state: dict) -> None:
    """Write ``state`` where the Hugging Face client caches ``repo``'s model.safetensors."""
    from safetensors.torch import save_file

    folder = cache / f"models--{repo.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    (folder / "snapshots" / commit).mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "snapshots" / commit / "model.safetensors"))


def test_cached_weights_load_through_timm_without_network(offline):
    """A random stand-in in the cache goes through timm's own loading (pos-embed resampling, new head)."""
    cache, probes = offline
    torch.manual_seed(0)
    standin = timm.create_model("deit_tiny_patch16_224", pretrained=False).state_dict()
    _cache_standin(cache, "timm/deit_tiny_patch16_224.fb_in1k", standin)
    assert timm_weights_file("deit_tiny_patch16_224.fb_in1k")[0].endswith("model.safetensors")
    model = vit_tiny_patch16_224(pretrained="deit", num_classes=5, img_size=32)
    assert model.pretrained_name == "deit_tiny_patch16_224.fb_in1k"
    assert torch.equal(model.blocks[3].attn.qkv.weight, standin["blocks.3.attn.qkv.weight"])
    assert model.pos_embed.shape == (1, 1 + 4, 192)  # resampled by timm from 14x14 to 2x2
    assert model.head.out_features == 5 and probes == []  # no network was tried


def test_each_checkpoint_has_its_own_normalization():
    """Chapter 4's DeiT-S: ImageNet statistics; timm's default ViT-S (AugReg): 0.5 (local config)."""
    deit = pretrained_normalization("deit_small_patch16_224")
    augreg = pretrained_normalization("vit_small_patch16_224")
    assert deit[0] == pytest.approx(IMAGENET_MEAN, abs=1e-6) and deit[1] == pytest.approx(IMAGENET_STD, abs=1e-6)
    assert augreg == ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert pretrained_module.timm_pretrained_cfg("vit_small_patch16_224").tag == "augreg_in21k_ft_in1k"
    assert checkpoint_name("vit_small_patch16_224", True) == "vit_small_patch16_224"
    assert checkpoint_name("vit_small_patch16_224", "deit") == "deit_small_patch16_224.fb_in1k"
    assert pretrained_normalization(checkpoint_name("vit_small_patch16_224", "deit")) == deit
    with pytest.raises(ValueError, match="Unknown checkpoint 'deit_base_patch16_224.fb_in1k'"):
        checkpoint_name("vit_small_patch16_224", "deit_base_patch16_224.fb_in1k")
