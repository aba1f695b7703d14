"""ViT: building blocks, equivalence with timm, attention maps and rollout, pretrained weights."""

import pytest
import timm
import torch
from timm.models.vision_transformer import Block as TimmBlock

from harlearn.transformers import vit as vit_module
from harlearn.transformers.vit import (
    DropPath,
    PatchEmbed,
    TransformerBlock,
    VisionTransformer,
    attention_rollout,
    vit_base_patch16_224,
    vit_small_patch16_224,
    vit_tiny_patch16_224,
)


def test_patch_embed_is_a_linear_map_of_each_patch_in_row_major_order():
    torch.manual_seed(0)
    embed = PatchEmbed(img_size=(8, 12), patch_size=4, in_chans=3, embed_dim=5)
    x = torch.randn(2, 3, 8, 12)
    tokens = embed(x)
    assert tokens.shape == (2, 6, 5) and embed.grid_size == (2, 3)
    weight = embed.proj.weight.reshape(5, -1)  # [C, C_in*p*p]
    for n, (i, j) in enumerate([(i, j) for i in range(2) for j in range(3)]):
        patch = x[:, :, 4 * i : 4 * i + 4, 4 * j : 4 * j + 4].reshape(2, -1)  # [B, C_in*p*p]
        torch.testing.assert_close(tokens[:, n], patch @ weight.T + embed.proj.bias)
    grid = PatchEmbed(img_size=(8, 12), patch_size=4, in_chans=3, embed_dim=5, flatten=False)
    grid.load_state_dict(embed.state_dict())
    torch.testing.assert_close(grid(x).reshape(2, 6, 5), tokens)


def test_patch_embed_rejects_a_wrong_image_size():
    with pytest.raises(ValueError, match=r"does not match the model's img_size"):
        PatchEmbed(img_size=32, patch_size=16, embed_dim=8)(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match=r"not divisible by patch size"):
        PatchEmbed(img_size=30, patch_size=16)


def test_drop_path_drops_whole_samples_and_keeps_the_expectation():
    torch.manual_seed(0)
    drop = DropPath(0.5)
    x = torch.ones(2000, 3, 4)
    drop.eval()
    assert torch.equal(drop(x), x)
    drop.train()
    y = drop(x)
    per_sample = y.reshape(2000, -1)
    assert ((per_sample == 0).all(1) | (per_sample == 2).all(1)).all()  # all or nothing, scaled by 1/keep
    assert abs(y.mean().item() - 1.0) < 0.1


def test_transformer_block_matches_timm_block():
    torch.manual_seed(0)
    ref = TimmBlock(dim=32, num_heads=4, qkv_bias=True).eval()
    ours = TransformerBlock(32, 4).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 7, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)
        out, attn = ours(x, return_attention=True)
    torch.testing.assert_close(out, ref(x), atol=1e-5, rtol=1e-5)
    assert attn.shape == (2, 4, 7, 7)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 4, 7))


@pytest.mark.parametrize(
    "global_pool, img_size, batch", [("token", 224, 1), ("avg", 64, 2)]
)
def test_vit_tiny_loads_timm_weights_and_gives_the_same_logits(global_pool, img_size, batch):
    torch.manual_seed(0)
    ref = timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, img_size=img_size, num_classes=10, global_pool=global_pool
    ).eval()
    ours = vit_tiny_patch16_224(img_size=img_size, num_classes=10, global_pool=global_pool).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(batch, 3, img_size, img_size)
    with torch.no_grad():
        torch.testing.assert_close(ours.forward_features(x), ref.forward_features(x), atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(ours(x), ref(x), atol=1e-4, rtol=1e-4)
    assert ours(x).shape == (batch, 10)
    # avg pooling: as timm, the final norm moves after the pooling
    assert isinstance(ours.fc_norm, torch.nn.LayerNorm) == (global_pool == "avg")
    assert isinstance(ours.norm, torch.nn.LayerNorm) == (global_pool == "token")


@pytest.mark.parametrize(
    "factory, name",
    [
        (vit_tiny_patch16_224, "vit_tiny_patch16_224"),
        (vit_small_patch16_224, "vit_small_patch16_224"),
        (vit_base_patch16_224, "vit_base_patch16_224"),
    ],
)
def test_named_models_have_timm_names_and_shapes(factory, name):
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        ours = factory()
        ref = timm.create_model(name, pretrained=False)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}


def test_factory_kwargs_override_the_architecture():
    model = vit_tiny_patch16_224(num_classes=3, img_size=32, depth=2, drop_path_rate=0.1)
    assert len(model.blocks) == 2 and model.pos_embed.shape == (1, 5, 192)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 3)
    assert [b.drop_path.drop_prob for b in model.blocks[1:]] == [0.1]  # linear: 0 ... rate
    assert isinstance(model.blocks[0].drop_path, torch.nn.Identity)


def _small_vit(**kwargs) -> VisionTransformer:
    args = dict(img_size=32, patch_size=8, num_classes=4, embed_dim=32, depth=3, num_heads=4)
    return VisionTransformer(**{**args, **kwargs})


