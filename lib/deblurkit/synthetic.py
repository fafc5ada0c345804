"""Synthetic training and test sets: sharp crops, blurred with known parameters, plus noise."""

from __future__ import annotations

import numpy as np

from . import _validate
from .blur import add_gaussian_noise
from .data import random_crops
from .otf import acceleration_otf, apply_transfer
from .psf import DEFAULT_EXPOSURE


def acceleration_blur_dataset(
    images,
    count: int,
    *,
    crop_size: int,
    a_max: float = 2.0,
    exposure: float = DEFAULT_EXPOSURE,
    noise_sigma: float = 0.01,
    rng=None,
) -> dict:
    """Crops blurred by uniform acceleration with random, known ``(a_x, a_y)``.

    Each sample takes a random crop of a random source image, draws ``a_x, a_y`` uniformly
    from ``[0, a_max]``, blurs circularly with the closed-form transfer function
    (:func:`deblurkit.otf.acceleration_otf`) and adds white Gaussian noise. Accelerations are
    non-negative because ``|H|`` cannot tell ``a`` from ``-a``.

    Parameters
    ----------
    images : sequence of ndarray, each (H, W)
        Grey source images in [0, 1]; every one must be at least ``crop_size`` on each side.
    count : int
        Number of samples, >= 1.
    crop_size : int
        Side of the square crops in pixels, >= 8.
    a_max : float
        Largest acceleration in pixels per time unit squared, > 0.
    exposure : float
        Exposure time ``T``, > 0.
    noise_sigma : float
        Noise standard deviation, >= 0.
    rng : int, numpy.random.Generator or None
        Seed or generator: the same seed gives the same data set.

    Returns
    -------
    dict
        ``"sharp"`` and ``"blurred"``: ``float32`` arrays ``(count, crop_size, crop_size)``;
        ``"labels"``: ``float64`` ``(count, 2)`` holding ``(a_x, a_y)``; ``"source"``: ``int``
        index of the source image of each sample.
    """
    if len(images) == 0:
        raise ValueError("images must hold at least one image")
    sources = [_validate.array(img, f"images[{i}]", ndim=2) for i, img in enumerate(images)]
    count = _validate.integer(count, "count", minimum=1)
    crop_size = _validate.integer(crop_size, "crop_size", minimum=8)
    a_max = _validate.positive_scalar(a_max, "a_max")
    exposure = _validate.positive_scalar(exposure, "exposure")
    noise_sigma = _validate.positive_scalar(noise_sigma, "noise_sigma", allow_zero=True)
    for i, img in enumerate(sources):
        if min(img.shape) < crop_size:
            raise ValueError(f"images[{i}] of shape {img.shape} is smaller than crop_size={crop_size}")
    gen = _validate.rng(rng)
    source = gen.integers(0, len(sources), size=count)
    labels = gen.uniform(0.0, a_max, size=(count, 2))
    sharp = np.empty((count, crop_size, crop_size), np.float32)
    blurred = np.empty_like(sharp)
    for n in range(count):
        crop = random_crops(sources[source[n]], crop_size, 1, gen)[0]
        h = acceleration_otf(labels[n, 0], labels[n, 1], exposure, crop.shape)
        sharp[n] = crop
        blurred[n] = add_gaussian_noise(apply_transfer(crop, h), noise_sigma, gen)
    return {"sharp": sharp, "blurred": blurred, "labels": labels, "source": source}
