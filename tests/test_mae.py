"""MAE: patchify, random masking, the masked loss, position embeddings, handing over the encoder."""

import pytest
import torch

from harlearn.layers.posembed import sinusoidal_embedding_2d
from harlearn.transformers.mae import (
    MaskedAutoencoder,
    encoder_to_classifier,
    patchify,
    random_masking,
    unpatchify,
)
from harlearn.transformers.vit import VisionTransformer


def _mae(**kwargs) -> MaskedAutoencoder:
    torch.manual_seed(0)
    encoder = VisionTransformer(img_size=32, patch_size=8, num_classes=0, embed_dim=32, depth=2, num_heads=4)
    return MaskedAutoencoder(encoder, decoder_dim=16, decoder_depth=1, decoder_num_heads=2, **kwargs)


def test_patchify_layout_and_round_trip():
    imgs = torch.randn(2, 3, 8, 12)
    patches = patchify(imgs, 4)
    assert patches.shape == (2, 6, 4 * 4 * 3)
    # patch 1 is grid row 0, column 1; inside a patch: pixels row-major, channels last (MAE)
    torch.testing.assert_close(patches[:, 1], imgs[:, :, 0:4, 4:8].permute(0, 2, 3, 1).reshape(2, -1))
    torch.testing.assert_close(patches[:, 3], imgs[:, :, 4:8, 0:4].permute(0, 2, 3, 1).reshape(2, -1))
    assert torch.equal(unpatchify(patches, 4, h=2, w=3), imgs)
    square = torch.randn(1, 1, 16, 16)
    assert torch.equal(unpatchify(patchify(square, 4), 4), square)
    with pytest.raises(ValueError, match="not divisible"):
        patchify(torch.randn(1, 3, 10, 8), 4)


@pytest.mark.parametrize("L, ratio", [(16, 0.75), (196, 0.75), (100, 0.9), (10, 0.5), (7, 0.3), (5, 0.0)])
def test_random_masking_keeps_round_L_times_one_minus_r(L, ratio):
    B, D = 3, 4
    x = torch.arange(L, dtype=torch.float32)[None, :, None].expand(B, L, D)  # token value = its position
    kept, mask, ids_restore = random_masking(x, ratio, generator=torch.Generator().manual_seed(0))
    n_keep = round(L * (1 - ratio))
    assert kept.shape == (B, n_keep, D) and mask.shape == (B, L) and ids_restore.shape == (B, L)
    assert torch.equal(mask.sum(1), torch.full((B,), float(L - n_keep)))
    for b in range(B):
        # the kept tokens are exactly the positions the mask marks as kept (0)
        assert sorted(kept[b, :, 0].long().tolist()) == torch.nonzero(mask[b] == 0).flatten().tolist()
    # restore order: kept tokens + placeholders, gathered with ids_restore, are back in place
    filled = torch.cat([kept, torch.full((B, L - n_keep, D), -1.0)], dim=1)
    restored = torch.gather(filled, 1, ids_restore[..., None].expand(-1, -1, D))
    torch.testing.assert_close(restored[mask == 0], x[mask == 0])
    assert (restored[mask == 1] == -1).all()


def test_random_masking_is_per_sample_and_reproducible():
    x = torch.randn(8, 49, 4)
    _, m1, _ = random_masking(x, 0.75, generator=torch.Generator().manual_seed(3))
    _, m2, _ = random_masking(x, 0.75, generator=torch.Generator().manual_seed(3))
    assert torch.equal(m1, m2)
    assert len({tuple(row.tolist()) for row in m1}) > 1  # every sample gets its own mask
    with pytest.raises(ValueError, match="mask_ratio"):
        random_masking(x, 1.0)


