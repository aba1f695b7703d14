"""Video Swin Transformer: self-attention inside 3D windows, shifted every other block.

Paper: Liu et al., *Video Swin Transformer*, CVPR 2022, arXiv:2106.13230. Production model
followed: ``torchvision.models.video.SwinTransformer3d`` (torchvision 0.14+), itself ported from
the paper's code (SwinTransformer/Video-Swin-Transformer).

The 2D Swin of :mod:`harlearn.transformers.swin`, one dimension up:

* :class:`PatchEmbed3d`: ``t x p x p`` tubelets (``2 x 4 x 4`` in Swin3D-T) become tokens on a
  ``[B, T', H', W', C]`` grid (channels last);
* :class:`ShiftedWindowAttention3d`: attention inside ``Wt x Wh x Ww`` windows (``8 x 7 x 7``)
  of that grid, with a learned bias per relative 3D offset; every second block first rolls the
  grid by half a window in time *and* space (3D shifted windows), and a mask keeps apart the
  tokens that the roll brought together from opposite borders (:func:`shifted_window_mask_3d`);
* :class:`PatchMerging`: between stages, 2 x 2 neighbours are merged **in space only**, so the
  width doubles, ``H'`` and ``W'`` halve and ``T'`` stays (the paper keeps the temporal
  resolution down to the head);
* :class:`SwinTransformer3d`: patch embedding, four stages, LayerNorm, average pool, head.

Read top to bottom: :func:`window_partition_3d` / :func:`window_reverse_3d`,
:func:`relative_position_index_3d`, :func:`shifted_window_mask_3d`,
:class:`ShiftedWindowAttention3d`, :class:`SwinTransformerBlock3d`, :class:`PatchMerging`,
:class:`PatchEmbed3d`, :class:`SwinTransformer3d`, then :func:`swin3d_t` / ``_s`` / ``_b``.
Feature maps are channels-last ``[B, T, H, W, C]``; the model's input is ``[B, C, T, H, W]``.

**Constructor arguments and parameter names are torchvision's** (``patch_embed.proj``,
``features.<i>.<j>.attn.qkv``, ``...attn.relative_position_bias_table``, ``...mlp.0``,
``features.<i>.reduction``, ``norm``, ``head``), so
``SwinTransformer3d(...).load_state_dict(torchvision.models.video.swin3d_t().state_dict())``
works with ``strict=True`` and gives the same outputs (``tests/test_video_swin3d.py``).
Details kept from torchvision (and the paper's code), where they depart from the paper's text:

* a grid not divisible by the window is zero-padded at the end of each dimension before
  partitioning (the padded tokens take part in attention, as in torchvision), and an odd one
  before patch merging;
* where the grid is not larger than the window in a dimension, the window shrinks to the grid
  there and that dimension is not shifted;
* the shifted-window mask is additive ``-100`` (not ``-inf``), and the MLP is a
  ``Sequential`` (``mlp.0`` and ``mlp.3`` are its linears).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from harlearn.layers.transformer import DropPath

__all__ = [
    "window_partition_3d",
    "window_reverse_3d",
    "relative_position_index_3d",
    "shifted_window_mask_3d",
    "window_and_shift",
    "ShiftedWindowAttention3d",
    "SwinTransformerBlock3d",
    "PatchMerging",
    "PatchEmbed3d",
    "SwinTransformer3d",
    "swin3d_t",
    "swin3d_s",
    "swin3d_b",
]

_Size3 = Sequence[int]


def window_partition_3d(x: torch.Tensor, window: _Size3) -> torch.Tensor:
    """Split a grid into non-overlapping 3D windows.

    Args:
        x: Grid ``[B, T, H, W, C]`` with each of ``T, H, W`` divisible by the window.
        window: ``(Wt, Wh, Ww)``.

    Returns:
        Windows as token sequences ``[B * nW, Wt*Wh*Ww, C]``, clip-major, then windows in
        ``(t, h, w)`` order, tokens in ``(t, h, w)`` order inside each window.
    """
    B, T, H, W, C = x.shape
    wt, wh, ww = window
    x = x.view(B, T // wt, wt, H // wh, wh, W // ww, ww, C)  # [B, T/wt, wt, H/wh, wh, W/ww, ww, C]
    x = x.permute(0, 1, 3, 5, 2, 4, 6, 7)  # [B, T/wt, H/wh, W/ww, wt, wh, ww, C]
    return x.reshape(-1, wt * wh * ww, C)  # [B*nW, Nw, C]


def window_reverse_3d(windows: torch.Tensor, window: _Size3, B: int, T: int, H: int, W: int) -> torch.Tensor:
    """Inverse of :func:`window_partition_3d`.

    Args:
        windows: ``[B * nW, Wt*Wh*Ww, C]``.
        window: ``(Wt, Wh, Ww)``.
        B, T, H, W: The grid's size.

    Returns:
        The grid ``[B, T, H, W, C]``.
    """
    wt, wh, ww = window
    C = windows.shape[-1]
    x = windows.view(B, T // wt, H // wh, W // ww, wt, wh, ww, C)  # [B, T/wt, H/wh, W/ww, wt, wh, ww, C]
    x = x.permute(0, 1, 4, 2, 5, 3, 6, 7)  # [B, T/wt, wt, H/wh, wh, W/ww, ww, C]
    return x.reshape(B, T, H, W, C)


def relative_position_index_3d(window: _Size3) -> torch.Tensor:
    """For every pair of tokens in a window, the row of their 3D offset in the bias table.

    An offset ``(dt, dh, dw)`` lies in ``[-(Wt-1), Wt-1] x [-(Wh-1), Wh-1] x [-(Ww-1), Ww-1]``:
    shifted to start at 0 and read as one mixed-radix number, it indexes a table of
    ``(2Wt-1)(2Wh-1)(2Ww-1)`` rows.

    Args:
        window: ``(Wt, Wh, Ww)``.

    Returns:
        Long ``[Nw, Nw]`` with ``Nw = Wt*Wh*Ww``: entry ``(i, j)`` is the table row of the offset
        from key ``j`` to query ``i``.
    """
    wt, wh, ww = window
    coords = torch.stack(torch.meshgrid(torch.arange(wt), torch.arange(wh), torch.arange(ww), indexing="ij"))  # [3, wt, wh, ww]
    coords = coords.flatten(1)  # [3, Nw]
    rel = coords[:, :, None] - coords[:, None, :]  # [3, Nw, Nw]: query minus key
    rel = rel.permute(1, 2, 0) + torch.tensor([wt - 1, wh - 1, ww - 1])  # [Nw, Nw, 3], each from 0
    return rel[..., 0] * (2 * wh - 1) * (2 * ww - 1) + rel[..., 1] * (2 * ww - 1) + rel[..., 2]  # [Nw, Nw]


def window_and_shift(size: _Size3, window: _Size3, shift: _Size3) -> tuple[list[int], list[int]]:
    """The window and shift actually used on a grid of ``size``: where the grid is not larger
    than the window, the window shrinks to the grid and that dimension is not shifted."""
    w, s = list(window), list(shift)
    for i in range(3):
        if size[i] <= w[i]:
            w[i], s[i] = size[i], 0
    return w, s


def shifted_window_mask_3d(size: _Size3, window: _Size3, shift: _Size3, device: torch.device | None = None) -> torch.Tensor:
    """Which token pairs of a shifted window may attend to each other.

    After rolling the (padded) grid by ``-shift``, a window at the end of a dimension holds
    tokens from up to two places that were not neighbours: the last ``window - shift`` before
    the roll and the first ``shift`` that wrapped around. Label each dimension's positions
    ``0 | 1 | 2`` for ``[0, size - window) | [size - window, size - shift) | [size - shift, size)``
    (only ``0`` where the shift is 0); tokens attend to each other only when their 3D labels agree.

    Args:
        size: The padded grid ``(T, H, W)``, each divisible by the window.
        window: ``(Wt, Wh, Ww)``.
        shift: ``(St, Sh, Sw)``.
        device: Where to build the mask.

    Returns:
        Boolean ``[nW, Nw, Nw]``, True where query ``i`` may attend to key ``j``, windows in
        :func:`window_partition_3d` order.
    """
    labels = []
    for n, w, s in zip(size, window, shift):
        lab = torch.zeros(n, dtype=torch.long, device=device)  # [n]
        if s > 0:
            lab[n - w: n - s] = 1
            lab[n - s:] = 2
        labels.append(lab)
    region = labels[0][:, None, None] * 9 + labels[1][None, :, None] * 3 + labels[2][None, None, :]  # [T, H, W]
    region = window_partition_3d(region[None, ..., None], window)[..., 0]  # [nW, Nw]
    return region[:, :, None] == region[:, None, :]  # [nW, Nw, Nw]


class ShiftedWindowAttention3d(nn.Module):
    """Multi-head self-attention inside (shifted) 3D windows, with a relative position bias.

    Args:
        dim: Token width ``C``.
        window_size: ``[Wt, Wh, Ww]``.
        shift_size: ``[St, Sh, Sw]``; zeros for a regular window block.
        num_heads: Heads ``h``.
        qkv_bias: Bias in the ``qkv`` projection.
        proj_bias: Bias in the output projection.
        attention_dropout: Dropout on the attention weights.
        dropout: Dropout after the output projection.
    """

    def __init__(
        self,
        dim: int,
        window_size: list[int],
        shift_size: list[int],
        num_heads: int,
        qkv_bias: bool = True,
        proj_bias: bool = True,
        attention_dropout: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if len(window_size) != 3 or len(shift_size) != 3:
            raise ValueError("window_size and shift_size must have 3 entries (T, H, W).")
        self.window_size = list(window_size)
        self.shift_size = list(shift_size)
        self.num_heads = num_heads
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        wt, wh, ww = self.window_size
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * wt - 1) * (2 * wh - 1) * (2 * ww - 1), num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        # persistent, as in torchvision (its state dict carries it)
        self.register_buffer("relative_position_index", relative_position_index_3d(self.window_size))

    def relative_position_bias(self, window: _Size3) -> torch.Tensor:
        """The bias ``[1, h, Nw, Nw]`` for a (possibly shrunk) window.

        A window shrunk to a small grid uses the top-left ``Nw x Nw`` block of the full
        window's index, as torchvision does.
        """
        n = window[0] * window[1] * window[2]
        index = self.relative_position_index[:n, :n].reshape(-1)  # [Nw*Nw]
        bias = self.relative_position_bias_table[index].view(n, n, -1)  # [Nw, Nw, h]
        return bias.permute(2, 0, 1).unsqueeze(0)  # [1, h, Nw, Nw]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend inside windows.

        Args:
            x: Grid ``[B, T, H, W, C]``.

        Returns:
            ``[B, T, H, W, C]``.
        """
        B, T, H, W, C = x.shape
        window, shift = window_and_shift((T, H, W), self.window_size, self.shift_size)
        # 1. pad each dimension up to a multiple of the window (zeros at the end)
        pad = [(w - n % w) % w for n, w in zip((T, H, W), window)]
        x = F.pad(x, (0, 0, 0, pad[2], 0, pad[1], 0, pad[0]))  # [B, Tp, Hp, Wp, C]
        Tp, Hp, Wp = x.shape[1:4]
        # 2. cyclic shift: the windows of this block straddle the previous block's borders
        shifted = sum(shift) > 0
        if shifted:
            x = torch.roll(x, shifts=[-s for s in shift], dims=(1, 2, 3))
        # 3. windows -> attention inside each
        win = window_partition_3d(x, window)  # [B*nW, Nw, C]
        Bw, Nw, _ = win.shape
        h, d = self.num_heads, C // self.num_heads
        q, k, v = self.qkv(win).reshape(Bw, Nw, 3, h, d).permute(2, 0, 3, 1, 4)  # 3 x [B*nW, h, Nw, d]
        scores = (q * d**-0.5) @ k.transpose(-2, -1)  # [B*nW, h, Nw, Nw]
        scores = scores + self.relative_position_bias(window)  # [B*nW, h, Nw, Nw]
        if shifted:
            allowed = shifted_window_mask_3d((Tp, Hp, Wp), window, shift, x.device)  # [nW, Nw, Nw]
            penalty = torch.zeros(allowed.shape, dtype=scores.dtype, device=x.device).masked_fill(~allowed, -100.0)
            nW = allowed.shape[0]
            scores = scores.view(B, nW, h, Nw, Nw) + penalty[None, :, None]  # [B, nW, h, Nw, Nw]
            scores = scores.view(Bw, h, Nw, Nw)
        attn = F.dropout(scores.softmax(dim=-1), p=self.attention_dropout, training=self.training)
        out = (attn @ v).transpose(1, 2).reshape(Bw, Nw, C)  # [B*nW, Nw, C]
        out = F.dropout(self.proj(out), p=self.dropout, training=self.training)
        # 4. windows -> grid, undo the shift, drop the padding
        x = window_reverse_3d(out, window, B, Tp, Hp, Wp)  # [B, Tp, Hp, Wp, C]
        if shifted:
            x = torch.roll(x, shifts=list(shift), dims=(1, 2, 3))
        return x[:, :T, :H, :W, :].contiguous()  # [B, T, H, W, C]


