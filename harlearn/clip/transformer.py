"""CLIP's transformer: pre-norm residual attention blocks with open_clip's parameter names.

Paper: Radford et al., *Learning Transferable Visual Models From Natural Language Supervision*,
ICML 2021, arXiv:2103.00020 (CLIP; its towers are the GPT-2-style text transformer and a ViT,
both built from this block). Production reference: open_clip 3.x, ``open_clip.transformer``
(``ResidualAttentionBlock``, ``Transformer``), whose weights load here by name:

``resblocks.{i}.ln_1``, ``resblocks.{i}.attn.in_proj_weight`` / ``in_proj_bias`` /
``out_proj`` (the names of ``torch.nn.MultiheadAttention``), ``resblocks.{i}.ln_2``,
``resblocks.{i}.mlp.c_fc`` / ``mlp.c_proj`` (GPT-2's names), and ``ls_1`` / ``ls_2`` (layer
scale, parameters only when ``ls_init_value`` is set).

This is the same block as :class:`harlearn.layers.transformer.TransformerBlock` (timm's names:
``norm1``, ``attn.qkv``, ``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``): the same
computation under CLIP's names, so that open_clip's checkpoints load without renaming. The
attention reuses harlearn's reference path (:func:`harlearn.layers.attention.attention_reference`)
and boolean-mask convention (True = may attend); ``fused=True`` runs
``F.scaled_dot_product_attention`` instead, and a test checks that the two agree.

Departures from open_clip: the attention is written out instead of calling
``nn.MultiheadAttention`` (same parameters, same numbers up to float rounding); masks are
boolean (open_clip passes an additive ``-inf`` mask); the LayerNorms are plain ``nn.LayerNorm``
(open_clip's subclass only casts the output back to the input dtype); open_clip's optional
custom block (QK norm, scaled cosine attention, ...), cross-attention and gradient
checkpointing are left out.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from harlearn.layers.attention import attention_reference, combine_masks

__all__ = ["QuickGELU", "LayerScale", "Attention", "ResidualAttentionBlock", "Transformer"]


class QuickGELU(nn.Module):
    """OpenAI CLIP's GELU approximation ``x * sigmoid(1.702 x)``.

    OpenAI's checkpoints (open_clip tag ``openai``) were trained with it; open_clip's own
    checkpoints mostly use ``nn.GELU``. Shapes: any ``[...]`` to the same.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class LayerScale(nn.Module):
    """Per-channel scale of a residual branch (CaiT, arXiv:2103.17239), open_clip's ``gamma``.

    Args:
        dim: Token width ``C``.
        init_values: Initial value of every channel's scale.
    """

    def __init__(self, dim: int, init_values: float = 1e-5) -> None:
        super().__init__()
        self.gamma = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., C] -> [..., C]``."""
        return x * self.gamma


class Attention(nn.Module):
    """Multi-head self-attention with ``torch.nn.MultiheadAttention``'s parameters.

    ``in_proj_weight`` ``[3C, C]`` stacks the query, key and value projections (in that order,
    each split into ``h`` heads of width ``d = C / h``), as timm's ``qkv`` does; ``out_proj``
    mixes the heads.

    Args:
        dim: Token width ``C``; must be divisible by ``num_heads``.
        num_heads: Number of heads ``h``.
        fused: Use ``F.scaled_dot_product_attention`` (True) or the written-out reference
            path (False); both compute the same function.
    """

    def __init__(self, dim: int, num_heads: int, fused: bool = True) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"width ({dim}) must be divisible by the number of heads ({num_heads}).")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.fused = fused
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        # nn.MultiheadAttention's initialisation
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.in_proj_bias)
        nn.init.zeros_(self.out_proj.bias)

    def forward(
        self, x: torch.Tensor, attn_mask: torch.Tensor | None = None, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Attend over the tokens of ``x``.

        Args:
            x: Tokens ``[B, N, C]``.
            attn_mask: Optional boolean mask broadcastable to ``[B, h, N, N]`` (e.g. the causal
                ``[N, N]`` mask of the text tower), True where query ``i`` may attend to key ``j``.
            return_attention: Also return the attention weights ``[B, h, N, N]`` (reference path).

        Returns:
            Tokens ``[B, N, C]`` (and the attention weights when asked).
        """
        B, N, C = x.shape
        mask = combine_masks(attn_mask, None, B, N, x.device)  # [1|B, 1|h, N, N] or None
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # [B, N, 3C]
        qkv = qkv.reshape(B, N, 3, self.num_heads, self.head_dim)  # [B, N, 3C] -> [B, N, 3, h, d]
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x [B, h, N, d]
        attn = None
        if return_attention or not self.fused:
            out, attn = attention_reference(q, k, v, self.scale, None, mask)  # [B, h, N, d]
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # [B, h, N, d]
        out = out.transpose(1, 2).reshape(B, N, C)  # [B, h, N, d] -> [B, N, h, d] -> [B, N, C]
        out = self.out_proj(out)  # [B, N, C]
        return (out, attn) if return_attention else out


