"""VGG-16: a re-export of :mod:`harlearn.models.backbones.vgg` (old imports keep working).

VGG-16, written from scratch so every layer can be read top to bottom.
The paper, the architecture and where it departs from the paper are in
:mod:`harlearn.models.backbones.vgg`.
"""

from harlearn.models.backbones.vgg import (  # noqa: F401
    VGG,
    vgg16,
    VGG16_BLOCKS,
    vgg_block,
)

__all__ = ["VGG", "VGG16_BLOCKS", "vgg_block", "vgg16"]
