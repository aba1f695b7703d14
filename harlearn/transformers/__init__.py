"""Transformers for images: ViT, Swin and the masked autoencoder (MAE).

* :mod:`harlearn.transformers.vit`: ``VisionTransformer``, attention maps,
  ``vit_tiny/small/base_patch16_224`` (timm weights load by name); it re-exports the blocks of
  :mod:`harlearn.layers.transformer` (``PatchEmbed``, ``TransformerBlock``, ...) and
  ``attention_rollout`` (:mod:`harlearn.explain`).
* :mod:`harlearn.transformers.swin`: window attention, shifted windows, ``SwinTransformer``,
  ``swin_tiny_patch4_window7_224``.
* :mod:`harlearn.transformers.pretrained`: timm's pretrained weights from the local cache first,
  an immediate clear error offline, and each checkpoint's normalisation
  (``pretrained_normalization``).
* :mod:`harlearn.transformers.mae`: ``patchify``, ``random_masking``, ``MaskedAutoencoder``,
  ``mae_loss_fn`` (pre-training with ``harlearn.train.fit``), ``encoder_to_classifier``.
"""

from harlearn.transformers.mae import (
    MaskedAutoencoder,
    encoder_to_classifier,
    mae_loss_fn,
    patchify,
    random_masking,
    unpatchify,
)
from harlearn.transformers.swin import (
    PatchMerging,
    SwinBlock,
    SwinTransformer,
    WindowAttention,
    shifted_window_mask,
    swin_tiny_patch4_window7_224,
    window_partition,
    window_reverse,
)
from harlearn.transformers.pretrained import (
    PretrainedWeightsUnavailable,
    create_timm_pretrained,
    pretrained_normalization,
    timm_weights_file,
)
from harlearn.transformers.vit import (
    DropPath,
    Mlp,
    PatchEmbed,
    TransformerBlock,
    VisionTransformer,
    attention_rollout,
    init_vit_weights,
    load_timm_pretrained,
    vit_base_patch16_224,
    vit_small_patch16_224,
    vit_tiny_patch16_224,
)

__all__ = [
    "PatchEmbed",
    "Mlp",
    "DropPath",
    "TransformerBlock",
    "init_vit_weights",
    "VisionTransformer",
    "attention_rollout",
    "load_timm_pretrained",
    "vit_tiny_patch16_224",
    "vit_small_patch16_224",
    "vit_base_patch16_224",
    "window_partition",
    "window_reverse",
    "shifted_window_mask",
    "WindowAttention",
    "SwinBlock",
    "PatchMerging",
    "SwinTransformer",
    "swin_tiny_patch4_window7_224",
    "PretrainedWeightsUnavailable",
    "create_timm_pretrained",
    "pretrained_normalization",
    "timm_weights_file",
    "patchify",
    "unpatchify",
    "random_masking",
    "MaskedAutoencoder",
    "mae_loss_fn",
    "encoder_to_classifier",
]
