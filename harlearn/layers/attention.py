"""Self-attention: on a sequence of tokens (multi-head, ViT style) and on a feature map (non-local).

Papers:
    * Vaswani et al., "Attention Is All You Need", NeurIPS 2017, arXiv:1706.03762:
      scaled dot-product attention and multi-head self-attention (``MultiHeadSelfAttention``).
    * Wang, Girshick, Gupta and He, "Non-local Neural Networks", CVPR 2018, arXiv:1711.07971:
      the embedded-Gaussian non-local block (``NonLocalBlock``), the same operation on the
      ``H * W`` positions of a convolutional feature map, wrapped in a residual connection.

Both modules have a readable reference path (``attention_reference``: scores, softmax, weighted
sum, one line each) and a fused path (``torch.nn.functional.scaled_dot_product_attention``) that
computes the same function faster and with less memory; ``return_attention=True`` always takes
the reference path so the attention map can be plotted.

Departures:
    * ``MultiHeadSelfAttention`` uses timm's parameter names (``qkv``, ``proj``) and layout, so it
      loads the weights of ``timm.models.vision_transformer.Attention`` and computes the same
      output; our ``qkv_bias`` defaults to True (as timm's ViTs set it), timm's class to False.
      Masks are boolean with ``F.scaled_dot_product_attention``'s meaning (True = may attend),
      given as an ``attn_mask`` and/or a ``key_padding_mask`` (True = a real token; note that
      ``torch.nn.MultiheadAttention``'s ``key_padding_mask`` means the opposite). A query that may
      attend to no key at all attends to every key instead, so its output stays finite (the
      fused kernel would return NaN). timm's other options (QK norm, gating) are left out.
    * ``NonLocalBlock`` follows the paper (no ``1/sqrt(d)`` scaling, no sub-sampling by default).
      The official Caffe2 code (facebookresearch/video-nonlocal-net) defaults to both
      (``USE_SCALE``, ``USE_MAXPOOL``); ``scaled=True`` and ``sub_sample=True`` turn them on.
      Parameter names (``theta``, ``phi``, ``g``, ``W`` = conv + BN) follow the widely used port
      AlexHex7/Non-local_pytorch; its sub-sampling wraps ``g`` and ``phi`` in a ``Sequential``,
      ours is a separate ``pool`` so the names do not change. The convolutions keep PyTorch's
      default initialisation (the official code draws them from N(0, 0.01^2)).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MultiHeadSelfAttention", "NonLocalBlock", "attention_reference", "combine_masks"]


def attention_reference(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    scale: float,
    dropout: nn.Module | None = None,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention written out: ``softmax(q k^T * scale) v``.

    Any leading batch dimensions are allowed (``...`` below is ``B`` or ``B, h``).

    Args:
        q: Queries, ``[..., N, d]``.
        k: Keys, ``[..., M, d]``.
        v: Values, ``[..., M, d_v]``.
        scale: Multiplies the scores; ``d ** -0.5`` in the Transformer, 1 in the non-local paper.
        dropout: Applied to the attention weights before they average the values (or None).
        mask: Optional boolean mask broadcastable to ``[..., N, M]``, True where query ``i`` may
            attend to key ``j`` (``F.scaled_dot_product_attention``'s boolean ``attn_mask``).

    Returns:
        ``(out, attn)``: ``out`` of shape ``[..., N, d_v]`` and the attention weights ``attn`` of
        shape ``[..., N, M]`` (before dropout), each row summing to one.
    """
    scores = (q @ k.transpose(-2, -1)) * scale  # [..., N, M]: scores[i, j] = q_i . k_j * scale
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # masked keys get zero weight
    attn = scores.softmax(dim=-1)  # [..., N, M]: query i's weights over the keys j sum to 1
    weights = dropout(attn) if dropout is not None else attn
    out = weights @ v  # [..., N, d_v]: out_i = sum_j attn[i, j] * v_j
    return out, attn


