"""Progress bars (tqdm) that work in notebooks and terminals and stay silent when
``DEBLURKIT_QUIET`` is set (the book's runner shows its own bars).
"""

from __future__ import annotations

import os


def progress(iterable=None, **kwargs):
    """A tqdm progress bar that works in notebooks and terminals; silent when ``DEBLURKIT_QUIET`` is set."""
    from tqdm.auto import (
        tqdm,  # local: tqdm.auto probes for a notebook front end when imported
    )

    kwargs.setdefault("disable", bool(os.environ.get("DEBLURKIT_QUIET")))
    return tqdm(iterable, **kwargs)
