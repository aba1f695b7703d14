"""Vision Transformer (ViT): an image as a sequence of 16x16 patch tokens.

Paper: Dosovitskiy et al., *An Image is Worth 16x16 Words: Transformers for Image Recognition
at Scale*, ICLR 2021, arXiv:2010.11929. Attention rollout: Abnar & Zuidema, *Quantifying
Attention Flow in Transformers*, ACL 2020, arXiv:2005.00928.

The model is read top to bottom: :class:`PatchEmbed` cuts the image into patches and projects
each to a token, a learned class token and learned position embeddings are added, a stack of
pre-norm :class:`TransformerBlock` s mixes the tokens, and a linear head reads the class token
(``global_pool="token"``) or the mean of the patch tokens (``global_pool="avg"``).

The building blocks (:class:`PatchEmbed`, :class:`Mlp`, :class:`DropPath`,
:class:`TransformerBlock`, :func:`init_vit_weights`) live in :mod:`harlearn.layers.transformer`
and :func:`attention_rollout` in :mod:`harlearn.explain`; all are re-exported here.

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

from __future__ import annotations

import torch
import torch.nn as nn

from harlearn.explain import attention_rollout  # re-exported: it used to live here
from harlearn.layers.transformer import DropPath, Mlp, PatchEmbed, TransformerBlock, _pair, init_vit_weights
from harlearn.transformers.pretrained import create_timm_pretrained, pretrained_normalization

__all__ = [
    "PatchEmbed",
    "Mlp",
    "DropPath",
    "TransformerBlock",
    "init_vit_weights",
    "VisionTransformer",
    "attention_rollout",
    "load_timm_pretrained",
    "CHECKPOINTS",
    "checkpoint_name",
    "pretrained_normalization",
    "vit_tiny_patch16_224",
    "vit_small_patch16_224",
    "vit_base_patch16_224",
]


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
        # timm's default ViT init: truncated normal(0.02) for the position embeddings, a tiny
        # normal for the class token, then init_vit_weights for the layers (conv: PyTorch default).
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        init_vit_weights(self)

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


# --- named models (timm's names and sizes) and pretrained weights through timm ------------------

_ARCHS = {
    "vit_tiny_patch16_224": dict(patch_size=16, embed_dim=192, depth=12, num_heads=3),
    "vit_small_patch16_224": dict(patch_size=16, embed_dim=384, depth=12, num_heads=6),
    "vit_base_patch16_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12),
}


#: The ImageNet checkpoints timm has for each architecture, by short name. ``"augreg"`` is timm's
#: default tag (How to train your ViT, arXiv:2106.10270: ImageNet-21k then 1k, mean = std = 0.5);
#: ``"deit"`` is DeiT (arXiv:2012.12877: ImageNet-1k only, ImageNet's mean and std), the same
#: architecture under timm's name ``deit_*``. See :func:`pretrained_normalization`.
CHECKPOINTS = {
    "vit_tiny_patch16_224": {"augreg": "vit_tiny_patch16_224.augreg_in21k_ft_in1k",
                             "deit": "deit_tiny_patch16_224.fb_in1k"},
    "vit_small_patch16_224": {"augreg": "vit_small_patch16_224.augreg_in21k_ft_in1k",
                              "deit": "deit_small_patch16_224.fb_in1k"},
    "vit_base_patch16_224": {"augreg": "vit_base_patch16_224.augreg_in21k_ft_in1k",
                             "deit": "deit_base_patch16_224.fb_in1k"},
}


def checkpoint_name(arch: str, pretrained: bool | str) -> str:
    """The timm model name whose weights ``pretrained`` asks for, for architecture ``arch``.

    Args:
        arch: one of :data:`CHECKPOINTS` (e.g. ``"vit_small_patch16_224"``).
        pretrained: ``True`` (timm's default checkpoint of ``arch``), a short name from
            :data:`CHECKPOINTS` (``"augreg"``, ``"deit"``) or one of the timm names listed there.

    Returns:
        A timm name with its tag, e.g. ``"deit_small_patch16_224.fb_in1k"`` (``arch`` for True).

    Raises:
        ValueError: a checkpoint that is not one of ``arch``'s.
    """
    if pretrained is True or pretrained == "imagenet":
        return arch
    known = CHECKPOINTS[arch]
    if pretrained in known:
        return known[pretrained]
    if pretrained in known.values():
        return str(pretrained)
    choices = ", ".join(repr(k) for k in (*known, *known.values()))
    raise ValueError(f"Unknown checkpoint {pretrained!r} for {arch}: use True or one of {choices}.")


def load_timm_pretrained(model: VisionTransformer, name: str) -> VisionTransformer:
    """Load timm's pretrained weights for the timm model ``name`` into ``model``.

    The weights come through ``timm.create_model(name, pretrained=True, ...)`` by way of
    :func:`harlearn.transformers.pretrained.create_timm_pretrained`: read from the local
    Hugging Face / torch hub cache when there, else downloaded, and offline an immediate error
    that says what to do. timm's model is created with ``model``'s ``img_size`` (timm resamples
    the position embeddings), ``in_chans`` and ``num_classes`` (a new head when it differs from
    1000). timm's pretrained ViTs read the class token; for ``global_pool="avg"`` the final
    ``norm`` becomes ``fc_norm``. ``model.pretrained_name`` records ``name``.

    Args:
        model: The model to fill, built with the architecture of ``name``.
        name: timm model name, e.g. ``"vit_tiny_patch16_224"`` or ``"deit_small_patch16_224.fb_in1k"``.

    Returns:
        ``model``, with the pretrained weights.

    Raises:
        RuntimeError: (:class:`~harlearn.transformers.pretrained.PretrainedWeightsUnavailable`)
            the weights are not cached and cannot be fetched (e.g. offline).
    """
    reference = create_timm_pretrained(
        name, num_classes=model.num_classes, img_size=model.img_size, in_chans=model.in_chans,
    )
    state = reference.state_dict()
    if model.global_pool == "avg" and "norm.weight" in state:
        state["fc_norm.weight"] = state.pop("norm.weight")
        state["fc_norm.bias"] = state.pop("norm.bias")
    model.load_state_dict(state, strict=True)
    model.pretrained_name = name
    return model


def _create_vit(name: str, pretrained: bool | str, num_classes: int, **kwargs) -> VisionTransformer:
    arch = _ARCHS[name]
    changed = sorted(k for k in arch if k in kwargs and kwargs[k] != arch[k])
    if pretrained and changed:
        raise ValueError(
            f"pretrained=True needs the {name} architecture, but {changed} were overridden; "
            "drop these arguments or use pretrained=False."
        )
    model = VisionTransformer(num_classes=num_classes, **{**arch, **kwargs})
    model.pretrained_name = None
    if pretrained:
        load_timm_pretrained(model, checkpoint_name(name, pretrained))
    return model


def vit_tiny_patch16_224(pretrained: bool | str = False, num_classes: int = 1000, **kwargs) -> VisionTransformer:
    """ViT-Ti/16 (C=192, 12 blocks, 3 heads; 5.7M parameters), timm's ``vit_tiny_patch16_224``.

    Args:
        pretrained: ``True`` loads timm's default ImageNet weights (AugReg, normalised with
            mean = std = 0.5); ``"deit"`` loads DeiT's (ImageNet mean and std); see
            :data:`CHECKPOINTS` and :func:`pretrained_normalization`. Read from the local
            Hugging Face cache when there, else downloaded; offline, an immediate error.
        num_classes: Number of classes (a new, randomly initialised head unless 1000).
        **kwargs: Override any :class:`VisionTransformer` argument (e.g. ``img_size=64``).

    Returns:
        The model.
    """
    return _create_vit("vit_tiny_patch16_224", pretrained, num_classes, **kwargs)


def vit_small_patch16_224(pretrained: bool | str = False, num_classes: int = 1000, **kwargs) -> VisionTransformer:
    """ViT-S/16 (C=384, 12 blocks, 6 heads; 22M parameters), timm's ``vit_small_patch16_224``.

    DeiT-S is this architecture: ``pretrained="deit"`` loads timm's ``deit_small_patch16_224``
    weights, which expect ImageNet normalisation; ``pretrained=True`` loads timm's default
    (AugReg) weights, which expect mean = std = 0.5
    (``pretrained_normalization(model.pretrained_name)`` gives either).

    Args:
        pretrained: ``True`` loads timm's default ImageNet weights (AugReg, normalised with
            mean = std = 0.5); ``"deit"`` loads DeiT's (ImageNet mean and std); see
            :data:`CHECKPOINTS` and :func:`pretrained_normalization`. Read from the local
            Hugging Face cache when there, else downloaded; offline, an immediate error.
        num_classes: Number of classes (a new, randomly initialised head unless 1000).
        **kwargs: Override any :class:`VisionTransformer` argument (e.g. ``img_size=64``).

    Returns:
        The model.
    """
    return _create_vit("vit_small_patch16_224", pretrained, num_classes, **kwargs)


def vit_base_patch16_224(pretrained: bool | str = False, num_classes: int = 1000, **kwargs) -> VisionTransformer:
    """ViT-B/16 (C=768, 12 blocks, 12 heads; 86M parameters), timm's ``vit_base_patch16_224``.

    Args:
        pretrained: ``True`` loads timm's default ImageNet weights (AugReg, normalised with
            mean = std = 0.5); ``"deit"`` loads DeiT's (ImageNet mean and std); see
            :data:`CHECKPOINTS` and :func:`pretrained_normalization`. Read from the local
            Hugging Face cache when there, else downloaded; offline, an immediate error.
        num_classes: Number of classes (a new, randomly initialised head unless 1000).
        **kwargs: Override any :class:`VisionTransformer` argument (e.g. ``img_size=64``).

    Returns:
        The model.
    """
    return _create_vit("vit_base_patch16_224", pretrained, num_classes, **kwargs)

