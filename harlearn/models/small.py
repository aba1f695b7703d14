"""The course's smallest CNN: four conv-BN-ReLU-pool stages, global pooling, a linear classifier.

Chapter 1 trains it to show that SynthHAR is neither trivial nor hopeless; chapter 4 sets it
beside the vision transformers as the baseline with a CNN's inductive biases (locality,
translation equivariance). Not a paper's model: the textbook layout of a small image classifier.
"""

from __future__ import annotations

from torch import nn

__all__ = ["small_cnn"]


def small_cnn(num_classes: int, width: int) -> nn.Sequential:
    """Four conv-BN-ReLU-pool stages of width ``w, 2w, 4w, 8w``, then pool and classify.

    Args:
        num_classes: outputs of the linear classifier.
        width: channels of the first stage (each stage doubles them).

    Returns:
        An ``nn.Sequential``: modules ``[4k : 4k + 4]`` are stage ``k`` (conv, BN, ReLU, max-pool;
        each pool halves the side), then ``AdaptiveAvgPool2d(1)``, ``Flatten``, ``Linear``.
    """
    layers: list[nn.Module] = []
    c_in = 3
    for c_out in (width, 2 * width, 4 * width, 8 * width):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                   nn.MaxPool2d(2)]
        c_in = c_out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes))
