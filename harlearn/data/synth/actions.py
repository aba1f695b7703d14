"""Moved to :mod:`harlearn.data.synthhar.render.actions`; this old import path keeps working.

A re-export only: the names are the same objects as in the new module (``__all__`` and the
other public names that outside code imports from here).
"""

from harlearn.data.synthhar.render.actions import *  # noqa: F401,F403
from harlearn.data.synthhar.render.actions import __all__  # noqa: F401
from harlearn.data.synthhar.render.actions import (  # noqa: F401  public, not in __all__
    shadow, applauding, waving_hands, jumping, running, phoning, texting_message, taking_photos,
    reading, playing_guitar, writing_on_a_book, using_a_computer, walking_the_dog,
    riding_a_bike, fixing_a_bike, riding_a_horse, feeding_a_horse,
)
