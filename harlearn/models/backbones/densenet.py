"""DenseNet-121, written from scratch so every block can be read top to bottom.

Paper: Gao Huang, Zhuang Liu, Laurens van der Maaten and Kilian Q. Weinberger, "Densely
Connected Convolutional Networks", CVPR 2017, arXiv:1608.06993 (the DenseNet-BC variant).

A 7x7 stem and a max pool, then four dense blocks of [6, 12, 24, 16] layers. Inside a block,
every :class:`DenseLayer` sees the concatenation of the block input and of all earlier layers'
outputs, and adds ``growth_rate`` (k = 32) new channels: BN-ReLU-1x1 conv (``bn_size * k``
channels, the "bottleneck") then BN-ReLU-3x3 conv (k channels). Between blocks a
:class:`Transition` (BN-ReLU-1x1 conv-2x2 average pool) halves both the channels
(compression 0.5) and the resolution. A final BN, ReLU, global average pool and one linear
layer make the head.

Parameter names follow ``torchvision.models.densenet121`` exactly (``features.conv0``,
``features.denseblock1.denselayer1.norm1``, ``features.transition1.conv``, ...,
``classifier``), so torchvision's ImageNet weights load with ``strict=True``.

Departures from the paper:

- None in the architecture. ``base_width`` scales ``num_init_features`` (64) and
  ``growth_rate`` (32) by ``base_width / 64`` for CPU-sized experiments; with the default the
  model is the paper's DenseNet-121.
- torchvision's ``memory_efficient`` (gradient checkpointing) option is left out, to keep the
  forward pass plain.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import DenseNet121_Weights

from harlearn.models.backbones.weights import build_pretrained

__all__ = ["DenseLayer", "DenseBlock", "Transition", "DenseNet", "densenet121"]


def _scaled(channels: int, base_width: int) -> int:
    """``channels`` scaled by ``base_width / 64`` (at least 1)."""
    return max(1, channels * base_width // 64)


class DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv (bottleneck) then BN-ReLU-3x3 conv, producing ``growth_rate`` channels.

    Args:
        in_channels: Channels of the concatenated input.
        growth_rate: New channels this layer adds (k).
        bn_size: The bottleneck has ``bn_size * growth_rate`` channels.
        drop_rate: Dropout after the 3x3 conv (0 in DenseNet-121 on ImageNet).
    """

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int = 4, drop_rate: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, kernel_size=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False)
        self.dropout = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C_in, H, W] -> [B, growth_rate, H, W]."""
        x = self.conv1(self.relu1(self.norm1(x)))  # [B, bn_size * k, H, W]
        x = self.conv2(self.relu2(self.norm2(x)))  # [B, k, H, W]
        return self.dropout(x)


class DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers, each fed with everything computed before it in the block.

    Args:
        num_layers: Number of dense layers (``denselayer1`` ... ``denselayerN``).
        in_channels: Channels entering the block.
        growth_rate: Channels each layer adds (k).
        bn_size: Bottleneck factor of each layer.
        drop_rate: Dropout of each layer.
    """

    def __init__(
        self, num_layers: int, in_channels: int, growth_rate: int, bn_size: int = 4, drop_rate: float = 0.0
    ) -> None:
        super().__init__()
        for i in range(num_layers):
            layer = DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size, drop_rate)
            self.add_module(f"denselayer{i + 1}", layer)
        self.out_channels = in_channels + num_layers * growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C_in, H, W] -> [B, C_in + num_layers * k, H, W]."""
        features = [x]
        for layer in self.values():
            features.append(layer(torch.cat(features, dim=1)))  # sees [B, C_in + i * k, H, W]
        return torch.cat(features, dim=1)


class Transition(nn.Sequential):
    """BN-ReLU-1x1 conv-2x2 average pool between two dense blocks.

    Args:
        in_channels: Channels entering.
        out_channels: Channels leaving (half of ``in_channels`` in DenseNet-BC).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)  # [B, C/2, H, W]
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)  # [B, C/2, H/2, W/2]


