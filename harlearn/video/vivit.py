"""ViViT: a video as space-time tokens, and three ways to let them attend.

Paper: Arnab, Dehghani, Heigold, Sun, Lucic and Schmid, *ViViT: A Video Vision Transformer*,
ICCV 2021, arXiv:2103.15691. Code consulted: google-research/scenic ``projects/vivit``.

A clip ``[B, C, T, H, W]`` becomes ``T' x S`` tokens (:class:`~harlearn.video.tubelet.TubeletEmbed`:
``T' = T/t`` token frames of ``S = (H/p)(W/p)`` patches). The three models of the paper differ
only in which tokens attend to which (``variant``):

* ``"joint"`` (model 1, *spatio-temporal attention*): one ViT over all ``N = T' S`` tokens and a
  class token; every token attends to every other, cost ``O((T' S)^2)`` per layer.
* ``"factorised_encoder"`` (model 2, *late fusion*): a spatial ViT (``depth`` blocks) encodes
  every frame on its own into its class token; a temporal transformer (``temporal_depth``
  blocks) then attends over the ``T'`` frame embeddings and its own class token. Cost
  ``O(T' S^2 + T'^2)``: the cheapest.
* ``"factorised_attention"`` (model 3, *factorised self-attention*): every block first attends
  within each frame (spatial, ``S`` tokens), then across frames at each position (temporal,
  ``T'`` tokens), then its MLP: cost ``O(T' S^2 + S T'^2)`` per layer. No class token (the
  paper leaves it out to keep the reshapes simple): the tokens are averaged.

Factorised attention *is* joint attention under a mask: spatial attention lets token ``(i, j)``
attend to ``(i', j')`` only when ``i = i'``, temporal attention only when ``j = j'``
(:func:`space_time_masks`). :class:`FactorisedAttentionBlock` computes it by reshaping (fast,
``forward``) and, as the readable reference, as masked attention over all tokens
(``forward_masked``); a test checks that they agree. Masks are arguments of the blocks
(:class:`~harlearn.layers.transformer.TransformerBlock`), and ``ViViT(variant="joint")`` takes an
``attn_mask`` too, so a student can build any other pattern.

Parameter names follow timm's ViT (``patch_embed.proj``, ``cls_token``, ``pos_embed``,
``blocks.i.norm1``, ``blocks.i.attn.qkv``, ..., ``norm``, ``fc_norm``, ``head``); the temporal
parts carry a ``temporal_`` prefix (model 2: ``temporal_blocks``, ``temporal_cls_token``,
``temporal_pos_embed``, and ``spatial_norm`` ends its spatial encoder; model 3:
``blocks.i.temporal_norm`` and ``blocks.i.temporal_attn``).
:func:`vivit_from_vit` initialises a ViViT from a 2D ViT (ViViT Sec. 3.4), as the paper
starts from ImageNet-21k ViTs.

Where this departs from the paper: learned absolute position embeddings for all variants
(joint: one per token; model 2: spatial and temporal tables; model 3: one per token), no
dropout; model 4 (factorised dot-product attention, heads split between space and time) is
left as an exercise (``space_time_masks`` gives its two masks).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from harlearn.layers.attention import MultiHeadSelfAttention
from harlearn.layers.transformer import DropPath, Mlp, TransformerBlock, _pair, init_vit_weights
from harlearn.video.tubelet import TubeletEmbed

__all__ = ["VARIANTS", "space_time_masks", "FactorisedAttentionBlock", "ViViT", "vivit_from_vit"]

VARIANTS = ("joint", "factorised_encoder", "factorised_attention")


def space_time_masks(frames: int, patches_per_frame: int, cls_token: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The masks that turn joint attention into spatial or temporal attention.

    Args:
        frames: Token frames ``T'``.
        patches_per_frame: Tokens per frame ``S``.
        cls_token: Add a leading class token that attends to, and is seen by, every token.

    Returns:
        ``(spatial, temporal)``: boolean ``[N, N]`` masks (``N = T' S``, plus one with the class
        token), True where query ``n`` may attend to key ``m``: same frame (spatial) or same
        patch position (temporal). Tokens are in time-major order (``n = i S + j``).
    """
    n = torch.arange(frames * patches_per_frame)
    frame, pos = n // patches_per_frame, n % patches_per_frame  # [N], [N]
    spatial = frame[:, None] == frame[None, :]  # [N, N]
    temporal = pos[:, None] == pos[None, :]  # [N, N]
    if cls_token:
        pad = lambda m: nn.functional.pad(m, (1, 0, 1, 0), value=True)  # noqa: E731  row and column 0: the class token
        spatial, temporal = pad(spatial), pad(temporal)
    return spatial, temporal


