"""Non-blind restoration: inverse, pseudo-inverse, Wiener (constant NSR, and built on the closed-form
acceleration transfer function), constrained least squares, Richardson-Lucy, and restoration
of a camera's (non-periodic) image through a mirrored extension.
"""

from __future__ import annotations

import numpy as np

from ..imaging.otf import (
    acceleration_otf,
    apply_half,
    frequency_grid,
    hermitian_half,
    psf_to_half_otf,
)
from ..imaging.psf import DEFAULT_EXPOSURE
from ..runtime import validate as _validate


def _transfer(blurred, psf, otf) -> tuple[np.ndarray, np.ndarray]:
    """The validated image and the half-spectrum ``(H, W // 2 + 1)`` of its transfer function."""
    img = _validate.image(blurred, "blurred")
    if (psf is None) == (otf is None):
        raise ValueError("give exactly one of psf or otf")
    if otf is None:
        return img, psf_to_half_otf(psf, img.shape[:2])
    return img, hermitian_half(_validate.transfer(otf, "otf", img.shape[:2]))


def _power(h: np.ndarray) -> np.ndarray:
    """``|h|^2`` as a new real array (one allocation: fresh memory costs page faults at these sizes)."""
    out = np.abs(h)
    np.square(out, out=out)
    return out


def _regularised_inverse(h: np.ndarray, penalty) -> np.ndarray:
    """``conj(h) / (|h|^2 + penalty)``, 0 where the denominator is 0; overwrites and returns ``h``.

    ``h`` must be a private array (the half spectrum :func:`_transfer` made for this call).
    """
    denom = _power(h)
    denom += penalty
    np.conj(h, out=h)
    if np.all(denom > 0):
        h /= denom
    else:
        zero = denom <= 0
        denom[zero] = 1.0
        h /= denom
        h[zero] = 0
    return h


