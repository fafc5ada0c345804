"""A wall-clock timer for ``with`` blocks: ``elapsed`` holds the seconds the block took.
"""

from __future__ import annotations

import time


class Timer:
    """Wall-clock timer for a ``with`` block; ``elapsed`` holds the seconds afterwards."""

    def __init__(self) -> None:
        self.elapsed = float("nan")

    def __enter__(self) -> "Timer":
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.elapsed = time.perf_counter() - self._start
