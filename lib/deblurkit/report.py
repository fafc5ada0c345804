"""Gluing computed values into the book's prose (myst-nb), safely.

NumPy 2 scalars print as ``np.float64(0.5)``, which myst-nb cannot format with ``:.2f``, and
a NaN glued into a sentence would read as a result. :func:`glue` converts NumPy scalars to
Python numbers and refuses non-finite ones.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


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
    from myst_nb import glue as _glue

    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an identifier-like string, got {name!r}")
    _glue(name, plain_value(value), display=False)
