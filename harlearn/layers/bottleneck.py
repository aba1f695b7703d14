"""Attention inside a ResNet: SE/CBAM bottlenecks and non-local blocks, added to a built model.

Papers: Hu et al., "Squeeze-and-Excitation Networks", arXiv:1709.01507; Woo et al., "CBAM:
Convolutional Block Attention Module", arXiv:1807.06521; Wang et al., "Non-local Neural
Networks", arXiv:1711.07971. ResNet: He et al., "Deep Residual Learning for Image
Recognition", arXiv:1512.03385.

SE-ResNet and CBAM-ResNet put their attention module on the *residual branch* of every
bottleneck, after the last BatchNorm (``bn3``) and before the identity is added back::

    x --> conv1-bn1-relu --> conv2-bn2-relu --> conv3-bn3 --> attn --> (+) --> relu
    |                                                                  ^
    +---------------------------- downsample (or identity) ------------+

Wang et al. instead insert whole non-local blocks *between* residual blocks of res4
(``layer3`` in torchvision's names): one block right before the last residual block of res4 for
their baseline, or after every other block in their 5-block model (3 in res4, 2 in res3: after
blocks 1, 3, 5 and 1, 3 in the official code).

``add_attention`` does either to a ResNet that follows torchvision's structure (``layer1`` to
``layer4`` of ``Bottleneck`` blocks with ``conv1``, ``bn1``, ..., ``bn3``, ``relu`` and
``downsample``): ``torchvision.models.resnet50`` or ``harlearn.models.cnn.resnet50`` (timm's
ResNets name their activations ``act1`` to ``act3`` and are not accepted). Every existing
parameter keeps its name, so a checkpoint of the plain model loads with ``strict=False`` and
only the new attention parameters are reported missing.

Departures: the non-local blocks are named ``nonlocal<i>`` inside the stage's ``Sequential`` (so
``layer3[i]`` counts them, while the residual blocks keep their names ``0``, ``1``, ...). timm's
SE-ResNets call the module ``se`` where ours call it ``attn``; rename ``.se.`` to ``.attn.`` to
load their checkpoints.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from .attention import NonLocalBlock
from .cbam import CBAM
from .se import SqueezeExcite

__all__ = ["AttentionBottleneck", "add_attention"]

_BOTTLENECK_PARTS = ("conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "relu")


class AttentionBottleneck(nn.Module):
    """A torchvision-style bottleneck with an attention module on its residual branch.

    It takes over the children of an existing block under the same names (``conv1``, ``bn1``,
    ``conv2``, ``bn2``, ``conv3``, ``bn3``, ``relu``, ``downsample``), so the block's weights
    keep their state-dict keys; the attention module's parameters are new keys under ``attn``.

    Args:
        block: A bottleneck with torchvision's attribute names (its modules are shared, not
            copied).
        attn: The module applied to the output of ``bn3``, e.g. ``SqueezeExcite`` or ``CBAM``;
            it must keep the shape ``[B, C, H, W]``.

    Raises:
        TypeError: If ``block`` lacks one of torchvision's bottleneck parts.
    """

    expansion: int = 4

    def __init__(self, block: nn.Module, attn: nn.Module) -> None:
        super().__init__()
        missing = [name for name in _BOTTLENECK_PARTS if not isinstance(getattr(block, name, None), nn.Module)]
        if missing:
            raise TypeError(
                f"{type(block).__name__} is not a torchvision-style Bottleneck (missing {', '.join(missing)}); "
                "SE/CBAM can only be added to ResNet-50-style bottleneck blocks."
            )
        for name, child in block.named_children():  # same names -> same state-dict keys
            self.add_module(name, child)
        if getattr(block, "downsample", None) is None:
            self.downsample = nn.Identity()  # no parameters: keys are unchanged
        self.stride = getattr(block, "stride", 1)
        self.attn = attn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``relu(attn(bn3(...(x))) + downsample(x))``: ``[B, C_in, H, W] -> [B, C_out, H', W']``."""
        identity = self.downsample(x)  # [B, C_out, H', W']
        out = self.relu(self.bn1(self.conv1(x)))  # [B, width, H, W]
        out = self.relu(self.bn2(self.conv2(out)))  # [B, width, H', W'] (conv2 carries the stride)
        out = self.bn3(self.conv3(out))  # [B, C_out, H', W']
        out = self.attn(out)  # attention on the residual branch, before the addition
        return self.relu(out + identity)


def _out_channels(block: nn.Module) -> int:
    """Output channels of a residual block (Bottleneck: ``bn3``; BasicBlock: ``bn2``)."""
    for name in ("bn3", "bn2"):
        bn = getattr(block, name, None)
        if isinstance(bn, nn.BatchNorm2d):
            return bn.num_features
    raise TypeError(f"cannot tell the output channels of {type(block).__name__}: it has no bn3 or bn2.")


