"""Swin Transformer: self-attention inside local windows, shifted every other block.

Paper: Liu et al., *Swin Transformer: Hierarchical Vision Transformer using Shifted Windows*,
ICCV 2021, arXiv:2103.14030.

ViT attends over all ``N`` tokens (cost ``N^2``); Swin splits the token grid into
``window_size x window_size`` windows and attends only inside each window (cost linear in ``N``).
Every second block shifts the grid by half a window (a cyclic ``torch.roll``), so information
crosses window borders; the tokens that the roll brings together from opposite image borders are
kept apart by an additive mask (:func:`shifted_window_mask`). Attention logits get a learned
relative position bias instead of absolute position embeddings. Between stages,
:class:`PatchMerging` halves the resolution and doubles the width, giving a CNN-like pyramid
(strides 4, 8, 16, 32).

Read top to bottom: :func:`window_partition` / :func:`window_reverse`,
:func:`relative_position_index`, :func:`shifted_window_mask`, :class:`WindowAttention`,
:class:`SwinBlock`, :class:`PatchMerging`, :class:`SwinStage`, :class:`SwinTransformer`.
Feature maps are channels-last, ``[B, H, W, C]``, as in timm 1.0.

Parameter names, layouts and the details below follow timm 1.0 (``layers.i.downsample``,
``layers.i.blocks.j.attn.relative_position_bias_table``, ``head.fc``, ...), so a timm
``swin_*`` state dict loads with ``strict=True`` and gives the same outputs (tests check it).
Where this departs from the paper (as timm does):

* Patch merging sits at the start of stages 2-4 (the paper's code puts it at the end of
  stages 1-3; the computation is the same, only the names differ).
* A feature map not divisible by the window is zero-padded (bottom/right) before partitioning,
  and an odd one before patch merging, so any image size that is a multiple of the patch size
  works; the paper's code requires divisibility.
* When a stage's feature map is not larger than the window, the window shrinks to the map and
  the shift is dropped (as in the paper's code; square maps assumed for this rule).
"""

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from harlearn.layers.transformer import DropPath, Mlp, PatchEmbed, init_vit_weights

