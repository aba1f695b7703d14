"""Video Swin: 3D windows, the 3D shifted-window mask, and equivalence with torchvision's SwinTransformer3d."""

import torch
import torchvision
from torchvision.models.video import swin_transformer as tv_swin3d

from harlearn.video.swin3d import (
    PatchMerging,
    SwinTransformer3d,
    relative_position_index_3d,
    shifted_window_mask_3d,
    swin3d_t,
    window_and_shift,
    window_partition_3d,
    window_reverse_3d,
)


def test_window_partition_3d_cuts_time_major_windows_and_reverse_undoes_it():
    x = torch.randn(2, 4, 6, 9, 5)  # [B, T, H, W, C]
    win = window_partition_3d(x, (2, 3, 3))
    assert win.shape == (2 * 2 * 2 * 3, 2 * 3 * 3, 5)
    torch.testing.assert_close(win[0], x[0, 0:2, 0:3, 0:3].reshape(-1, 5))
    torch.testing.assert_close(win[1], x[0, 0:2, 0:3, 3:6].reshape(-1, 5))  # next window in W
    torch.testing.assert_close(win[3], x[0, 0:2, 3:6, 0:3].reshape(-1, 5))  # next row of windows
    torch.testing.assert_close(win[6], x[0, 2:4, 0:3, 0:3].reshape(-1, 5))  # next window in time
    assert torch.equal(window_reverse_3d(win, (2, 3, 3), 2, 4, 6, 9), x)


def test_relative_position_index_3d_matches_torchvision():
    for window in ([2, 2, 2], [8, 7, 7], [1, 3, 2]):
        attn = tv_swin3d.ShiftedWindowAttention3d(8, window, [0, 0, 0], 2)
        assert torch.equal(relative_position_index_3d(window), attn.relative_position_index)
    idx = relative_position_index_3d([2, 2, 2])
    assert idx.diagonal().unique().numel() == 1  # offset (0, 0, 0) everywhere on the diagonal
    assert idx.max() == 3 * 3 * 3 - 1


def test_shifted_window_mask_3d_matches_torchvision_and_separates_wrapped_tokens():
    for size, window, shift in (((4, 6, 6), (2, 3, 3), (1, 1, 1)), ((8, 14, 14), (8, 7, 7), (0, 3, 3)), ((4, 4, 6), (2, 2, 3), (1, 1, 1))):
        ours = shifted_window_mask_3d(size, window, shift)  # [nW, Nw, Nw] bool
        theirs = tv_swin3d._compute_attention_mask_3d(torch.zeros(1), size, window, shift)  # additive 0 / -100
        assert torch.equal(ours, theirs == 0)
    m = shifted_window_mask_3d((4, 6, 6), (2, 3, 3), (1, 1, 1))
    assert m[0].all()  # the first window holds no wrapped token
    assert not m[-1].all()  # the last one holds tokens from every corner of the clip
    assert torch.equal(m, m.transpose(1, 2)) and m.diagonal(dim1=1, dim2=2).all()


def test_window_shrinks_to_a_small_grid_and_is_not_shifted_there():
    assert window_and_shift((4, 16, 16), (8, 7, 7), (4, 3, 3)) == ([4, 7, 7], [0, 3, 3])
    assert window_and_shift((9, 7, 8), (8, 7, 7), (4, 3, 3)) == ([8, 7, 7], [4, 0, 3])


def test_patch_merging_merges_space_only():
    merge = PatchMerging(6)
    y = merge(torch.randn(2, 5, 7, 9, 6))  # [B, T, H, W, C], odd H and W
    assert y.shape == (2, 5, 4, 5, 12)  # T kept, H and W halved (rounded up), width doubled


def _equal_outputs(ref: torch.nn.Module, ours: torch.nn.Module, x: torch.Tensor) -> None:
    missing = ours.load_state_dict(ref.state_dict(), strict=True)
    assert not missing.missing_keys and not missing.unexpected_keys
    ref.eval(), ours.eval()
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)


def test_swin3d_t_default_config_loads_torchvision_weights_and_gives_the_same_logits():
    torch.manual_seed(0)
    ref = torchvision.models.video.swin3d_t()  # the default configuration, random weights
    ours = swin3d_t()
    assert [k for k in ours.state_dict()] == [k for k in ref.state_dict()]
    assert sum(p.numel() for p in ours.parameters()) == 28_158_070  # torchvision's num_params
    # a small clip that still exercises every case: T'=9 > 8 shifts and pads in time, H'=16 pads to 21
    _equal_outputs(ref, ours, torch.randn(1, 3, 18, 64, 64))


def test_small_custom_swin3d_matches_torchvision_with_padding_and_shifts():
    torch.manual_seed(1)
    cfg = dict(patch_size=[2, 4, 4], embed_dim=24, depths=[2, 2], num_heads=[2, 4], window_size=[2, 3, 3],
               num_classes=5, stochastic_depth_prob=0.0)
    ref, ours = torchvision.models.video.SwinTransformer3d(**cfg), SwinTransformer3d(**cfg)
    _equal_outputs(ref, ours, torch.randn(2, 3, 8, 36, 36))  # grid 4 x 9 x 9, then 4 x 5 x 5 (padded to 6)
    logits = ours(torch.randn(2, 3, 6, 32, 40))  # any size: padded to the patch
    assert logits.shape == (2, 5)
    ours.train()
    ours(torch.randn(1, 3, 4, 16, 16)).sum().backward()
    assert ours.features[0][0].attn.relative_position_bias_table.grad is not None
