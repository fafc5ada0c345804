"""Checkpoint paths and records: the one definition of ``data/checkpoints/<chapter>[_<name>]_<profile>.<ext>``,
the metadata record written beside each model, and the check a later chapter runs before using one.
"""

from __future__ import annotations

import json
import platform
import re
import time
from pathlib import Path

from .. import __version__
from ..runtime import validate as _validate
from ..runtime.files import artifact_path, atomic_write
from ..runtime.profiles import PROFILES
from .chapters import how_to_make

_STEM = re.compile(r"[0-9]{2}_[a-z0-9_]+")


_PART = re.compile(r"[a-z0-9][a-z0-9_]*")


def checkpoint_path(chapter: str, profile: str, name: str | None = None, *, ext: str = "keras") -> Path:
    """Where a chapter saves a trained model, and where a later chapter looks for it.

    ``data/checkpoints/<chapter>_<profile>.<ext>``, or ``<chapter>_<name>_<profile>.<ext>``
    when the chapter saves more than one model (under :func:`deblurkit.report.artifact_path`).
    The metadata record goes beside it (:func:`metadata_path`).

    Parameters
    ----------
    chapter : str
        Notebook stem of the chapter that trains the model (``"03_autoencoder"``).
    profile : {"smoke", "cpu", "gpu"}
        Profile of the run; each profile has its own file, so a smoke run never overwrites a
        model the cpu book relies on.
    name : str, optional
        Which of the chapter's models (``"classifier30"``, ``"fcn"``): lower-case letters,
        digits and underscores.
    ext : str
        File extension without the dot: ``"keras"`` (Keras' format) or ``"pt"`` (torch).

    Examples
    --------
    >>> checkpoint_path("04_sigma_map_cnn", "cpu", "classifier30").name
    '04_sigma_map_cnn_classifier30_cpu.keras'
    """

    _validate.choice(profile, "profile", set(PROFILES))
    if not isinstance(chapter, str) or not _STEM.fullmatch(chapter):
        raise ValueError(f"chapter must be a notebook stem such as '03_autoencoder', got {chapter!r}")
    if name is not None and (not isinstance(name, str) or not _PART.fullmatch(name)):
        raise ValueError(f"name must be lower-case letters, digits and underscores, got {name!r}")
    if not isinstance(ext, str) or not _PART.fullmatch(ext):
        raise ValueError(f"ext must be an extension without the dot, such as 'keras', got {ext!r}")
    stem = f"{chapter}_{name}" if name else chapter
    return artifact_path("checkpoints", f"{stem}_{profile}.{ext}")


def checkpoint_metadata(
    *,
    chapter: str,
    profile: str,
    seed: int,
    steps: int,
    wall_seconds: float,
    device,
    architecture: dict,
    validation: dict | None = None,
    **extra,
) -> dict:
    """The record saved beside every trained model, and checked by :func:`require_checkpoint`.

    Parameters
    ----------
    chapter : str
        Notebook stem of the chapter that trains the model (``"06_deblurgan"``).
    profile : {"smoke", "cpu", "gpu"}
        Profile of the run.
    seed : int
        Seed of the run, >= 0.
    steps : int
        Optimiser steps (or epochs, said in ``extra``) done so far, >= 0.
    wall_seconds : float
        Training time so far, in seconds.
    device : str
        Where it trained (``"cpu"``, ``"cuda"``).
    architecture : dict
        The constructor arguments of the model(s), JSON-serialisable; a loader rebuilds the
        model from them and a mismatch is caught before any weight is loaded.
    validation : dict, optional
        Validation scores, e.g. ``{"psnr": 27.1}``.
    **extra
        Anything else worth recording (JSON-serialisable), e.g. framework versions.
    """

    _validate.choice(profile, "profile", set(PROFILES))
    if not isinstance(chapter, str) or not chapter.strip():
        raise ValueError(f"chapter must be a notebook stem such as '06_deblurgan', got {chapter!r}")
    if not isinstance(architecture, dict):
        raise TypeError(f"architecture must be a dict of constructor arguments, got {type(architecture).__name__}")
    record = {
        "chapter": chapter,
        "profile": profile,
        "seed": _validate.integer(seed, "seed", minimum=0),
        "steps": _validate.integer(steps, "steps", minimum=0),
        "wall_seconds": float(wall_seconds),
        "device": str(device),
        "architecture": dict(architecture),
        "validation": dict(validation or {}),
        "deblurkit": __version__,
        "host": platform.node(),
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **extra,
    }
    json.dumps(record)  # fail here, not half-way through a save, if something is not serialisable
    return record


def metadata_path(checkpoint) -> Path:
    """The JSON metadata file that sits beside ``checkpoint`` (``x.pt`` or ``x.keras`` -> ``x.json``)."""
    return Path(checkpoint).with_suffix(".json")


def write_metadata(checkpoint, metadata: dict) -> Path:
    """Write ``metadata`` (from :func:`checkpoint_metadata`) beside ``checkpoint``, atomically."""

    text = json.dumps(metadata, indent=1)
    return atomic_write(metadata_path(checkpoint), lambda tmp: tmp.write_text(text))


def require_checkpoint(path, *, chapter: str, profile: str, architecture: dict | None = None) -> dict:
    """The metadata of a model another chapter trained, or one sentence saying what to run.

    Parameters
    ----------
    path : str or Path
        The model file.
    chapter : str
        Notebook stem of the chapter that writes it, named in the error.
    profile : str
        The profile the reader is running; a model of another profile is refused.
    architecture : dict, optional
        Expected constructor arguments; refused if the record's differ.

    Raises
    ------
    FileNotFoundError or ValueError
        One sentence naming ``chapter`` and the profile to run it in.
    """
    path = Path(path)
    todo = how_to_make(chapter, profile)  # from the chapter declaration: which chapter writes it
    meta_file = metadata_path(path)
    if not path.is_file() or not meta_file.is_file():
        raise FileNotFoundError(f"no trained model at {path}: {todo}.")
    meta = json.loads(meta_file.read_text())
    if meta.get("profile") != profile:
        raise ValueError(f"the model at {path} was trained in the {meta.get('profile')!r} profile: {todo}.")
    if architecture is not None and meta.get("architecture") != dict(architecture):
        raise ValueError(f"the model at {path} has architecture {meta.get('architecture')}, not {architecture}: {todo}.")
    return meta