class ResidualAttentionBlock(nn.Module):
    """The pre-norm block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``.

    Args:
        d_model: Token width ``C``.
        n_head: Attention heads ``h``.
        mlp_ratio: MLP hidden width as a multiple of ``C``.
        ls_init_value: Initial layer-scale value, or None for no layer scale (CLIP's default).
        act_layer: The MLP's activation (``nn.GELU``, or :class:`QuickGELU` for OpenAI's weights).
        fused: See :class:`Attention`.
    """

    def __init__(
        self,
        d_model: int,
        n_head: int,
        mlp_ratio: float = 4.0,
        ls_init_value: float | None = None,
        act_layer: type[nn.Module] = nn.GELU,
        fused: bool = True,
    ) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = Attention(d_model, n_head, fused)
        self.ls_1 = LayerScale(d_model, ls_init_value) if ls_init_value is not None else nn.Identity()
        self.ln_2 = nn.LayerNorm(d_model)
        hidden = int(d_model * mlp_ratio)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(d_model, hidden)),
            ("gelu", act_layer()),
            ("c_proj", nn.Linear(hidden, d_model)),
        ]))
        self.ls_2 = LayerScale(d_model, ls_init_value) if ls_init_value is not None else nn.Identity()

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, N, C] -> [B, N, C]``; ``attn_mask`` as in :class:`Attention`."""
        x = x + self.ls_1(self.attn(self.ln_1(x), attn_mask))  # [B, N, C]
        return x + self.ls_2(self.mlp(self.ln_2(x)))  # [B, N, C]


class Transformer(nn.Module):
    """A stack of :class:`ResidualAttentionBlock` (``resblocks``), shared by both towers.

    Args:
        width: Token width ``C``.
        layers: Number of blocks.
        heads: Attention heads per block.
        mlp_ratio: MLP hidden width as a multiple of ``C``.
        ls_init_value: Layer scale (None: none).
        act_layer: The MLP's activation.
        fused: See :class:`Attention`.
    """

    def __init__(
        self,
        width: int,
        layers: int,
        heads: int,
        mlp_ratio: float = 4.0,
        ls_init_value: float | None = None,
        act_layer: type[nn.Module] = nn.GELU,
        fused: bool = True,
    ) -> None:
        super().__init__()
        self.width, self.layers = width, layers
        self.resblocks = nn.ModuleList(
            [ResidualAttentionBlock(width, heads, mlp_ratio, ls_init_value, act_layer, fused) for _ in range(layers)]
        )

    def init_gpt2_(self) -> None:
        """open_clip's text-tower initialisation (GPT-2 style: deeper stacks get smaller projections)."""
        proj_std = (self.width**-0.5) * ((2 * self.layers) ** -0.5)
        attn_std = self.width**-0.5
        fc_std = (2 * self.width) ** -0.5
        for block in self.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=fc_std)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, N, C] -> [B, N, C]`` through every block."""
        for block in self.resblocks:
            x = block(x, attn_mask)  # [B, N, C]
        return x

