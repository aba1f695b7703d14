"""Tube masking (VideoMAE), its ablations, and the VideoMAE pre-train -> fine-tune path."""

import math

import numpy as np
import pytest
import torch

from harlearn.transformers.mae import encoder_to_classifier
from harlearn.video import (
    ViViT,
    VideoMAE,
    apply_mask,
    frame_masking,
    random_token_masking,
    tube_masking,
    tubelet_patchify,
    tubelet_unpatchify,
    videomae_loss_fn,
)


def test_tube_masking_hides_the_same_positions_in_every_frame():
    g = torch.Generator().manual_seed(0)
    mask = tube_masking(4, frames=8, patches_per_frame=196, ratio=0.9, generator=g)  # VideoMAE-B's grid
    assert mask.shape == (4, 8 * 196) and mask.dtype == torch.bool
    per_frame = mask.view(4, 8, 196)
    assert (per_frame == per_frame[:, :1]).all()  # a tube: frame 0's pattern in every frame
    assert (per_frame[:, 0].sum(1) == int(0.9 * 196)).all()  # VideoMAE's int(ratio * patches) = 176
    assert not torch.equal(per_frame[0, 0], per_frame[1, 0])  # each clip its own tubes
    again = tube_masking(4, 8, 196, 0.9, generator=torch.Generator().manual_seed(0))
    assert torch.equal(mask, again)


def test_random_and_frame_masking_hide_as_many_tokens_differently():
    g = torch.Generator().manual_seed(1)
    rnd = random_token_masking(3, 4, 16, 0.75, generator=g)
    assert (rnd.sum(1) == 4 * int(0.75 * 16)).all()
    assert not (rnd.view(3, 4, 16) == rnd.view(3, 4, 16)[:, :1]).all()  # not tubes
    frm = frame_masking(3, 8, 16, 0.875, generator=g).view(3, 8, 16)
    assert (frm.all(2) | ~frm.any(2)).all()  # whole frames hidden or shown
    assert (frm.all(2).sum(1) == 7).all()
    with pytest.raises(ValueError):
        tube_masking(1, 2, 4, 1.0)


def test_apply_mask_keeps_the_visible_tokens_and_restores_the_order():
    x = torch.arange(2 * 6, dtype=torch.float32).view(2, 6, 1)
    mask = torch.tensor([[1, 0, 1, 0, 0, 1], [0, 0, 1, 1, 1, 0]], dtype=torch.bool)
    kept, m, ids_restore = apply_mask(x, mask)
    assert kept[..., 0].tolist() == [[1, 3, 4], [6, 7, 11]]
    assert m.dtype == x.dtype and torch.equal(m.bool(), mask)
    filled = torch.cat([kept, torch.full((2, 3, 1), -1.0)], dim=1)  # MAE's decoder: append mask tokens ...
    restored = torch.gather(filled, 1, ids_restore[..., None])  # ... and gather them back in place
    assert torch.equal(restored[..., 0] == -1, mask) and torch.equal(restored[~mask], x[~mask])
    with pytest.raises(ValueError):
        apply_mask(x, torch.tensor([[1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0]], dtype=torch.bool))


def test_tubelet_patchify_follows_the_token_order_and_inverts():
    v = torch.randn(2, 3, 4, 8, 12)  # [B, C, T, H, W]
    cubes = tubelet_patchify(v, 2, 4)  # grid 2 x 2 x 3
    assert cubes.shape == (2, 12, 2 * 4 * 4 * 3)
    n = 1 * 6 + 1 * 3 + 2  # token (i=1, j=1, k=2)
    expected = v[0, :, 2:4, 4:8, 8:12].permute(1, 2, 3, 0).reshape(-1)  # frames, rows, columns, channels last
    assert torch.equal(cubes[0, n], expected)
    assert torch.equal(tubelet_unpatchify(cubes, 2, 4, (2, 2, 3)), v)


def _encoder(**kw):
    return ViViT(img_size=16, num_frames=4, patch_size=4, tubelet_size=2, num_classes=0, embed_dim=32, depth=2,
                 num_heads=2, **kw)


def test_videomae_position_table_is_videomaes_sinusoid():
    vmae = VideoMAE(_encoder(), decoder_dim=16, decoder_depth=1, decoder_num_heads=2)
    n, d = 2 * 4 * 4, 32
    # VideoMAE's get_sinusoid_encoding_table, as written there
    table = np.array([[pos / np.power(10000, 2 * (j // 2) / d) for j in range(d)] for pos in range(n)])
    table[:, 0::2], table[:, 1::2] = np.sin(table[:, 0::2]), np.cos(table[:, 1::2])
    torch.testing.assert_close(vmae.encoder.pos_embed[0, 1:], torch.tensor(table, dtype=torch.float32))
    assert not vmae.encoder.pos_embed.requires_grad


def test_videomae_pretrains_on_the_visible_tenth_and_fine_tunes():
    torch.manual_seed(0)
    vmae = VideoMAE(_encoder(), decoder_dim=16, decoder_depth=1, decoder_num_heads=2, mask_ratio=0.9)
    video = torch.randn(2, 3, 4, 16, 16)
    g = torch.Generator().manual_seed(0)
    latent, mask, _ = vmae.forward_encoder(video, 0.9, g)
    assert latent.shape == (2, 1 + 2 * (16 - int(0.9 * 16)), 32)  # class token + 2 visible tubes x 2 frames
    assert (mask.view(2, 2, 16) == mask.view(2, 2, 16)[:, :1]).all()  # tube masking
    loss, pred, mask = vmae(video)
    assert pred.shape == (2, 32, 2 * 4 * 4 * 3) and math.isfinite(loss.item())
    assert vmae.unpatchify(pred).shape == video.shape
    loss, _ = videomae_loss_fn()(vmae, {"video": video})
    loss.backward()
    assert vmae.encoder.blocks[0].attn.qkv.weight.grad is not None
    # the loss counts only the hidden cubes: changing a visible cube's target changes nothing
    with torch.no_grad():
        _, pred, mask = vmae(video, generator=torch.Generator().manual_seed(3))
        target = vmae.patchify(video)
        visible = (~mask.bool())[0].nonzero()[0, 0]
        v2 = vmae.unpatchify(target.index_put((torch.tensor([0]), visible[None]), torch.zeros(target.shape[-1])))
        torch.testing.assert_close(vmae.forward_loss(video, pred, mask), vmae.forward_loss(v2, pred, mask))
    clf = encoder_to_classifier(vmae, num_classes=5)
    assert isinstance(clf, ViViT) and clf.variant == "joint" and clf.global_pool == "avg"
    torch.testing.assert_close(clf.blocks[1].mlp.fc2.weight, vmae.encoder.blocks[1].mlp.fc2.weight)
    assert clf.pos_embed.requires_grad and clf(video).shape == (2, 5)
    with pytest.raises(ValueError):
        VideoMAE(_encoder(variant="factorised_encoder"))