def test_forward_shapes_and_gradients():
    mae = _mae()
    imgs = torch.randn(3, 3, 32, 32)
    loss, pred, mask = mae(imgs, generator=torch.Generator().manual_seed(0))
    assert loss.ndim == 0 and pred.shape == (3, 16, 8 * 8 * 3) and mask.shape == (3, 16)
    assert torch.equal(mask.sum(1), torch.full((3,), 12.0))
    assert unpatchify(pred, 8).shape == imgs.shape
    loss.backward()
    assert mae.encoder.pos_embed.grad is None  # fixed sin-cos table
    for name, p in mae.named_parameters():
        if p.requires_grad and not name.startswith("encoder.head"):
            assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_position_embeddings_are_fixed_sincos_tables():
    mae = _mae()
    table = sinusoidal_embedding_2d(4, 4, 32)  # [L, C]
    pos = mae.encoder.pos_embed
    assert not pos.requires_grad
    torch.testing.assert_close(pos[0, 1:], table)
    assert torch.equal(pos[0, 0], torch.zeros(32))  # class token position: zeros, as MAE
    torch.testing.assert_close(mae.decoder_pos_embed[0, 1:], sinusoidal_embedding_2d(4, 4, 16))
    state = mae.state_dict()
    assert "encoder.pos_embed" in state and "decoder_pos_embed" not in state  # buffer: not saved


@pytest.mark.parametrize("norm_pix_loss", [False, True])
def test_loss_counts_only_removed_patches(norm_pix_loss):
    mae = _mae(norm_pix_loss=norm_pix_loss)
    imgs = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        loss, pred, mask = mae(imgs, generator=torch.Generator().manual_seed(0))
        kept, removed = mask == 0, mask == 1
        changed_kept = pred.clone()
        changed_kept[kept] += 10.0
        assert torch.equal(mae.forward_loss(imgs, changed_kept, mask), loss)
        changed_removed = pred.clone()
        changed_removed[removed] += 10.0
        assert mae.forward_loss(imgs, changed_removed, mask) > loss + 1.0
        # by hand: the mean over removed patches of the per-patch mean squared error
        target = patchify(imgs, 8)
        if norm_pix_loss:
            target = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6) ** 0.5
        torch.testing.assert_close(loss, ((pred - target) ** 2).mean(-1)[removed].mean())
        perfect = torch.where(removed[..., None], target, torch.zeros_like(target))
        assert mae.forward_loss(imgs, perfect, mask) == 0


def test_mae_needs_a_token_pooled_encoder():
    encoder = VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=4, global_pool="avg")
    with pytest.raises(ValueError, match="global_pool='token'"):
        MaskedAutoencoder(encoder, decoder_dim=16, decoder_depth=1, decoder_num_heads=2)


@pytest.mark.parametrize("global_pool", ["avg", "token"])
def test_classifier_receives_the_encoder_weights(global_pool):
    mae = _mae()
    with torch.no_grad():  # make the encoder distinguishable from any fresh initialisation
        for p in mae.encoder.parameters():
            p.add_(torch.randn_like(p))
    clf = encoder_to_classifier(mae, num_classes=7, global_pool=global_pool)
    enc_state, clf_state = mae.encoder.state_dict(), clf.state_dict()
    handed = [k for k in enc_state if not k.startswith(("head.", "norm."))]
    assert len(handed) == len(enc_state) - 2 and all(torch.equal(enc_state[k], clf_state[k]) for k in handed)
    if global_pool == "token":  # the encoder's final norm is kept
        assert torch.equal(clf.norm.weight, mae.encoder.norm.weight)
    else:  # MAE's fine-tuning: the norm moves after pooling and starts fresh
        assert isinstance(clf.norm, torch.nn.Identity)
        assert torch.equal(clf.fc_norm.weight, torch.ones(32)) and torch.equal(clf.fc_norm.bias, torch.zeros(32))
    assert clf.head.weight.shape == (7, 32) and clf.head.weight.abs().max() < 1e-3  # MAE: std 2e-5
    assert clf.pos_embed.requires_grad  # fine-tuning learns the position embeddings again
    assert clf(torch.randn(2, 3, 32, 32)).shape == (2, 7)
    with torch.no_grad():  # a copy: fine-tuning does not change the pre-trained encoder
        clf.blocks[0].attn.qkv.weight.zero_()
    assert mae.encoder.blocks[0].attn.qkv.weight.abs().sum() > 0