def test_vit_trains_end_to_end():
    torch.manual_seed(0)
    model = _small_vit(drop_path_rate=0.2)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_attention_maps_are_the_softmax_of_each_block():
    torch.manual_seed(0)
    model = _small_vit().eval()
    x = torch.randn(2, 3, 32, 32)
    maps = model.get_attention_maps(x)
    assert len(maps) == 3 and all(m.shape == (2, 4, 17, 17) for m in maps)
    # block 0 by hand: softmax(q k^T / sqrt(d)) from the qkv projection of the embedded tokens
    block = model.blocks[0]
    tokens = block.norm1(model.embed_tokens(x))  # [B, N, C]
    q, k, _ = block.attn.qkv(tokens).reshape(2, 17, 3, 4, 8).permute(2, 0, 3, 1, 4)  # 3 x [B, h, N, d]
    expected = (q @ k.transpose(-2, -1) / 8**0.5).softmax(-1)
    torch.testing.assert_close(maps[0], expected, atol=1e-5, rtol=1e-5)


def test_attention_rollout_by_hand():
    N = 5
    uniform = torch.full((1, 2, N, N), 1.0 / N)  # every token attends equally to all
    identity = torch.eye(N).expand(1, 2, N, N)
    # A' = (U + I) / 2 with U = J/N; U @ U = U, so A' @ A' = 3/4 U + 1/4 I
    torch.testing.assert_close(attention_rollout([uniform]), 0.5 * uniform[:, 0] + 0.5 * torch.eye(N))
    torch.testing.assert_close(attention_rollout([uniform, uniform]), 0.75 * uniform[:, 0] + 0.25 * torch.eye(N))
    torch.testing.assert_close(attention_rollout([identity, identity, identity]), torch.eye(N)[None])
    # heads are averaged: a uniform head and an identity head give (U + I) / 2 before the residual
    mixed = torch.stack([uniform[0, 0], torch.eye(N)])[None]
    torch.testing.assert_close(attention_rollout([mixed]), 0.25 * uniform[:, 0] + 0.75 * torch.eye(N))


def test_attention_rollout_of_a_model_is_row_stochastic_and_discarding_changes_it():
    torch.manual_seed(0)
    model = _small_vit().eval()
    with torch.no_grad():
        maps = model.get_attention_maps(torch.randn(2, 3, 32, 32))
    plain, sparse = attention_rollout(maps), attention_rollout(maps, discard_ratio=0.9)
    for r in (plain, sparse):
        assert r.shape == (2, 17, 17) and (r >= 0).all()
        torch.testing.assert_close(r.sum(-1), torch.ones(2, 17))
    assert not torch.allclose(plain, sparse)
    with pytest.raises(ValueError, match="discard_ratio"):
        attention_rollout(maps, discard_ratio=1.0)


def test_pretrained_goes_through_timm_and_maps_norm_for_avg_pooling(monkeypatch):
    """The pretrained path without network: timm's model with random weights stands in."""
    calls, created = [], []

    def fake_create(name, **kwargs):
        calls.append((name, kwargs))
        created.append(timm.create_model(name, pretrained=False, **kwargs).eval())  # token-pooled, as published
        return created[-1]

    monkeypatch.setattr(vit_module, "create_timm_pretrained", fake_create)
    model = vit_tiny_patch16_224(pretrained=True, num_classes=6, img_size=32, global_pool="avg").eval()
    assert calls == [("vit_tiny_patch16_224", dict(num_classes=6, img_size=(32, 32), in_chans=3))]
    ref = created[0]
    assert torch.equal(model.fc_norm.weight, ref.norm.weight)  # the final norm moved after pooling
    assert torch.equal(model.blocks[5].attn.qkv.weight, ref.blocks[5].attn.qkv.weight)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():  # same encoder: token features agree before pooling
        torch.testing.assert_close(model.forward_features(x), ref.blocks(ref._pos_embed(ref.patch_embed(x))))


def test_pretrained_download_failure_is_one_clear_sentence(monkeypatch):
    """Online but the download fails (weights not cached): timm's error becomes one sentence."""
    import harlearn.transformers.pretrained as pretrained_module

    def failing(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    monkeypatch.setattr(pretrained_module, "timm_weights_file", lambda name: None)
    monkeypatch.setattr(pretrained_module, "unreachable", lambda url: None)  # "online"
    monkeypatch.setattr(timm, "create_model", failing)
    with pytest.raises(RuntimeError) as info:
        vit_tiny_patch16_224(pretrained=True, num_classes=40, img_size=32)
    message = str(info.value)
    assert message.startswith("Could not load the pretrained weights of 'vit_tiny_patch16_224' through timm")
    for hint in ("Hugging Face cache", "book profile", "pretrained=False", "timm/vit_tiny_patch16_224"):
        assert hint in message
    assert isinstance(info.value.__cause__, OSError)


def test_pretrained_refuses_a_changed_architecture():
    with pytest.raises(ValueError, match=r"pretrained=True needs the vit_tiny_patch16_224 architecture"):
        vit_module.vit_tiny_patch16_224(pretrained=True, depth=4)
