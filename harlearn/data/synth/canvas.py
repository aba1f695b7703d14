"""Moved to :mod:`harlearn.data.synthhar.render.canvas`; this old import path keeps working.

A re-export only: the names are the same objects as in the new module (``__all__`` and the
other public names that outside code imports from here).
"""

from harlearn.data.synthhar.render.canvas import *  # noqa: F401,F403
from harlearn.data.synthhar.render.canvas import __all__  # noqa: F401
from harlearn.data.synthhar.render.canvas import Color  # noqa: F401  public, not in __all__
