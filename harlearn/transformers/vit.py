"""Vision Transformer (ViT): an image as a sequence of 16x16 patch tokens.

Paper: Dosovitskiy et al., *An Image is Worth 16x16 Words: Transformers for Image Recognition
at Scale*, ICLR 2021, arXiv:2010.11929. Attention rollout: Abnar & Zuidema, *Quantifying
Attention Flow in Transformers*, ACL 2020, arXiv:2005.00928.

The model is read top to bottom: :class:`PatchEmbed` cuts the image into patches and projects
each to a token, a learned class token and learned position embeddings are added, a stack of
pre-norm :class:`TransformerBlock` s mixes the tokens, and a linear head reads the class token
(``global_pool="token"``) or the mean of the patch tokens (``global_pool="avg"``).

Parameter names follow timm 1.0 (``cls_token``, ``pos_embed``, ``patch_embed.proj``,
``blocks.i.norm1``, ``blocks.i.attn.qkv``, ``blocks.i.attn.proj``, ``blocks.i.norm2``,
``blocks.i.mlp.fc1``, ``blocks.i.mlp.fc2``, ``norm`` / ``fc_norm``, ``head``), so a timm
``vit_*`` state dict loads with ``strict=True`` and gives the same logits (a test checks it).

Where this departs from the paper:

* Like timm (and the paper's released JAX models) the LayerNorms use ``eps=1e-6`` and the head is a
  single linear layer (the paper pre-trains with an MLP head and fine-tunes with a linear one).
* ``global_pool="avg"`` follows timm: the class token is still there but ignored by the head,
  the patch tokens are averaged, and the final norm moves after the pooling (``fc_norm``).
* No dropout on embeddings or before the head; stochastic depth (:class:`DropPath`) is available
  through ``drop_path_rate``, increasing linearly with depth as in DeiT.
"""

import torch
import torch.nn as nn

from harlearn.layers.attention import MultiHeadSelfAttention