class SwinTransformerBlock3d(nn.Module):
    """Pre-norm block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``, on ``[B, T, H, W, C]``.

    torchvision's ``SwinTransformerBlock`` with ``attn_layer=ShiftedWindowAttention3d``, with its
    arguments and names (``norm1``, ``attn``, ``norm2``, ``mlp.0``, ``mlp.3``).

    Args:
        dim: Token width ``C``.
        num_heads: Heads ``h``.
        window_size: ``[Wt, Wh, Ww]``.
        shift_size: ``[St, Sh, Sw]`` (zeros, or half the window).
        mlp_ratio: MLP hidden width as a multiple of ``C``.
        dropout: Dropout after the attention projection and in the MLP.
        attention_dropout: Dropout on the attention weights.
        stochastic_depth_prob: Drop-path rate of both branches.
        norm_layer: Normalisation class.
        attn_layer: Attention class.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: list[int],
        shift_size: list[int],
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        stochastic_depth_prob: float = 0.0,
        norm_layer: Callable[..., nn.Module] = nn.LayerNorm,
        attn_layer: Callable[..., nn.Module] = ShiftedWindowAttention3d,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = attn_layer(dim, window_size, shift_size, num_heads, attention_dropout=attention_dropout, dropout=dropout)
        self.stochastic_depth = DropPath(stochastic_depth_prob)
        self.norm2 = norm_layer(dim)
        hidden = int(dim * mlp_ratio)
        # torchvision.ops.MLP's layout: Linear, GELU, Dropout, Linear, Dropout (mlp.0, mlp.3)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, T, H, W, C] -> [B, T, H, W, C]``."""
        x = x + self.stochastic_depth(self.attn(self.norm1(x)))
        return x + self.stochastic_depth(self.mlp(self.norm2(x)))


