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
"""

from .attention import MultiHeadSelfAttention, NonLocalBlock, attention_reference
from .bottleneck import AttentionBottleneck, add_attention
from .cbam import CBAM, ChannelGate, SpatialGate
from .posembed import sinusoidal_embedding_1d, sinusoidal_embedding_2d
from .se import SqueezeExcite

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
]