__all__ = [
    "PatchEmbed",
    "Mlp",
    "DropPath",
    "TransformerBlock",
    "VisionTransformer",
    "attention_rollout",
    "load_timm_pretrained",
    "vit_tiny_patch16_224",
    "vit_small_patch16_224",
    "vit_base_patch16_224",
]


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
        self, x: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Mix the tokens.

        Args:
            x: Tokens ``[B, N, C]``.
            return_attention: Also return the attention weights ``[B, h, N, N]``.

        Returns:
            Tokens ``[B, N, C]``, or ``(tokens, attention)`` when ``return_attention`` is set.
        """
        if return_attention:
            y, attn = self.attn(self.norm1(x), return_attention=True)
        else:
            y, attn = self.attn(self.norm1(x)), None
        x = x + self.drop_path(y)  # [B, N, C]
        x = x + self.drop_path(self.mlp(self.norm2(x)))  # [B, N, C]
        return (x, attn) if return_attention else x


class VisionTransformer(nn.Module):
    """Vision Transformer classifier (ViT, arXiv:2010.11929) with timm's parameter names.

    Args:
        img_size: Input image size (int or ``(H, W)``); the position embeddings are sized for it.
        patch_size: Patch side ``p``.
        in_chans: Number of image channels.
        num_classes: Number of classes; ``0`` gives no head (``forward_head`` returns features).
        embed_dim: Token width ``C``.
        depth: Number of transformer blocks.
        num_heads: Attention heads per block.
        mlp_ratio: MLP hidden width as a multiple of ``C``.
        qkv_bias: Learn a bias in the query/key/value projections.
        global_pool: ``"token"`` reads the class token; ``"avg"`` averages the patch tokens and
            normalises after pooling (``fc_norm``), as timm does.
        drop_path_rate: Stochastic depth rate of the last block (linear from 0 in the first).
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        num_classes: int = 1000,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        global_pool: str = "token",
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if global_pool not in ("token", "avg"):
            raise ValueError(f"global_pool must be 'token' or 'avg', got {global_pool!r}.")
        # the constructor arguments, kept so that a model can be rebuilt (see mae.encoder_to_classifier)
        self.img_size = _pair(img_size)
        self.patch_size = patch_size
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.embed_dim = embed_dim
        self.depth = depth
        self.num_heads = num_heads
        self.mlp_ratio = mlp_ratio
        self.qkv_bias = qkv_bias
        self.global_pool = global_pool
        self.drop_path_rate = drop_path_rate

        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        num_patches = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim))  # +1: class token

        rates = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]  # stochastic depth decay
        self.blocks = nn.ModuleList(
            [TransformerBlock(embed_dim, num_heads, mlp_ratio, qkv_bias, drop_path=r) for r in rates]
        )
        use_fc_norm = global_pool == "avg"
        self.norm = nn.Identity() if use_fc_norm else nn.LayerNorm(embed_dim, eps=1e-6)
        self.fc_norm = nn.LayerNorm(embed_dim, eps=1e-6) if use_fc_norm else nn.Identity()
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self._init_weights()

    def _init_weights(self) -> None:
        # timm's default ViT init: truncated normal(0.02) for linear layers and position
        # embeddings, a tiny normal for the class token, PyTorch defaults for conv and LayerNorm.
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def embed_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Patch tokens, class token and position embeddings.

        Args:
            x: Images ``[B, C_in, H, W]``.

        Returns:
            Tokens ``[B, N+1, C]``, the class token first.
        """
        x = self.patch_embed(x)  # [B, N, C]
        cls = self.cls_token.expand(x.shape[0], -1, -1)  # [B, 1, C]
        x = torch.cat([cls, x], dim=1)  # [B, N+1, C]
        return x + self.pos_embed  # [B, N+1, C]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Run the encoder.

        Args:
            x: Images ``[B, C_in, H, W]``.

        Returns:
            Normalised tokens ``[B, N+1, C]`` (not normalised for ``global_pool="avg"``; the norm
            comes after pooling there).
        """
        x = self.embed_tokens(x)  # [B, N+1, C]
        for block in self.blocks:
            x = block(x)  # [B, N+1, C]
        return self.norm(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """Pool the tokens and classify.

        Args:
            x: Tokens ``[B, N+1, C]`` from :meth:`forward_features`.

        Returns:
            Logits ``[B, num_classes]`` (pooled features ``[B, C]`` when ``num_classes=0``).
        """
        if self.global_pool == "token":
            x = x[:, 0]  # [B, C]: the class token
        else:
            x = x[:, 1:].mean(dim=1)  # [B, C]: mean of the patch tokens
        x = self.fc_norm(x)
        return self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Classify images ``[B, C_in, H, W]`` into logits ``[B, num_classes]``."""
        return self.forward_head(self.forward_features(x))

    def get_attention_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Attention weights of every block, for attention rollout and attention plots.

        Args:
            x: Images ``[B, C_in, H, W]``.

        Returns:
            One tensor ``[B, h, N+1, N+1]`` per block (softmax rows; index 0 is the class token).
        """
        x = self.embed_tokens(x)  # [B, N+1, C]
        maps = []
        for block in self.blocks:
            x, attn = block(x, return_attention=True)  # [B, N+1, C], [B, h, N+1, N+1]
            maps.append(attn)
        return maps


def attention_rollout(
    attn_maps: list[torch.Tensor], discard_ratio: float = 0.0, head_fusion: str = "mean"
) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema, arXiv:2005.00928): how much each token flows into each.

    Each layer's heads are fused into one map ``A``; the residual connection is accounted for by
    ``0.5 * A + 0.5 * I`` (rows renormalised to sum to one) and the layers are multiplied from the
    first to the last: ``R = A_L' ... A_2' A_1'``. Row 0 of ``R`` (class token) reshaped to the patch
    grid is the usual rollout heat map: ``R[:, 0, 1:].reshape(B, H/p, W/p)``.

    Args:
        attn_maps: Per-layer attention ``[B, h, N, N]``, first layer first
            (:meth:`VisionTransformer.get_attention_maps`).
        discard_ratio: Fraction of the smallest fused attention weights set to zero in every layer
            before the residual is added (a denoising trick from the jacobgil/vit-explain code,
            not in the paper); ``0`` is the paper's rollout.
        head_fusion: How heads are fused: ``"mean"`` (the paper), ``"max"`` or ``"min"``.

    Returns:
        Rollout matrix ``[B, N, N]`` whose rows sum to one.
    """
    if not 0.0 <= discard_ratio < 1.0:
        raise ValueError(f"discard_ratio must be in [0, 1), got {discard_ratio}.")
    fuse = {"mean": lambda a: a.mean(dim=1), "max": lambda a: a.amax(dim=1), "min": lambda a: a.amin(dim=1)}
    if head_fusion not in fuse:
        raise ValueError(f"head_fusion must be 'mean', 'max' or 'min', got {head_fusion!r}.")
    B, _, N, _ = attn_maps[0].shape
    eye = torch.eye(N, device=attn_maps[0].device, dtype=attn_maps[0].dtype)  # [N, N]
    rollout = eye.expand(B, N, N)  # [B, N, N]
    for attn in attn_maps:
        a = fuse[head_fusion](attn)  # [B, N, N]
        num_discard = int(N * N * discard_ratio)
        if num_discard > 0:
            flat = a.reshape(B, N * N).clone()  # [B, N*N]
            lowest = flat.topk(num_discard, dim=-1, largest=False).indices  # [B, num_discard]
            a = flat.scatter(-1, lowest, 0.0).reshape(B, N, N)  # [B, N, N]
        a = 0.5 * a + 0.5 * eye  # residual connection
        a = a / a.sum(dim=-1, keepdim=True)  # rows sum to one
        rollout = a @ rollout  # [B, N, N]
    return rollout


# --- named models (timm's names and sizes) and pretrained weights through timm ------------------

_ARCHS = {
    "vit_tiny_patch16_224": dict(patch_size=16, embed_dim=192, depth=12, num_heads=3),
    "vit_small_patch16_224": dict(patch_size=16, embed_dim=384, depth=12, num_heads=6),
    "vit_base_patch16_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12),
}


def load_timm_pretrained(model: VisionTransformer, name: str) -> VisionTransformer:
    """Load timm's pretrained weights for the timm model ``name`` into ``model``.

    The weights come through ``timm.create_model(name, pretrained=True, ...)`` (Hugging Face hub
    cache), created with the model's ``img_size`` (timm resamples the position embeddings),
    ``in_chans`` and ``num_classes`` (a new head when it differs from 1000). timm's pretrained ViTs
    read the class token; for ``global_pool="avg"`` the final ``norm`` becomes ``fc_norm``.

    Args:
        model: The model to fill, built with the architecture of ``name``.
        name: timm model name, e.g. ``"vit_tiny_patch16_224"``.

    Returns:
        ``model``, with the pretrained weights.

    Raises:
        RuntimeError: The weights could not be fetched (e.g. offline, not in the cache).
    """
    import timm  # imported here: only the pretrained path needs it

    try:
        reference = timm.create_model(
            name, pretrained=True, num_classes=model.num_classes, img_size=model.img_size,
            in_chans=model.in_chans,
        )
    except Exception as err:  # hub/network errors come in many types; all mean "no weights"
        cfg = timm.models.get_pretrained_cfg(name)
        hub_id = getattr(cfg, "hf_hub_id", None) or f"timm/{name}"
        raise RuntimeError(
            f"Could not load the pretrained weights of {name!r} through timm "
            f"({type(err).__name__}); without network access, download the Hugging Face repo "
            f"{hub_id!r} into the Hugging Face cache (HF_HOME) on a connected machine, set "
            "HF_HUB_OFFLINE=1 and retry, or use pretrained=False."
        ) from err
    state = reference.state_dict()
    if model.global_pool == "avg" and "norm.weight" in state:
        state["fc_norm.weight"] = state.pop("norm.weight")
        state["fc_norm.bias"] = state.pop("norm.bias")
    model.load_state_dict(state, strict=True)
    return model


def _create_vit(name: str, pretrained: bool, num_classes: int, **kwargs) -> VisionTransformer:
    arch = _ARCHS[name]
    changed = sorted(k for k in arch if k in kwargs and kwargs[k] != arch[k])
    if pretrained and changed:
        raise ValueError(
            f"pretrained=True needs the {name} architecture, but {changed} were overridden; "
            "drop these arguments or use pretrained=False."
        )
    model = VisionTransformer(num_classes=num_classes, **{**arch, **kwargs})
    if pretrained:
        load_timm_pretrained(model, name)
    return model


def vit_tiny_patch16_224(pretrained: bool = False, num_classes: int = 1000, **kwargs) -> VisionTransformer:
    """ViT-Ti/16 (C=192, 12 blocks, 3 heads; 5.7M parameters), timm's ``vit_tiny_patch16_224``.

    Args:
        pretrained: Load timm's ImageNet weights (needs them in the Hugging Face cache or network).
        num_classes: Number of classes (a new, randomly initialised head unless 1000).
        **kwargs: Override any :class:`VisionTransformer` argument (e.g. ``img_size=64``).

    Returns:
        The model.
    """
    return _create_vit("vit_tiny_patch16_224", pretrained, num_classes, **kwargs)


def vit_small_patch16_224(pretrained: bool = False, num_classes: int = 1000, **kwargs) -> VisionTransformer:
    """ViT-S/16 (C=384, 12 blocks, 6 heads; 22M parameters), timm's ``vit_small_patch16_224``.

    Args:
        pretrained: Load timm's ImageNet weights (needs them in the Hugging Face cache or network).
        num_classes: Number of classes (a new, randomly initialised head unless 1000).
        **kwargs: Override any :class:`VisionTransformer` argument (e.g. ``img_size=64``).

    Returns:
        The model.
    """
    return _create_vit("vit_small_patch16_224", pretrained, num_classes, **kwargs)


def vit_base_patch16_224(pretrained: bool = False, num_classes: int = 1000, **kwargs) -> VisionTransformer:
    """ViT-B/16 (C=768, 12 blocks, 12 heads; 86M parameters), timm's ``vit_base_patch16_224``.

    Args:
        pretrained: Load timm's ImageNet weights (needs them in the Hugging Face cache or network).
        num_classes: Number of classes (a new, randomly initialised head unless 1000).
        **kwargs: Override any :class:`VisionTransformer` argument (e.g. ``img_size=64``).

    Returns:
        The model.
    """
    return _create_vit("vit_base_patch16_224", pretrained, num_classes, **kwargs)

