"""Transformers for images: ViT, Swin and the masked autoencoder (MAE).

* :mod:`harlearn.transformers.vit`: ``PatchEmbed``, ``TransformerBlock``, ``VisionTransformer``,
  attention maps and rollout, ``vit_tiny/small/base_patch16_224`` (timm weights load by name).
* :mod:`harlearn.transformers.swin`: window attention, shifted windows, ``SwinTransformer``.
* :mod:`harlearn.transformers.mae`: ``patchify``, ``random_masking``, ``MaskedAutoencoder``,
  ``encoder_to_classifier``.
"""

from harlearn.transformers.mae import (
    MaskedAutoencoder,
    encoder_to_classifier,
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
    window_partition,
    window_reverse,
)
from harlearn.transformers.vit import (
    DropPath,
    Mlp,
    PatchEmbed,
    TransformerBlock,
    VisionTransformer,
    attention_rollout,
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
    "patchify",
    "unpatchify",
    "random_masking",
    "MaskedAutoencoder",
    "encoder_to_classifier",
]
