"""ResNet-50: a re-export of :mod:`harlearn.models.backbones.resnet` (old imports keep working).

ResNet-50, written from scratch so every block can be read top to bottom.
The paper, the architecture and where it departs from the paper are in
:mod:`harlearn.models.backbones.resnet`.
"""

from harlearn.models.backbones.resnet import (  # noqa: F401
    Bottleneck,
    ResNet,
    resnet50,
)

__all__ = ["Bottleneck", "ResNet", "resnet50"]