class PatchMerging(nn.Module):
    """Merge 2 x 2 spatial neighbours: ``[..., H, W, C] -> [..., H/2, W/2, 2C]`` (time untouched).

    Args:
        dim: Input width ``C``.
        norm_layer: Normalisation class (applied to the ``4C`` concatenation).
    """

    def __init__(self, dim: int, norm_layer: Callable[..., nn.Module] = nn.LayerNorm) -> None:
        super().__init__()
        self.dim = dim
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = norm_layer(4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., H, W, C] -> [..., ceil(H/2), ceil(W/2), 2C]`` (odd sizes zero-padded)."""
        H, W = x.shape[-3:-1]
        x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))  # [..., H+, W+, C]: even sizes
        x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], dim=-1)  # [..., H/2, W/2, 4C]
        return self.reduction(self.norm(x))  # [..., H/2, W/2, 2C]


class PatchEmbed3d(nn.Module):
    """Clip -> grid of tubelet tokens ``[B, T/t, H/p, W/p, C]`` (a ``Conv3d``, kernel = stride).

    The clip is zero-padded at the end of each dimension up to a multiple of the patch size.
    (:class:`harlearn.video.tubelet.TubeletEmbed` is the same operation, without the padding,
    for models with a fixed input size.)

    Args:
        patch_size: ``[t, p, p]``.
        in_channels: Channels per frame.
        embed_dim: Token width ``C``.
        norm_layer: Normalisation of the tokens, or None.
    """

    def __init__(
        self,
        patch_size: list[int],
        in_channels: int = 3,
        embed_dim: int = 96,
        norm_layer: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__()
        self.tuple_patch_size = tuple(int(p) for p in patch_size)
        self.proj = nn.Conv3d(in_channels, embed_dim, kernel_size=self.tuple_patch_size, stride=self.tuple_patch_size)
        self.norm = norm_layer(embed_dim) if norm_layer is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, T, H, W] -> [B, ceil(T/t), ceil(H/p), ceil(W/p), C]``."""
        T, H, W = x.shape[-3:]
        pad = [(p - n % p) % p for n, p in zip((T, H, W), self.tuple_patch_size)]
        x = F.pad(x, (0, pad[2], 0, pad[1], 0, pad[0]))  # [B, C_in, T+, H+, W+]
        x = self.proj(x)  # [B, C, T', H', W']
        return self.norm(x.permute(0, 2, 3, 4, 1))  # [B, T', H', W', C]


