"""ResNet-50, written from scratch so every block can be read top to bottom.

Paper: Kaiming He, Xiangyu Zhang, Shaoqing Ren and Jian Sun, "Deep Residual Learning for
Image Recognition", CVPR 2016, arXiv:1512.03385.

A 7x7 stem and a max pool (stride 4 in total), then four stages of bottleneck residual
blocks, [3, 4, 6, 3] of them, whose widths double while the resolution halves (strides 4,
8, 16, 32). Each :class:`Bottleneck` computes ``relu(x + F(x))`` with
``F = 1x1 (reduce) -> 3x3 -> 1x1 (expand x4)``; where the shape changes, the shortcut is a
projection (``downsample``: 1x1 conv + BN), option (B) of the paper.

Parameter names follow ``torchvision.models.resnet50`` exactly (``conv1``, ``bn1``,
``layer1.0.conv1``, ``layer1.0.downsample.0``, ..., ``fc``), so torchvision's ImageNet weights
load with ``strict=True``.

Departures from the paper:

- ResNet "v1.5", as torchvision: a downsampling block puts its stride on the 3x3 convolution
  (``conv2``), not on the first 1x1, which is slightly more accurate.
- ``replace_stride_with_dilation`` (from torchvision, after DeepLab) trades a stage's stride
  for dilated 3x3 convolutions, so the last map is at stride 16 or 8 instead of 32.
- ``base_width`` scales every width (stem, stages and therefore the 2048 output channels) by
  ``base_width / 64`` for CPU-sized experiments. This is *not* torchvision's
  ``width_per_group``, which widens the bottleneck's inner 3x3 only (Wide ResNet).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchvision.models import ResNet50_Weights

from harlearn.models.backbones.weights import build_pretrained

__all__ = ["Bottleneck", "ResNet", "resnet50"]


def _scaled(channels: int, base_width: int) -> int:
    """``channels`` scaled by ``base_width / 64`` (at least 1)."""
    return max(1, channels * base_width // 64)


class Bottleneck(nn.Module):
    """The bottleneck residual block: ``relu(shortcut(x) + bn3(conv3(relu(bn2(conv2(...))))))``.

    Args:
        in_channels: Channels of the input.
        planes: Channels of the inner 1x1 and 3x3 convolutions; the block outputs
            ``planes * 4`` channels.
        stride: Stride of the 3x3 convolution (2 in the first block of stages 2-4).
        dilation: Dilation (and padding) of the 3x3 convolution.
        downsample: Projection shortcut (1x1 conv + BN) when the shape changes; ``None``
            means the identity shortcut.
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
    ) -> None:
        super().__init__()
        out_channels = planes * self.expansion
        # 1x1 reduce: [B, C_in, H, W] -> [B, planes, H, W]
        self.conv1 = nn.Conv2d(in_channels, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        # 3x3, carries the stride (v1.5): -> [B, planes, H/s, W/s]
        self.conv2 = nn.Conv2d(
            planes, planes, kernel_size=3, stride=stride, padding=dilation, dilation=dilation, bias=False
        )
        self.bn2 = nn.BatchNorm2d(planes)
        # 1x1 expand: -> [B, 4 * planes, H/s, W/s]
        self.conv3 = nn.Conv2d(planes, out_channels, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = nn.Identity() if downsample is None else downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C_in, H, W] -> [B, 4 * planes, H/stride, W/stride]."""
        identity = self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet with bottleneck blocks (ResNet-50 with the default ``layers``).

    Args:
        num_classes: Number of output logits.
        layers: Bottleneck blocks per stage; ``[3, 4, 6, 3]`` is ResNet-50.
        base_width: Width of the stem (64 in the paper); every width is scaled by
            ``base_width / 64``.
        replace_stride_with_dilation: Three booleans, for stages 2, 3 and 4: replace that
            stage's stride 2 by dilation (torchvision's argument). ``[False, False, True]``
            gives a stride-16 last map.
        zero_init_residual: Start every block's last BN at zero, so each residual branch
            starts as the identity (Goyal et al., arXiv:1706.02677).
    """

    head_name = "fc"  # the module that :func:`harlearn.models.finetune_model` replaces

    def __init__(
        self,
        num_classes: int = 1000,
        *,
        layers: list[int] | tuple[int, ...] = (3, 4, 6, 3),
        base_width: int = 64,
        replace_stride_with_dilation: list[bool] | tuple[bool, bool, bool] | None = None,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        if base_width < 1:
            raise ValueError(f"base_width must be a positive integer, got {base_width}.")
        dilate = list(replace_stride_with_dilation or [False, False, False])
        if len(dilate) != 3:
            raise ValueError(f"replace_stride_with_dilation needs 3 booleans, got {replace_stride_with_dilation}.")
        self.in_channels = _scaled(64, base_width)  # channels entering the next stage (updated by _make_stage)
        self.dilation = 1  # dilation reached so far (grows when a stride is replaced)

        # Stem: [B, 3, H, W] -> [B, 64w, H/2, W/2] -> max pool -> [B, 64w, H/4, W/4]
        self.conv1 = nn.Conv2d(3, self.in_channels, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        # Stages (w = base_width / 64; strides without dilation):
        self.layer1 = self._make_stage(_scaled(64, base_width), layers[0])  # [B, 256w, H/4, W/4]
        self.layer2 = self._make_stage(_scaled(128, base_width), layers[1], 2, dilate[0])  # [B, 512w, H/8, W/8]
        self.layer3 = self._make_stage(_scaled(256, base_width), layers[2], 2, dilate[1])  # [B, 1024w, H/16, W/16]
        self.layer4 = self._make_stage(_scaled(512, base_width), layers[3], 2, dilate[2])  # [B, 2048w, H/32, W/32]
        self.num_features = self.in_channels

        # Head: global average pool -> linear.
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(self.num_features, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)

    def _make_stage(self, planes: int, blocks: int, stride: int = 1, dilate: bool = False) -> nn.Sequential:
        """A stage: one block that may change shape (projection shortcut), then identity blocks."""
        previous_dilation = self.dilation
        if dilate:  # keep the resolution; grow the receptive field with dilation instead
            self.dilation *= stride
            stride = 1
        out_channels = planes * Bottleneck.expansion
        downsample = None
        if stride != 1 or self.in_channels != out_channels:
            downsample = nn.Sequential(  # projection shortcut: downsample.0 (conv), downsample.1 (BN)
                nn.Conv2d(self.in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        stage = [Bottleneck(self.in_channels, planes, stride, previous_dilation, downsample)]
        self.in_channels = out_channels
        stage += [Bottleneck(out_channels, planes, dilation=self.dilation) for _ in range(1, blocks)]
        return nn.Sequential(*stage)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolutional map: [B, 3, H, W] -> [B, 2048w, H/32, W/32].

        The stride is 16 (or 8) when ``replace_stride_with_dilation`` replaced stage 4's (and
        stage 3's) stride.
        """
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # [B, 64w, H/4, W/4]
        x = self.layer1(x)  # [B, 256w, H/4, W/4]
        x = self.layer2(x)  # [B, 512w, H/8, W/8]
        x = self.layer3(x)  # [B, 1024w, H/16, W/16]
        return self.layer4(x)  # [B, 2048w, H/32, W/32]

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """Pool and classify a feature map: [B, 2048w, h, w] -> [B, num_classes]."""
        x = torch.flatten(self.avgpool(x), 1)  # [B, 2048w, 1, 1] -> [B, 2048w]
        return self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits: [B, 3, H, W] -> [B, num_classes]."""
        return self.forward_head(self.forward_features(x))


def resnet50(num_classes: int = 1000, pretrained: bool | str = False, **kwargs: Any) -> ResNet:
    """ResNet-50 (v1.5), optionally with torchvision's ImageNet weights.

    Args:
        num_classes: Number of output logits. With ``pretrained``, the 1000-way ImageNet head
            is loaded and then replaced by a fresh ``num_classes``-way linear layer.
        pretrained: ``True`` loads ``torchvision.models.ResNet50_Weights.IMAGENET1K_V1`` (the
            original recipe, 76.1% top-1); a string names another member of
            ``ResNet50_Weights``, e.g. ``"IMAGENET1K_V2"`` (80.9% top-1). Needs the default
            width. ``"imagenet"`` is ``True``; ``"zoo"`` loads the course checkpoint
            (:func:`harlearn.zoo.initialise`) whose body has this model's shapes, e.g.
            ``base_width=8`` for ``resnet50_w8``.
        **kwargs: Passed on to :class:`ResNet` (``base_width``,
            ``replace_stride_with_dilation``, ``zero_init_residual``, ...).

    Returns:
        The model, in training mode.
    """
    if pretrained == "zoo":  # the course checkpoint (harlearn.zoo) whose body has this model's shapes
        from harlearn.zoo import initialise

        return initialise(ResNet(num_classes, **kwargs))
    if pretrained:
        return build_pretrained(ResNet, ResNet50_Weights, pretrained, num_classes, **kwargs)
    return ResNet(num_classes, **kwargs)
