"""The CNN backbones of the course, written from scratch with torchvision's parameter names.

- :mod:`.vgg`: :func:`vgg16`, "Very Deep Convolutional Networks for Large-Scale Image
  Recognition", arXiv:1409.1556.
- :mod:`.resnet`: :func:`resnet50`, "Deep Residual Learning for Image Recognition",
  arXiv:1512.03385.
- :mod:`.googlenet`: :func:`googlenet`, "Going Deeper with Convolutions", arXiv:1409.4842.
- :mod:`.densenet`: :func:`densenet121`, "Densely Connected Convolutional Networks",
  arXiv:1608.06993.
- :mod:`.weights`: :func:`build_pretrained`, :func:`pretrained_weights_path` (torchvision's
  ImageNet weights).

Imports point one way: each model module imports :mod:`.weights`, which imports
:mod:`harlearn.models.transfer`; nothing here imports back. Every factory is
``factory(num_classes=1000, pretrained=False, **kwargs)``; ``base_width`` (default 64) scales
every channel count by ``base_width / 64``. Each module's docstring lists where it departs from
its paper. The old paths (``harlearn.models.cnn``, ``harlearn.models.vgg``, ...) re-export
these names.
"""

from harlearn.models.backbones.densenet import DenseNet, densenet121
from harlearn.models.backbones.googlenet import GoogLeNet, googlenet
from harlearn.models.backbones.resnet import ResNet, resnet50
from harlearn.models.backbones.vgg import VGG, vgg16
from harlearn.models.backbones.weights import build_pretrained, pretrained_weights_path

__all__ = [
    "VGG",
    "ResNet",
    "GoogLeNet",
    "DenseNet",
    "vgg16",
    "resnet50",
    "googlenet",
    "densenet121",
    "build_pretrained",
    "pretrained_weights_path",
]
