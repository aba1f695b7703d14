"""harlearn.clip against open_clip: strict state-dict loads, equal embeddings, loss and zero-shot weights.

Every comparison is at a small configuration with random weights, in eval mode, on the CPU.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

open_clip = pytest.importorskip("open_clip")

from harlearn.clip import (  # noqa: E402
    CLIP,
    BackboneTower,
    LOGIT_SCALE_INIT,
    LOGIT_SCALE_MAX,
    build_zero_shot_classifier,
    clip_loss,
    clip_loss_fn,
    get_tokenizer,
    pretrained_clip,
    zero_shot_logits,
)
from harlearn.clip.transformer import Attention  # noqa: E402

EMBED = 32
VISION = dict(layers=2, width=64, head_width=32, patch_size=8, image_size=32)
TEXT = dict(context_length=16, vocab_size=1000, width=48, heads=2, layers=2)
TINY_NAME = "harlearn-test-tiny-clip"


def _tokens(n: int, length: int = 16, vocab: int = 1000, seed: int = 0) -> torch.Tensor:
    """Random token ids with one end-of-text token (the largest id) per row, zeros after it."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab - 1, (n, length), generator=g)
    ends = torch.randint(2, length, (n,), generator=g)
    for i, e in enumerate(ends.tolist()):
        ids[i, e] = vocab - 1
        ids[i, e + 1:] = 0
    return ids


def _pair(quick_gelu: bool = False, ls_init_value: float | None = None, seed: int = 0):
    torch.manual_seed(seed)
    vision = dict(VISION, ls_init_value=ls_init_value)
    text = dict(TEXT, ls_init_value=ls_init_value)
    theirs = open_clip.model.CLIP(EMBED, vision, text, quick_gelu=quick_gelu).eval()
    ours = CLIP(EMBED, vision, text, quick_gelu=quick_gelu).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours, theirs


@pytest.mark.parametrize("quick_gelu,ls", [(False, None), (True, None), (False, 0.1)], ids=["gelu", "quickgelu", "layerscale"])
def test_open_clip_state_dict_loads_strictly_and_embeddings_agree(quick_gelu, ls):
    ours, theirs = _pair(quick_gelu, ls)
    assert set(ours.state_dict()) == set(theirs.state_dict())
    for k, v in theirs.state_dict().items():
        assert ours.state_dict()[k].shape == v.shape, k
    images = torch.randn(3, 3, 32, 32)
    text = _tokens(3)
    with torch.no_grad():
        torch.testing.assert_close(ours.encode_image(images), theirs.encode_image(images), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(ours.encode_text(text), theirs.encode_text(text), rtol=1e-4, atol=1e-5)
        a, b = ours(images, text), theirs(images, text)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5)


def test_our_state_dict_loads_into_open_clip():
    torch.manual_seed(1)
    ours = CLIP(EMBED, VISION, TEXT).eval()
    theirs = open_clip.model.CLIP(EMBED, VISION, TEXT).eval()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    text = _tokens(2, seed=3)
    with torch.no_grad():
        torch.testing.assert_close(ours.encode_text(text, normalize=True), theirs.encode_text(text, normalize=True),
                                   rtol=1e-4, atol=1e-5)


def test_the_readable_and_the_fused_attention_agree():
    torch.manual_seed(0)
    attn = Attention(32, 4)
    x = torch.randn(2, 7, 32)
    mask = torch.ones(7, 7, dtype=torch.bool).tril()
    fused = attn(x, mask)
    attn.fused = False
    torch.testing.assert_close(attn(x, mask), fused, rtol=1e-5, atol=1e-6)
    out, weights = attn(x, mask, return_attention=True)
    assert weights.shape == (2, 4, 7, 7)
    assert torch.all(weights.triu(1) == 0)  # causal: no weight on a later token
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 7))


def test_the_text_tower_is_causal():
    """A token's features do not depend on the tokens after it."""
    ours, _ = _pair()
    text = _tokens(1)
    end = int(text.argmax())
    changed = text.clone()
    changed[0, end + 1:] = 5  # change only what comes after the end-of-text token
    with torch.no_grad():
        torch.testing.assert_close(ours.encode_text(text), ours.encode_text(changed))


def test_logit_scale_starts_at_one_over_007_and_is_clamped_at_100_in_training():
    model = CLIP(EMBED, VISION, TEXT)
    assert math.isclose(model.logit_scale.item(), LOGIT_SCALE_INIT, rel_tol=1e-6)
    assert math.isclose(math.exp(LOGIT_SCALE_INIT), 1 / 0.07)
    images, text = torch.randn(2, 3, 32, 32), _tokens(2)
    with torch.no_grad():
        model.logit_scale.fill_(7.0)
    model.eval()
    assert math.isclose(model(images, text)[2].item(), math.exp(7.0), rel_tol=1e-6)  # eval: untouched
    model.train()
    scale = model(images, text)[2]
    assert math.isclose(scale.item(), 100.0, rel_tol=1e-5)
    assert math.isclose(model.logit_scale.item(), LOGIT_SCALE_MAX, rel_tol=1e-6)
    # the clamp happens before use, and the gradient still reaches logit_scale
    loss = clip_loss(*model(images, text))
    loss.backward()
    assert model.logit_scale.grad is not None and torch.isfinite(model.logit_scale.grad)


