"""Moved to :mod:`harlearn.data.synthhar.render.scene`; this old import path keeps working.

A re-export only: the names are the same objects as in the new module (``__all__`` and the
other public names that outside code imports from here).
"""

from harlearn.data.synthhar.render.scene import *  # noqa: F401,F403
from harlearn.data.synthhar.render.scene import __all__  # noqa: F401
