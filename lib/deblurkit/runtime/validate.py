"""Input checks at the library's boundary: each raises one clear error naming the parameter and
what was expected (type, shape, range, finiteness).
"""

from __future__ import annotations

import numbers

import numpy as np


def real_scalar(value, name: str) -> float:
    """Return ``value`` as a finite Python float or raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def positive_scalar(value, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float that is > 0 (or >= 0 with ``allow_zero``) or raise."""
    value = real_scalar(value, name)
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def integer(value, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int (no silent rounding of floats) or raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def array(
    value,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    dtype=np.float64,
) -> np.ndarray:
    """Return ``value`` as a non-empty, finite ndarray of ``dtype`` with an allowed ``ndim``.

    Complex values are refused where a real ``dtype`` is asked for (instead of numpy's
    warning and silent loss of the imaginary part), and so are strings and object arrays
    whose elements are not numbers.
    """
    raw = value if isinstance(value, np.ndarray) else None
    if raw is None:
        try:
            raw = np.asarray(value)
        except (TypeError, ValueError) as exc:  # e.g. ragged nested sequences
            raise TypeError(f"{name} must be array-like of numbers: {exc}") from None
    kind = raw.dtype.kind
    if kind in "USVMm":
        raise TypeError(f"{name} must be array-like of numbers, got dtype {raw.dtype}")
    if kind == "O":
        bad = next((type(v).__name__ for v in raw.ravel() if not isinstance(v, (numbers.Number, np.number))), None)
        if bad is not None:
            raise TypeError(f"{name} must be array-like of numbers, got an element of type {bad}")
        kind = "c" if any(isinstance(v, (complex, np.complexfloating)) for v in raw.ravel()) else "f"
    if kind == "c" and np.dtype(dtype).kind != "c":
        raise TypeError(f"{name} must be real, got complex values (take .real or abs() explicitly if that is meant)")
    try:
        out = np.asarray(raw, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array-like of numbers: {exc}") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if out.ndim not in allowed:
            shown = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name} must have ndim {shown}, got shape {out.shape}")
    if out.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {out.shape}")
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return out


def image(value, name: str = "image") -> np.ndarray:
    """A grey (H, W) or colour (H, W, C) float image; values are not range-checked."""
    out = array(value, name, ndim=(2, 3))
    if out.ndim == 3 and out.shape[2] not in (1, 3, 4):
        raise ValueError(f"{name} must be (H, W) or (H, W, C) with C in 1, 3, 4; got shape {out.shape}")
    return out


def psf(value, name: str = "psf", *, odd: bool = True) -> np.ndarray:
    """A 2-D, non-negative kernel with a positive sum and, by default, odd sides.

    The book's kernels have their origin at the array centre ``(h // 2, w // 2)``, which is
    a pixel centre only for odd sides; an even side would shift the result by half a pixel.
    """
    out = array(value, name, ndim=2)
    if odd and (out.shape[0] % 2 == 0 or out.shape[1] % 2 == 0):
        raise ValueError(f"{name} must have odd sides so that its origin is the centre pixel, got shape {out.shape}")
    if np.any(out < 0):
        raise ValueError(f"{name} must be non-negative")
    if out.sum() <= 0:
        raise ValueError(f"{name} must have a positive sum")
    return out


def shape2(shape, name: str = "shape") -> tuple[int, int]:
    """A pair ``(rows, cols)`` of positive ints, or raise naming ``name``."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2:
        raise ValueError(f"{name} must be a pair (rows, cols), got {shape!r}")
    rows, cols = shape
    return integer(rows, f"{name}[0]", minimum=1), integer(cols, f"{name}[1]", minimum=1)


def transfer(value, name: str, shape: tuple[int, int]) -> np.ndarray:
    """A complex transfer function sampled on an image's (H, W) frequency grid."""
    out = array(value, name, ndim=2, dtype=np.complex128)
    if out.shape != tuple(shape):
        raise ValueError(f"{name} must have the image's shape {tuple(shape)}, got {out.shape}")
    return out


def choice(value, name: str, options) -> str:
    """``value`` must be one of ``options`` (a list or other unhashable value is refused clearly)."""
    try:
        ok = value in options
    except TypeError:  # unhashable, e.g. a list passed for one name
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return value


def rng(seed_or_rng) -> np.random.Generator:
    """A ``numpy.random.Generator`` from an int seed, a Generator, or None (fresh entropy)."""
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    if seed_or_rng is None:
        return np.random.default_rng()
    return np.random.default_rng(integer(seed_or_rng, "rng", minimum=0))
