"""Images bundled inside installed packages (scikit-image, scikit-learn), the book's one
train/validation/test split of them, and crops, patches, resizing and standardisation.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import skimage.data
import sklearn.datasets
from skimage import color, io
from skimage.transform import resize as _resize

from ..runtime import validate as _validate

# name -> (package, file name, kind). skimage's clock ("clock_motion.png") is left out:
# it is already motion blurred and cannot serve as a sharp reference.
_BUNDLED = {
    "camera": ("skimage", "camera.png", "natural"),
    "astronaut": ("skimage", "astronaut.png", "natural"),
    "coffee": ("skimage", "coffee.png", "natural"),
    "chelsea": ("skimage", "chelsea.png", "natural"),
    "rocket": ("skimage", "rocket.jpg", "natural"),
    "moon": ("skimage", "moon.png", "natural"),
    "coins": ("skimage", "coins.png", "natural"),
    "motorcycle": ("skimage", "motorcycle_left.png", "natural"),
    "hubble": ("skimage", "hubble_deep_field.jpg", "natural"),
    "retina": ("skimage", "retina.jpg", "natural"),
    "ihc": ("skimage", "ihc.png", "natural"),
    "china": ("sklearn", "china.jpg", "natural"),
    "flower": ("sklearn", "flower.jpg", "natural"),
    "brick": ("skimage", "brick.png", "texture"),
    "grass": ("skimage", "grass.png", "texture"),
    "gravel": ("skimage", "gravel.png", "texture"),
    "text": ("skimage", "text.png", "document"),
    "page": ("skimage", "page.png", "document"),
}


IMAGE_KINDS = ("natural", "texture", "document")


#: The book's one train / validation / test split of the bundled images, by source image.
#: Every chapter draws training crops from "train" only, makes every choice (model, remedy,
#: tuning, schedule, early stopping) on "validation", and scores "test" once, at the end.
#: Validation and test each hold photographs (grey and colour), a texture and a document, so
#: that a choice made on validation is made on images like those it is scored on.
SPLITS = {
    "train": ("astronaut", "motorcycle", "hubble", "retina", "ihc", "china", "flower", "moon", "brick"),
    "validation": ("rocket", "grass", "page"),
    "test": ("camera", "coins", "gravel", "chelsea", "coffee", "text"),
}


def split_names(split: str, *, kind: str | None = None) -> list[str]:
    """Names of the bundled images in one ``split`` of the book's fixed split.

    Parameters
    ----------
    split : {"train", "validation", "test"}
        Which part of :data:`SPLITS`.
    kind : {"natural", "texture", "document"}, optional
        Keep only images of this kind.

    Returns
    -------
    list of str
        In the order of :data:`SPLITS`; disjoint from the other two splits.
    """
    _validate.choice(split, "split", set(SPLITS))
    if split == "test":
        _record_test_read()
    keep = set(bundled_image_names(kind))
    return [n for n in SPLITS[split] if n in keep]


#: When this process first read the test split (``time.time()``), for :func:`first_test_read`.
_FIRST_TEST_READ: list[float] = []


def _record_test_read() -> None:
    if not _FIRST_TEST_READ:
        _FIRST_TEST_READ.append(time.time())


def first_test_read() -> float | None:
    """When this process first read the test split, in seconds since the epoch, or ``None``.

    Asking :func:`split_names` for ``"test"`` or loading a test image by name
    (:func:`bundled_image`, hence :func:`bundled_square`) counts as reading it. A chapter
    registers its verdict specifications before that moment; :mod:`deblurkit.book.verdicts`
    refuses to judge one registered after it.
    """
    return _FIRST_TEST_READ[0] if _FIRST_TEST_READ else None


def bundled_image_names(kind: str | None = None) -> list[str]:
    """Names of the bundled images, optionally only one ``kind`` ("natural", "texture", "document")."""
    if kind is not None:
        _validate.choice(kind, "kind", set(IMAGE_KINDS))
    return [n for n, (_, _, k) in _BUNDLED.items() if kind is None or k == kind]


def _bundled_path(name: str) -> Path:
    package, filename, _ = _BUNDLED[name]
    if package == "skimage":
        folder = Path(skimage.data.__file__).parent
    else:
        folder = Path(sklearn.datasets.__file__).parent / "images"
    path = folder / filename
    if not path.exists():
        raise FileNotFoundError(f"bundled image {name!r} is not installed at {path}; reinstall {package}")
    return path


def bundled_image(name: str, *, gray: bool = False) -> np.ndarray:
    """Load a bundled image as ``float64`` in [0, 1].

    Parameters
    ----------
    name : str
        One of :func:`bundled_image_names`.
    gray : bool
        Convert colour to luminance (ITU-R BT.709 weights, ``skimage.color.rgb2gray``).

    Returns
    -------
    ndarray, shape (H, W) or (H, W, 3)
    """
    _validate.choice(name, "name", set(_BUNDLED))
    if name in SPLITS["test"]:
        _record_test_read()
    img = io.imread(_bundled_path(name))
    img = img.astype(np.float64) / (np.iinfo(img.dtype).max if img.dtype.kind in "ui" else 1.0)
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[..., :3]
    if gray and img.ndim == 3:
        img = color.rgb2gray(img)
    return img


def center_crop(image, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` window of an image."""
    img = _validate.image(image)
    size = _validate.integer(size, "size", minimum=1)
    if size > min(img.shape[:2]):
        raise ValueError(f"size={size} exceeds the image's smaller side {min(img.shape[:2])}")
    r0 = (img.shape[0] - size) // 2
    c0 = (img.shape[1] - size) // 2
    return img[r0 : r0 + size, c0 : c0 + size].copy()


