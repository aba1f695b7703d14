"""CBAM: channel attention, then spatial attention, on a convolutional feature map.

Paper: Woo, Park, Lee and Kweon, "CBAM: Convolutional Block Attention Module", ECCV 2018,
arXiv:1807.06521. Official code: Jongchan/attention-module (``MODELS/cbam.py``).

CBAM refines a feature map in two steps. The *channel gate* is an SE block (arXiv:1709.01507)
whose squeeze uses both average and max pooling: the two ``[B, C, 1, 1]`` summaries go through
one shared MLP, the results are summed and a sigmoid gives one weight per channel ("what").
The *spatial gate* then pools across channels to a ``[B, 2, H, W]`` map ``[max, mean]``, runs a
``k x k`` convolution and BatchNorm and a sigmoid, and gives one weight per position ("where").
In a CBAM-ResNet it sits on the residual branch, after ``bn3`` and before the addition.

Departures from the official code:
    * The shared MLP is two 1x1 convolutions with biases (``fc1``, ``fc2``) instead of
      ``nn.Linear`` layers (``mlp.1``, ``mlp.3``): same computation, timm's names.
    * Hidden width ``max(1, channels // reduction)`` (the official ``C // r`` would be 0 for
      ``C < r``).
    * The spatial BatchNorm keeps PyTorch's default momentum (0.1) where the official code uses
      0.01: our short course runs need running statistics that settle in a few hundred steps.
    * As in the official ResNet initialisation, the spatial BatchNorm's weight starts at zero, so
      the spatial gate starts as a constant ``sigmoid(0) = 0.5`` and learns where to look.

Differences with timm's ``timm.layers.cbam.CbamModule`` (checked in ``tests/test_layers_se_cbam.py``):
    * timm's channel MLP has no biases by default (``mlp_bias=False``); the paper's code has them.
      With ``mlp_bias=True`` timm's channel gate equals ours given the same weights.
    * timm's hidden width is ``round(channels / 16)`` (``rd_divisor=1``), ours rounds down; e.g.
      24 channels give 2 hidden units in timm and 1 here.
    * timm's spatial gate pools to ``[mean, max]``, the official code and ours to ``[max, mean]``;
      swapping the two input channels of the 7x7 kernel maps one onto the other.
    * timm nests the spatial conv and norm in a ``ConvNormAct``: ``spatial.conv.conv`` and
      ``spatial.conv.bn`` are our ``spatial.conv`` and ``spatial.bn``.
    * timm initialises the spatial BatchNorm's weight to one (we use zero, see above).

    With those mappings the two modules compute the same function.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["CBAM", "ChannelGate", "SpatialGate"]


class ChannelGate(nn.Module):
    """CBAM's channel attention: a shared MLP on the average- and the max-pooled features.

    Args:
        channels: Number of input (and output) channels ``C``.
        reduction: Reduction ratio ``r``; the hidden width is ``max(1, channels // reduction)``.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        if channels <= 0 or reduction <= 0:
            raise ValueError(f"channels and reduction must be positive; got {channels} and {reduction}.")
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, kernel_size=1)  # shared MLP, C -> C/r
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, kernel_size=1)  # C/r -> C
        self.gate = nn.Sigmoid()

    def mlp(self, pooled: torch.Tensor) -> torch.Tensor:
        """The shared MLP, ``[B, C, 1, 1] -> [B, C, 1, 1]`` (logits, before the sigmoid)."""
        return self.fc2(self.act(self.fc1(pooled)))

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Channel weights in ``(0, 1)``: ``[B, C, H, W] -> [B, C, 1, 1]``."""
        avg = self.mlp(x.mean(dim=(2, 3), keepdim=True))  # [B, C, 1, 1]
        mx = self.mlp(x.amax(dim=(2, 3), keepdim=True))  # [B, C, 1, 1]
        return self.gate(avg + mx)  # [B, C, 1, 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reweight the channels: ``[B, C, H, W] -> [B, C, H, W]``."""
        return x * self.attention(x)


class SpatialGate(nn.Module):
    """CBAM's spatial attention: a ``k x k`` conv on the channel-wise ``[max, mean]`` maps.

    Args:
        kernel_size: Size ``k`` of the (odd, "same"-padded) convolution; 7 in the paper.
    """

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        if kernel_size <= 0 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number; got {kernel_size}.")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1)
        self.gate = nn.Sigmoid()
        nn.init.zeros_(self.bn.weight)  # the official code's init: the gate starts at 0.5 everywhere

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Spatial weights in ``(0, 1)``: ``[B, C, H, W] -> [B, 1, H, W]``."""
        pooled = torch.cat(
            [x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1
        )  # [B, 2, H, W]: channel 0 = max over C, channel 1 = mean over C
        return self.gate(self.bn(self.conv(pooled)))  # [B, 1, H, W]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reweight the positions: ``[B, C, H, W] -> [B, C, H, W]``."""
        return x * self.attention(x)


class CBAM(nn.Module):
    """Convolutional Block Attention Module: ``spatial(channel(x))``.

    Args:
        channels: Number of input (and output) channels ``C``.
        reduction: Reduction ratio ``r`` of the channel gate's MLP.
        kernel_size: Kernel size of the spatial gate's convolution (odd).

    Example:
        >>> import torch
        >>> cbam = CBAM(64)
        >>> cbam(torch.randn(2, 64, 8, 8)).shape
        torch.Size([2, 64, 8, 8])
    """

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7) -> None:
        super().__init__()
        self.channel = ChannelGate(channels, reduction)
        self.spatial = SpatialGate(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Refine ``x``: ``[B, C, H, W] -> [B, C, H, W]``."""
        return self.spatial(self.channel(x))
