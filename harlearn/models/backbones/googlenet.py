"""GoogLeNet (Inception v1), written from scratch so every module can be read top to bottom.

Paper: Christian Szegedy et al., "Going Deeper with Convolutions", CVPR 2015,
arXiv:1409.4842.

A convolutional stem, then nine :class:`Inception` modules (3a-3b, 4a-4e, 5a-5b) separated by
max pools. An Inception module runs four branches on the same input and concatenates them
along the channels: a 1x1 conv; 1x1 reduce -> 3x3; 1x1 reduce -> "5x5"; 3x3 max pool -> 1x1
projection. Their widths are the paper's Table 1 (:data:`INCEPTION_TABLE`). Global average
pooling, dropout and one linear layer make the head.

Parameter names follow ``torchvision.models.googlenet`` exactly (``conv1.conv``,
``inception3a.branch2.1.bn``, ..., ``fc``), so torchvision's ImageNet weights load with
``strict=True``.

Departures from the paper (all shared with torchvision):

- The "5x5" branch uses a **3x3** convolution. torchvision's ported ImageNet weights have
  this shape (a known quirk, pytorch/vision#906), and we keep it so they load.
- Every convolution is :class:`BasicConv2d`: conv (no bias) + BatchNorm (eps=0.001) + ReLU.
  Batch normalisation (arXiv:1502.03167) came after the paper.
- No auxiliary classifiers: the paper attaches two to 4a and 4d during training only;
  torchvision drops them too when it loads ImageNet weights without ``aux_logits``.
- ``transform_input`` re-normalises ImageNet-normalised input to the [-1, 1] range the ported
  weights were trained with; ``pretrained=True`` turns it on, as torchvision does.
- ``base_width`` scales the stem and the whole Inception table by ``base_width / 64`` for
  CPU-sized experiments; with the default the model is the paper's.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchvision.models import GoogLeNet_Weights

from harlearn.models.backbones.weights import build_pretrained

__all__ = ["INCEPTION_TABLE", "BasicConv2d", "Inception", "ImageNetToUnitRange", "GoogLeNet", "googlenet"]

#: Table 1 of the paper, per Inception module: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5,
#: pool proj). A module outputs #1x1 + #3x3 + #5x5 + pool proj channels.
INCEPTION_TABLE: dict[str, tuple[int, int, int, int, int, int]] = {
    "3a": (64, 96, 128, 16, 32, 32),  # -> 256
    "3b": (128, 128, 192, 32, 96, 64),  # -> 480
    "4a": (192, 96, 208, 16, 48, 64),  # -> 512
    "4b": (160, 112, 224, 24, 64, 64),  # -> 512
    "4c": (128, 128, 256, 24, 64, 64),  # -> 512
    "4d": (112, 144, 288, 32, 64, 64),  # -> 528
    "4e": (256, 160, 320, 32, 128, 128),  # -> 832
    "5a": (256, 160, 320, 32, 128, 128),  # -> 832
    "5b": (384, 192, 384, 48, 128, 128),  # -> 1024
}


def _scaled(channels: int, base_width: int) -> int:
    """``channels`` scaled by ``base_width / 64`` (at least 1)."""
    return max(1, channels * base_width // 64)


class BasicConv2d(nn.Module):
    """Conv (no bias) + BatchNorm (eps=0.001) + ReLU, the unit of every GoogLeNet layer.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Square kernel size.
        stride: Stride.
        padding: Zero padding on each side.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C_in, H, W] -> [B, C_out, H', W']."""
        return self.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """An Inception module: four parallel branches concatenated along the channels.

    Args:
        in_channels: Input channels.
        ch1x1: Filters of the 1x1 branch.
        ch3x3red: Filters of the 1x1 reduction before the 3x3.
        ch3x3: Filters of the 3x3.
        ch5x5red: Filters of the 1x1 reduction before the "5x5".
        ch5x5: Filters of the "5x5" (a 3x3 kernel, see the module docstring).
        pool_proj: Filters of the 1x1 projection after the 3x3 max pool.
    """

    def __init__(
        self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int, pool_proj: int
    ) -> None:
        super().__init__()
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1),
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, kernel_size=1),
            BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1),  # 5x5 in the paper
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C_in, H, W] -> [B, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W]."""
        branches = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return torch.cat(branches, dim=1)


