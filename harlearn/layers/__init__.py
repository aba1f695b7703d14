"""Attention layers and position embeddings, one concept per module.

* ``se``: ``SqueezeExcite``, channel attention (Hu et al., arXiv:1709.01507).
* ``cbam``: ``CBAM`` = ``ChannelGate`` then ``SpatialGate`` (Woo et al., arXiv:1807.06521).
* ``attention``: ``MultiHeadSelfAttention`` (Vaswani et al., arXiv:1706.03762) and
  ``NonLocalBlock`` (Wang et al., arXiv:1711.07971), each with a readable reference path
  (``attention_reference``) beside ``F.scaled_dot_product_attention``.
* ``posembed``: ``sinusoidal_embedding_1d`` (the Transformer's table) and
  ``sinusoidal_embedding_2d`` (MAE's 2D layout), for non-persistent buffers.
* ``bottleneck``: ``AttentionBottleneck`` and ``add_attention``, which turn a torchvision-style
  ResNet into an SE-, CBAM- or non-local ResNet whose plain weights still load by name.
* ``transformer``: ``PatchEmbed``, ``Mlp``, ``DropPath``, ``TransformerBlock`` (with optional
  ``attn_mask`` / ``key_padding_mask``) and ``init_vit_weights``, timm's ViT initialisation
  (Dosovitskiy et al., arXiv:2010.11929), shared by every transformer of the course.
* ``vit_conv``: ``ViTConvLayer``, a ViT used as a convolutional layer (ConViT, arXiv:2307.08994).
"""

from .attention import MultiHeadSelfAttention, NonLocalBlock, attention_reference, combine_masks
from .bottleneck import AttentionBottleneck, add_attention
from .cbam import CBAM, ChannelGate, SpatialGate
from .posembed import sinusoidal_embedding_1d, sinusoidal_embedding_2d
from .se import SqueezeExcite
from .transformer import DropPath, Mlp, PatchEmbed, TransformerBlock, init_vit_weights
from .vit_conv import ViTConvLayer

__all__ = [
    "CBAM",
    "AttentionBottleneck",
    "ChannelGate",
    "MultiHeadSelfAttention",
    "NonLocalBlock",
    "SpatialGate",
    "SqueezeExcite",
    "add_attention",
    "attention_reference",
    "sinusoidal_embedding_1d",
    "sinusoidal_embedding_2d",
    "combine_masks",
    "PatchEmbed",
    "Mlp",
    "DropPath",
    "TransformerBlock",
    "init_vit_weights",
    "ViTConvLayer",
]
