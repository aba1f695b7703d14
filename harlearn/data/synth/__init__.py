"""Moved to :mod:`harlearn.data.synthhar.render`; this old import path keeps working.

``harlearn.data.synth.<module>`` (``actions``, ``canvas``, ``figure``, ``objects``, ``scene``)
re-export the modules of :mod:`harlearn.data.synthhar.render` under their old names, so
``from harlearn.data.synth.actions import CLASSES`` still works. New code imports from
:mod:`harlearn.data.synthhar.render` (or, for the class metadata, :mod:`harlearn.data.synthhar`).
"""

from . import actions, canvas, figure, objects, scene  # noqa: F401

__all__ = ["actions", "canvas", "figure", "objects", "scene"]
