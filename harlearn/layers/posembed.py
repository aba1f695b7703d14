"""Fixed sinusoidal position embeddings, in 1D (a sequence) and 2D (a grid of patches).

Paper: Vaswani et al., "Attention Is All You Need", NeurIPS 2017, arXiv:1706.03762 (section 3.5)
for the 1D table; He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022,
arXiv:2111.06377, for the 2D layout (``get_2d_sincos_pos_embed`` in facebookresearch/mae
``util/pos_embed.py``, itself taken from MoCo v3).

A self-attention layer sees a *set* of tokens: permute them and the output is permuted the same
way. Adding a position embedding to every token is how a Transformer learns where a token came
from. These tables are fixed (not learned), so a module stores them as a buffer that is not saved
in the state dict, since it can always be recomputed::

    self.register_buffer("pos_embed", sinusoidal_embedding_2d(14, 14, 768), persistent=False)

Both functions compute in float64 and return float32 tensors on the CPU; ``module.to(device)``
moves the buffer with the module.

Departures:
    * The 1D table interleaves sine and cosine (``p[t, 2k] = sin``, ``p[t, 2k+1] = cos``) exactly
      as the Transformer paper writes it; many codebases (MAE included) concatenate all sines and
      then all cosines instead. Both carry the same information, but they are different tensors.
    * The 2D table follows MAE's layout exactly (see ``sinusoidal_embedding_2d``) and accepts
      a rectangular grid; MAE's function only takes a square ``grid_size``. Where MAE prepends a
      zero row for the class token (``cls_token=True``), the caller concatenates it here.
"""

from __future__ import annotations

import torch

__all__ = ["sinusoidal_embedding_1d", "sinusoidal_embedding_2d"]


def _frequencies(dim: int, temperature: float) -> torch.Tensor:
    """Angular frequencies ``omega_k = 1 / temperature ** (2k / dim)`` for ``k = 0 .. dim/2 - 1``.

    Returns a float64 tensor of shape ``[dim // 2]``, from 1 (fast) down to about
    ``1 / temperature`` (slow).
    """
    two_k = torch.arange(0, dim, 2, dtype=torch.float64)  # [D/2]: 0, 2, 4, ..., D-2
    return 1.0 / temperature ** (two_k / dim)  # [D/2]


def sinusoidal_embedding_1d(num_positions: int, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """The Transformer's sinusoidal position table, sine and cosine interleaved.

    Row ``t`` is the embedding of position ``t``::

        p[t, 2k]     = sin(omega_k * t)
        p[t, 2k + 1] = cos(omega_k * t),   omega_k = 1 / temperature ** (2k / dim)

    Args:
        num_positions: Number of positions ``N`` (rows of the table), positions ``0 .. N-1``.
        dim: Embedding width ``D`` (columns); must be even.
        temperature: The base of the geometric progression of wavelengths (10000 in the paper).

    Returns:
        A float32 tensor of shape ``[num_positions, dim]``.

    Raises:
        ValueError: If ``dim`` is odd or a size is not positive.
    """
    if dim <= 0 or dim % 2 != 0:
        raise ValueError(f"sinusoidal_embedding_1d needs an even, positive dim; got dim={dim}.")
    if num_positions <= 0:
        raise ValueError(f"num_positions must be positive; got {num_positions}.")
    positions = torch.arange(num_positions, dtype=torch.float64)  # [N]
    angles = positions[:, None] * _frequencies(dim, temperature)[None, :]  # [N, D/2]: omega_k * t
    table = torch.stack([angles.sin(), angles.cos()], dim=-1)  # [N, D/2, 2]: (sin, cos) pairs
    table = table.reshape(num_positions, dim)  # [N, D/2, 2] -> [N, D]: sin, cos, sin, cos, ...
    return table.float()


def _sincos_concatenated(positions: torch.Tensor, dim: int, temperature: float) -> torch.Tensor:
    """MAE's 1D table for given positions: all sines, then all cosines.

    Args:
        positions: Positions, shape ``[M]`` (any real values).
        dim: Width of the result; must be even.
        temperature: Base of the wavelengths.

    Returns:
        A float64 tensor of shape ``[M, dim]``.
    """
    angles = positions.double()[:, None] * _frequencies(dim, temperature)[None, :]  # [M, D/2]
    return torch.cat([angles.sin(), angles.cos()], dim=1)  # [M, D]: [sin ..., cos ...]


def sinusoidal_embedding_2d(height: int, width: int, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """A 2D sine-cosine position table for a ``height x width`` grid of patches, MAE's layout.

    Row ``i * width + j`` is the embedding of the patch in grid row ``i`` and column ``j``, the
    order of ``x.flatten(2).transpose(1, 2)`` on a ``[B, C, H, W]`` feature map. Its first
    ``dim / 2`` entries encode the column ``j`` and its last ``dim / 2`` the row ``i``; each
    half is ``[sin(omega_k * pos) ..., cos(omega_k * pos) ...]`` (concatenated, not interleaved)
    with ``omega_k = 1 / temperature ** (2k / (dim / 2))``.

    This is exactly MAE's ``get_2d_sincos_pos_embed(dim, grid_size)`` (without ``cls_token``)
    for a square grid. MAE builds the grid with ``np.meshgrid(grid_w, grid_h)`` ("here w goes
    first"), so the half its code calls ``emb_h`` in fact encodes the column (the horizontal
    position); we keep that order so MAE checkpoints and ours agree.

    Args:
        height: Number of grid rows ``H``.
        width: Number of grid columns ``W``.
        dim: Embedding width ``D``; must be divisible by 4 (two halves of sine and cosine pairs).
        temperature: The base of the wavelengths (10000 as in MAE).

    Returns:
        A float32 tensor of shape ``[height * width, dim]``.

    Raises:
        ValueError: If ``dim`` is not divisible by 4 or a size is not positive.
    """
    if dim <= 0 or dim % 4 != 0:
        raise ValueError(f"sinusoidal_embedding_2d needs dim divisible by 4; got dim={dim}.")
    if height <= 0 or width <= 0:
        raise ValueError(f"height and width must be positive; got {height} x {width}.")
    rows, cols = torch.meshgrid(
        torch.arange(height, dtype=torch.float64),
        torch.arange(width, dtype=torch.float64),
        indexing="ij",
    )  # each [H, W]: rows[i, j] = i, cols[i, j] = j (what MAE's meshgrid(w, h) returns, swapped)
    emb_cols = _sincos_concatenated(cols.reshape(-1), dim // 2, temperature)  # [H*W, D/2]
    emb_rows = _sincos_concatenated(rows.reshape(-1), dim // 2, temperature)  # [H*W, D/2]
    return torch.cat([emb_cols, emb_rows], dim=1).float()  # [H*W, D]
