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


class _CallableModule(__import__("types").ModuleType):
    """This module, callable as the factory it re-exports.

    ``import harlearn.models.googlenet`` makes Python set the package attribute
    ``harlearn.models.googlenet`` to this module, hiding the factory of the same name that
    ``harlearn.models`` exports; calling the module calls the factory, so
    ``from harlearn.models import googlenet; googlenet(40)`` works either way.
    """

    def __call__(self, *args, **kwargs) -> GoogLeNet:
        return googlenet(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
