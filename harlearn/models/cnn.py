"""The CNN baselines of the course, their ImageNet weights, and fine-tuning helpers.

Four classic ImageNet classifiers, each written from scratch in its own module so a student
can read it top to bottom, with torchvision's parameter names so torchvision's ImageNet
weights load by name:

- :func:`vgg16` (:mod:`harlearn.models.backbones.vgg`): "Very Deep Convolutional Networks for
  Large-Scale Image Recognition", arXiv:1409.1556.
- :func:`resnet50` (:mod:`harlearn.models.backbones.resnet`): "Deep Residual Learning for Image
  Recognition", arXiv:1512.03385.
- :func:`googlenet` (:mod:`harlearn.models.backbones.googlenet`): "Going Deeper with Convolutions",
  arXiv:1409.4842.
- :func:`densenet121` (:mod:`harlearn.models.backbones.densenet`): "Densely Connected Convolutional
  Networks", arXiv:1608.06993.

Every factory is ``factory(num_classes=1000, pretrained=False, **kwargs)``. ``base_width``
(default 64) scales every channel count by ``base_width / 64`` so the course's ``book``
profile can train them from scratch on a CPU; the defaults are the production architectures.
Every model has ``forward_features(x)`` (the last convolutional map, ``num_features``
channels at stride 32) and ``forward_head(features)`` (pool + classifier).

This module re-exports them in one place: the models live in :mod:`harlearn.models.backbones`
(one module each, plus :mod:`~harlearn.models.backbones.weights` for loading ImageNet weights
through torchvision's own weights API, :func:`build_pretrained`), and the transfer-learning
helpers in :mod:`harlearn.models.transfer` (:func:`finetune_model`, :func:`head_parameters`,
:func:`backbone_parameters`). Each model module's docstring lists where it departs from its
paper.
"""

from harlearn.models.backbones import (
    VGG,
    DenseNet,
    GoogLeNet,
    ResNet,
    build_pretrained,
    densenet121,
    googlenet,
    pretrained_weights_path,
    resnet50,
    vgg16,
)
from harlearn.models.transfer import ModelT, backbone_parameters, finetune_model, head_parameters

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
    "finetune_model",
    "head_parameters",
    "backbone_parameters",
]
