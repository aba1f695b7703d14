"""The transformer's building blocks, shared by every transformer of the course.

Papers: Vaswani et al., *Attention Is All You Need*, NeurIPS 2017, arXiv:1706.03762 (the block);
Dosovitskiy et al., *An Image is Worth 16x16 Words*, ICLR 2021, arXiv:2010.11929 (patch tokens,
the pre-norm ViT block and its initialisation); Huang et al., *Deep Networks with Stochastic
Depth*, arXiv:1603.09382 (:class:`DropPath`).

* :class:`PatchEmbed`: image -> patch tokens (ViT, Swin, MAE).
* :class:`Mlp`: the feed-forward network of a block.
* :class:`DropPath`: stochastic depth on a residual branch.
* :class:`TransformerBlock`: the pre-norm block ``x + attn(norm(x))``, ``x + mlp(norm(x))``, with
  optional boolean attention masks (``attn_mask``, ``key_padding_mask``; True = may attend, the
  meaning ``F.scaled_dot_product_attention`` gives a boolean mask). ViT, the MAE, ConViT's
  ViT layers and the retrieval model's fusion transformer all use it.
* :func:`init_vit_weights`: timm's ViT initialisation, the one every from-scratch transformer
  of the course starts from.

Parameter names follow timm 1.0 (``patch_embed.proj``, ``norm1``, ``attn.qkv``, ``attn.proj``,
``norm2``, ``mlp.fc1``, ``mlp.fc2``), so timm's ViT weights load by name.

Where this departs from timm: the masks are an addition (timm's ``Block`` takes an
``attn_mask`` only), and a query that may attend to no key attends to all keys instead (see
:func:`harlearn.layers.attention.combine_masks`); the LayerNorms use ``eps=1e-6`` as timm's ViTs.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from harlearn.layers.attention import MultiHeadSelfAttention

__all__ = ["PatchEmbed", "Mlp", "DropPath", "TransformerBlock", "init_vit_weights"]


def _pair(x: int | tuple[int, int]) -> tuple[int, int]:
    return (x, x) if isinstance(x, int) else (int(x[0]), int(x[1]))


class PatchEmbed(nn.Module):
    """Cut an image into non-overlapping patches and project each one to a token.

    A convolution with kernel = stride = ``patch_size`` is exactly "flatten every patch and apply
    the same linear layer", written in one call.

    Args:
        img_size: Input image size, ``H = W`` as an int or ``(H, W)``.
        patch_size: Patch side ``p`` (an int or ``(p_h, p_w)``); must divide the image size.
        in_chans: Number of image channels.
        embed_dim: Token width ``C``.
        norm_layer: Optional norm applied to the tokens (Swin uses a LayerNorm; ViT uses none).
        flatten: Return tokens as ``[B, N, C]`` (ViT) or keep the grid as ``[B, H/p, W/p, C]``
            (Swin).
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int | tuple[int, int] = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        norm_layer: type[nn.Module] | None = None,
        flatten: bool = True,
    ) -> None:
        super().__init__()
        self.img_size = _pair(img_size)
        self.patch_size = _pair(patch_size)
        if self.img_size[0] % self.patch_size[0] or self.img_size[1] % self.patch_size[1]:
            raise ValueError(
                f"Image size {self.img_size} is not divisible by patch size {self.patch_size}; "
                "choose an image size that is a multiple of the patch size."
            )
        self.grid_size = (self.img_size[0] // self.patch_size[0], self.img_size[1] // self.patch_size[1])
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.flatten = flatten
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=self.patch_size, stride=self.patch_size)
        self.norm = norm_layer(embed_dim) if norm_layer is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed an image batch.

        Args:
            x: Images ``[B, C_in, H, W]`` with ``(H, W) == img_size``.

        Returns:
            Tokens ``[B, N, C]`` with ``N = (H/p)(W/p)`` in row-major order, or ``[B, H/p, W/p, C]``
            when ``flatten=False``.
        """
        H, W = x.shape[-2:]
        if (H, W) != self.img_size:
            raise ValueError(
                f"Input image size ({H}, {W}) does not match the model's img_size {self.img_size}; "
                "resize the images or build the model with img_size=({H}, {W})."
            )
        x = self.proj(x)  # [B, C, H/p, W/p]
        x = x.permute(0, 2, 3, 1)  # [B, H/p, W/p, C]
        if self.flatten:
            x = x.flatten(1, 2)  # [B, N, C]
        return self.norm(x)


class Mlp(nn.Module):
    """The transformer's feed-forward network: ``fc1 -> GELU -> fc2``, applied to every token.

    Args:
        in_features: Token width ``C``.
        hidden_features: Hidden width (``mlp_ratio * C``); defaults to ``in_features``.
        out_features: Output width; defaults to ``in_features``.
        act_layer: Activation class.
        drop: Dropout after the activation and after ``fc2``.
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int | None = None,
        out_features: int | None = None,
        act_layer: type[nn.Module] = nn.GELU,
        drop: float = 0.0,
    ) -> None:
        super().__init__()
        hidden_features = hidden_features or in_features
        out_features = out_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.drop1 = nn.Dropout(drop)
        self.fc2 = nn.Linear(hidden_features, out_features)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., C] -> [..., out_features]``."""
        return self.drop2(self.fc2(self.drop1(self.act(self.fc1(x)))))


class DropPath(nn.Module):
    """Stochastic depth: drop a whole residual branch for some samples of the batch.

    Huang et al., *Deep Networks with Stochastic Depth*, arXiv:1603.09382. In training, each sample's
    branch output is zeroed with probability ``drop_prob`` and the kept ones are scaled by
    ``1 / (1 - drop_prob)``, so the expectation is unchanged; in evaluation it is the identity.

    Args:
        drop_prob: Probability of dropping the branch for a sample.
    """

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, ...] -> [B, ...]``."""
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep_prob = 1.0 - self.drop_prob
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)  # [B, 1, ..., 1]: one coin per sample
        keep = x.new_empty(shape).bernoulli_(keep_prob)
        return x * keep / keep_prob

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"