__all__ = [
    "window_partition",
    "window_reverse",
    "relative_position_index",
    "shifted_window_mask",
    "WindowAttention",
    "SwinBlock",
    "PatchMerging",
    "SwinStage",
    "SwinTransformer",
    "swin_tiny_patch4_window7_224",
]


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """Split a feature map into non-overlapping square windows.

    Args:
        x: Feature map ``[B, H, W, C]``; ``H`` and ``W`` divisible by ``window_size``.
        window_size: Window side ``ws``.

    Returns:
        Windows ``[B * nW, ws, ws, C]`` with ``nW = (H/ws)(W/ws)``, image-major then row-major.
    """
    B, H, W, C = x.shape
    x = x.view(B, H // window_size, window_size, W // window_size, window_size, C)  # [B, H/ws, ws, W/ws, ws, C]
    x = x.permute(0, 1, 3, 2, 4, 5)  # [B, H/ws, W/ws, ws, ws, C]
    return x.reshape(-1, window_size, window_size, C)  # [B*nW, ws, ws, C]


def window_reverse(windows: torch.Tensor, window_size: int, H: int, W: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: put the windows back into a feature map.

    Args:
        windows: Windows ``[B * nW, ws, ws, C]``.
        window_size: Window side ``ws``.
        H: Feature map height.
        W: Feature map width.

    Returns:
        Feature map ``[B, H, W, C]``.
    """
    C = windows.shape[-1]
    x = windows.view(-1, H // window_size, W // window_size, window_size, window_size, C)  # [B, H/ws, W/ws, ws, ws, C]
    x = x.permute(0, 1, 3, 2, 4, 5)  # [B, H/ws, ws, W/ws, ws, C]
    return x.reshape(-1, H, W, C)  # [B, H, W, C]


def relative_position_index(window_size: int) -> torch.Tensor:
    """For every pair of tokens in a window, the row of the relative position bias table to use.

    Two tokens at ``(y1, x1)`` and ``(y2, x2)`` have a relative position ``(dy, dx)`` with
    ``dy, dx`` in ``[-(ws-1), ws-1]``: ``(2ws-1)^2`` possible values, each one row of the table.

    Args:
        window_size: Window side ``ws``.

    Returns:
        Long tensor ``[N, N]`` (``N = ws * ws``) of indices into ``(2ws-1)^2`` rows.
    """
    coords = torch.stack(
        torch.meshgrid(torch.arange(window_size), torch.arange(window_size), indexing="ij")
    ).flatten(1)  # [2, N]: (y, x) of each token, row-major
    rel = coords[:, :, None] - coords[:, None, :]  # [2, N, N]: (dy, dx) in [-(ws-1), ws-1]
    rel = rel + (window_size - 1)  # [2, N, N]: shifted to [0, 2ws-2]
    return rel[0] * (2 * window_size - 1) + rel[1]  # [N, N]


def shifted_window_mask(H: int, W: int, window_size: int, shift_size: int) -> torch.Tensor:
    """Attention mask of the shifted windows (the paper's code: 0 = attend, -100 = blocked).

    After rolling the map by ``-shift_size``, the last row and column of windows hold tokens that
    were far apart in the image. Each token gets a region label (3 x 3 regions: the rolled-in
    border strips and the rest); two tokens of a window may attend to each other only when their
    labels are equal. ``-100`` (rather than ``-inf``) makes the softmax weight ~0 and can't NaN.

    Args:
        H: Height of the (padded) feature map, divisible by ``window_size``.
        W: Width of the (padded) feature map, divisible by ``window_size``.
        window_size: Window side ``ws``.
        shift_size: Shift ``s`` of the cyclic roll, ``0 < s < ws``.

    Returns:
        Mask ``[nW, N, N]`` with ``nW = (H/ws)(W/ws)`` and ``N = ws * ws``.
    """
    labels = torch.zeros(1, H, W, 1)  # [1, H, W, 1]
    strips = (slice(0, -window_size), slice(-window_size, -shift_size), slice(-shift_size, None))
    label = 0
    for h in strips:
        for w in strips:
            labels[:, h, w, :] = label
            label += 1
    windows = window_partition(labels, window_size).view(-1, window_size * window_size)  # [nW, N]
    diff = windows[:, None, :] - windows[:, :, None]  # [nW, N, N]: nonzero = different regions
    return torch.zeros_like(diff).masked_fill(diff != 0, -100.0)  # [nW, N, N]


class WindowAttention(nn.Module):
    """Multi-head self-attention inside each window, with a learned relative position bias.

    ``softmax(q k^T / sqrt(d) + B + mask) v`` where ``B[i, j] = table[index[i, j]]`` per head.
    The reference path writes this out; the fused path (default) hands the same additive
    bias to ``F.scaled_dot_product_attention``. A test checks they agree.

    Args:
        dim: Token width ``C``.
        window_size: Window side ``ws``.
        num_heads: Number of heads ``h``.
        qkv_bias: Learn a bias in the query/key/value projection.
        attn_drop: Dropout on the attention weights.
        proj_drop: Dropout after the output projection.
        fused: Use ``F.scaled_dot_product_attention`` instead of the written-out reference path.
    """

    def __init__(
        self,
        dim: int,
        window_size: int,
        num_heads: int,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        fused: bool = True,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim ({dim}) must be divisible by num_heads ({num_heads}).")
        self.window_size = window_size
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.fused = fused
        # one learned bias per relative position and head: [(2ws-1)^2, h]
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", relative_position_index(window_size), persistent=False)
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def relative_position_bias(self) -> torch.Tensor:
        """The bias added to the attention logits, ``[h, N, N]`` with ``N = ws * ws``."""
        N = self.window_size**2
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]  # [N*N, h]
        return bias.view(N, N, self.num_heads).permute(2, 0, 1)  # [h, N, N]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attend inside every window.

        Args:
            x: Window tokens ``[B * nW, N, C]`` (from :func:`window_partition`).
            mask: Shifted-window mask ``[nW, N, N]`` (0 / -100) or ``None``.

        Returns:
            Tokens ``[B * nW, N, C]``.
        """
        B_, N, C = x.shape
        qkv = self.qkv(x).reshape(B_, N, 3, self.num_heads, self.head_dim)  # [B*nW, N, 3, h, d]
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x [B*nW, h, N, d]
        bias = self.relative_position_bias().unsqueeze(0)  # [1, h, N, N]
        if mask is not None:
            nW = mask.shape[0]
            bias = bias + mask.unsqueeze(1)  # [nW, h, N, N]
            bias = bias.repeat(B_ // nW, 1, 1, 1)  # [B*nW, h, N, N]: windows are image-major
        if self.fused:
            p = self.attn_drop.p if self.training else 0.0
            bias = bias.to(q.dtype)  # under autocast q is half precision, the table is not
            x = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=p)  # [B*nW, h, N, d]
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1)  # [B*nW, h, N, N]
            attn = (attn + bias).softmax(dim=-1)
            x = self.attn_drop(attn) @ v  # [B*nW, h, N, d]
        x = x.transpose(1, 2).reshape(B_, N, C)  # [B*nW, N, C]
        return self.proj_drop(self.proj(x))


class SwinBlock(nn.Module):
    """Swin Transformer block: (shifted) window attention and an MLP, both pre-norm residual.

    Args:
        dim: Token width ``C``.
        input_resolution: ``(H, W)`` of the feature maps this block receives.
        num_heads: Number of attention heads.
        window_size: Window side ``ws`` (shrinks to the map when the map is not larger).
        shift_size: Cyclic shift ``s`` (``0`` = W-MSA, ``ws // 2`` = SW-MSA).
        mlp_ratio: MLP hidden width as a multiple of ``C``.
        qkv_bias: Learn a bias in the query/key/value projection.
        drop_path: Stochastic depth rate of both residual branches.
        attn_drop: Dropout on the attention weights.
        proj_drop: Dropout after the projections.
        fused: Use ``F.scaled_dot_product_attention`` in :class:`WindowAttention`.
    """

    def __init__(
        self,
        dim: int,
        input_resolution: tuple[int, int],
        num_heads: int,
        window_size: int = 7,
        shift_size: int = 0,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        fused: bool = True,
    ) -> None:
        super().__init__()
        self.input_resolution = tuple(input_resolution)
        if min(self.input_resolution) <= window_size:  # one window covers the map: no shift
            window_size, shift_size = min(self.input_resolution), 0
        if not 0 <= shift_size < window_size:
            raise ValueError(f"shift_size must be in [0, window_size={window_size}), got {shift_size}.")
        self.window_size = window_size
        self.shift_size = shift_size

        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window_size, num_heads, qkv_bias, attn_drop, proj_drop, fused)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=proj_drop)

        H, W = self.input_resolution
        Hp, Wp = -(-H // window_size) * window_size, -(-W // window_size) * window_size  # padded size
        mask = shifted_window_mask(Hp, Wp, window_size, shift_size) if shift_size > 0 else None
        self.register_buffer("attn_mask", mask, persistent=False)  # [nW, N, N] or None

    def window_attention(self, x: torch.Tensor) -> torch.Tensor:
        """Shift, pad, partition, attend, and undo all of it.

        Args:
            x: Normalised feature map ``[B, H, W, C]``.

        Returns:
            Feature map ``[B, H, W, C]``.
        """
        B, H, W, C = x.shape
        ws, s = self.window_size, self.shift_size
        if s > 0:
            x = torch.roll(x, shifts=(-s, -s), dims=(1, 2))  # [B, H, W, C], cyclic shift up-left
        pad_h, pad_w = (ws - H % ws) % ws, (ws - W % ws) % ws
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))  # [B, Hp, Wp, C]
        Hp, Wp = H + pad_h, W + pad_w
        windows = window_partition(x, ws).view(-1, ws * ws, C)  # [B*nW, N, C]
        windows = self.attn(windows, mask=self.attn_mask)  # [B*nW, N, C]
        x = window_reverse(windows.view(-1, ws, ws, C), ws, Hp, Wp)  # [B, Hp, Wp, C]
        x = x[:, :H, :W, :]  # [B, H, W, C]
        if s > 0:
            x = torch.roll(x, shifts=(s, s), dims=(1, 2))  # undo the shift
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, H, W, C] -> [B, H, W, C]``, with ``(H, W) == input_resolution``."""
        if tuple(x.shape[1:3]) != self.input_resolution:
            raise ValueError(
                f"SwinBlock built for {self.input_resolution} maps got {tuple(x.shape[1:3])}; "
                "build the model with the img_size you feed it."
            )
        x = x + self.drop_path(self.window_attention(self.norm1(x)))  # [B, H, W, C]
        x = x + self.drop_path(self.mlp(self.norm2(x)))  # [B, H, W, C]
        return x


class PatchMerging(nn.Module):
    """Halve the resolution, double the width: concatenate each 2x2 neighbourhood, then project.

    The four neighbours are concatenated in the paper's (and timm's) order: top-left,
    bottom-left, top-right, bottom-right; then ``norm`` (over ``4C``) and a bias-free linear
    ``reduction`` to ``2C``. An odd map is zero-padded at the bottom/right first.

    Args:
        dim: Input width ``C``.
        out_dim: Output width (default ``2C``).
    """

    def __init__(self, dim: int, out_dim: int | None = None) -> None:
        super().__init__()
        self.out_dim = out_dim or 2 * dim
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, self.out_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, H, W, C] -> [B, ceil(H/2), ceil(W/2), out_dim]``."""
        _, H, W, _ = x.shape
        x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))  # [B, H', W', C], H' and W' even
        x0 = x[:, 0::2, 0::2]  # [B, H'/2, W'/2, C] top-left of each 2x2
        x1 = x[:, 1::2, 0::2]  # bottom-left
        x2 = x[:, 0::2, 1::2]  # top-right
        x3 = x[:, 1::2, 1::2]  # bottom-right
        x = torch.cat([x0, x1, x2, x3], dim=-1)  # [B, H'/2, W'/2, 4C]
        return self.reduction(self.norm(x))  # [B, H'/2, W'/2, out_dim]