def combine_masks(
    attn_mask: torch.Tensor | None,
    key_padding_mask: torch.Tensor | None,
    batch: int,
    num_tokens: int,
    device: torch.device | None = None,
) -> torch.Tensor | None:
    """One boolean mask ``[B or 1, h or 1, N, N]`` (True = may attend) from the two kinds.

    A query row that would attend to no key at all attends to every key instead, so that the
    softmax has something to normalise (and a padded image's outputs stay finite).

    Args:
        attn_mask: Boolean ``[N, N]``, ``[B, 1, N, N]`` or ``[B, h, N, N]`` (anything that
            broadcasts to ``[B, h, N, N]``), True where query ``i`` may attend to key ``j``; or None.
        key_padding_mask: Boolean ``[B, N]``, True at real tokens, False at padding (no query
            attends to a padded key); or None.
        batch: Batch size ``B``.
        num_tokens: Sequence length ``N``.
        device: Where the mask is made (the tokens' device).

    Returns:
        The combined mask, or None when both are None.
    """
    if attn_mask is None and key_padding_mask is None:
        return None
    mask = torch.ones(1, 1, num_tokens, num_tokens, dtype=torch.bool, device=device)  # [1, 1, N, N]
    if attn_mask is not None:
        if attn_mask.dtype != torch.bool:
            raise TypeError(f"attn_mask must be boolean (True = may attend), got {attn_mask.dtype}.")
        mask = mask & attn_mask.to(mask.device)  # [B or 1, h or 1, N, N]
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (batch, num_tokens):
            raise ValueError(
                f"key_padding_mask must be [B, N] = [{batch}, {num_tokens}], got {tuple(key_padding_mask.shape)}."
            )
        keys = key_padding_mask.to(device=mask.device, dtype=torch.bool)  # [B, N]: True = real token
        mask = mask & keys[:, None, None, :]  # [B, h or 1, N, N]
    return mask | ~mask.any(dim=-1, keepdim=True)  # a row without any key: attend to all


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention on a sequence of tokens, with timm's parameter names.

    ``qkv`` projects every token to a query, a key and a value for each of the ``h`` heads; each
    head attends over all tokens with ``softmax(q k^T / sqrt(d)) v``; the heads are concatenated
    and ``proj`` mixes them.

    Args:
        dim: Token width ``C``; must be divisible by ``num_heads``.
        num_heads: Number of heads ``h``; each has width ``d = C / h``.
        qkv_bias: Whether the ``qkv`` projection has a bias.
        attn_drop: Dropout probability on the attention weights (training only).
        proj_drop: Dropout probability after the output projection.
        fused: Use ``F.scaled_dot_product_attention`` (True) or the reference path (False).

    Example:
        >>> import torch
        >>> mhsa = MultiHeadSelfAttention(64, num_heads=4)
        >>> out, attn = mhsa(torch.randn(2, 10, 64), return_attention=True)
        >>> out.shape, attn.shape
        (torch.Size([2, 10, 64]), torch.Size([2, 4, 10, 10]))
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        fused: bool = True,
    ) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"dim ({dim}) must be divisible by num_heads ({num_heads}).")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.fused = fused
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(
        self,
        x: torch.Tensor,
        return_attention: bool = False,
        *,
        attn_mask: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Attend over the tokens of ``x``.

        Args:
            x: Tokens, ``[B, N, C]``.
            return_attention: Also return the attention weights (takes the reference path).
            attn_mask: Optional boolean mask broadcastable to ``[B, h, N, N]`` (e.g. ``[N, N]``),
                True where query ``i`` may attend to key ``j``, as in
                ``F.scaled_dot_product_attention``.
            key_padding_mask: Optional boolean ``[B, N]``, True at real tokens and False at
                padding: no token attends to a padded one (see :func:`combine_masks`).

        Returns:
            The output tokens ``[B, N, C]``, or ``(out, attn)`` with ``attn`` of shape
            ``[B, h, N, N]`` when ``return_attention`` is True.
        """
        B, N, C = x.shape
        mask = combine_masks(attn_mask, key_padding_mask, B, N, x.device)  # [B|1, h|1, N, N] or None
        qkv = self.qkv(x)  # [B, N, 3C]
        qkv = qkv.reshape(B, N, 3, self.num_heads, self.head_dim)  # [B, N, 3C] -> [B, N, 3, h, d]
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # [3, B, h, N, d] -> 3 x [B, h, N, d]

        attn = None
        if return_attention or not self.fused:
            out, attn = attention_reference(q, k, v, self.scale, self.attn_drop, mask)  # [B, h, N, d]
        else:
            dropout_p = self.attn_drop.p if self.training else 0.0
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)  # [B, h, N, d]

        out = out.transpose(1, 2).reshape(B, N, C)  # [B, h, N, d] -> [B, N, h, d] -> [B, N, C]
        out = self.proj_drop(self.proj(out))  # [B, N, C]
        if return_attention:
            return out, attn
        return out

    def extra_repr(self) -> str:
        return f"num_heads={self.num_heads}, head_dim={self.head_dim}, fused={self.fused}"


class NonLocalBlock(nn.Module):
    """Embedded-Gaussian non-local block: every position attends to every other, plus a residual.

    ``z = W(y) + x`` with ``y_i = sum_j softmax_j(theta(x_i) . phi(x_j)) g(x_j)``, where
    ``theta``, ``phi``, ``g`` are 1x1 convolutions to ``inter_channels`` and ``W`` is a 1x1
    convolution back to ``channels`` followed by BatchNorm. The BatchNorm's weight (and bias)
    start at zero, so ``W(y) = 0`` and a freshly inserted block is the identity: it can be added
    to a pretrained network without changing its output.

    Args:
        channels: Number of input (and output) channels ``C``.
        inter_channels: Width ``C_i`` of the embeddings; ``max(1, channels // 2)`` when None,
            as in the paper.
        sub_sample: Max-pool ``phi`` and ``g`` by 2 in each spatial direction (the paper's
            trick to cut the cost by 4); off by default.
        scaled: Multiply the scores by ``C_i ** -0.5`` (the official code's default, and the
            Transformer's); off by default, as in the paper's equations.
        fused: Use ``F.scaled_dot_product_attention`` (True) or the reference path (False).

    Example:
        >>> import torch
        >>> block = NonLocalBlock(64)
        >>> x = torch.randn(2, 64, 7, 7)
        >>> bool((block(x) == x).all())  # identity at initialisation
        True
    """

    def __init__(
        self,
        channels: int,
        inter_channels: int | None = None,
        sub_sample: bool = False,
        scaled: bool = False,
        fused: bool = True,
    ) -> None:
        super().__init__()
        inter = inter_channels if inter_channels is not None else max(1, channels // 2)
        self.channels = channels
        self.inter_channels = inter
        self.scale = inter**-0.5 if scaled else 1.0
        self.fused = fused
        self.theta = nn.Conv2d(channels, inter, kernel_size=1)  # queries
        self.phi = nn.Conv2d(channels, inter, kernel_size=1)  # keys
        self.g = nn.Conv2d(channels, inter, kernel_size=1)  # values
        self.pool = nn.MaxPool2d(2) if sub_sample else nn.Identity()  # on keys and values only
        self.W = nn.Sequential(nn.Conv2d(inter, channels, kernel_size=1), nn.BatchNorm2d(channels))
        nn.init.zeros_(self.W[1].weight)  # BN scale 0: the block starts as the identity
        nn.init.zeros_(self.W[1].bias)

    def forward(
        self, x: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Apply the block.

        Args:
            x: Feature map, ``[B, C, H, W]``.
            return_attention: Also return the attention weights (takes the reference path).

        Returns:
            ``z`` of shape ``[B, C, H, W]``, or ``(z, attn)`` with ``attn`` of shape
            ``[B, N, M]`` (``N = H * W`` query positions in row-major order; ``M = N``, or
            ``(H // 2) * (W // 2)`` with ``sub_sample``) when ``return_attention`` is True.
        """
        B, C, H, W = x.shape
        q = self.theta(x).flatten(2).transpose(1, 2)  # [B, C_i, H, W] -> [B, C_i, N] -> [B, N, C_i]
        k = self.pool(self.phi(x)).flatten(2).transpose(1, 2)  # [B, M, C_i]
        v = self.pool(self.g(x)).flatten(2).transpose(1, 2)  # [B, M, C_i]

        attn = None
        if return_attention or not self.fused:
            y, attn = attention_reference(q, k, v, self.scale)  # [B, N, C_i]
        else:
            y = F.scaled_dot_product_attention(q, k, v, scale=self.scale)  # [B, N, C_i]

        y = y.transpose(1, 2).reshape(B, self.inter_channels, H, W)  # [B, N, C_i] -> [B, C_i, H, W]
        z = x + self.W(y)  # [B, C, H, W], with x's memory layout (x comes first)
        if return_attention:
            return z, attn
        return z

    def extra_repr(self) -> str:
        return f"channels={self.channels}, inter_channels={self.inter_channels}, scale={self.scale:g}"