class ImageNetToUnitRange(nn.Module):
    """Map ImageNet-normalised input, ``(x - mean) / std``, to ``(x - 0.5) / 0.5``.

    The ImageNet GoogLeNet weights were ported from a model trained on [-1, 1] inputs; this
    is torchvision's ``transform_input``. The constants are non-persistent buffers, so the
    ``state_dict`` is unchanged.
    """

    def __init__(self) -> None:
        super().__init__()
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)  # [1, C, 1, 1]
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        self.register_buffer("scale", std / 0.5, persistent=False)
        self.register_buffer("shift", (mean - 0.5) / 0.5, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] -> [B, 3, H, W]."""
        return x * self.scale + self.shift


class GoogLeNet(nn.Module):
    """GoogLeNet: a stem, nine Inception modules and a pooled linear head.

    Args:
        num_classes: Number of output logits.
        base_width: Width of the first convolution (64 in the paper); the stem and every
            entry of :data:`INCEPTION_TABLE` are scaled by ``base_width / 64``.
        dropout: Dropout probability before the final linear layer (0.2, as torchvision;
            the paper uses 0.4).
        transform_input: Re-normalise ImageNet-normalised input for the ported ImageNet
            weights (see :class:`ImageNetToUnitRange`).
        init_weights: Initialise weights as torchvision does (truncated normal, std 0.01).
    """

    head_name = "fc"  # the module that :func:`harlearn.models.finetune_model` replaces

    def __init__(
        self,
        num_classes: int = 1000,
        *,
        base_width: int = 64,
        dropout: float = 0.2,
        transform_input: bool = False,
        init_weights: bool = True,
    ) -> None:
        super().__init__()
        if base_width < 1:
            raise ValueError(f"base_width must be a positive integer, got {base_width}.")

        def inception(name: str, in_channels: int) -> Inception:
            return Inception(in_channels, *(_scaled(c, base_width) for c in INCEPTION_TABLE[name]))

        self.input_transform = ImageNetToUnitRange() if transform_input else nn.Identity()

        # Stem (w = base_width / 64; sizes for a 224x224 input):
        c64, c192 = _scaled(64, base_width), _scaled(192, base_width)
        self.conv1 = BasicConv2d(3, c64, kernel_size=7, stride=2, padding=3)  # [B, 64w, 112, 112]
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # [B, 64w, 56, 56]
        self.conv2 = BasicConv2d(c64, c64, kernel_size=1)  # [B, 64w, 56, 56]
        self.conv3 = BasicConv2d(c64, c192, kernel_size=3, padding=1)  # [B, 192w, 56, 56]
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # [B, 192w, 28, 28]

        self.inception3a = inception("3a", c192)  # [B, 256w, 28, 28]
        self.inception3b = inception("3b", self.inception3a.out_channels)  # [B, 480w, 28, 28]
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # [B, 480w, 14, 14]

        self.inception4a = inception("4a", self.inception3b.out_channels)  # [B, 512w, 14, 14]
        self.inception4b = inception("4b", self.inception4a.out_channels)  # [B, 512w, 14, 14]
        self.inception4c = inception("4c", self.inception4b.out_channels)  # [B, 512w, 14, 14]
        self.inception4d = inception("4d", self.inception4c.out_channels)  # [B, 528w, 14, 14]
        self.inception4e = inception("4e", self.inception4d.out_channels)  # [B, 832w, 14, 14]
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)  # [B, 832w, 7, 7]

        self.inception5a = inception("5a", self.inception4e.out_channels)  # [B, 832w, 7, 7]
        self.inception5b = inception("5b", self.inception5a.out_channels)  # [B, 1024w, 7, 7]
        self.num_features = self.inception5b.out_channels

        # Head: global average pool -> dropout -> linear.
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(self.num_features, num_classes)

        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolutional map: [B, 3, H, W] -> [B, 1024w, H/32, W/32] (ceil)."""
        x = self.input_transform(x)
        x = self.maxpool1(self.conv1(x))  # [B, 64w, H/4, W/4]
        x = self.maxpool2(self.conv3(self.conv2(x)))  # [B, 192w, H/8, W/8]
        x = self.maxpool3(self.inception3b(self.inception3a(x)))  # [B, 480w, H/16, W/16]
        x = self.inception4a(x)
        x = self.inception4b(x)
        x = self.inception4c(x)
        x = self.inception4d(x)
        x = self.maxpool4(self.inception4e(x))  # [B, 832w, H/32, W/32]
        return self.inception5b(self.inception5a(x))  # [B, 1024w, H/32, W/32]

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """Pool and classify a feature map: [B, 1024w, h, w] -> [B, num_classes]."""
        x = torch.flatten(self.avgpool(x), 1)  # [B, 1024w, 1, 1] -> [B, 1024w]
        return self.fc(self.dropout(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits: [B, 3, H, W] -> [B, num_classes]."""
        return self.forward_head(self.forward_features(x))


def _drop_auxiliary_classifiers(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision's ImageNet file also holds the (untrained) auxiliary heads ``aux1``/``aux2``."""
    return {k: v for k, v in state_dict.items() if not k.startswith(("aux1.", "aux2."))}


def googlenet(num_classes: int = 1000, pretrained: bool | str = False, **kwargs: Any) -> GoogLeNet:
    """GoogLeNet (Inception v1), optionally with torchvision's ImageNet weights.

    Args:
        num_classes: Number of output logits. With ``pretrained``, the 1000-way ImageNet head
            is loaded and then replaced by a fresh ``num_classes``-way linear layer.
        pretrained: ``True`` loads ``torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1``
            (and sets ``transform_input=True`` unless given); a string names another member
            of ``GoogLeNet_Weights``. Needs the default width. ``"imagenet"`` is ``True``;
            ``"zoo"`` loads the course checkpoint of this size (:func:`harlearn.zoo.initialise`).
        **kwargs: Passed on to :class:`GoogLeNet` (``base_width``, ``dropout``,
            ``transform_input``, ...).

    Returns:
        The model, in training mode.
    """
    if pretrained == "zoo":  # the course checkpoint (harlearn.zoo) whose body has this model's shapes
        from harlearn.zoo import initialise

        return initialise(GoogLeNet(num_classes, **kwargs))
    if pretrained:
        kwargs.setdefault("transform_input", True)
        return build_pretrained(
            GoogLeNet, GoogLeNet_Weights, pretrained, num_classes, adapt=_drop_auxiliary_classifiers, **kwargs
        )
    return GoogLeNet(num_classes, **kwargs)