def random_crops(image, size: int, count: int, rng=None) -> np.ndarray:
    """``count`` square crops at positions drawn from ``rng`` (deterministic for a seed).

    Returns
    -------
    ndarray, shape (count, size, size) or (count, size, size, C)
    """
    img = _validate.image(image)
    size = _validate.integer(size, "size", minimum=1)
    count = _validate.integer(count, "count", minimum=1)
    if size > min(img.shape[:2]):
        raise ValueError(f"size={size} exceeds the image's smaller side {min(img.shape[:2])}")
    gen = _validate.rng(rng)
    rows = gen.integers(0, img.shape[0] - size + 1, size=count)
    cols = gen.integers(0, img.shape[1] - size + 1, size=count)
    return np.stack([img[r : r + size, c : c + size] for r, c in zip(rows, cols)])


def patches(image, size: int) -> np.ndarray:
    """Non-overlapping ``size`` x ``size`` patches in row-major order (the remainder is dropped).

    Returns
    -------
    ndarray, shape (n, size, size) or (n, size, size, C)
    """
    img = _validate.image(image)
    size = _validate.integer(size, "size", minimum=1)
    n_r, n_c = img.shape[0] // size, img.shape[1] // size
    if n_r == 0 or n_c == 0:
        raise ValueError(f"size={size} exceeds the image's shape {img.shape[:2]}")
    tiles = img[: n_r * size, : n_c * size].reshape(n_r, size, n_c, size, *img.shape[2:])
    return np.moveaxis(tiles, 2, 1).reshape(n_r * n_c, size, size, *img.shape[2:])


def resize(image, shape) -> np.ndarray:
    """Resize to ``(rows, cols)`` with anti-aliasing (``skimage.transform.resize``)."""
    img = _validate.image(image)
    rows, cols = _validate.shape2(shape, "shape")
    return _resize(img, (rows, cols) + img.shape[2:], anti_aliasing=True, preserve_range=True)


def bundled_square(name: str, size: int, *, gray: bool = True) -> np.ndarray:
    """A bundled image centre-cropped to a square and resized to ``size`` x ``size`` pixels, in [0, 1]."""
    img = bundled_image(name, gray=gray)
    return resize(center_crop(img, min(img.shape[:2])), (size, size))


def standardise(images) -> np.ndarray:
    """Each image of a batch ``(n, H, W)`` shifted to zero mean and scaled to unit variance, as float32.

    Networks that estimate blur should read it from structure, not contrast; a flat image
    stays flat (zero) instead of dividing by zero.
    """
    x = _validate.array(images, "images", ndim=3)
    x = x - x.mean(axis=(1, 2), keepdims=True)
    return (x / (x.std(axis=(1, 2), keepdims=True) + 1e-6)).astype(np.float32)


def as_rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image[..., :3]
