"""Image formation g = h * f + n: FFT convolution with an explicit boundary mode, the one camera
blur (a larger scene convolved in the image domain, the centre kept), additive noise and
spatially varying Gaussian blur from a sigma-map.
"""

from __future__ import annotations

import numpy as np

from ..imaging.otf import apply_half, psf_to_half_otf
from ..imaging.psf import gaussian_psf
from ..runtime import validate as _validate

#: Boundary modes of :func:`blur`: how the image is extended beyond its border.
BOUNDARY_MODES = ("wrap", "reflect", "symmetric", "edge", "constant")


def blur(image, psf, *, mode: str = "wrap") -> np.ndarray:
    """Convolve ``image`` with a centred ``psf`` using FFTs.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        Sharp image; colour channels are blurred independently.
    psf : array_like, shape (h, w)
        Kernel with odd sides and its origin at the array centre (see :mod:`deblurkit.psf`);
        ``h <= H`` and ``w <= W`` for ``mode="wrap"``.
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
        return apply_half(img, psf_to_half_otf(k, img.shape[:2]))
    pad_r, pad_c = k.shape[0] // 2, k.shape[1] // 2
    widths = [(pad_r, pad_r), (pad_c, pad_c)] + [(0, 0)] * (img.ndim - 2)
    padded = np.pad(img, widths, mode=mode)
    out = apply_half(padded, psf_to_half_otf(k, padded.shape[:2]))
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


def gaussian_blur_sigma_map(image, sigma_map, *, levels=None, mode: str = "symmetric") -> np.ndarray:
    """Spatially varying Gaussian blur: pixel ``(i, j)`` blurred with standard deviation ``sigma_map[i, j]``.

    The image is blurred uniformly at a ladder of ``levels`` and each output pixel is linearly
    interpolated between the two levels that bracket its sigma. This is the usual
    approximation of a defocus map (exact where the map is constant and equal to a level); it
    mixes blurred *outputs*, not kernels, so it is slightly off where the map changes within
    a kernel's reach.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Grey sharp image.
    sigma_map : array_like, shape (H, W)
        Gaussian standard deviation per pixel, in pixels, >= 0.
    levels : array_like, optional
        Increasing sigmas to blur at; by default steps of 0.05 px from the map's minimum to
        its maximum. Must cover the map's range.
    mode : str
        Boundary mode of :func:`blur` (default mirrored).
    """

    img = _validate.array(image, "image", ndim=2)
    smap = _validate.array(sigma_map, "sigma_map", ndim=2)
    if smap.shape != img.shape:
        raise ValueError(f"sigma_map must have the image's shape {img.shape}, got {smap.shape}")
    if smap.min() < 0:
        raise ValueError("sigma_map must be >= 0")
    if levels is None:
        lo, hi = float(smap.min()), float(smap.max())
        levels = np.linspace(lo, hi, int(np.ceil((hi - lo) / 0.05)) + 1)  # one level for a constant map
    levels = _validate.array(levels, "levels", ndim=1)
    if np.any(np.diff(levels) <= 0) or levels[0] < 0:
        raise ValueError("levels must be non-negative and strictly increasing")
    if smap.min() < levels[0] - 1e-9 or smap.max() > levels[-1] + 1e-9:
        raise ValueError(f"levels [{levels[0]}, {levels[-1]}] must cover sigma_map's range [{smap.min()}, {smap.max()}]")
    stack = np.stack([blur(img, gaussian_psf(s), mode=mode) for s in levels])
    return np.einsum("lhw,lhw->hw", ladder_weights(smap, levels), stack)


def ladder_weights(values, levels) -> np.ndarray:
    """Hat-function weights of ``values`` on a ladder of ``levels``: ``(L, *values.shape)``.

    Each value is split between the two levels that bracket it, in proportion to its distance
    from each (linear interpolation); values beyond the ladder go to its nearest end. The
    weights are non-negative and sum to one over the levels.

    Parameters
    ----------
    values : array_like
        E.g. a σ-map in pixels.
    levels : array_like, shape (L,)
        Strictly increasing.
    """
    v = np.asarray(values, dtype=float)
    lv = _validate.array(levels, "levels", ndim=1)
    if lv.size < 1 or np.any(np.diff(lv) <= 0):
        raise ValueError(f"levels must be strictly increasing, got {lv}")
    weights = np.zeros((lv.size, *v.shape))
    if lv.size == 1:
        weights[0] = 1.0
        return weights
    clipped = np.clip(v, lv[0], lv[-1])
    upper = np.clip(np.searchsorted(lv, clipped, side="left"), 1, lv.size - 1)
    frac = (clipped - lv[upper - 1]) / (lv[upper] - lv[upper - 1])
    index = np.indices(v.shape)
    weights[(upper - 1, *index)] = 1.0 - frac
    weights[(upper, *index)] += frac
    return weights


def camera_blur(scene, psf, size) -> np.ndarray:
    """The noiseless centre crop of ``scene`` blurred as a camera does: the one camera blur of the book.

    The rasterised ``psf`` is convolved in the image domain over the whole scene and the centre
    is cut out, so the kept pixels mix in scene from beyond the crop, as in a photograph, and no
    periodic boundary is assumed. The scene is mirrored beyond its own border, which the crop
    never sees because the scene must exceed the crop by the kernel's reach on every side.

    Parameters
    ----------
    scene : array_like, shape (H, W) or (H, W, C)
        Sharp scene, larger than the crop by at least ``psf.shape[0] // 2`` rows and
        ``psf.shape[1] // 2`` columns on each side.
    psf : array_like, shape (h, w)
        Centred kernel with odd sides.
    size : int or (int, int)
        Side (or rows, columns) of the returned crop in pixels, >= 8.

    Returns
    -------
    ndarray, shape (rows, cols[, C]), float64
    """
    img = _validate.image(scene, "scene")
    k = _validate.psf(psf)
    rows, cols = (size, size) if np.isscalar(size) else tuple(size)
    rows = _validate.integer(rows, "size", minimum=8)
    cols = _validate.integer(cols, "size", minimum=8)
    margin_r, margin_c = (img.shape[0] - rows) // 2, (img.shape[1] - cols) // 2
    reach_r, reach_c = k.shape[0] // 2, k.shape[1] // 2
    if margin_r < reach_r or margin_c < reach_c:
        raise ValueError(
            f"scene of shape {img.shape[:2]} leaves margins of ({margin_r}, {margin_c}) px around a "
            f"{rows}x{cols} crop, less than the kernel's reach ({reach_r}, {reach_c}) px"
        )
    return blur(img, k, mode="symmetric")[margin_r : margin_r + rows, margin_c : margin_c + cols]
