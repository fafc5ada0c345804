"""Saving and loading Keras models atomically with their metadata records, and chapter 2's
estimator (its custom layers registered) on top of them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..book.checkpoints import require_checkpoint, write_metadata
from ..models.acceleration_nets import CHAPTER, layers
from ..models.keras_ops import import_keras
from ..runtime.files import _umask


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

    meta = require_checkpoint(path, chapter=chapter, profile=profile, architecture=architecture)
    keras = import_keras()
    return keras.saving.load_model(str(path)), meta


def save_estimator(model, path, *, metadata: dict) -> Path:
    """Save a network from :func:`build` with its metadata record (see
    :func:`deblurkit.checkpoints.checkpoint_metadata`); the record should say what it predicts,
    its input size and preprocessing, and the label scale ``a_max``."""

    layers()
    return save_keras_model(model, path, metadata=metadata)


def load_estimator(path, *, profile: str, architecture: dict | None = None):
    """Load the estimator chapter 2 saved (checking its record), with its custom layers registered.

    Returns
    -------
    (keras.Model, dict)
        The model and its metadata; estimate with
        ``estimate_on_image(model, image, a_max=meta["a_max"])``.
    """

    layers()
    return load_keras_model(path, chapter=CHAPTER, profile=profile, architecture=architecture)
