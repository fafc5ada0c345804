"""Loaders for external data sets a reader may have on disk (nothing downloads): the GoPro
layout and its validation carve-out, Koehler et al.'s benchmark, the Kaggle blur data set,
and reading images of any bit depth as RGB in [0, 1].
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
from skimage import io

from ..data import bundled, external
from ..data.bundled import as_rgb
from ..runtime import validate as _validate
from ..runtime.files import artifact_path

# ---------------------------------------------------------------------------------------------
# The Koehler et al. (2012) benchmark, when a reader has it


def kohler_pairs(root) -> list[tuple[Path, list[Path]]]:
    """The blurred images of a Koehler et al. (2012) benchmark folder and their sharp frames.

    The benchmark's layout: ``Blurry<i>_<j>.png`` (image ``i`` = 1..4, camera trajectory
    ``j`` = 1..12) and, for each, the sharp frames recorded along the trajectory,
    ``GroundTruth<i>_<j>_<n>.png``; its score is the best PSNR over those frames. Files are
    looked for anywhere under ``root``.

    Parameters
    ----------
    root : str or Path
        The folder (e.g. ``deblurkit.data.dataset_root() / "kohler"``).

    Returns
    -------
    list of (Path, list of Path)
        ``(blurred file, sharp frames in frame order)`` sorted by ``(i, j)``; blurred files
        without any frame are left out.

    Raises
    ------
    FileNotFoundError
        If ``root`` is not a folder or holds no blurred image with frames.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Koehler folder not found: {root}")
    blurry, frames = {}, {}
    for p in root.rglob("*.png"):
        if m := re.fullmatch(r"Blurry(\d+)_(\d+)\.png", p.name, flags=re.IGNORECASE):
            blurry[(int(m[1]), int(m[2]))] = p
        elif m := re.fullmatch(r"GroundTruth(\d+)_(\d+)_(\d+)\.png", p.name, flags=re.IGNORECASE):
            frames.setdefault((int(m[1]), int(m[2])), []).append((int(m[3]), p))
    pairs = [(blurry[key], [p for _, p in sorted(frames[key])]) for key in sorted(blurry) if key in frames]
    if not pairs:
        raise FileNotFoundError(f"no Blurry<i>_<j>.png with GroundTruth<i>_<j>_<n>.png frames under {root}")
    return pairs


def dataset_root(root=None) -> Path:
    """Folder where external data sets are looked for: ``root``, else ``$DEBLURKIT_DATA``, else the
    book's ``data/external`` (found from ``notebooks/`` too, see :func:`deblurkit.report.artifact_path`)."""

    if root is not None:
        return Path(root)
    return Path(os.environ["DEBLURKIT_DATA"]) if os.environ.get("DEBLURKIT_DATA") else artifact_path("external")


_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}


def paired_image_files(
    root, *, sharp: str = "sharp", blurred: str = "defocused_blurred", allow_unpaired: bool = False
) -> list[tuple[Path, Path]]:
    """Pairs ``(sharp_file, blurred_file)`` from a folder with one sub-folder per kind.

    Files are paired by the part of their name before the first underscore, the
    convention of the Kaggle blur data set (``0_IPHONE-SE_S.JPG`` with ``0_IPHONE-SE_F.JPG``).
    Pairing is exact: two files of one folder with the same key are an error (which one was
    meant cannot be known), and so, unless ``allow_unpaired``, is a file without a partner.

    Parameters
    ----------
    root : str or Path
        Data-set folder holding ``sharp`` and ``blurred`` sub-folders.
    sharp, blurred : str
        Sub-folder names (Kaggle layout: "sharp", "defocused_blurred", "motion_blurred").
    allow_unpaired : bool
        Leave out files that have no partner instead of raising.

    Returns
    -------
    list of (Path, Path)
        Sorted by key (numerically for the Kaggle set's numbers).

    Raises
    ------
    FileNotFoundError
        If ``root`` or either sub-folder is missing, naming the path, or no pair is found.
    ValueError
        If a key names two files in one folder, or a file has no partner (unless ``allow_unpaired``).
    """
    root = Path(root)
    dirs = {"sharp": root / sharp, "blurred": root / blurred}
    for label, d in dirs.items():
        if not d.is_dir():
            raise FileNotFoundError(f"{label} folder not found: {d}")

    def index(d: Path) -> dict[str, Path]:
        found: dict[str, list[Path]] = {}
        for p in sorted(d.iterdir()):
            if p.suffix.lower() in _IMAGE_SUFFIXES:
                found.setdefault(p.name.split("_")[0], []).append(p)
        clashes = {k: [p.name for p in v] for k, v in found.items() if len(v) > 1}
        if clashes:
            shown = "; ".join(f"{k!r}: {', '.join(v)}" for k, v in sorted(clashes.items())[:5])
            raise ValueError(f"files in {d} share a pairing key (the name before the first '_'): {shown}")
        return {k: v[0] for k, v in found.items()}

    s, b = index(dirs["sharp"]), index(dirs["blurred"])
    unpaired = sorted(s.keys() ^ b.keys(), key=lambda k: (len(k), k))
    if unpaired and not allow_unpaired:
        names = [(s.get(k) or b.get(k)).name for k in unpaired[:5]]
        raise ValueError(
            f"{len(unpaired)} file(s) under {root} have no partner, e.g. {', '.join(names)}; "
            "pass allow_unpaired=True to leave them out"
        )
    keys = sorted(set(s) & set(b), key=lambda k: (len(k), k))
    if not keys:
        raise FileNotFoundError(f"no image pairs found under {root} ({sharp}/ and {blurred}/ share no names)")
    return [(s[k], b[k]) for k in keys]