class SwinTransformer3d(nn.Module):
    """Video Swin Transformer (arXiv:2106.13230) with torchvision's arguments and parameter names.

    Args:
        patch_size: Tubelet ``[t, p, p]`` (``[2, 4, 4]``).
        embed_dim: Width of stage 1 ``C`` (doubles at every stage).
        depths: Blocks per stage (``[2, 2, 6, 2]`` for Swin3D-T).
        num_heads: Heads per stage.
        window_size: 3D window ``[Wt, Wh, Ww]`` (``[8, 7, 7]``).
        mlp_ratio: MLP hidden width as a multiple of the block width.
        dropout: Dropout rate (embeddings, attention projection, MLP).
        attention_dropout: Dropout on the attention weights.
        stochastic_depth_prob: Drop-path rate of the last block (linear from 0).
        num_classes: Classes of the head (Kinetics-400: 400).
        norm_layer: Normalisation class (default ``LayerNorm(eps=1e-5)``).
        block: Block class (default :class:`SwinTransformerBlock3d`).
        downsample_layer: Merging class between stages (default :class:`PatchMerging`).
        patch_embed: Embedding class (default :class:`PatchEmbed3d`).
    """

    def __init__(
        self,
        patch_size: list[int],
        embed_dim: int,
        depths: list[int],
        num_heads: list[int],
        window_size: list[int],
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        stochastic_depth_prob: float = 0.1,
        num_classes: int = 400,
        norm_layer: Callable[..., nn.Module] | None = None,
        block: Callable[..., nn.Module] | None = None,
        downsample_layer: Callable[..., nn.Module] = PatchMerging,
        patch_embed: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        block = SwinTransformerBlock3d if block is None else block
        norm_layer = partial(nn.LayerNorm, eps=1e-5) if norm_layer is None else norm_layer
        patch_embed = PatchEmbed3d if patch_embed is None else patch_embed
        self.patch_embed = patch_embed(patch_size=patch_size, embed_dim=embed_dim, norm_layer=norm_layer)
        self.pos_drop = nn.Dropout(p=dropout)

        layers: list[nn.Module] = []  # stage, merge, stage, merge, ..., stage (torchvision's ``features``)
        total, k = sum(depths), 0
        for i, depth in enumerate(depths):
            dim = embed_dim * 2**i
            stage = []
            for j in range(depth):
                stage.append(block(
                    dim, num_heads[i], window_size=window_size,
                    shift_size=[0 if j % 2 == 0 else w // 2 for w in window_size],  # every second block shifts
                    mlp_ratio=mlp_ratio, dropout=dropout, attention_dropout=attention_dropout,
                    stochastic_depth_prob=stochastic_depth_prob * k / max(total - 1, 1),
                    norm_layer=norm_layer, attn_layer=ShiftedWindowAttention3d,
                ))
                k += 1
            layers.append(nn.Sequential(*stage))
            if i < len(depths) - 1:
                layers.append(downsample_layer(dim, norm_layer))
        self.features = nn.Sequential(*layers)
        self.num_features = embed_dim * 2 ** (len(depths) - 1)
        self.norm = norm_layer(self.num_features)
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.head = nn.Linear(self.num_features, num_classes)
        for m in self.modules():  # torchvision's init (it also overrides the blocks' MLP init)
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Clips ``[B, C_in, T, H, W]`` -> normalised last-stage grid ``[B, T', H', W', C_last]``."""
        x = self.pos_drop(self.patch_embed(x))  # [B, T/2, H/4, W/4, C]
        x = self.features(x)  # [B, T/2, H/32, W/32, 8C]
        return self.norm(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Classify clips ``[B, C_in, T, H, W]`` into logits ``[B, num_classes]``."""
        x = self.forward_features(x).permute(0, 4, 1, 2, 3)  # [B, C, T', H', W']
        return self.head(torch.flatten(self.avgpool(x), 1))  # [B, num_classes]


# --- the three sizes of the paper, torchvision's builders -----------------------------------------

_CONFIGS = {
    "swin3d_t": dict(patch_size=[2, 4, 4], embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], window_size=[8, 7, 7]),
    "swin3d_s": dict(patch_size=[2, 4, 4], embed_dim=96, depths=[2, 2, 18, 2], num_heads=[3, 6, 12, 24], window_size=[8, 7, 7]),
    "swin3d_b": dict(patch_size=[2, 4, 4], embed_dim=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32], window_size=[8, 7, 7]),
}


def _swin3d(name: str, weights: Any, progress: bool, **kwargs: Any) -> SwinTransformer3d:
    if weights is not None:
        import torchvision.models.video as tvv

        enum = getattr(tvv, {"swin3d_t": "Swin3D_T_Weights", "swin3d_s": "Swin3D_S_Weights", "swin3d_b": "Swin3D_B_Weights"}[name])
        weights = enum.verify(weights)
        kwargs["num_classes"] = len(weights.meta["categories"])
    model = SwinTransformer3d(**{**_CONFIGS[name], "stochastic_depth_prob": 0.1, **kwargs})
    if weights is not None:
        try:
            state = weights.get_state_dict(progress=progress, check_hash=True)
        except Exception as err:  # offline, or a broken download
            raise RuntimeError(
                f"Could not get torchvision's {weights} weights for {name} ({err}). They are downloaded "
                "from torchvision's servers on first use and cached under $TORCH_HOME; offline, put the "
                "file there or build the model with weights=None."
            ) from err
        model.load_state_dict(state)
    return model


def swin3d_t(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> SwinTransformer3d:
    """Swin3D-T (28M parameters), torchvision's ``swin3d_t``.

    Args:
        weights: None (random init) or torchvision's ``Swin3D_T_Weights`` (or its name, e.g.
            ``"KINETICS400_V1"``), loaded through torchvision's own download and cache.
        progress: Show the download's progress bar.
        **kwargs: Any other :class:`SwinTransformer3d` argument (e.g. ``num_classes``).
    """
    return _swin3d("swin3d_t", weights, progress, **kwargs)


def swin3d_s(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> SwinTransformer3d:
    """Swin3D-S (50M parameters), torchvision's ``swin3d_s``; arguments as :func:`swin3d_t`."""
    return _swin3d("swin3d_s", weights, progress, **kwargs)


def swin3d_b(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> SwinTransformer3d:
    """Swin3D-B (88M parameters), torchvision's ``swin3d_b``; arguments as :func:`swin3d_t`."""
    return _swin3d("swin3d_b", weights, progress, **kwargs)
