"""Swin: windows, relative position bias, the shifted-window mask, and equivalence with timm 1.0."""

import pytest
import timm
import torch
from timm.models.swin_transformer import PatchMerging as TimmPatchMerging
from timm.models.swin_transformer import SwinTransformerBlock as TimmSwinBlock
from timm.models.swin_transformer import get_relative_position_index

from harlearn.transformers.swin import (
    PatchMerging,
    SwinBlock,
    SwinTransformer,
    WindowAttention,
    relative_position_index,
    shifted_window_mask,
    window_partition,
    window_reverse,
)

B = -100.0  # blocked


def test_window_partition_cuts_row_major_windows_and_reverse_undoes_it():
    x = torch.randn(2, 6, 9, 5)  # [B, H, W, C]
    windows = window_partition(x, 3)
    assert windows.shape == (2 * 2 * 3, 3, 3, 5)
    torch.testing.assert_close(windows[0], x[0, 0:3, 0:3])
    torch.testing.assert_close(windows[1], x[0, 0:3, 3:6])  # next window to the right
    torch.testing.assert_close(windows[3], x[0, 3:6, 0:3])  # next row of windows
    torch.testing.assert_close(windows[6], x[1, 0:3, 0:3])  # next image
    assert torch.equal(window_reverse(windows, 3, 6, 9), x)


def test_relative_position_index_by_hand():
    # ws = 2: tokens (0,0) (0,1) (1,0) (1,1); index = (dy + 1) * 3 + (dx + 1), dy = y_i - y_j
    expected = torch.tensor([[4, 3, 1, 0], [5, 4, 2, 1], [7, 6, 4, 3], [8, 7, 5, 4]])
    assert torch.equal(relative_position_index(2), expected)
    assert torch.equal(relative_position_index(7), get_relative_position_index(7, 7))


def test_shifted_window_mask_by_hand():
    # 4x4 map, 2x2 windows, shift 1. Region labels after the roll (3 x 3 regions):
    #   0 0 1 2
    #   0 0 1 2
    #   3 3 4 5
    #   6 6 7 8
    mask = shifted_window_mask(4, 4, window_size=2, shift_size=1)
    assert mask.shape == (4, 4, 4)
    assert torch.equal(mask[0], torch.zeros(4, 4))  # top-left window: one region
    labels = [[1, 2, 1, 2], [3, 3, 6, 6], [4, 5, 7, 8]]  # tokens of windows 1, 2, 3 (row-major)
    expected = [
        [[0, B, 0, B], [B, 0, B, 0], [0, B, 0, B], [B, 0, B, 0]],
        [[0, 0, B, B], [0, 0, B, B], [B, B, 0, 0], [B, B, 0, 0]],
        [[0, B, B, B], [B, 0, B, B], [B, B, 0, B], [B, B, B, 0]],
    ]
    for w, (lab, exp) in enumerate(zip(labels, expected), start=1):
        lab = torch.tensor(lab)
        assert torch.equal(mask[w], torch.tensor(exp))
        assert torch.equal(mask[w] == 0, lab[:, None] == lab[None, :])


def test_window_attention_fused_path_matches_reference_path():
    torch.manual_seed(0)
    fused = WindowAttention(16, window_size=4, num_heads=2, fused=True).eval()
    reference = WindowAttention(16, window_size=4, num_heads=2, fused=False).eval()
    with torch.no_grad():
        fused.relative_position_bias_table.normal_()  # a bias large enough to matter
    reference.load_state_dict(fused.state_dict())
    x = torch.randn(2 * 4, 16, 16)  # [B*nW, N, C]: 2 images of 4 windows
    mask = shifted_window_mask(8, 8, 4, 2)
    with torch.no_grad():
        torch.testing.assert_close(fused(x, mask), reference(x, mask), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(fused(x), reference(x), atol=1e-5, rtol=1e-5)
        assert not torch.allclose(fused(x, mask), fused(x), atol=1e-3)  # the mask is applied


@pytest.mark.parametrize(
    "resolution, window, shift",
    [
        ((8, 8), 4, 0),  # W-MSA
        ((8, 8), 4, 2),  # SW-MSA
        ((10, 10), 4, 2),  # padded to 12 x 12
        ((4, 4), 7, 3),  # window larger than the map: one window, no shift
    ],
)
def test_swin_block_matches_timm_block(resolution, window, shift):
    torch.manual_seed(0)
    ref = TimmSwinBlock(
        dim=16, input_resolution=resolution, num_heads=2, window_size=window, shift_size=shift
    ).eval()
    ours = SwinBlock(16, resolution, num_heads=2, window_size=window, shift_size=shift).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    assert (ours.window_size, ours.shift_size) == (ref.window_size[0], ref.shift_size[0])
    if ref.attn_mask is not None:
        assert torch.equal(ours.attn_mask, ref.attn_mask)
    x = torch.randn(2, *resolution, 16)  # timm 1.0 blocks take [B, H, W, C]
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)


def test_the_shift_changes_the_block():
    torch.manual_seed(0)
    plain = SwinBlock(16, (8, 8), num_heads=2, window_size=4, shift_size=0).eval()
    shifted = SwinBlock(16, (8, 8), num_heads=2, window_size=4, shift_size=2).eval()
    shifted.load_state_dict(plain.state_dict())
    x = torch.randn(1, 8, 8, 16)
    with torch.no_grad():
        assert not torch.allclose(plain(x), shifted(x), atol=1e-4)
    with pytest.raises(ValueError, match=r"built for \(8, 8\)"):
        plain(torch.randn(1, 4, 4, 16))


@pytest.mark.parametrize("size", [(6, 6), (5, 7)])  # (5, 7): odd, padded first
def test_patch_merging_matches_timm(size):
    torch.manual_seed(0)
    ref = TimmPatchMerging(8).eval()
    ours = PatchMerging(8)
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, *size, 8)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x))
    assert ours(x).shape == (2, (size[0] + 1) // 2, (size[1] + 1) // 2, 16)


@pytest.mark.parametrize("img_size", [224, 96])  # 96: stage maps 24, 12 (padded), 6 and 3 (one window)
def test_swin_transformer_matches_timm_swin_tiny_layout(img_size):
    torch.manual_seed(0)
    small = dict(embed_dim=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4), num_classes=5)
    ref = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, img_size=img_size, **small).eval()
    ours = SwinTransformer(img_size, **small).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(1, 3, img_size, img_size)
    with torch.no_grad():
        torch.testing.assert_close(ours.forward_features(x), ref.forward_features(x), atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(ours(x), ref(x), atol=1e-4, rtol=1e-4)
    assert ours.forward_features(x).shape == (1, img_size // 32, img_size // 32, 128)


def test_swin_tiny_default_has_timm_names_and_shapes():
    with torch.device("meta"):
        ours = SwinTransformer()
        ref = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}


def test_swin_trains_end_to_end():
    torch.manual_seed(0)
    model = SwinTransformer(32, patch_size=2, embed_dim=8, depths=(2, 2), num_heads=(1, 2), window_size=4,
                            num_classes=3, drop_path_rate=0.1)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(2, 3, 32, 32)), torch.tensor([0, 2]))
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