def _laplacian_power_half(shape: tuple[int, int]) -> np.ndarray:
    """``|P|^2`` of the Laplacian OTF on the ``u >= 0`` columns (real and even, so no mirror needed)."""
    u, v = frequency_grid(shape)
    u = u[:, : shape[1] // 2 + 1]
    return ((2 * np.cos(2 * np.pi * u) - 2) + (2 * np.cos(2 * np.pi * v) - 2)) ** 2


def inverse_filter(blurred, psf=None, *, otf=None) -> np.ndarray:
    """Plain inverse filter ``F = G / H``.

    Frequencies where ``H`` is exactly zero carry no information and are set to zero;
    everywhere else the division is done, however small ``|H|`` is, so noise is amplified
    without limit. That is the point of showing it.
    """
    img, h = _transfer(blurred, psf, otf)
    return apply_half(img, _regularised_inverse(h, 0.0))


def pseudo_inverse_filter(blurred, psf=None, *, otf=None, threshold: float = 0.1) -> np.ndarray:
    """Thresholded inverse: ``1/H`` where ``|H| > threshold``, 0 elsewhere.

    Parameters
    ----------
    threshold : float
        Cut-off on ``|H|``, > 0 and below the largest gain ``max |H|`` (1 for a normalised
        kernel); frequencies whose gain is at or below it are dropped.

    Raises
    ------
    ValueError
        If ``threshold >= max |H|``: every frequency would be dropped and the result would be 0.
    """
    threshold = _validate.positive_scalar(threshold, "threshold")
    img, h = _transfer(blurred, psf, otf)
    power = _power(h)
    peak = float(np.sqrt(power.max()))
    if threshold >= peak:
        raise ValueError(f"threshold={threshold} must be below the largest gain max|H| = {peak:.6g}: every frequency would be dropped")
    power[power <= threshold**2] = np.inf  # conj(H) / inf = 0: the dropped frequencies
    np.conj(h, out=h)
    h /= power
    return apply_half(img, h)


def wiener_filter(blurred, psf=None, *, otf=None, nsr: float) -> np.ndarray:
    """Wiener filter with a constant noise-to-signal power ratio: ``conj(H) / (|H|^2 + nsr)``.

    Parameters
    ----------
    nsr : float
        Noise-to-signal power ratio, >= 0 (0 is the inverse filter); see :func:`estimate_nsr`.
    """
    nsr = _validate.positive_scalar(nsr, "nsr", allow_zero=True)
    img, h = _transfer(blurred, psf, otf)
    return apply_half(img, _regularised_inverse(h, nsr))


def cls_filter(blurred, psf=None, *, otf=None, gamma: float) -> np.ndarray:
    """Constrained least squares: ``conj(H) / (|H|^2 + gamma |P|^2)`` with ``P`` the Laplacian OTF.

    Minimises ``||g - h*f||^2 + gamma ||p*f||^2``: a smoothness prior that, unlike the
    constant-NSR Wiener filter, penalises high frequencies more than low ones.

    Parameters
    ----------
    gamma : float
        Regularisation weight, >= 0.
    """
    gamma = _validate.positive_scalar(gamma, "gamma", allow_zero=True)
    img, h = _transfer(blurred, psf, otf)
    return apply_half(img, _regularised_inverse(h, gamma * _laplacian_power_half(img.shape[:2])))


def richardson_lucy(blurred, psf=None, *, otf=None, num_iter: int = 30) -> np.ndarray:
    """Richardson-Lucy deconvolution with circular convolution, like the other filters here.

    Multiplicative updates ``f <- f * (h~ * (g / (h * f)))`` from a flat start at the mean of
    ``g``; they keep the estimate non-negative and its sum equal to that of ``g``. The
    number of iterations is the regulariser: more sharpen more, and amplify noise more.

    ``skimage.restoration.richardson_lucy`` is not used because it convolves with zero
    padding and does not renormalise at the border, so border pixels shrink towards 0 with
    every iteration (a flat image of 0.7 blurred by a radius-2 disk has its corner at about
    1e-4 after 20 iterations).

    Parameters
    ----------
    blurred : array_like, shape (H, W) or (H, W, C)
        Non-negative blurred image.
    psf, otf : array_like
        The kernel, as a centred PSF or as an OTF on the image grid (exactly one).
    num_iter : int
        Number of multiplicative updates, >= 1.
    """
    num_iter = _validate.integer(num_iter, "num_iter", minimum=1)
    img, h = _transfer(blurred, psf, otf)
    if np.any(img < 0):
        raise ValueError("blurred must be non-negative for Richardson-Lucy")
    tiny = 1e-12
    estimate = np.full_like(img, max(float(img.mean()), tiny))
    adjoint = np.conj(h)  # the flipped kernel h(-x): the adjoint of the blur
    for _ in range(num_iter):
        predicted = np.maximum(apply_half(estimate, h), tiny)
        estimate = np.maximum(estimate * apply_half(img / predicted, adjoint), 0.0)
    return estimate


def mirrored_restore(method, blurred, psf, **options) -> np.ndarray:
    """Apply a circular-convolution restoration to a mirrored extension of ``blurred``; crop back.

    ``method(image, psf, **options)`` is e.g. :func:`wiener_filter`. The
    extension (by the kernel's radius, ``numpy.pad`` mode ``"symmetric"``) stands in for the
    scene outside the frame, which the method cannot know. The result is clipped to [0, 1].
    """
    img = _validate.image(blurred)
    k = _validate.psf(psf)
    r = k.shape[0] // 2
    c = k.shape[1] // 2
    if r == 0 and c == 0:
        return np.clip(method(img, k, **options), 0.0, 1.0)
    widths = [(r, r), (c, c)] + [(0, 0)] * (img.ndim - 2)
    out = method(np.pad(img, widths, mode="symmetric"), k, **options)
    return np.clip(out[r : r + img.shape[0], c : c + img.shape[1]], 0.0, 1.0)


def estimate_nsr(blurred, noise_sigma: float) -> float:
    """Constant noise-to-signal power ratio ``noise_sigma^2 / var(blurred)`` for :func:`wiener_filter`.

    Parameters
    ----------
    blurred : array_like
        The observed image (its variance stands in for the unknown signal power).
    noise_sigma : float
        Standard deviation of the additive noise, >= 0, in intensity units.
    """
    img = _validate.image(blurred, "blurred")
    noise_sigma = _validate.positive_scalar(noise_sigma, "noise_sigma", allow_zero=True)
    var = float(img.var())
    if var == 0:
        raise ValueError("blurred is constant: its signal power is zero")
    return noise_sigma**2 / var


def wiener_restore(blurred, a, *, nsr: float, exposure: float = DEFAULT_EXPOSURE, pad: int = 0) -> np.ndarray:
    """Wiener restoration built on the closed-form transfer function of ``a = (a_x, a_y)``.

    Parameters
    ----------
    blurred : ndarray, shape (H, W)
        Blurred grey image.
    a : (float, float)
        Accelerations the filter assumes (true or estimated).
    nsr : float
        Noise-to-signal power ratio, > 0.
    exposure : float
        Exposure time ``T``.
    pad : int
        Mirror-pad the image by this many pixels before filtering and crop after (a camera's
        image is not periodic; padding keeps the circular filter's wrap-around off the image).
    """

    img = _validate.array(blurred, "blurred", ndim=2)
    pad = _validate.integer(pad, "pad", minimum=0)
    padded = np.pad(img, pad, mode="symmetric") if pad else np.asarray(img, float)
    h = acceleration_otf(a[0], a[1], exposure, padded.shape)
    out = wiener_filter(padded, otf=h, nsr=nsr)
    return out[pad : pad + img.shape[0], pad : pad + img.shape[1]] if pad else out
