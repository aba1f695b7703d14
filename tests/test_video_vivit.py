"""Tubelet embedding and ViViT's three variants: shapes, token counts, masks, initialisation from a ViT."""

import pytest
import torch

from harlearn.transformers.vit import VisionTransformer
from harlearn.video import FactorisedAttentionBlock, TubeletEmbed, ViViT, space_time_masks, vivit_from_vit


def test_tubelet_embed_token_counts_and_uniform_frame_sampling():
    clip = torch.randn(2, 3, 8, 32, 32)
    tube = TubeletEmbed(32, 8, patch_size=8, tubelet_size=2, embed_dim=16)
    assert tube(clip).shape == (2, 4 * 16, 16) and tube.grid_size == (4, 4, 4)
    frames = TubeletEmbed(32, 8, patch_size=8, tubelet_size=1, embed_dim=16)  # t = 1: frame by frame
    assert frames(clip).shape == (2, 8 * 16, 16)
    # t = 1 is a 2D patch embedding of every frame: tokens of frame i are the 2D conv of frame i
    conv2d = torch.nn.Conv2d(3, 16, 8, 8)
    with torch.no_grad():
        conv2d.weight.copy_(frames.proj.weight[:, :, 0])
        conv2d.bias.copy_(frames.proj.bias)
    tokens = frames(clip).view(2, 8, 16, 16)  # [B, T, S, C]
    torch.testing.assert_close(tokens[:, 5], conv2d(clip[:, :, 5]).flatten(2).transpose(1, 2))
    assert tube.__class__(32, 8, 8, 2, flatten=False)(clip).shape == (2, 4, 4, 4, 768)
    with pytest.raises(ValueError, match="num_frames"):
        TubeletEmbed(32, 7, 8, 2)
    with pytest.raises(ValueError, match="Clip size"):
        tube(torch.randn(1, 3, 6, 32, 32))


def test_central_frame_inflation_sees_only_the_middle_frame_of_each_tubelet():
    tube = TubeletEmbed(16, 4, patch_size=4, tubelet_size=2, embed_dim=8)
    w, b = torch.randn(8, 3, 4, 4), torch.randn(8)
    tube.inflate_from(w, b, "central_frame")
    clip = torch.randn(1, 3, 4, 16, 16)
    changed = clip.clone()
    changed[:, :, 0] = 0  # frame 0 is the first, not the central, frame of tubelet 0
    torch.testing.assert_close(tube(clip), tube(changed))
    tube.inflate_from(w, b, "filter_inflation")
    static = clip[:, :, :1].repeat(1, 1, 4, 1, 1)  # a still clip
    ref = torch.nn.functional.conv2d(static[:, :, 0], w, b, stride=4).flatten(2).transpose(1, 2)  # [1, S, C]
    torch.testing.assert_close(tube(static)[:, :16], ref, rtol=1e-4, atol=1e-5)


def test_space_time_masks():
    spatial, temporal = space_time_masks(frames=3, patches_per_frame=4)
    assert spatial.shape == (12, 12) and spatial.sum() == 3 * 4 * 4 and temporal.sum() == 4 * 3 * 3
    assert spatial[5, 6] and not spatial[5, 9]  # tokens 5, 6 are in frame 1; token 9 in frame 2
    assert temporal[1, 9] and not temporal[1, 2]  # tokens 1, 9: position 1 in frames 0 and 2
    s, t = space_time_masks(2, 2, cls_token=True)
    assert s.shape == (5, 5) and s[0].all() and s[:, 0].all() and t[0].all()


def test_factorised_attention_block_is_joint_attention_under_masks():
    torch.manual_seed(0)
    block = FactorisedAttentionBlock(16, num_heads=2).eval()
    x = torch.randn(2, 3 * 5, 16)  # T' = 3 frames of S = 5 tokens
    torch.testing.assert_close(block(x, frames=3), block.forward_masked(x, frames=3), rtol=1e-5, atol=1e-5)


def _vivit(variant, **kw):
    return ViViT(img_size=16, num_frames=4, patch_size=4, tubelet_size=2, num_classes=7, embed_dim=32, depth=2,
                 num_heads=2, variant=variant, temporal_depth=1, **kw)


@pytest.mark.parametrize("variant", ["joint", "factorised_encoder", "factorised_attention"])
def test_the_three_variants_classify_and_train(variant):
    torch.manual_seed(0)
    model = _vivit(variant)
    clip = torch.randn(2, 3, 4, 16, 16)
    feats = model.forward_features(clip)
    expected = {"joint": (2, 1 + 32, 32), "factorised_encoder": (2, 1 + 2, 32), "factorised_attention": (2, 32, 32)}[variant]
    assert feats.shape == expected
    logits = model(clip)
    assert logits.shape == (2, 7)
    logits.sum().backward()
    assert model.patch_embed.proj.weight.grad is not None
    assert model.rebuild(num_classes=3)(clip).shape == (2, 3)


def test_joint_attention_under_the_spatial_mask_ignores_the_other_frames():
    torch.manual_seed(0)
    model = _vivit("joint").eval()
    spatial, _ = space_time_masks(2, 16, cls_token=True)
    spatial[1:, 0] = False  # patch tokens do not read the class token either
    clip = torch.randn(1, 3, 4, 16, 16)
    other = clip.clone()
    other[:, :, 2:] = torch.randn(1, 3, 2, 16, 16)  # change token frame 1 only
    a, b = model.forward_features(clip, attn_mask=spatial), model.forward_features(other, attn_mask=spatial)
    torch.testing.assert_close(a[:, 1:17], b[:, 1:17])  # frame 0's tokens never saw frame 1
    assert not torch.allclose(model.forward_features(clip)[:, 1:17], model.forward_features(other)[:, 1:17])
    with pytest.raises(ValueError):
        _vivit("factorised_encoder").forward_features(clip, attn_mask=spatial)
    with pytest.raises(ValueError):
        _vivit("factorised_attention", global_pool="token")


def test_vivit_from_vit_starts_as_the_image_model():
    torch.manual_seed(0)
    vit = VisionTransformer(img_size=16, patch_size=4, num_classes=5, embed_dim=32, depth=2, num_heads=2).eval()
    clip = torch.randn(2, 3, 4, 16, 16)
    # model 2 with uniform frame sampling: each frame embedding is the ViT's class token on that frame
    fe = vivit_from_vit(vit, "factorised_encoder", num_frames=4, tubelet_size=1, temporal_depth=1).eval()
    with torch.no_grad():
        x = fe.patch_embed(clip).reshape(2 * 4, 16, 32)
        x = torch.cat([fe.cls_token.expand(8, -1, -1), x], 1) + fe.pos_embed
        for blk in fe.blocks:
            x = blk(x)
        ours = fe.spatial_norm(x[:, 0]).view(2, 4, 32)
        theirs = torch.stack([vit.forward_features(clip[:, :, i])[:, 0] for i in range(4)], 1)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    # model 3: the temporal attention starts at zero, so a block acts on each frame as the ViT block would
    fa = vivit_from_vit(vit, "factorised_attention", num_frames=4, tubelet_size=2).eval()
    assert fa.blocks[0].temporal_attn.proj.weight.abs().sum() == 0
    # joint with a still clip and central-frame inflation: same logits as the ViT on that frame
    joint = vivit_from_vit(vit, "joint", num_frames=1, tubelet_size=1).eval()
    with torch.no_grad():
        torch.testing.assert_close(joint(clip[:, :, :1]), vit(clip[:, :, 0]), rtol=1e-5, atol=1e-5)
