"""Region-aware action retrieval, the model: person, context regions and whole image, fused.

Paper: Wang, Zhao and Gui, "Region-aware Image-based Human Action Retrieval with Transformers",
Computer Vision and Image Understanding 249 (2024), arXiv:2407.09924 (the model is called RIART
there). Given a query image and one anchored person in it, find gallery images of the same action.

The model, read top to bottom (:class:`RegionAwareActionNet`):

1. a CNN backbone maps the image to a feature map ``F`` of ``D`` channels (2048 for ResNet-50);
2. three levels of features are read off ``F``: the anchored person ``F_a`` (RoI pooling of ``F``
   in the person box), up to ``k`` context regions ``F_l`` (RoI pooling in the detector proposals
   with the highest IoU with the person box, :func:`rank_context_proposals`) and the whole image
   ``F_g`` (global max pooling of ``F``);
3. the ``k + 2`` vectors become tokens, each plus a sinusoidal position embedding and a learned
   type embedding (person / global / context), and a fusion transformer of ``N = 3`` blocks with
   8 heads, trained from scratch, mixes them (:class:`FusionTransformer`);
4. the output tokens are averaged into the action representation ``F_T``; a BatchNorm and a
   two-layer MLP with ReLU classify it, trained with cross-entropy. Retrieval ranks the gallery by
   the distance between representations.

:func:`batch_forward` and :func:`retrieval_loss_fn` take a collated batch of item dicts (see
``harlearn.data``) and find the anchored person and the context boxes in it
(:mod:`harlearn.models.retrieval.proposals`); they are what the chapter passes to
``harlearn.train.fit`` and ``harlearn.train.predict``.

Where this departs from the paper:

* Context regions come from a detector in the paper. Without a detector (the default here, since
  no detector weights can be downloaded in the course's ``ci`` and ``book`` profiles) they are
  SynthHAR's exact sidecar boxes: ``object_boxes``, ``bystander_boxes`` and the other annotated
  persons, every one with score 1, ranked by IoU with the anchored person as in the paper. Any
  detector can be plugged in through ``detector=`` (see :func:`context_boxes_from_batch`).
* RoI pooling is ``torchvision.ops.roi_align`` (bilinear sampling, ``aligned=True``) on a
  ``roi_size`` grid, then a max (or average) over the grid: on the tiny feature maps of the
  ``book`` profile (2 x 2 cells for 64 x 64 images) the quantised ``roi_pool`` would give most
  small boxes the same cell.
* The paper does not say which feature retrieval uses relative to the BatchNorm. The output has
  both: ``embedding`` is ``F_T`` (before the BatchNorm, as the paper writes it) and
  ``embedding_bn`` is the BatchNorm's output, the feature that the classifier sees (what the
  BNNeck of Luo et al., arXiv:1903.07321, retrieves with). The chapter compares the two.
* Images with fewer than ``k`` context regions are padded to ``k`` context tokens; padded tokens
  are masked out of the attention as keys and left out of the average (:class:`FusionTransformer`),
  so they change nothing. The paper does not describe padding.
* Widths: the backbone takes ``base_width`` (64 = ResNet-50) and the fusion transformer runs at
  the backbone's width ``D`` (``2048 * base_width / 64``); the MLP's hidden width, which the
  paper does not give, defaults to ``D``. There is no final LayerNorm after the blocks: the
  BatchNorm on ``F_T`` normalises.
* ``depth=0`` (the paper's "without fusion transformer" ablation) averages the raw tokens: no
  position or type embedding is added, since without attention they would only add a constant.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torchvision.ops import roi_align

from harlearn.layers.posembed import sinusoidal_embedding_1d
from harlearn.layers.transformer import TransformerBlock, init_vit_weights
from harlearn.losses import classification_loss
from harlearn.models.backbones import densenet121, googlenet, resnet50, vgg16
from harlearn.models.retrieval.proposals import _plain, anchor_boxes_from_batch, context_boxes_from_batch

__all__ = [
    "TOKEN_PERSON",
    "TOKEN_GLOBAL",
    "TOKEN_CONTEXT",
    "masked_block_forward",
    "FusionTransformer",
    "build_backbone",
    "RegionAwareActionNet",
    "batch_forward",
    "batch_embedding",
    "retrieval_loss_fn",
]

TOKEN_PERSON = 0  # type id of the anchored-person token F_a
TOKEN_GLOBAL = 1  # type id of the whole-image token F_g
TOKEN_CONTEXT = 2  # type id of the context-region tokens F_l


# --------------------------------------------------------------------------------------------
# The fusion transformer
# --------------------------------------------------------------------------------------------


def masked_block_forward(
    block: TransformerBlock,
    x: torch.Tensor,
    padding_mask: torch.Tensor | None = None,
    return_attention: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Run a :class:`~harlearn.layers.transformer.TransformerBlock` with a padding mask.

    A thin wrapper kept for the chapter and old code: ``block(x, key_padding_mask=~padding_mask)``.
    No token attends to a padded token; padded tokens are still computed as queries (their
    outputs are garbage that the caller ignores); every other token's output is exactly what it
    would be without the padded tokens. A token whose keys are all padded (an image with no
    valid token) attends to all keys instead, so the result stays finite.

    Args:
        block: The transformer block.
        x: Tokens ``[B, N, C]``.
        padding_mask: ``[B, N]`` bool, True at padded tokens (as ``key_padding_mask`` in
            ``torch.nn.MultiheadAttention``; the block's own ``key_padding_mask`` is the
            opposite, True at real tokens); None masks nothing.
        return_attention: Also return the attention weights ``[B, h, N, N]``.

    Returns:
        Tokens ``[B, N, C]``, or ``(tokens, attention)`` when ``return_attention`` is set.
    """
    real = None if padding_mask is None else ~padding_mask.to(device=x.device, dtype=torch.bool)  # [B, N]
    return block(x, return_attention=return_attention, key_padding_mask=real)