class DenseNet(nn.Module):
    """DenseNet-BC (DenseNet-121 with the defaults).

    Args:
        num_classes: Number of output logits.
        base_width: Scales ``growth_rate`` and ``num_init_features`` by ``base_width / 64``.
        growth_rate: Channels each dense layer adds (k), at ``base_width=64``.
        block_config: Dense layers per block; ``(6, 12, 24, 16)`` is DenseNet-121.
        num_init_features: Channels of the stem convolution, at ``base_width=64``.
        bn_size: Bottleneck factor: a dense layer's 1x1 conv outputs ``bn_size * k`` channels.
        drop_rate: Dropout after each dense layer.
    """

    head_name = "classifier"  # the module that :func:`harlearn.models.finetune_model` replaces

    def __init__(
        self,
        num_classes: int = 1000,
        *,
        base_width: int = 64,
        growth_rate: int = 32,
        block_config: tuple[int, ...] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int = 4,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if base_width < 1:
            raise ValueError(f"base_width must be a positive integer, got {base_width}.")
        growth_rate = _scaled(growth_rate, base_width)
        channels = _scaled(num_init_features, base_width)

        # Stem: [B, 3, H, W] -> [B, 64w, H/2, W/2] -> max pool -> [B, 64w, H/4, W/4]
        self.features = nn.Sequential(
            OrderedDict(
                [
                    ("conv0", nn.Conv2d(3, channels, kernel_size=7, stride=2, padding=3, bias=False)),
                    ("norm0", nn.BatchNorm2d(channels)),
                    ("relu0", nn.ReLU(inplace=True)),
                    ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
                ]
            )
        )
        # Dense blocks at strides 4, 8, 16, 32; a transition halves channels and resolution.
        # DenseNet-121 channels: 64 -> 256 -> 128 -> 512 -> 256 -> 1024 -> 512 -> 1024.
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(num_layers, channels, growth_rate, bn_size, drop_rate)
            self.features.add_module(f"denseblock{i + 1}", block)
            channels = block.out_channels
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", Transition(channels, channels // 2))
                channels = channels // 2
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.num_features = channels

        self.classifier = nn.Linear(channels, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last map, after the final BN and ReLU: [B, 3, H, W] -> [B, 1024w, H/32, W/32]."""
        return F.relu(self.features(x))

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """Pool and classify a feature map: [B, 1024w, h, w] -> [B, num_classes]."""
        x = torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)  # [B, 1024w, 1, 1] -> [B, 1024w]
        return self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits: [B, 3, H, W] -> [B, num_classes]."""
        return self.forward_head(self.forward_features(x))


# torchvision's DenseNet ImageNet file predates the ban on "." in module names: it stores
# "...denselayer1.norm.1.weight" where the module is now "...denselayer1.norm1.weight".
_LEGACY_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def _rename_legacy_keys(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``norm.1`` -> ``norm1`` (and ``conv.2`` -> ``conv2``, ...), as torchvision does on load."""
    renamed = {}
    for key, value in state_dict.items():
        match = _LEGACY_KEY.match(key)
        renamed[match.group(1) + match.group(2) if match else key] = value
    return renamed


def densenet121(num_classes: int = 1000, pretrained: bool | str = False, **kwargs: Any) -> DenseNet:
    """DenseNet-121 (growth 32, blocks [6, 12, 24, 16]), optionally with ImageNet weights.

    Args:
        num_classes: Number of output logits. With ``pretrained``, the 1000-way ImageNet head
            is loaded and then replaced by a fresh ``num_classes``-way linear layer.
        pretrained: ``True`` loads ``torchvision.models.DenseNet121_Weights.IMAGENET1K_V1``; a
            string names another member of ``DenseNet121_Weights``. Needs the default width.
            ``"imagenet"`` is ``True``; ``"zoo"`` loads the course checkpoint of this size
            (:func:`harlearn.zoo.initialise`).
        **kwargs: Passed on to :class:`DenseNet` (``base_width``, ``drop_rate``, ...).

    Returns:
        The model, in training mode.
    """
    if pretrained == "zoo":  # the course checkpoint (harlearn.zoo) whose body has this model's shapes
        from harlearn.zoo import initialise

        return initialise(DenseNet(num_classes, **kwargs))
    if pretrained:
        return build_pretrained(
            DenseNet, DenseNet121_Weights, pretrained, num_classes, adapt=_rename_legacy_keys, **kwargs
        )
    return DenseNet(num_classes, **kwargs)