class FactorisedAttentionBlock(nn.Module):
    """ViViT model 3's block: spatial attention, then temporal attention, then the MLP.

    ``x = x + attn(norm1(x))`` within each frame, ``x = x + temporal_attn(temporal_norm(x))``
    across frames, ``x = x + mlp(norm2(x))``; all pre-norm, with timm's names for the spatial half.

    Args:
        dim: Token width ``C``.
        num_heads: Heads ``h`` of both attentions.
        mlp_ratio: MLP hidden width as a multiple of ``C``.
        qkv_bias: Bias in the query/key/value projections.
        drop_path: Stochastic depth rate of the three residual branches.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True, drop_path: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = MultiHeadSelfAttention(dim, num_heads, qkv_bias=qkv_bias)
        self.temporal_norm = nn.LayerNorm(dim, eps=1e-6)
        self.temporal_attn = MultiHeadSelfAttention(dim, num_heads, qkv_bias=qkv_bias)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        """The fast path: attention over short sequences, by reshaping.

        Args:
            x: Tokens ``[B, N, C]``, ``N = frames * S`` in time-major order.
            frames: Token frames ``T'``.

        Returns:
            ``[B, N, C]``.
        """
        B, N, C = x.shape
        S = N // frames
        xs = x.reshape(B * frames, S, C)  # [B*T', S, C]: each frame a sequence
        xs = xs + self.drop_path(self.attn(self.norm1(xs)))  # spatial attention
        xt = xs.reshape(B, frames, S, C).transpose(1, 2).reshape(B * S, frames, C)  # [B*S, T', C]: each position a sequence
        xt = xt + self.drop_path(self.temporal_attn(self.temporal_norm(xt)))  # temporal attention
        x = xt.reshape(B, S, frames, C).transpose(1, 2).reshape(B, N, C)  # [B, N, C]: back to time-major
        return x + self.drop_path(self.mlp(self.norm2(x)))

    def forward_masked(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        """The reference path: the same block as joint attention over all ``N`` tokens under masks.

        Args:
            x: Tokens ``[B, N, C]``.
            frames: Token frames ``T'``.

        Returns:
            ``[B, N, C]``, equal to :meth:`forward` (up to floating point); ``O(N^2)`` memory.
        """
        spatial, temporal = space_time_masks(frames, x.shape[1] // frames)  # 2 x [N, N]
        spatial, temporal = spatial.to(x.device), temporal.to(x.device)
        x = x + self.drop_path(self.attn(self.norm1(x), attn_mask=spatial))
        x = x + self.drop_path(self.temporal_attn(self.temporal_norm(x), attn_mask=temporal))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class ViViT(nn.Module):
    """Video Vision Transformer (arXiv:2103.15691), models 1-3.

    Args:
        img_size: Frame size (int or ``(H, W)``).
        num_frames: Frames per clip ``T``.
        patch_size: Spatial patch side ``p``.
        tubelet_size: Frames per token ``t`` (1: uniform frame sampling).
        in_chans: Channels per frame.
        num_classes: Classes; ``0`` gives no head.
        embed_dim: Token width ``C``.
        depth: Blocks (``"factorised_encoder"``: of the spatial encoder).
        num_heads: Attention heads.
        mlp_ratio: MLP hidden width as a multiple of ``C``.
        qkv_bias: Bias in the query/key/value projections.
        variant: ``"joint"``, ``"factorised_encoder"`` or ``"factorised_attention"``.
        temporal_depth: Blocks of the temporal encoder (``"factorised_encoder"`` only).
        global_pool: ``"token"`` (class token) or ``"avg"`` (mean of the tokens, ``fc_norm``
            after pooling, as timm); default ``"token"``, except ``"avg"`` for model 3, which
            has no class token.
        drop_path_rate: Stochastic depth of the last block (linear from 0).
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        num_frames: int = 16,
        patch_size: int = 16,
        tubelet_size: int = 2,
        in_chans: int = 3,
        num_classes: int = 400,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        variant: str = "joint",
        temporal_depth: int = 4,
        global_pool: str | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"Unknown ViViT variant {variant!r}: use one of {', '.join(map(repr, VARIANTS))}.")
        global_pool = global_pool or ("avg" if variant == "factorised_attention" else "token")
        if global_pool not in ("token", "avg"):
            raise ValueError(f"global_pool must be 'token' or 'avg', got {global_pool!r}.")
        if variant == "factorised_attention" and global_pool != "avg":
            raise ValueError("ViViT's factorised_attention model has no class token: use global_pool='avg'.")
        # the constructor arguments, kept so that the model can be rebuilt (rebuild, the MAE fine-tuning)
        self.img_size, self.num_frames, self.patch_size, self.tubelet_size = _pair(img_size), num_frames, patch_size, tubelet_size
        self.in_chans, self.num_classes, self.embed_dim, self.depth = in_chans, num_classes, embed_dim, depth
        self.num_heads, self.mlp_ratio, self.qkv_bias, self.variant = num_heads, mlp_ratio, qkv_bias, variant
        self.temporal_depth, self.global_pool, self.drop_path_rate = temporal_depth, global_pool, drop_path_rate

        self.patch_embed = TubeletEmbed(img_size, num_frames, patch_size, tubelet_size, in_chans, embed_dim)
        T, S = self.patch_embed.grid_size[0], self.patch_embed.patches_per_frame
        n_blocks = depth + (temporal_depth if variant == "factorised_encoder" else 0)
        rates = [drop_path_rate * i / max(n_blocks - 1, 1) for i in range(n_blocks)]
        spatial_rates, temporal_rates = rates[:depth], rates[depth:]
        if variant == "joint":
            self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
            self.pos_embed = nn.Parameter(torch.zeros(1, 1 + T * S, embed_dim))  # [1, 1+N, C]
            self.blocks = nn.ModuleList([TransformerBlock(embed_dim, num_heads, mlp_ratio, qkv_bias, drop_path=r) for r in rates])
        elif variant == "factorised_encoder":
            self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))  # one per frame, shared
            self.pos_embed = nn.Parameter(torch.zeros(1, 1 + S, embed_dim))  # [1, 1+S, C]: within a frame
            self.blocks = nn.ModuleList([TransformerBlock(embed_dim, num_heads, mlp_ratio, qkv_bias, drop_path=r) for r in spatial_rates])
            self.spatial_norm = nn.LayerNorm(embed_dim, eps=1e-6)  # the spatial ViT's final norm
            self.temporal_cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
            self.temporal_pos_embed = nn.Parameter(torch.zeros(1, 1 + T, embed_dim))  # [1, 1+T', C]
            self.temporal_blocks = nn.ModuleList([TransformerBlock(embed_dim, num_heads, mlp_ratio, qkv_bias, drop_path=r) for r in temporal_rates])
        else:
            self.pos_embed = nn.Parameter(torch.zeros(1, T * S, embed_dim))  # [1, N, C]
            self.blocks = nn.ModuleList([FactorisedAttentionBlock(embed_dim, num_heads, mlp_ratio, qkv_bias, r) for r in rates])
        avg = global_pool == "avg"
        self.norm = nn.Identity() if avg else nn.LayerNorm(embed_dim, eps=1e-6)
        self.fc_norm = nn.LayerNorm(embed_dim, eps=1e-6) if avg else nn.Identity()
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self._init_weights()

    def _init_weights(self) -> None:
        # timm's ViT init, as harlearn.transformers.vit.VisionTransformer
        for name, p in self.named_parameters():
            if name.endswith("pos_embed"):
                nn.init.trunc_normal_(p, std=0.02)
            elif name.endswith("cls_token"):
                nn.init.normal_(p, std=1e-6)
        init_vit_weights(self)

    def rebuild(self, **changes) -> "ViViT":
        """A new, freshly initialised ViViT with this one's arguments except ``changes``."""
        names = ("img_size", "num_frames", "patch_size", "tubelet_size", "in_chans", "num_classes", "embed_dim", "depth",
                 "num_heads", "mlp_ratio", "qkv_bias", "variant", "temporal_depth", "global_pool", "drop_path_rate")
        return ViViT(**{**{n: getattr(self, n) for n in names}, **changes})

    @property
    def grid_size(self) -> tuple[int, int, int]:
        """``(T', H/p, W/p)``: the token grid."""
        return self.patch_embed.grid_size

    # ---- the three encoders ------------------------------------------------------------------
    def _joint(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        cls = self.cls_token.expand(x.shape[0], -1, -1)  # [B, 1, C]
        x = torch.cat([cls, x], dim=1) + self.pos_embed  # [B, 1+N, C]
        for block in self.blocks:
            x = block(x, attn_mask=attn_mask)  # [B, 1+N, C]
        return self.norm(x)  # [B, 1+N, C]

    def _factorised_encoder(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        T = self.grid_size[0]
        x = x.reshape(B * T, N // T, C)  # [B*T', S, C]: every frame on its own
        x = torch.cat([self.cls_token.expand(B * T, -1, -1), x], dim=1) + self.pos_embed  # [B*T', 1+S, C]
        for block in self.blocks:
            x = block(x)  # [B*T', 1+S, C]
        frames = self.spatial_norm(x[:, 0]).reshape(B, T, C)  # [B, T', C]: one embedding per frame
        x = torch.cat([self.temporal_cls_token.expand(B, -1, -1), frames], dim=1) + self.temporal_pos_embed  # [B, 1+T', C]
        for block in self.temporal_blocks:
            x = block(x)  # [B, 1+T', C]
        return self.norm(x)  # [B, 1+T', C]

    def _factorised_attention(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.pos_embed  # [B, N, C]
        for block in self.blocks:
            x = block(x, self.grid_size[0])  # [B, N, C]
        return self.norm(x)

    def forward_features(self, video: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Encode clips.

        Args:
            video: Clips ``[B, C_in, T, H, W]``.
            attn_mask: ``"joint"`` only: a boolean mask ``[1+N, 1+N]`` (True = may attend; index
                0 is the class token) applied in every block, e.g. from :func:`space_time_masks`.

        Returns:
            Tokens: ``[B, 1+N, C]`` (joint), ``[B, 1+T', C]`` (factorised encoder: the temporal
            class token and the frame embeddings) or ``[B, N, C]`` (factorised attention).
        """
        x = self.patch_embed(video)  # [B, N, C]
        if attn_mask is not None and self.variant != "joint":
            raise ValueError("attn_mask is for variant='joint'; the factorised variants have their own structure.")
        if self.variant == "joint":
            return self._joint(x, attn_mask)
        if self.variant == "factorised_encoder":
            return self._factorised_encoder(x)
        return self._factorised_attention(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """Pool the tokens of :meth:`forward_features` and classify: ``-> [B, num_classes]``."""
        if self.global_pool == "token":
            x = x[:, 0]  # [B, C]: the class token
        else:
            x = x.mean(dim=1) if self.variant == "factorised_attention" else x[:, 1:].mean(dim=1)  # [B, C]
        return self.head(self.fc_norm(x))

    def forward(self, video: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Classify clips ``[B, C_in, T, H, W]`` into logits ``[B, num_classes]``."""
        return self.forward_head(self.forward_features(video, attn_mask))


@torch.no_grad()
def vivit_from_vit(vit: nn.Module, variant: str = "factorised_encoder", *, num_frames: int = 8, tubelet_size: int = 1,
                   num_classes: int | None = None, inflation: str = "central_frame", **kwargs) -> ViViT:
    """A ViViT initialised from a 2D ViT (ViViT Sec. 3.4: start from an image model).

    * the patch embedding is inflated to the tubelet (:meth:`TubeletEmbed.inflate_from`);
    * the blocks of the spatial encoder (every variant's ``blocks``; in model 3 their spatial
      half) are the ViT's; model 3's temporal attention starts at zero (its ``proj`` is zeroed, so
      each block is the ViT block at first, the paper's choice), model 2's temporal encoder is new;
    * spatial position embeddings are the ViT's, repeated over the token frames (joint, model 3);
      class token and final norm are copied where the variant has them.

    Args:
        vit: A :class:`harlearn.transformers.vit.VisionTransformer` (timm names).
        variant: The ViViT variant.
        num_frames: Frames per clip ``T``.
        tubelet_size: Frames per token ``t``.
        num_classes: Classes of the new head (default: the ViT's); the head is new unless
            ``global_pool`` and the class count match the ViT's, then it is copied.
        inflation: ``"central_frame"`` or ``"filter_inflation"``.
        **kwargs: Other :class:`ViViT` arguments (``temporal_depth``, ``global_pool``, ...).

    Returns:
        The ViViT, on the ViT's device.
    """
    num_classes = vit.num_classes if num_classes is None else num_classes
    model = ViViT(
        img_size=vit.img_size, num_frames=num_frames, patch_size=vit.patch_size, tubelet_size=tubelet_size,
        in_chans=vit.in_chans, num_classes=num_classes, embed_dim=vit.embed_dim, depth=vit.depth,
        num_heads=vit.num_heads, mlp_ratio=vit.mlp_ratio, qkv_bias=vit.qkv_bias, variant=variant, **kwargs,
    ).to(vit.pos_embed.device)
    model.patch_embed.inflate_from(vit.patch_embed.proj.weight, vit.patch_embed.proj.bias, inflation)
    T = model.grid_size[0]
    for ours, theirs in zip(model.blocks, vit.blocks):
        ours.load_state_dict(theirs.state_dict(), strict=False)  # model 3: the temporal half stays new
        if variant == "factorised_attention":
            nn.init.zeros_(ours.temporal_attn.proj.weight)
            nn.init.zeros_(ours.temporal_attn.proj.bias)
    spatial_pos = vit.pos_embed[:, 1:]  # [1, S, C]
    if variant == "joint":
        model.cls_token.copy_(vit.cls_token)
        model.pos_embed.copy_(torch.cat([vit.pos_embed[:, :1], spatial_pos.repeat(1, T, 1)], dim=1))  # [1, 1+T'S, C]
    elif variant == "factorised_encoder":
        model.cls_token.copy_(vit.cls_token)
        model.pos_embed.copy_(vit.pos_embed)  # [1, 1+S, C]
        if isinstance(vit.norm, nn.LayerNorm):
            model.spatial_norm.load_state_dict(vit.norm.state_dict())
    else:
        model.pos_embed.copy_(spatial_pos.repeat(1, T, 1))  # [1, T'S, C]
    for ours, theirs in ((model.norm, vit.norm), (model.fc_norm, vit.fc_norm)):
        if isinstance(ours, nn.LayerNorm) and isinstance(theirs, nn.LayerNorm):
            ours.load_state_dict(theirs.state_dict())
    if num_classes == vit.num_classes and num_classes > 0 and model.global_pool == vit.global_pool:
        model.head.load_state_dict(vit.head.state_dict())
    return model
