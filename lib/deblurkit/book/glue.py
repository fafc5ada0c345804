"""Values glued into the prose (myst-nb), as plain text a reader can check, and the chapter clock
that glues the profile used and the chapter's seconds.
"""

from __future__ import annotations

import math
import numbers
import time

import numpy as np

from ..runtime import validate as _validate
from ..runtime.profiles import PROFILES


def plain_value(value):
    """``value`` as a plain Python ``int``, ``float``, ``bool`` or ``str``; numbers must be finite."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (numbers.Integral, np.integer)):
        return int(value)
    if isinstance(value, (numbers.Real, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"value must be finite to be glued into the text, got {value}")
        return value
    if isinstance(value, str):
        return value
    raise TypeError(f"value must be a number or a string, got {type(value).__name__}")


def glue(name: str, value) -> None:
    """Store ``value`` under ``name`` for ``{glue:text}`name:.2f``` in the notebook's markdown.

    Nothing is displayed in the cell; the book renders the value where the prose refers to it.
    """
    from myst_nb import (
        glue as _glue,  # local: myst-nb is a book dependency, absent where only the library runs (a GPU machine)
    )

    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an identifier-like string, got {name!r}")
    _glue(name, plain_value(value), display=False)


class ChapterClock:
    """Times a chapter from its first code cell to its last and glues how it was built.

    ``clock = ChapterClock(profile)`` at the top glues ``profile_used``; ``clock.finish()`` at the
    bottom glues ``chapter_seconds`` (wall-clock seconds) and returns them, so every page can say
    which profile built it and how long it took.
    """

    def __init__(self, profile: str) -> None:

        _validate.choice(profile, "profile", set(PROFILES))
        self.profile = profile
        self._start = time.perf_counter()
        self.seconds = float("nan")
        glue("profile_used", profile)

    def finish(self) -> float:
        """Stop the clock, glue ``chapter_seconds`` and return the seconds."""
        self.seconds = time.perf_counter() - self._start
        glue("chapter_seconds", self.seconds)
        return self.seconds

    def __str__(self) -> str:
        return f"chapter ran in {self.seconds:.0f} s ({self.profile} profile)"
