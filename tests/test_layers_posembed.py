"""harlearn.layers.posembed: the 1D formula and MAE's 2D table, re-implemented here."""

import math

import numpy as np
import pytest
import torch

from harlearn.layers import sinusoidal_embedding_1d, sinusoidal_embedding_2d


# --- MAE's util/pos_embed.py (facebookresearch/mae), copied logic; grid_size may be (h, w) -------
def mae_get_2d_sincos_pos_embed(embed_dim, grid_size, cls_token=False):
    gh, gw = (grid_size, grid_size) if isinstance(grid_size, int) else grid_size
    grid_h = np.arange(gh, dtype=np.float32)
    grid_w = np.arange(gw, dtype=np.float32)
    grid = np.meshgrid(grid_w, grid_h)  # here w goes first
    grid = np.stack(grid, axis=0)

    grid = grid.reshape([2, 1, gh, gw])
    pos_embed = mae_get_2d_sincos_pos_embed_from_grid(embed_dim, grid)
    if cls_token:
        pos_embed = np.concatenate([np.zeros([1, embed_dim]), pos_embed], axis=0)
    return pos_embed


def mae_get_2d_sincos_pos_embed_from_grid(embed_dim, grid):
    assert embed_dim % 2 == 0
    # use half of dimensions to encode grid_h
    emb_h = mae_get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[0])  # (H*W, D/2)
    emb_w = mae_get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[1])  # (H*W, D/2)
    emb = np.concatenate([emb_h, emb_w], axis=1)  # (H*W, D)
    return emb


def mae_get_1d_sincos_pos_embed_from_grid(embed_dim, pos):
    assert embed_dim % 2 == 0
    omega = np.arange(embed_dim // 2, dtype=np.float32)
    omega /= embed_dim / 2.0
    omega = 1.0 / 10000**omega  # (D/2,)
    pos = pos.reshape(-1)  # (M,)
    out = np.einsum("m,d->md", pos, omega)  # (M, D/2), outer product
    emb_sin = np.sin(out)  # (M, D/2)
    emb_cos = np.cos(out)  # (M, D/2)
    emb = np.concatenate([emb_sin, emb_cos], axis=1)  # (M, D)
    return emb


# ---------------------------------------------------------------------------------------------


def test_1d_matches_the_transformer_formula():
    n, d = 50, 16
    table = sinusoidal_embedding_1d(n, d)
    assert table.shape == (n, d) and table.dtype == torch.float32
    expected = torch.empty(n, d, dtype=torch.float64)
    for t in range(n):
        for k in range(d // 2):
            omega = 1.0 / 10000 ** (2 * k / d)
            expected[t, 2 * k] = math.sin(omega * t)
            expected[t, 2 * k + 1] = math.cos(omega * t)
    torch.testing.assert_close(table, expected.float(), atol=1e-6, rtol=0)


def test_1d_first_rows_by_hand():
    table = sinusoidal_embedding_1d(2, 4)
    # t = 0: sin 0, cos 0, sin 0, cos 0; t = 1: omega = (1, 1/100)
    expected = torch.tensor([[0.0, 1.0, 0.0, 1.0], [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)]])
    torch.testing.assert_close(table, expected)


def test_1d_temperature():
    table = sinusoidal_embedding_1d(3, 2, temperature=1.0)  # one frequency, omega = 1
    torch.testing.assert_close(table[:, 0], torch.sin(torch.arange(3.0)))


@pytest.mark.parametrize("height,width,dim", [(14, 14, 64), (4, 4, 768), (3, 5, 16), (1, 7, 8)])
def test_2d_equals_mae(height, width, dim):
    ours = sinusoidal_embedding_2d(height, width, dim)
    assert ours.shape == (height * width, dim) and ours.dtype == torch.float32
    grid = height if height == width else (height, width)
    mae = torch.from_numpy(mae_get_2d_sincos_pos_embed(dim, grid)).float()
    torch.testing.assert_close(ours, mae, atol=1e-5, rtol=0)


def test_2d_first_half_encodes_the_column():
    table = sinusoidal_embedding_2d(3, 4, 8).reshape(3, 4, 8)  # [H, W, D]
    # the first half depends only on the column j, the second only on the row i
    assert torch.equal(table[0, :, :4], table[2, :, :4])
    assert torch.equal(table[:, 0, 4:], table[:, 3, 4:])
    assert not torch.equal(table[:, 0, :4], table[:, 1, :4])


def test_2d_matches_mae_with_cls_token_prepended():
    mae = torch.from_numpy(mae_get_2d_sincos_pos_embed(32, 4, cls_token=True)).float()
    ours = torch.cat([torch.zeros(1, 32), sinusoidal_embedding_2d(4, 4, 32)])
    torch.testing.assert_close(ours, mae, atol=1e-5, rtol=0)


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="even"):
        sinusoidal_embedding_1d(4, 7)
    with pytest.raises(ValueError, match="divisible by 4"):
        sinusoidal_embedding_2d(4, 4, 6)
    with pytest.raises(ValueError, match="positive"):
        sinusoidal_embedding_2d(0, 4, 8)
