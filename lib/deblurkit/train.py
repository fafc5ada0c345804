"""Helpers shared by the training chapters: profiles, seeding, device, progress, checkpoints, timing.

No deep-learning framework is imported here at import time; :func:`seed_everything` seeds
the ones a notebook has already imported, and the torch helpers import torch when called.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from . import _validate

#: The execution profiles every notebook accepts (see the book's setup page).
PROFILES = ("smoke", "cpu", "gpu")


def profile_settings(profile: str, table: dict) -> dict:
    """Pick the settings of one execution ``profile`` from a per-profile ``table``.

    Parameters
    ----------
    profile : {"smoke", "cpu", "gpu"}
        ``smoke``: seconds, proves every cell runs (CI). ``cpu``: minutes on a 2-core
        laptop, results that mean something. ``gpu``: full scale on one CUDA GPU.
    table : dict
        ``{profile: {setting: value}}`` with the same settings for every profile.

    Returns
    -------
    dict
        A copy of ``table[profile]``.
    """
    _validate.choice(profile, "profile", set(PROFILES))
    if not isinstance(table, Mapping):
        raise TypeError(f"table must be a dict {{profile: {{setting: value}}}}, got {type(table).__name__}")
    if set(table) != set(PROFILES):
        raise ValueError(f"table must have exactly the keys {list(PROFILES)}, got {sorted(table)}")
    for p in PROFILES:
        if not isinstance(table[p], Mapping):
            raise TypeError(f"table[{p!r}] must be a dict of settings, got {type(table[p]).__name__} {table[p]!r}")
    keys = {p: set(table[p]) for p in PROFILES}
    if len({frozenset(k) for k in keys.values()}) != 1:
        raise ValueError(f"table must give the same settings for every profile, got {keys}")
    return dict(table[profile])


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


def import_keras():
    """Import Keras 3 on the TensorFlow backend, with TensorFlow's start-up and retracing chatter silenced.

    Call it before :func:`seed_everything` so that Keras is seeded too. A notebook that uses
    it must not import torch (one framework per process).

    Returns
    -------
    module
        The ``keras`` module.
    """
    import logging

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    # Predicting with several models re-traces TensorFlow graphs; the warnings about it are noise.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return keras


def torch_device(prefer: str | None = None) -> str:
    """``"cuda"`` when a CUDA GPU is visible (or ``prefer`` names a device), else ``"cpu"``."""
    import torch

    if prefer is not None:
        return str(torch.device(prefer))
    return "cuda" if torch.cuda.is_available() else "cpu"


def progress(iterable=None, **kwargs):
    """A tqdm progress bar that works in notebooks and terminals; silent when ``DEBLURKIT_QUIET`` is set."""
    from tqdm.auto import tqdm

    kwargs.setdefault("disable", bool(os.environ.get("DEBLURKIT_QUIET")))
    return tqdm(iterable, **kwargs)


def atomic_write(path, write) -> Path:
    """Write a file via a temporary sibling and an atomic rename, so a crash never leaves half a file.

    Parameters
    ----------
    path : str or Path
        Destination; its folder is created if missing.
    write : callable
        ``write(tmp_path)`` writes the content to the temporary path it is given.

    The file gets the permissions an ordinary ``open(path, "w")`` would give (``0o666`` less
    the process umask), not the owner-only ``0o600`` of the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _umask() -> int:
    """The process umask (read by setting and restoring it; there is no portable getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_torch_checkpoint(state: dict, path) -> Path:
    """Save a torch ``state`` dict atomically (see :func:`atomic_write`)."""
    import torch

    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_torch_checkpoint(path, *, map_location="cpu") -> dict:
    """Load a checkpoint written by :func:`save_torch_checkpoint`, naming the path if it is missing."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return torch.load(path, map_location=map_location, weights_only=False)


class Timer:
    """Wall-clock timer for a ``with`` block; ``elapsed`` holds the seconds afterwards."""

    def __init__(self) -> None:
        self.elapsed = float("nan")

    def __enter__(self) -> "Timer":
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.elapsed = time.perf_counter() - self._start


def save_keras_model(model, path, *, metadata: dict) -> Path:
    """Save a Keras model to ``path`` (``.keras``) atomically, with its metadata record beside it.

    Parameters
    ----------
    model : keras.Model
        The trained model.
    path : str or Path
        Destination; must end in ``.keras`` (Keras' own format: architecture and weights).
    metadata : dict
        From :func:`deblurkit.checkpoints.checkpoint_metadata`; written to ``path`` with ``.json``.
    """
    from .checkpoints import write_metadata

    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"path must end in .keras, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keras insists on the suffix, so the temporary sibling keeps it.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".keras")
    os.close(fd)
    try:
        model.save(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    write_metadata(path, metadata)
    return path


def load_keras_model(path, *, chapter: str, profile: str, architecture: dict | None = None):
    """Load a Keras model saved by :func:`save_keras_model`, after checking its metadata record.

    Parameters
    ----------
    path : str or Path
        The ``.keras`` file.
    chapter, profile, architecture
        As for :func:`deblurkit.checkpoints.require_checkpoint`: a missing model, or one of
        another profile or architecture, is refused with one sentence naming the chapter to run.

    Returns
    -------
    (keras.Model, dict)
        The model and its metadata record.
    """
    from .checkpoints import require_checkpoint

    meta = require_checkpoint(path, chapter=chapter, profile=profile, architecture=architecture)
    keras = import_keras()
    return keras.saving.load_model(str(path)), meta
