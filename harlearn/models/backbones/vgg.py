"""VGG-16, written from scratch so every layer can be read top to bottom.

Paper: Karen Simonyan and Andrew Zisserman, "Very Deep Convolutional Networks for
Large-Scale Image Recognition", ICLR 2015, arXiv:1409.1556 (configuration "D").

The network is five blocks of 3x3 convolutions (2-2-3-3-3 layers with 64, 128, 256, 512,
512 filters), each block closed by a 2x2 max pool that halves the resolution, followed by a
classifier of two 4096-wide fully connected layers with dropout 0.5 and a final linear layer.

Parameter names follow ``torchvision.models.vgg16`` exactly (``features.<i>``,
``classifier.<i>``), so torchvision's ImageNet weights load with ``strict=True``.

Departures from the paper:

- As in torchvision, an ``AdaptiveAvgPool2d((7, 7))`` sits between the convolutions and the
  classifier, so any input size of at least 32x32 works (the paper's fully connected layers
  expect exactly 224x224; its dense evaluation turns them into convolutions instead).
- Weights are initialised as in torchvision (Kaiming-normal convolutions, N(0, 0.01)
  linears), not by the paper's staged training from the shallower configuration "A".
- ``base_width`` and ``classifier_width`` shrink the network for CPU-sized experiments; with
  their defaults the model is the paper's VGG-16.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchvision.models import VGG16_Weights

from harlearn.models.backbones.weights import build_pretrained

__all__ = ["VGG", "VGG16_BLOCKS", "vgg_block", "vgg16"]

#: VGG-16 ("D" in Table 1 of the paper): (number of 3x3 conv layers, filters) per block.
VGG16_BLOCKS: list[tuple[int, int]] = [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]


def _scaled(channels: int, base_width: int) -> int:
    """``channels`` scaled by ``base_width / 64`` (at least 1)."""
    return max(1, channels * base_width // 64)


def vgg_block(in_channels: int, out_channels: int, num_convs: int) -> list[nn.Module]:
    """One VGG block: ``num_convs`` x (3x3 conv + ReLU), then a 2x2 max pool.

    The layers are returned as a list (not wrapped in a module) so that the whole feature
    extractor is one flat ``nn.Sequential`` and the parameter names match torchvision's
    ``features.0.weight``, ``features.2.weight``, ...

    Args:
        in_channels: Channels of the block's input.
        out_channels: Filters of every convolution in the block.
        num_convs: Number of 3x3 convolutions.

    Returns:
        The block's layers: [B, in_channels, H, W] -> [B, out_channels, H/2, W/2].
    """
    layers: list[nn.Module] = []
    for i in range(num_convs):
        conv_in = in_channels if i == 0 else out_channels
        layers += [nn.Conv2d(conv_in, out_channels, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return layers


class VGG(nn.Module):
    """VGG-16: five convolutional blocks and a three-layer fully connected classifier.

    Args:
        num_classes: Number of output logits.
        base_width: Filters of the first block (64 in the paper); every block's width is
            scaled by ``base_width / 64``.
        classifier_width: Width of the two hidden fully connected layers. ``None`` means
            ``4096 * base_width / 64`` (4096, the paper's value, at the default width).
        dropout: Dropout probability after each hidden fully connected layer.
        blocks: ``(num_convs, filters)`` per block at ``base_width=64``; the default is
            VGG-16's :data:`VGG16_BLOCKS`.
        init_weights: Initialise the weights as torchvision does (otherwise PyTorch's
            defaults are kept).
    """

    head_name = "classifier.6"  # the module that :func:`harlearn.models.finetune_model` replaces

    def __init__(
        self,
        num_classes: int = 1000,
        *,
        base_width: int = 64,
        classifier_width: int | None = None,
        dropout: float = 0.5,
        blocks: list[tuple[int, int]] | None = None,
        init_weights: bool = True,
    ) -> None:
        super().__init__()
        if base_width < 1:
            raise ValueError(f"base_width must be a positive integer, got {base_width}.")
        blocks = VGG16_BLOCKS if blocks is None else blocks
        hidden = _scaled(4096, base_width) if classifier_width is None else classifier_width

        # Feature extractor: [B, 3, H, W] -> [B, 512w, H/32, W/32] (w = base_width / 64).
        layers: list[nn.Module] = []
        in_channels = 3
        for num_convs, filters in blocks:
            out_channels = _scaled(filters, base_width)
            layers += vgg_block(in_channels, out_channels, num_convs)
            in_channels = out_channels
        self.features = nn.Sequential(*layers)
        self.num_features = in_channels

        # Any resolution -> a fixed 7x7 grid, so the classifier sees 512w * 7 * 7 inputs.
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(self.num_features * 7 * 7, hidden),  # classifier.0
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),  # classifier.3
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),  # classifier.6: the head
        )

        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolutional map: [B, 3, H, W] -> [B, 512w, H/32, W/32]."""
        return self.features(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """Pool and classify a feature map: [B, 512w, h, w] -> [B, num_classes]."""
        x = self.avgpool(x)  # [B, C, 7, 7]
        x = torch.flatten(x, 1)  # [B, C*7*7]
        return self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits: [B, 3, H, W] -> [B, num_classes]."""
        return self.forward_head(self.forward_features(x))


def vgg16(num_classes: int = 1000, pretrained: bool | str = False, **kwargs: Any) -> VGG:
    """VGG-16 (configuration "D"), optionally with torchvision's ImageNet weights.

    Args:
        num_classes: Number of output logits. With ``pretrained``, the 1000-way ImageNet head
            is loaded and then replaced by a fresh ``num_classes``-way linear layer.
        pretrained: ``True`` loads ``torchvision.models.VGG16_Weights.IMAGENET1K_V1``; a
            string names another member of ``VGG16_Weights``. Needs the default widths.
            ``"imagenet"`` is ``True``; ``"zoo"`` loads the course checkpoint of this size
            (:func:`harlearn.zoo.initialise`).
        **kwargs: Passed on to :class:`VGG` (``base_width``, ``classifier_width``,
            ``dropout``, ...).

    Returns:
        The model, in training mode.
    """
    if pretrained == "zoo":  # the course checkpoint (harlearn.zoo) whose body has this model's shapes
        from harlearn.zoo import initialise

        return initialise(VGG(num_classes, **kwargs))
    if pretrained:
        return build_pretrained(VGG, VGG16_Weights, pretrained, num_classes, **kwargs)
    return VGG(num_classes, **kwargs)
