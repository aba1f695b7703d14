"""Moved to :mod:`harlearn.data.synthhar.render.figure`; this old import path keeps working.

A re-export only: the names are the same objects as in the new module (``__all__`` and the
other public names that outside code imports from here).
"""

from harlearn.data.synthhar.render.figure import *  # noqa: F401,F403
from harlearn.data.synthhar.render.figure import __all__  # noqa: F401
from harlearn.data.synthhar.render.figure import OUTLINE, SKIN, HAIR, two_bone  # noqa: F401  public, not in __all__
