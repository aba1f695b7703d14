"""GoogLeNet: a re-export of :mod:`harlearn.models.backbones.googlenet` (old imports keep working).

GoogLeNet (Inception v1), written from scratch so every module can be read top to bottom.
The paper, the architecture and where it departs from the paper are in
:mod:`harlearn.models.backbones.googlenet`.
"""

from harlearn.models.backbones.googlenet import (  # noqa: F401
    BasicConv2d,
    GoogLeNet,
    googlenet,
    ImageNetToUnitRange,
    Inception,
    INCEPTION_TABLE,
)

__all__ = ["INCEPTION_TABLE", "BasicConv2d", "Inception", "ImageNetToUnitRange", "GoogLeNet", "googlenet"]