class FusionTransformer(nn.Module):
    """Fuse person, global and context tokens into one action representation ``F_T``.

    Every token gets the sinusoidal embedding of its position in the sequence (person 0, global 1,
    contexts 2, 3, ... in :class:`RegionAwareActionNet`) and the learned embedding of its type;
    ``depth`` pre-norm transformer blocks mix the tokens; the output tokens that are not padding
    are averaged.

    Padding: a batch of images with different numbers of context regions is padded to the same
    number of tokens, and ``padding_mask`` marks the padded ones. Padded tokens are masked out of
    the attention as keys (the blocks' ``key_padding_mask``) and left out of the average, so ``F_T``
    of an image does not depend on them (nor on how many there are).

    Args:
        dim: Token width ``D``; must be even (sinusoidal table) and divisible by ``num_heads``.
        depth: Number of transformer blocks ``N`` (3 in the paper); ``0`` averages the raw tokens
            (the paper's ablation without the fusion transformer; no embeddings are added).
        num_heads: Attention heads per block (8 in the paper).
        num_types: Number of token types (person, global, context).
        max_tokens: Length of the sinusoidal position table (the most tokens a sequence may have).
        use_pos_embed: Add the sinusoidal position embedding.
        use_type_embed: Add the learned type embedding.
        mlp_ratio: Hidden width of the blocks' MLPs as a multiple of ``D``.
        drop_path: Stochastic depth rate of the blocks.
    """

    def __init__(
        self,
        dim: int,
        depth: int = 3,
        num_heads: int = 8,
        num_types: int = 3,
        max_tokens: int = 64,
        use_pos_embed: bool = True,
        use_type_embed: bool = True,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        if depth < 0:
            raise ValueError(f"depth must be 0 or more, got {depth}.")
        self.dim, self.depth, self.max_tokens = dim, depth, max_tokens
        self.use_pos_embed = use_pos_embed and depth > 0
        self.use_type_embed = use_type_embed and depth > 0
        # Fixed table, recomputed on load: a buffer that is not saved in the state dict.
        self.register_buffer("pos_embed", sinusoidal_embedding_1d(max_tokens, dim), persistent=False)
        self.type_embed = nn.Embedding(num_types, dim) if self.use_type_embed else None
        self.blocks = nn.ModuleList(
            [TransformerBlock(dim, num_heads, mlp_ratio, qkv_bias=True, drop_path=drop_path)
             for _ in range(depth)]
        )
        self._init_weights()

    def _init_weights(self) -> None:
        # Trained from scratch: ViT's init (truncated normal 0.02 for linear layers and embeddings).
        init_vit_weights(self)

    def embed(self, tokens: torch.Tensor, token_types: torch.Tensor) -> torch.Tensor:
        """Add the position and type embeddings.

        Args:
            tokens: ``[B, N, D]``.
            token_types: Type ids ``[N]`` or ``[B, N]`` (long).

        Returns:
            ``[B, N, D]``.
        """
        N = tokens.shape[1]
        if N > self.max_tokens:
            raise ValueError(f"{N} tokens but the position table has {self.max_tokens}; raise max_tokens.")
        if self.use_pos_embed:
            tokens = tokens + self.pos_embed[:N].to(tokens.dtype)  # [B, N, D] + [N, D]
        if self.type_embed is not None:
            tokens = tokens + self.type_embed(token_types.to(tokens.device))  # + [N, D] or [B, N, D]
        return tokens

    def forward(
        self,
        tokens: torch.Tensor,
        token_types: torch.Tensor,
        padding_mask: torch.Tensor | None = None,
        return_attention: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Fuse the tokens of each image into one vector.

        Args:
            tokens: ``[B, N, D]``.
            token_types: Type ids ``[N]`` or ``[B, N]`` (:data:`TOKEN_PERSON`, ...).
            padding_mask: ``[B, N]`` bool, True at padded tokens; None when nothing is padded.
            return_attention: Also return every block's attention weights.

        Returns:
            ``F_T`` of shape ``[B, D]``, or ``(F_T, attention)`` with one ``[B, h, N, N]`` tensor
            per block when ``return_attention`` is set. An image with no valid token gets zeros.
        """
        B, N, _ = tokens.shape
        x = self.embed(tokens, token_types) if self.depth > 0 else tokens  # [B, N, D]
        real = None if padding_mask is None else ~padding_mask.to(x.device, torch.bool)  # [B, N]: True = a token
        attention = []
        for block in self.blocks:
            if return_attention:
                x, weights = block(x, return_attention=True, key_padding_mask=real)
                attention.append(weights)  # [B, h, N, N]
            else:
                x = block(x, key_padding_mask=real)  # [B, N, D]
        if padding_mask is None:
            valid = x.new_ones(B, N, 1)  # [B, N, 1]
        else:
            valid = (~padding_mask.to(x.device, torch.bool)).to(x.dtype)[..., None]  # [B, N, 1]
        fused = (x * valid).sum(dim=1) / valid.sum(dim=1).clamp(min=1.0)  # [B, D]: mean over valid tokens
        return (fused, attention) if return_attention else fused


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


def build_backbone(name: str = "resnet50", pretrained: bool | str = False, **kwargs: Any) -> nn.Module:
    """A CNN of :mod:`harlearn.models.backbones` without its classifier, for its ``forward_features``.

    Args:
        name: ``"resnet50"``, ``"vgg16"``, ``"googlenet"`` or ``"densenet121"``.
        pretrained: ImageNet weights, as the factory takes them (needs the default width).
        **kwargs: Passed to the factory (``base_width``, ``replace_stride_with_dilation``, ...).

    Returns:
        The network with its head (the module named by its ``head_name``) replaced by
        ``nn.Identity()``; it has ``forward_features`` and ``num_features``.
    """
    factories = {"resnet50": resnet50, "vgg16": vgg16, "googlenet": googlenet, "densenet121": densenet121}
    if name not in factories:
        raise ValueError(f"Unknown backbone {name!r}; choose one of {sorted(factories)}.")
    model = factories[name](1000, pretrained, **kwargs)  # 1000 classes: the ImageNet head loads as is
    setattr(model, model.head_name.split(".")[0], nn.Identity())  # forward_features never uses it
    return model


class RegionAwareActionNet(nn.Module):
    """RIART (arXiv:2407.09924): person, context regions and whole image, fused by a transformer.

    Args:
        num_classes: Number of action classes (logits).
        backbone: A backbone name for :func:`build_backbone`, or a module with
            ``forward_features`` (``[B, 3, H, W] -> [B, D, h, w]``) and ``num_features``.
        k: Number of context regions (10 in the paper); fewer are padded.
        pretrained: ImageNet weights for a named backbone.
        base_width: Width knob of a named backbone (64 = the production network).
        depth: Fusion transformer blocks (3 in the paper; 0 = no fusion transformer).
        num_heads: Attention heads (8 in the paper).
        use_person: Use the anchored-person token ``F_a``.
        use_global: Use the whole-image token ``F_g``.
        use_context: Use the context-region tokens ``F_l``.
        use_pos_embed: Add sinusoidal position embeddings to the tokens.
        use_type_embed: Add learned type embeddings to the tokens.
        roi_size: Grid of ``roi_align`` inside each box, reduced to one vector by ``region_pool``.
        region_pool: ``"max"`` or ``"avg"``: how a box's ``roi_size`` grid becomes a vector.
        hidden_dim: Hidden width of the two-layer MLP classifier (default ``D``).
        feature_stride: Image pixels per feature-map cell; default: inferred from the shapes
            (the power of two nearest to ``H / h``).
    """

    def __init__(
        self,
        num_classes: int,
        backbone: str | nn.Module = "resnet50",
        k: int = 10,
        pretrained: bool | str = False,
        *,
        base_width: int = 64,
        depth: int = 3,
        num_heads: int = 8,
        use_person: bool = True,
        use_global: bool = True,
        use_context: bool = True,
        use_pos_embed: bool = True,
        use_type_embed: bool = True,
        roi_size: tuple[int, int] = (7, 7),
        region_pool: str = "max",
        hidden_dim: int | None = None,
        feature_stride: int | None = None,
    ) -> None:
        super().__init__()
        if not (use_person or use_global or use_context):
            raise ValueError("At least one of use_person, use_global and use_context must be True.")
        if region_pool not in ("max", "avg"):
            raise ValueError(f"region_pool must be 'max' or 'avg', got {region_pool!r}.")
        if isinstance(backbone, str):
            backbone = build_backbone(backbone, pretrained, base_width=base_width)
        self.backbone = backbone
        self.num_features = dim = backbone.num_features  # D
        self.k, self.roi_size, self.region_pool = k, tuple(roi_size), region_pool
        self.feature_stride = feature_stride
        self.use_person, self.use_global, self.use_context = use_person, use_global, use_context
        self.fusion = FusionTransformer(
            dim, depth, num_heads, num_types=3, max_tokens=k + 2,
            use_pos_embed=use_pos_embed, use_type_embed=use_type_embed,
        )
        self.bn = nn.BatchNorm1d(dim)
        hidden_dim = hidden_dim or dim
        self.head = nn.Sequential(  # the two-layer MLP classifier
            nn.Linear(dim, hidden_dim), nn.ReLU(inplace=True), nn.Linear(hidden_dim, num_classes)
        )

    # -- step 1-2: features of the three levels ------------------------------------------------

    def _spatial_scale(self, image_size: int, feature_size: int) -> float:
        """Feature-map cells per image pixel (1 / stride)."""
        stride = self.feature_stride or 2 ** round(math.log2(image_size / feature_size))
        return 1.0 / stride

    def _pool_regions(
        self, feature_map: torch.Tensor, boxes: list[torch.Tensor], scale: float
    ) -> torch.Tensor:
        """RoI-align every box of every image and reduce it to a vector: ``[sum_i n_i, D]``."""
        boxes = [b.to(feature_map.device, feature_map.dtype).reshape(-1, 4) for b in boxes]
        grids = roi_align(feature_map, boxes, self.roi_size, spatial_scale=scale, sampling_ratio=2,
                          aligned=True)  # [R, D, r_h, r_w]
        return grids.amax(dim=(2, 3)) if self.region_pool == "max" else grids.mean(dim=(2, 3))  # [R, D]

    def forward_tokens(
        self,
        images: torch.Tensor,
        person_boxes: torch.Tensor | Sequence[torch.Tensor],
        context_boxes: Sequence[torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The tokens the fusion transformer sees, before any embedding.

        Args:
            images: ``[B, 3, H, W]``.
            person_boxes: The anchored persons, a tensor ``[B, 4]`` or a list of ``B`` tensors
                ``[1, 4]`` (pixel ``xyxy``).
            context_boxes: A list of ``B`` tensors ``[k_i, 4]``, ranked (the first ``k`` are used);
                None = no context regions.

        Returns:
            ``(tokens [B, N, D], token_types [N], padding_mask [B, N])`` with
            ``N = use_person + use_global + k * use_context``; the person token first, then the
            global one, then the contexts (``padding_mask`` True where an image has fewer than
            ``k`` context regions).
        """
        B, _, H, W = images.shape
        fmap = self.backbone.forward_features(images)  # [B, D, h, w]
        scale = self._spatial_scale(W, fmap.shape[-1])
        tokens, types, masks = [], [], []
        if self.use_person:
            if isinstance(person_boxes, torch.Tensor):
                person_boxes = list(_plain(person_boxes).reshape(B, 1, 4))  # B x [1, 4]
            f_a = self._pool_regions(fmap, [_plain(b) for b in person_boxes], scale)  # [B, D]
            tokens.append(f_a[:, None])  # [B, 1, D]
            types.append(TOKEN_PERSON)
            masks.append(torch.zeros(B, 1, dtype=torch.bool, device=fmap.device))
        if self.use_global:
            f_g = fmap.amax(dim=(2, 3))  # [B, D]: global max pooling
            tokens.append(f_g[:, None])  # [B, 1, D]
            types.append(TOKEN_GLOBAL)
            masks.append(torch.zeros(B, 1, dtype=torch.bool, device=fmap.device))
        if self.use_context:
            ctx = [_plain(b).reshape(-1, 4)[: self.k] for b in (context_boxes or [torch.zeros(0, 4)] * B)]
            if len(ctx) != B:
                raise ValueError(f"Got context boxes for {len(ctx)} images but {B} images.")
            counts = torch.tensor([len(b) for b in ctx], device=fmap.device)  # [B]
            f_l = self._pool_regions(fmap, ctx, scale)  # [sum k_i, D]
            slots = torch.arange(self.k, device=fmap.device)  # [k]
            valid = slots[None, :] < counts[:, None]  # [B, k]: the first k_i slots are used
            padded = fmap.new_zeros(B, self.k, fmap.shape[1])  # [B, k, D]
            padded[valid] = f_l  # boolean indexing fills row-major: image 0's slots, then image 1's
            tokens.append(padded)
            types.extend([TOKEN_CONTEXT] * self.k)
            masks.append(~valid)
        token_types = torch.tensor(types, dtype=torch.long, device=fmap.device)  # [N]
        return torch.cat(tokens, dim=1), token_types, torch.cat(masks, dim=1)  # [B, N, D], [N], [B, N]

    # -- steps 3-4: fuse, normalise, classify ---------------------------------------------------

    def forward(
        self,
        images: torch.Tensor,
        person_boxes: torch.Tensor | Sequence[torch.Tensor],
        context_boxes: Sequence[torch.Tensor] | None = None,
        return_attention: bool = False,
    ) -> dict[str, Any]:
        """Represent and classify the action of each image's anchored person.

        Args:
            images: ``[B, 3, H, W]``.
            person_boxes: ``[B, 4]`` or a list of ``B`` tensors ``[1, 4]``.
            context_boxes: A list of ``B`` ranked tensors ``[k_i, 4]``, or None.
            return_attention: Also return the fusion transformer's attention weights.

        Returns:
            A dict with ``logits`` ``[B, num_classes]``, ``embedding`` (``F_T``, ``[B, D]``),
            ``embedding_bn`` (``BN(F_T)``, ``[B, D]``), ``padding_mask`` ``[B, N]`` and, when
            asked, ``attention`` (one ``[B, h, N, N]`` per block).
        """
        tokens, token_types, padding_mask = self.forward_tokens(images, person_boxes, context_boxes)
        fused = self.fusion(tokens, token_types, padding_mask, return_attention=return_attention)
        f_t, attention = fused if return_attention else (fused, None)  # [B, D]
        f_bn = self.bn(f_t)  # [B, D]
        out = {"logits": self.head(f_bn), "embedding": f_t, "embedding_bn": f_bn,
               "padding_mask": padding_mask}
        if return_attention:
            out["attention"] = attention
        return out


def batch_forward(
    model: RegionAwareActionNet,
    batch: dict[str, Any],
    *,
    k: int | None = None,
    detector: Callable[[dict[str, Any]], list[dict[str, torch.Tensor]]] | None = None,
    score_threshold: float = 0.5,
) -> dict[str, Any]:
    """Run :class:`RegionAwareActionNet` on a collated batch (anchor and contexts found in it).

    Args:
        model: The model.
        batch: A batch from ``harlearn.data.collate`` (on the model's device).
        k: Context regions per image (default ``model.k``).
        detector: See :func:`context_boxes_from_batch`.
        score_threshold: See :func:`context_boxes_from_batch`.

    Returns:
        The model's output dict (``logits``, ``embedding``, ``embedding_bn``, ...).
    """
    anchors = anchor_boxes_from_batch(batch)  # [B, 4]
    contexts = context_boxes_from_batch(batch, k or model.k, detector=detector,
                                        score_threshold=score_threshold)
    return model(batch["image"], anchors, contexts)


def batch_embedding(
    model: nn.Module, batch: dict[str, Any], *, key: str = "embedding", **kwargs: Any
) -> torch.Tensor:
    """One retrieval feature per image, for ``harlearn.train.predict(..., forward=...)``.

    Args:
        model: A :class:`RegionAwareActionNet` (run through :func:`batch_forward`) or a model whose
            ``model(images)`` returns a dict (the baselines of :mod:`harlearn.models.retrieval.baselines`).
        batch: A collated batch.
        key: ``"embedding"`` or ``"embedding_bn"``.
        **kwargs: Passed to :func:`batch_forward` (``k``, ``detector``, ``score_threshold``).

    Returns:
        ``[B, D]``.
    """
    if isinstance(model, RegionAwareActionNet):
        out = batch_forward(model, batch, **kwargs)
    else:
        out = model(batch["image"])
    return out[key]


def retrieval_loss_fn(
    model: RegionAwareActionNet, batch: dict[str, Any], *, label_smoothing: float = 0.0, **kwargs: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """The paper's training loss, cross-entropy on the logits, as ``harlearn.train.fit`` wants it.

    Multi-hot ``labels`` (VOC Action) use binary cross-entropy with logits instead. Bind the
    options with ``functools.partial(retrieval_loss_fn, detector=...)``.

    Args:
        model: The model.
        batch: A collated batch with ``label`` ``[B]`` or ``labels`` ``[B, C]``.
        label_smoothing: For the cross-entropy.
        **kwargs: Passed to :func:`batch_forward`.

    Returns:
        ``(loss, logits)``.
    """
    logits = batch_forward(model, batch, **kwargs)["logits"]
    return classification_loss(logits, batch, label_smoothing), logits