class TransformerBlock(nn.Module):
    """Pre-norm transformer block on any token sequence ``[B, N, C]``.

    ``x = x + drop_path(attn(norm1(x)))`` then ``x = x + drop_path(mlp(norm2(x)))``.
    Generic over the sequence: ViT, the MAE decoder, ConViT and the retrieval models reuse it.
    Optional boolean masks (``attn_mask``, ``key_padding_mask``) restrict which tokens attend to
    which, for padded sequences (the retrieval model) or structured attention.

    Args:
        dim: Token width ``C``.
        num_heads: Number of attention heads ``h`` (``C`` must be divisible by it).
        mlp_ratio: Hidden width of the MLP as a multiple of ``C``.
        qkv_bias: Learn a bias in the query/key/value projection.
        drop_path: Stochastic depth rate of both residual branches.
        attn_drop: Dropout on the attention weights.
        proj_drop: Dropout after the attention output projection and in the MLP.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = MultiHeadSelfAttention(
            dim, num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=proj_drop
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=proj_drop)

    def forward(
        self,
        x: torch.Tensor,
        return_attention: bool = False,
        *,
        attn_mask: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Mix the tokens.

        Args:
            x: Tokens ``[B, N, C]``.
            return_attention: Also return the attention weights ``[B, h, N, N]``.
            attn_mask: Optional boolean mask broadcastable to ``[B, h, N, N]`` (e.g. ``[N, N]``),
                True where query ``i`` may attend to key ``j``
                (``F.scaled_dot_product_attention``'s meaning).
            key_padding_mask: Optional boolean ``[B, N]``, True at real tokens, False at padding.
                No token attends to a padded one, so every real token's output is exactly what
                it would be without the padding; the padded tokens' outputs are meaningless.

        Returns:
            Tokens ``[B, N, C]``, or ``(tokens, attention)`` when ``return_attention`` is set.
        """
        masks = dict(attn_mask=attn_mask, key_padding_mask=key_padding_mask)
        if return_attention:
            y, attn = self.attn(self.norm1(x), return_attention=True, **masks)
        else:
            y, attn = self.attn(self.norm1(x), **masks), None
        x = x + self.drop_path(y)  # [B, N, C]
        x = x + self.drop_path(self.mlp(self.norm2(x)))  # [B, N, C]
        return (x, attn) if return_attention else x


def init_vit_weights(module: nn.Module) -> None:
    """timm's ViT initialisation of every layer inside ``module``, in place.

    ``nn.Linear`` and ``nn.Embedding`` weights are drawn from a truncated normal with std 0.02
    (truncated at +-2, i.e. +-100 std: in effect a plain normal), linear biases are zeroed,
    LayerNorms get weight 1 and bias 0; convolutions keep PyTorch's default. The layers are
    visited in ``module.modules()`` order, so the same seed gives the same weights.

    Position embeddings and class tokens are parameters of the model, not layers: each model
    initialises its own (e.g. :class:`~harlearn.transformers.vit.VisionTransformer`).

    Args:
        module: A block, a stack of blocks or a whole model.
    """
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm) and m.elementwise_affine:
            nn.init.ones_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
