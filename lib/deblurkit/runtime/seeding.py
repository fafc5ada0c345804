"""Seeding Python, NumPy and whichever deep-learning framework a process has already imported
(never importing one).
"""

from __future__ import annotations

import random
import sys

import numpy as np

from ..runtime import validate as _validate


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy's legacy global generator, and torch / TensorFlow if already imported.

    Returns
    -------
    numpy.random.Generator
        A generator seeded with ``seed``: pass it on explicitly rather than relying on globals.
    """
    seed = _validate.integer(seed, "seed", minimum=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    if "keras" in sys.modules and hasattr(sys.modules["keras"], "utils"):
        sys.modules["keras"].utils.set_random_seed(seed)
    elif "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)
    return np.random.default_rng(seed)