def test_clip_loss_equals_open_clips_cliploss():
    g = torch.Generator().manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(8, 16, generator=g), dim=-1)
    txt = torch.nn.functional.normalize(torch.randn(8, 16, generator=g), dim=-1)
    for scale in (1.0, 1 / 0.07, 100.0):
        s = torch.tensor(scale)
        torch.testing.assert_close(clip_loss(img, txt, s), open_clip.loss.ClipLoss()(img, txt, s))
    same = torch.nn.functional.normalize(torch.ones(8, 16), dim=-1)
    assert math.isclose(float(clip_loss(same, same, torch.tensor(10.0))), math.log(8), rel_tol=1e-6)  # chance


def test_clip_loss_fn_trains_with_fit_style_batches():
    model = CLIP(EMBED, VISION, TEXT)
    batch = {"image": torch.randn(4, 3, 32, 32), "text": _tokens(4)}
    loss, logits, terms = clip_loss_fn(model, batch)
    assert logits is None and loss.ndim == 0 and math.isclose(float(terms["logit_scale"]), 1 / 0.07, rel_tol=1e-5)
    loss.backward()
    assert model.token_embedding.weight.grad is not None and model.visual.conv1.weight.grad is not None


def test_zero_shot_classifier_equals_open_clips():
    tokenizer = get_tokenizer(context_length=16)
    text = dict(TEXT, vocab_size=49408)
    torch.manual_seed(2)
    theirs = open_clip.model.CLIP(EMBED, VISION, text).eval()
    ours = CLIP(EMBED, VISION, text).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    classes = ["riding a horse", "reading a book", "running", "typing on a phone", "waving"]
    templates = ["a photo of a person {}.", "someone {}.", "a picture of somebody {}."]
    w = build_zero_shot_classifier(ours, tokenizer, classes, templates, num_classes_per_batch=2)
    ref = open_clip.build_zero_shot_classifier(theirs, tokenizer, classes, templates, num_classes_per_batch=2)
    assert w.shape == (EMBED, len(classes))
    torch.testing.assert_close(w, ref, rtol=1e-4, atol=1e-5)
    callables = [lambda c: f"a photo of a person {c}.", lambda c: f"someone {c}."]
    torch.testing.assert_close(
        build_zero_shot_classifier(ours, tokenizer, classes, callables, num_classes_per_batch=None),
        open_clip.build_zero_shot_classifier(theirs, tokenizer, classes, callables, num_classes_per_batch=None),
        rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(w.norm(dim=0), torch.ones(len(classes)))
    logits = zero_shot_logits(torch.randn(3, EMBED), w)
    assert logits.shape == (3, len(classes)) and float(logits.abs().max()) <= 100.0 + 1e-4


def test_the_tokenizer_is_open_clips_and_the_end_token_is_the_largest_id():
    tokenizer = get_tokenizer(context_length=16)
    assert isinstance(tokenizer, open_clip.tokenizer.SimpleTokenizer)
    ids = tokenizer(["a person riding a horse.", "a much longer caption " * 5])
    assert ids.shape == (2, 16) and ids.dtype == torch.long
    assert ids[0, 0] == 49406 and int(ids[0].max()) == 49407 and ids[1, -1] == 49407  # cut, then ended
    torch.testing.assert_close(ids, open_clip.tokenize(["a person riding a horse.", "a much longer caption " * 5], 16))


@pytest.mark.parametrize("arch", ["resnet50_w8", "vit", "vit_headless", "swin"])
def test_a_course_backbone_is_an_image_tower(arch):
    from harlearn.models.backbones import resnet50
    from harlearn.transformers.swin import SwinTransformer
    from harlearn.transformers.vit import VisionTransformer

    torch.manual_seed(0)
    if arch == "resnet50_w8":
        net, width = resnet50(num_classes=29, base_width=8), 2048 * 8 // 64
    elif arch == "vit":
        net, width = VisionTransformer(img_size=32, patch_size=8, num_classes=29, embed_dim=48, depth=1, num_heads=2), 48
    elif arch == "vit_headless":
        net, width = VisionTransformer(img_size=32, patch_size=8, num_classes=0, embed_dim=48, depth=1, num_heads=2), 48
    else:
        net = SwinTransformer(img_size=32, patch_size=4, num_classes=29, embed_dim=16, depths=(1, 1),
                              num_heads=(1, 2), window_size=4)
        width = 32
    net.eval()
    x = torch.randn(2, 3, 32, 32)
    tower = BackboneTower(net, EMBED)
    assert tower.num_features == width
    model = CLIP(EMBED, None, TEXT, visual=tower).eval()
    keys = set(model.state_dict())
    assert "visual.head.proj.weight" in keys and all(k.startswith(("visual.trunk.", "visual.head.")) for k in keys if k.startswith("visual."))
    with torch.no_grad():
        features = net(x)  # [B, F]: the pooled features, the head now an identity
        assert features.shape == (2, width)
        torch.testing.assert_close(model.encode_image(x), features @ tower.head.proj.weight.T)
        image_features, text_features, _ = model(x, _tokens(2))
    assert image_features.shape == text_features.shape == (2, EMBED)


def test_a_zoo_checkpoint_plugs_in_as_the_image_tower(tmp_path):
    """The zoo's loader returns the network the tower wraps (random weights today: none is trained)."""
    from harlearn.zoo import registry

    net = registry.construct("resnet50", {"base_width": 8}, 29)
    tower = BackboneTower(net, EMBED)
    assert tower.num_features == 256
    assert CLIP(EMBED, None, TEXT, visual=tower).encode_image(torch.randn(2, 3, 32, 32)).shape == (2, EMBED)


def test_lock_image_tower_trains_only_the_text_side_and_keeps_batchnorm_still():
    from harlearn.models.backbones import resnet50

    model = CLIP(EMBED, None, TEXT, visual=BackboneTower(resnet50(base_width=8), EMBED)).lock_image_tower()
    model.train()
    assert model.training and not model.visual.trunk.training and model.visual.head.training
    bn = model.visual.trunk.bn1
    before = bn.running_mean.clone()
    loss = clip_loss(*model(torch.randn(4, 3, 32, 32), _tokens(4)))
    loss.backward()
    assert torch.equal(bn.running_mean, before)
    assert all(p.grad is None for p in model.visual.trunk.parameters())
    assert model.visual.head.proj.weight.grad is not None and model.token_embedding.weight.grad is not None
    vit = CLIP(EMBED, VISION, TEXT).lock_image_tower(unlock_projection=False)
    assert not any(p.requires_grad for p in vit.visual.parameters()) and vit.logit_scale.requires_grad


def test_vit_b_32_architecture_matches_open_clips_names_and_shapes():
    with torch.device("meta"):
        ours = CLIP.from_open_clip_config("ViT-B-32", quick_gelu=True)
        theirs = open_clip.model.CLIP(**open_clip.get_model_config("ViT-B-32"), quick_gelu=True)
    a, b = ours.state_dict(), theirs.state_dict()
    assert set(a) == set(b) and all(a[k].shape == b[k].shape for k in a)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())


