"""Image formation ``g = h * f + n``: convolution with an explicit boundary, and noise."""

from __future__ import annotations

import numpy as np

from . import _validate
from .otf import apply_transfer, psf_to_otf

#: Boundary modes of :func:`blur`: how the image is extended beyond its border.
BOUNDARY_MODES = ("wrap", "reflect", "symmetric", "edge", "constant")


def blur(image, psf, *, mode: str = "wrap") -> np.ndarray:
    """Convolve ``image`` with a centred ``psf`` using FFTs.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        Sharp image; colour channels are blurred independently.
    psf : array_like, shape (h, w)
        Kernel with its origin at the array centre (see :mod:`deblurkit.psf`).
    mode : {"wrap", "reflect", "symmetric", "edge", "constant"}
        Boundary extension. ``"wrap"`` is circular convolution, the model under which
        the frequency-domain restorations are exact; the others pad with
        ``numpy.pad`` of the same name (``"constant"`` pads zeros), convolve and crop.

    Returns
    -------
    ndarray
        Blurred image, same shape as ``image``, ``float64``.
    """
    img = _validate.image(image)
    k = _validate.psf(psf)
    _validate.choice(mode, "mode", set(BOUNDARY_MODES))
    if mode == "wrap":
        return apply_transfer(img, psf_to_otf(k, img.shape[:2]))
    pad_r, pad_c = k.shape[0] // 2, k.shape[1] // 2
    widths = [(pad_r, pad_r), (pad_c, pad_c)] + [(0, 0)] * (img.ndim - 2)
    padded = np.pad(img, widths, mode=mode)
    out = apply_transfer(padded, psf_to_otf(k, padded.shape[:2]))
    return out[pad_r : pad_r + img.shape[0], pad_c : pad_c + img.shape[1]]


def add_gaussian_noise(image, sigma: float, rng=None, *, clip: bool = False) -> np.ndarray:
    """Add white Gaussian noise of standard deviation ``sigma`` (image intensity units).

    Parameters
    ----------
    image : array_like
        Image with intensities nominally in [0, 1].
    sigma : float
        Noise standard deviation, >= 0 (e.g. 0.01 is 1 % of the [0, 1] range).
    rng : int, numpy.random.Generator or None
        Seed or generator, for reproducible noise.
    clip : bool
        Clip the result to [0, 1], as a sensor would.
    """
    img = _validate.image(image)
    sigma = _validate.positive_scalar(sigma, "sigma", allow_zero=True)
    noisy = img + sigma * _validate.rng(rng).standard_normal(img.shape)
    return np.clip(noisy, 0.0, 1.0) if clip else noisy
