"""Squeeze-and-Excitation (SE): channel attention from a global summary of the feature map.

Paper: Hu, Shen, Albanie, Sun and Wu, "Squeeze-and-Excitation Networks", CVPR 2018,
arXiv:1709.01507.

An SE block asks, for each image, *which channels matter here*. It squeezes every channel of a
``[B, C, H, W]`` feature map to one number (global average pooling), passes those ``C`` numbers
through a small bottleneck MLP (``C -> C/r -> C``, ReLU between, sigmoid at the end) and
multiplies each channel by its gate in ``(0, 1)``. In an SE-ResNet the block sits on the residual
branch, after the last BatchNorm and before the addition (see ``harlearn.layers.bottleneck``).

Departures and the comparison with timm (``timm.layers.SEModule``):
    * The two fully connected layers are 1x1 convolutions with biases named ``fc1`` and ``fc2``,
      as in timm and in the original SENet weights ported to PyTorch, so their state dicts are
      interchangeable (the paper's equations omit the biases; every implementation has them).
    * Hidden width: ours is ``max(1, channels // reduction)``, the paper's ``C / r``. timm's
      default rounds ``channels / 16`` to a multiple of 8 (``rd_divisor=8``), at least 8: the
      same for every ResNet-50 stage (256 to 2048 channels) but not for narrow layers, e.g. 64
      channels give 4 hidden units here and 8 in timm (pass ``rd_channels`` to timm to match).
    * timm's options (max pooling added to the squeeze, a norm layer, other activations and
      gates) are left out; the forward pass is otherwise the same computation.
    * timm's SE-ResNets (``seresnet50``) store the block as ``se`` inside each bottleneck; our
      bottlenecks call it ``attn``, so their checkpoints load after renaming ``.se.`` to ``.attn.``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SqueezeExcite"]


class SqueezeExcite(nn.Module):
    """Squeeze-and-Excitation block: reweights the channels of a feature map.

    ``forward(x) = x * sigmoid(fc2(relu(fc1(mean_hw(x)))))``; the output has the input's shape.

    Args:
        channels: Number of input (and output) channels ``C``.
        reduction: Reduction ratio ``r`` of the bottleneck MLP; the hidden width is
            ``max(1, channels // reduction)``.

    Example:
        >>> import torch
        >>> se = SqueezeExcite(64, reduction=16)
        >>> se(torch.randn(2, 64, 8, 8)).shape
        torch.Size([2, 64, 8, 8])
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        if channels <= 0 or reduction <= 0:
            raise ValueError(f"channels and reduction must be positive; got {channels} and {reduction}.")
        hidden = max(1, channels // reduction)
        self.channels = channels
        self.hidden_channels = hidden
        self.fc1 = nn.Conv2d(channels, hidden, kernel_size=1)  # W1: C -> C/r
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, kernel_size=1)  # W2: C/r -> C
        self.gate = nn.Sigmoid()

    def excitation(self, x: torch.Tensor) -> torch.Tensor:
        """The channel gates, one per image and channel (useful for plots).

        Args:
            x: Feature map of shape ``[B, C, H, W]``.

        Returns:
            Gates in ``(0, 1)`` of shape ``[B, C, 1, 1]``.
        """
        squeezed = x.mean(dim=(2, 3), keepdim=True)  # squeeze: [B, C, H, W] -> [B, C, 1, 1]
        return self.gate(self.fc2(self.act(self.fc1(squeezed))))  # excite: [B, C, 1, 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reweight the channels of ``x`` (shape ``[B, C, H, W]``, returned shape the same)."""
        return x * self.excitation(x)  # [B, C, H, W] * [B, C, 1, 1]

    def extra_repr(self) -> str:
        return f"channels={self.channels}, hidden_channels={self.hidden_channels}"