def _like(module: nn.Module, reference: nn.Module) -> nn.Module:
    """Give ``module`` the device, dtype and train/eval mode of ``reference``."""
    module.train(reference.training)
    param = next(reference.parameters(), None)
    return module if param is None else module.to(device=param.device, dtype=param.dtype)


def add_attention(
    resnet: nn.Module,
    kind: Literal["se", "cbam", "nonlocal"] = "se",
    *,
    reduction: int = 16,
    kernel_size: int = 7,
    layers: Sequence[str] = ("layer1", "layer2", "layer3", "layer4"),
    nonlocal_layer: str = "layer3",
    nonlocal_after: Sequence[int] | None = None,
) -> nn.Module:
    """Add SE, CBAM or non-local attention to a torchvision-structured ResNet, in place.

    * ``kind="se"`` or ``"cbam"``: every bottleneck of ``layers`` becomes an
      ``AttentionBottleneck`` whose ``attn`` is a ``SqueezeExcite(C, reduction)`` or a
      ``CBAM(C, reduction, kernel_size)`` on its ``C = bn3.num_features`` output channels.
    * ``kind="nonlocal"``: a ``NonLocalBlock`` (identity at initialisation) is inserted after the
      residual blocks ``nonlocal_after`` of ``nonlocal_layer``. Call it twice (``layer2`` and
      ``layer3``) for Wang et al.'s res3 + res4 models.

    The new modules take the model's device, dtype and train/eval mode. Existing parameters keep their
    state-dict keys, so ``model.load_state_dict(plain_state_dict, strict=False)`` reports
    exactly the new attention parameters as missing.

    Args:
        resnet: The model, e.g. ``torchvision.models.resnet50()``; modified in place.
        kind: ``"se"``, ``"cbam"`` or ``"nonlocal"``.
        reduction: Reduction ratio of the SE / CBAM channel MLP.
        kernel_size: Kernel size of CBAM's spatial gate.
        layers: The stages whose bottlenecks get SE / CBAM.
        nonlocal_layer: The stage that gets non-local blocks (``layer3`` is the paper's res4).
        nonlocal_after: Indices of the residual blocks of ``nonlocal_layer`` after which a
            non-local block goes (negative indices count from the end). None: the paper's
            single block, right before the stage's last residual block.

    Returns:
        The same ``resnet`` object, modified.

    Raises:
        ValueError: For an unknown ``kind``, a missing stage, a block that already has
            attention, or an index out of range.
        TypeError: If a block is not a torchvision-style bottleneck.

    Example:
        >>> import torchvision
        >>> model = add_attention(torchvision.models.resnet50(), "se")
        >>> type(model.layer1[0]).__name__, type(model.layer1[0].attn).__name__
        ('AttentionBottleneck', 'SqueezeExcite')
    """
    if kind not in ("se", "cbam", "nonlocal"):
        raise ValueError(f'kind must be "se", "cbam" or "nonlocal"; got {kind!r}.')
    stage_names = [nonlocal_layer] if kind == "nonlocal" else list(layers)
    for name in stage_names:
        if not isinstance(getattr(resnet, name, None), nn.Sequential):
            raise ValueError(f"{type(resnet).__name__} has no stage {name!r} (an nn.Sequential of residual blocks).")

    if kind == "nonlocal":
        _insert_nonlocal(resnet, nonlocal_layer, nonlocal_after)
        return resnet

    for name in stage_names:
        stage = getattr(resnet, name)
        for block_name, block in stage.named_children():
            if isinstance(block, AttentionBottleneck):
                raise ValueError(f"{name}.{block_name} already has an attention module ({type(block.attn).__name__}).")
            if isinstance(block, NonLocalBlock):
                continue
            channels = _out_channels(block)
            attn = SqueezeExcite(channels, reduction) if kind == "se" else CBAM(channels, reduction, kernel_size)
            setattr(stage, block_name, AttentionBottleneck(block, _like(attn, block)))
    return resnet


def _insert_nonlocal(resnet: nn.Module, stage_name: str, after: Sequence[int] | None) -> None:
    """Rebuild ``resnet.<stage_name>`` with non-local blocks after the chosen residual blocks."""
    stage = getattr(resnet, stage_name)
    residual = [(name, m) for name, m in stage.named_children() if not isinstance(m, NonLocalBlock)]
    count = len(residual)
    indices = [max(count - 2, 0)] if after is None else list(after)
    for i in indices:
        if not -count <= i < count:
            raise ValueError(f"nonlocal_after index {i} is out of range: {stage_name} has {count} residual blocks.")
    chosen = {i % count for i in indices}

    children: OrderedDict[str, nn.Module] = OrderedDict()
    index = 0
    for name, module in stage.named_children():
        children[name] = module
        if isinstance(module, NonLocalBlock):
            continue
        if index in chosen:
            new_name = f"nonlocal{name}"
            if new_name in stage._modules:
                raise ValueError(f"{stage_name}.{new_name} already exists.")
            children[new_name] = _like(NonLocalBlock(_out_channels(module)), module)
        index += 1
    setattr(resnet, stage_name, nn.Sequential(children))