def test_unsupported_open_clip_options_are_refused():
    with pytest.raises(ValueError, match="attentional_pool"):
        CLIP(EMBED, dict(VISION, attentional_pool=True), TEXT)
    CLIP(EMBED, dict(VISION, attentional_pool=False), TEXT)  # open_clip's default: accepted


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    """A tiny architecture registered with open_clip under its own name, and a checkpoint file of it."""
    folder = tmp_path_factory.mktemp("oc")
    cfg = {"embed_dim": EMBED, "vision_cfg": VISION, "text_cfg": dict(TEXT, vocab_size=49408)}
    (folder / f"{TINY_NAME}.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(folder / f"{TINY_NAME}.json")
    torch.manual_seed(5)
    model = open_clip.create_model(TINY_NAME, pretrained=None).eval()
    path = folder / "tiny.pt"
    torch.save({"state_dict": model.state_dict()}, path)
    return model, path


def test_pretrained_clip_reads_a_checkpoint_file(tiny_config):
    theirs, path = tiny_config
    ours = pretrained_clip(TINY_NAME, pretrained=str(path))
    assert not ours.training
    images, text = torch.randn(2, 3, 32, 32), get_tokenizer(16)(["a person running.", "a dog."])
    with torch.no_grad():
        torch.testing.assert_close(ours.encode_image(images), theirs.encode_image(images), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(ours.encode_text(text), theirs.encode_text(text), rtol=1e-4, atol=1e-5)


def test_smoke_mode_loads_a_stand_in_through_the_same_strict_load(tiny_config, monkeypatch):
    from open_clip import pretrained as oc_pretrained

    monkeypatch.setenv("HARLEARN_PROFILE", "full")
    monkeypatch.setenv("HARLEARN_SMOKE", "1")
    monkeypatch.setitem(oc_pretrained._PRETRAINED, TINY_NAME, {"test": {"hf_hub": "nobody/nothing/", "quick_gelu": True}})
    a, b = pretrained_clip(TINY_NAME, "test"), pretrained_clip(TINY_NAME, "test")
    assert type(a.transformer.resblocks[0].mlp.gelu).__name__ == "QuickGELU"  # from the tag's metadata
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k  # the stand-in is seeded by the name


def test_offline_the_full_path_fails_at_once_with_what_to_do(monkeypatch, tmp_path):
    from harlearn.transformers.pretrained import PretrainedWeightsUnavailable

    monkeypatch.delenv("HARLEARN_SMOKE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(PretrainedWeightsUnavailable, match=r"ViT-B-32 checkpoint 'openai'.*HF_HUB_OFFLINE.*book profile"):
        pretrained_clip("ViT-B-32", "openai")
    with pytest.raises(ValueError, match="no checkpoint 'nonsense'"):
        pretrained_clip("ViT-B-32", "nonsense")
