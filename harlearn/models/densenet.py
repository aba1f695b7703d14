"""DenseNet-121: a re-export of :mod:`harlearn.models.backbones.densenet` (old imports keep working).

DenseNet-121, written from scratch so every block can be read top to bottom.
The paper, the architecture and where it departs from the paper are in
:mod:`harlearn.models.backbones.densenet`.
"""

from harlearn.models.backbones.densenet import (  # noqa: F401
    DenseBlock,
    DenseLayer,
    DenseNet,
    densenet121,
    Transition,
)

__all__ = ["DenseLayer", "DenseBlock", "Transition", "DenseNet", "densenet121"]
