"""A Vision Transformer used as a convolutional layer: feature map in, same-shape map out.

Paper: Seyed Rohollah Hosseyni, Sanaz Seyedin and Hasan Taheri, "Human Action Recognition in
Still Images Using ConViT", arXiv:2307.08994. ConViT (:mod:`harlearn.models.convit`) inserts two
such layers into a ResNet-50; the layer itself works on any ``[B, C, H, W]`` map.

Every position of the map is a token whose features are its ``C`` channels; there is no patch
projection and no class token. Position embeddings are added, pre-norm transformer blocks
(:class:`~harlearn.layers.transformer.TransformerBlock`) mix the tokens, and the tokens go back
on the grid.

Where this departs from the paper: the position embedding may be learned (the paper's ViT),
a fixed 2D sine-cosine table or none; the final LayerNorm is optional (ConViT's first layer
feeds a pretrained ResNet stage and drops it); the blocks use timm's layout and initialisation.
"""

from __future__ import annotations

import torch
from torch import nn

from harlearn.layers.posembed import sinusoidal_embedding_2d
from harlearn.layers.transformer import TransformerBlock, init_vit_weights

__all__ = ["ViTConvLayer"]


class ViTConvLayer(nn.Module):
    """A Vision Transformer used as a layer: feature map in, feature map of the same shape out.

    Every position of the ``H x W`` map is a token whose features are its ``C`` channels (no
    patch projection, no class token). Position embeddings are added, ``depth`` pre-norm
    transformer blocks mix the tokens, a final LayerNorm (optional) normalises them, and the
    tokens go back on the grid. Unlike a 3 x 3 convolution, every output position depends on
    every input position after one layer.

    Args:
        channels: Channels ``C`` of the map = token width; must be divisible by ``num_heads``.
        height: Map height ``H`` the position embeddings are made for.
        width: Map width ``W``.
        depth: Number of transformer blocks (2 in the paper).
        num_heads: Attention heads per block (4 in the paper).
        mlp_ratio: Hidden width of each block's MLP as a multiple of ``C``.
        pos_embed: ``"learned"`` (a parameter, truncated-normal init as in ViT), ``"sincos"``
            (the fixed 2D table of :func:`harlearn.layers.posembed.sinusoidal_embedding_2d`; needs
            ``C`` divisible by 4) or ``"none"`` (the layer is then equivariant to permutations of
            the positions).
        final_norm: Apply a LayerNorm to the output tokens (``nn.Identity()`` when False).
        qkv_bias: Learn a bias in the query/key/value projections.
        drop_path_rate: Stochastic depth rate of the last block (linear from 0 in the first).
    """

    def __init__(
        self,
        channels: int,
        height: int,
        width: int,
        depth: int = 2,
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        pos_embed: str = "learned",
        final_norm: bool = True,
        qkv_bias: bool = True,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if pos_embed not in ("learned", "sincos", "none"):
            raise ValueError(f"pos_embed must be 'learned', 'sincos' or 'none', got {pos_embed!r}.")
        if height < 1 or width < 1:
            raise ValueError(f"The map must be at least 1 x 1, got {height} x {width}.")
        self.channels, self.height, self.width = channels, height, width
        num_tokens = height * width
        if pos_embed == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, num_tokens, channels))  # [1, N, C]
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        elif pos_embed == "sincos":
            table = sinusoidal_embedding_2d(height, width, channels)[None]  # [1, N, C]
            self.register_buffer("pos_embed", table, persistent=False)
        else:  # "none": a zero table, so forward does not branch
            self.register_buffer("pos_embed", torch.zeros(1, num_tokens, channels), persistent=False)
        rates = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList(
            [TransformerBlock(channels, num_heads, mlp_ratio, qkv_bias, drop_path=r) for r in rates]
        )
        self.norm = nn.LayerNorm(channels, eps=1e-6) if final_norm else nn.Identity()
        init_vit_weights(self.blocks)  # timm's ViT init for the blocks' layers

    def forward(
        self, x: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Relate every position of a feature map to every other one.

        Args:
            x: Feature map ``[B, C, H, W]`` with ``(H, W) == (height, width)``.
            return_attention: Also return each block's attention weights.

        Returns:
            The map ``[B, C, H, W]``, or ``(map, attention)`` with ``attention`` a list of
            ``depth`` tensors ``[B, h, N, N]`` (``N = H W``, row-major positions) when
            ``return_attention`` is set.
        """
        B, C, H, W = x.shape
        if (C, H, W) != (self.channels, self.height, self.width):
            raise ValueError(
                f"ViTConvLayer was built for maps of {self.channels} x {self.height} x {self.width} "
                f"(C x H x W) but got {C} x {H} x {W}: build it for this size (for ConViT, pass the "
                "image_size the model is used with)."
            )
        tokens = x.flatten(2).transpose(1, 2)  # [B, C, H, W] -> [B, C, N] -> [B, N, C]
        tokens = tokens + self.pos_embed  # [B, N, C]
        attention = []
        for block in self.blocks:
            if return_attention:
                tokens, attn = block(tokens, return_attention=True)  # [B, N, C], [B, h, N, N]
                attention.append(attn)
            else:
                tokens = block(tokens)  # [B, N, C]
        tokens = self.norm(tokens)  # [B, N, C]
        out = tokens.transpose(1, 2).reshape(B, C, H, W)  # [B, N, C] -> [B, C, N] -> [B, C, H, W]
        return (out, attention) if return_attention else out

    def extra_repr(self) -> str:
        return f"channels={self.channels}, grid=({self.height}, {self.width})"