class SwinStage(nn.Module):
    """One stage: optional :class:`PatchMerging`, then ``depth`` blocks alternating W-MSA / SW-MSA.

    Args:
        dim: Input width.
        out_dim: Width of the blocks (``2 * dim`` after merging, ``dim`` without).
        input_resolution: ``(H, W)`` of the stage input.
        depth: Number of blocks.
        num_heads: Attention heads per block.
        window_size: Window side.
        downsample: Start with a :class:`PatchMerging` (all stages but the first).
        mlp_ratio: MLP hidden width as a multiple of the width.
        qkv_bias: Learn a bias in the query/key/value projections.
        drop_path: One stochastic depth rate per block.
        fused: Use ``F.scaled_dot_product_attention`` in the blocks.
    """

    def __init__(
        self,
        dim: int,
        out_dim: int,
        input_resolution: tuple[int, int],
        depth: int,
        num_heads: int,
        window_size: int = 7,
        downsample: bool = True,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: list[float] | None = None,
        fused: bool = True,
    ) -> None:
        super().__init__()
        H, W = input_resolution
        if downsample:
            self.downsample = PatchMerging(dim, out_dim)
            H, W = (H + 1) // 2, (W + 1) // 2
        else:
            if dim != out_dim:
                raise ValueError(f"Without downsampling dim ({dim}) must equal out_dim ({out_dim}).")
            self.downsample = nn.Identity()
        self.output_resolution = (H, W)
        drop_path = drop_path or [0.0] * depth
        self.blocks = nn.Sequential(
            *[
                SwinBlock(
                    out_dim, (H, W), num_heads, window_size,
                    shift_size=0 if i % 2 == 0 else window_size // 2,
                    mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, drop_path=drop_path[i], fused=fused,
                )
                for i in range(depth)
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, H, W, dim] -> [B, H', W', out_dim]`` (``H' = ceil(H/2)`` when downsampling)."""
        return self.blocks(self.downsample(x))


class SwinHead(nn.Module):
    """Global average pooling of the last feature map and a linear classifier (timm's ``head.fc``).

    Args:
        dim: Feature width.
        num_classes: Number of classes; ``0`` returns the pooled features.
    """

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, H, W, C] -> [B, num_classes]``."""
        return self.fc(x.mean(dim=(1, 2)))  # [B, C] -> [B, num_classes]


class SwinTransformer(nn.Module):
    """Swin Transformer classifier (arXiv:2103.14030) with timm 1.0's parameter names.

    The defaults are Swin-T (``embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24),
    window_size=7``, 28M parameters at 224x224).

    Args:
        img_size: Input image size (int or ``(H, W)``), a multiple of ``patch_size``.
        patch_size: Patch side of the first embedding (stride 4).
        in_chans: Number of image channels.
        num_classes: Number of classes; ``0`` gives pooled features.
        embed_dim: Width ``C`` of stage 1; stage ``i`` has ``C * 2^i``.
        depths: Blocks per stage.
        num_heads: Attention heads per stage.
        window_size: Window side.
        mlp_ratio: MLP hidden width as a multiple of the width.
        qkv_bias: Learn a bias in the query/key/value projections.
        drop_path_rate: Stochastic depth rate of the last block (linear from 0; timm's default 0.1).
        fused: Use ``F.scaled_dot_product_attention`` in the blocks.
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int = 4,
        in_chans: int = 3,
        num_classes: int = 1000,
        embed_dim: int = 96,
        depths: tuple[int, ...] = (2, 2, 6, 2),
        num_heads: tuple[int, ...] = (3, 6, 12, 24),
        window_size: int = 7,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path_rate: float = 0.1,
        fused: bool = True,
    ) -> None:
        super().__init__()
        if len(depths) != len(num_heads):
            raise ValueError(f"depths {depths} and num_heads {num_heads} need one entry per stage.")
        self.num_classes = num_classes
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim, nn.LayerNorm, flatten=False)
        resolution = self.patch_embed.grid_size
        total = sum(depths)
        rates = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]  # linear over all blocks
        stages, dim = [], embed_dim
        for i, (depth, heads) in enumerate(zip(depths, num_heads)):
            out_dim = embed_dim * 2**i
            stage = SwinStage(
                dim, out_dim, resolution, depth, heads, window_size, downsample=i > 0,
                mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, drop_path=rates[sum(depths[:i]) : sum(depths[: i + 1])],
                fused=fused,
            )
            stages.append(stage)
            dim, resolution = out_dim, stage.output_resolution
        self.layers = nn.Sequential(*stages)
        self.num_features = dim
        self.norm = nn.LayerNorm(dim)
        self.head = SwinHead(dim, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # timm's init: truncated normal(0.02) linear weights, zero biases; conv default.
        init_vit_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Run the four stages.

        Args:
            x: Images ``[B, C_in, H, W]``.

        Returns:
            Normalised last feature map ``[B, H/32, W/32, 8C]`` (for the default 4 stages, patch 4).
        """
        x = self.patch_embed(x)  # [B, H/4, W/4, C]
        x = self.layers(x)  # [B, H/32, W/32, 8C]
        return self.norm(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, H', W', C'] -> [B, num_classes]`` (average pooling, then ``head.fc``)."""
        return self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Classify images ``[B, C_in, H, W]`` into logits ``[B, num_classes]``."""
        return self.forward_head(self.forward_features(x))


# --- the named model (timm's name and size) and its pretrained weights through timm ------------

_SWIN_TINY = dict(patch_size=4, embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), window_size=7)


def swin_tiny_patch4_window7_224(
    pretrained: bool = False, num_classes: int = 1000, **kwargs: Any
) -> SwinTransformer:
    """Swin-T (C=96, depths 2-2-6-2, window 7; 28M parameters), timm's ``swin_tiny_patch4_window7_224``.

    Args:
        pretrained: Load timm's ImageNet-1k weights (ImageNet mean and std) through
            :func:`harlearn.transformers.pretrained.create_timm_pretrained`: from the local
            Hugging Face cache when there, else downloaded; offline, an immediate error that
            says what to do.
        num_classes: Number of classes (a new, randomly initialised head unless 1000).
        **kwargs: Other :class:`SwinTransformer` arguments (``img_size``, ``drop_path_rate``,
            ...); with ``pretrained`` the architecture arguments must keep Swin-T's values.

    Returns:
        The model (``model.pretrained_name`` is timm's name when pretrained, else None).

    Raises:
        ValueError: ``pretrained`` with a changed architecture.
    """
    changed = sorted(k for k, v in _SWIN_TINY.items() if k in kwargs and _as_tuple(kwargs[k]) != _as_tuple(v))
    if pretrained and changed:
        raise ValueError(
            f"pretrained=True needs the swin_tiny_patch4_window7_224 architecture, but {changed} were "
            "overridden; drop these arguments or use pretrained=False."
        )
    model = SwinTransformer(num_classes=num_classes, **{**_SWIN_TINY, **kwargs})
    model.pretrained_name = None
    if pretrained:
        from harlearn.transformers.pretrained import create_timm_pretrained

        name = "swin_tiny_patch4_window7_224"
        reference = create_timm_pretrained(
            name, num_classes=num_classes, img_size=model.patch_embed.img_size,
            in_chans=kwargs.get("in_chans", 3),
        )
        model.load_state_dict(reference.state_dict(), strict=True)
        model.pretrained_name = name
    return model


def _as_tuple(value: Any) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)