def read_image(path) -> np.ndarray:
    """An image file decoded as stored (any dtype, grey or with channels).

    Raises
    ------
    FileNotFoundError, ValueError
        One sentence naming the file, if it is missing or cannot be decoded as an image.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    try:
        return io.imread(path)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is reported the same way
        reason = " ".join(str(exc).split())  # one line, whatever the decoder's message
        raise ValueError(f"cannot read {path} as an image ({type(exc).__name__}: {reason})") from None


def read_rgb(path) -> np.ndarray:
    """An image file (grey or colour, any size) as ``(H, W, 3)`` float64 in [0, 1].

    Raises
    ------
    FileNotFoundError, ValueError
        One sentence naming the file, if it is missing or cannot be decoded as an image.
    """
    img = read_image(path)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = img[..., :3]
    return img.astype(np.float64) / (np.iinfo(img.dtype).max if img.dtype.kind in "ui" else 1.0)


def load_kaggle_pairs(root, *, count: int | None = None, size: int = 128, blurred: str = "defocused_blurred"):
    """The Kaggle "blur-dataset" loaded as the report loads it: every photo squeezed to
    ``size`` x ``size`` RGB, values in [0, 1].

    Parameters
    ----------
    root : str or Path
        Folder with ``sharp/`` and ``blurred`` (``defocused_blurred/`` or ``motion_blurred/``).
    count : int, optional
        Keep the first ``count`` pairs (in file-name order); default all.

    Returns
    -------
    (ndarray, ndarray)
        ``sharp`` and ``blurred``, ``float32``, shape ``(n, size, size, 3)``.
    """

    size = _validate.integer(size, "size", minimum=1)
    pairs = external.paired_image_files(root, sharp="sharp", blurred=blurred)
    if count is not None:
        pairs = pairs[: _validate.integer(count, "count", minimum=1)]
    if not pairs:
        raise FileNotFoundError(f"no sharp / {blurred} pairs under {root}")

    def load(path):
        img = io.imread(path)
        img = img.astype(np.float64) / (np.iinfo(img.dtype).max if img.dtype.kind in "ui" else 1.0)
        return np.clip(bundled.resize(as_rgb(img), (size, size)), 0.0, 1.0).astype(np.float32)

    return np.stack([load(s) for s, _ in pairs]), np.stack([load(b) for _, b in pairs])


#: Folder names under :func:`deblurkit.data.dataset_root` where the GoPro data set is looked
#: for: the name the book uses, then the name of the authors' archive.
GOPRO_FOLDERS = ("GoPro", "GOPRO_Large")


#: Share of GoPro's training *sequences* held out for validation (at least one sequence).
GOPRO_VALIDATION_FRACTION = 0.1


_GOPRO_LAYOUT = "<root>/{train,test}/<sequence>/{blur,sharp}/*.png"


def find_gopro(root=None) -> Path | None:
    """The GoPro folder to use, or ``None`` when there is none.

    ``root`` when given (it must hold ``train/`` and ``test/``); else the first of
    :data:`GOPRO_FOLDERS` under :func:`deblurkit.data.dataset_root` (``$DEBLURKIT_DATA``, else
    the book's ``data/external``) that exists. A folder that exists but lacks ``train/`` or
    ``test/`` is an error, not a quiet fall-back to other data.

    Raises
    ------
    FileNotFoundError
        One sentence naming the folder and the expected layout.
    """

    if root is not None:
        candidates = [Path(root)]
        if not candidates[0].is_dir():
            raise FileNotFoundError(f"GoPro folder not found: {candidates[0]} (expected {_GOPRO_LAYOUT})")
    else:
        candidates = [dataset_root() / name for name in GOPRO_FOLDERS if (dataset_root() / name).is_dir()]
    for folder in candidates:
        for split in ("train", "test"):
            if not (folder / split).is_dir():
                raise FileNotFoundError(f"GoPro folder {folder} has no {split}/ folder (expected {_GOPRO_LAYOUT})")
        return folder
    return None


def gopro_sequences(root, split: str = "train") -> list[str]:
    """Names of the sequence folders of ``<root>/<split>``, sorted."""
    _validate.choice(split, "split", {"train", "test"})
    folder = Path(root) / split
    if not folder.is_dir():
        raise FileNotFoundError(f"GoPro folder not found: {folder} (expected {_GOPRO_LAYOUT})")
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def gopro_split(root, validation_fraction: float = GOPRO_VALIDATION_FRACTION) -> dict[str, list[str]]:
    """GoPro's sequences as ``{"train", "validation", "test"}`` lists of names.

    Validation is carved from GoPro's *training* sequences, by whole sequence: the last
    ``ceil(validation_fraction * n)`` of them in name order (at least one). Frames of one
    sequence are near-duplicates, so a frame-wise split would leak; GoPro's test sequences are
    never used for a choice.

    Raises
    ------
    ValueError
        If fewer than two training sequences are there (one must stay for training).
    """
    fraction = _validate.real_scalar(validation_fraction, "validation_fraction")
    if not 0 < fraction < 1:
        raise ValueError(f"validation_fraction must be in (0, 1), got {fraction}")
    train = gopro_sequences(root, "train")
    if len(train) < 2:
        raise ValueError(f"GoPro folder {root} holds {len(train)} training sequence(s); validation needs a second one")
    n_val = min(len(train) - 1, max(1, math.ceil(fraction * len(train))))
    return {"train": train[:-n_val], "validation": train[-n_val:], "test": gopro_sequences(root, "test")}


def gopro_pairs(root, split: str = "train", *, sequences=None) -> list[tuple[Path, Path]]:
    """``(blurred, sharp)`` file pairs of the GoPro data set (Nah et al. 2017):
    ``<root>/<split>/<sequence>/{blur,sharp}/<frame>.png``, paired by sequence and file name,
    in sequence then frame order; only the named ``sequences`` when given.

    Raises
    ------
    FileNotFoundError
        If ``<root>/<split>`` or a named sequence is missing or no pair is there; ``ValueError``
        if a blurred frame has no sharp twin (pairing is exact).
    """
    _validate.choice(split, "split", {"train", "test"})
    folder = Path(root) / split
    if not folder.is_dir():
        raise FileNotFoundError(f"GoPro folder not found: {folder} (expected {_GOPRO_LAYOUT})")
    names = gopro_sequences(root, split) if sequences is None else list(sequences)
    pairs = []
    for seq in (folder / name for name in names):
        blur_dir, sharp_dir = seq / "blur", seq / "sharp"
        if not blur_dir.is_dir() or not sharp_dir.is_dir():
            raise FileNotFoundError(f"GoPro sequence {seq} lacks a blur/ or sharp/ folder")
        for b in sorted(blur_dir.glob("*.png")):
            s = sharp_dir / b.name
            if not s.is_file():
                raise ValueError(f"GoPro frame {b} has no sharp twin {s}")
            pairs.append((b, s))
    if not pairs:
        raise FileNotFoundError(f"no GoPro blur/sharp pairs under {folder}")
    return pairs
