"""Non-blind restoration: inverse, pseudo-inverse, Wiener, constrained least squares, Richardson-Lucy.

All five work in the frequency domain and assume circular convolution
(:func:`deblurkit.blur.blur` with ``mode="wrap"``). Each takes the kernel either as a
centred ``psf`` or directly as an ``otf`` on the image grid (exactly one of the two), so a
closed-form transfer function such as :func:`deblurkit.otf.acceleration_otf` can be used
without rasterising it.

Unlike ``skimage.restoration.wiener`` (a constrained-least-squares filter with a Laplacian
regulariser unless ``reg`` is given, whose output is clipped to [-1, 1]), :func:`wiener_filter`
here is the textbook constant-NSR Wiener filter and never clips.
"""

from __future__ import annotations

import numpy as np

from . import _validate
from .otf import apply_transfer, laplacian_otf, psf_to_otf


def _transfer(blurred, psf, otf) -> tuple[np.ndarray, np.ndarray]:
    img = _validate.image(blurred, "blurred")
    if (psf is None) == (otf is None):
        raise ValueError("give exactly one of psf or otf")
    if otf is None:
        return img, psf_to_otf(psf, img.shape[:2])
    return img, _validate.transfer(otf, "otf", img.shape[:2])


def inverse_filter(blurred, psf=None, *, otf=None) -> np.ndarray:
    """Plain inverse filter ``F = G / H``.

    Frequencies where ``H`` is exactly zero carry no information and are set to zero;
    everywhere else the division is done, however small ``|H|`` is, so noise is amplified
    without limit. That is the point of showing it.
    """
    img, h = _transfer(blurred, psf, otf)
    inv = np.zeros_like(h)
    nz = h != 0
    inv[nz] = 1.0 / h[nz]
    return apply_transfer(img, inv)


def pseudo_inverse_filter(blurred, psf=None, *, otf=None, threshold: float = 0.1) -> np.ndarray:
    """Thresholded inverse: ``1/H`` where ``|H| > threshold``, 0 elsewhere.

    Parameters
    ----------
    threshold : float
        Cut-off on ``|H|`` in (0, 1]; frequencies whose gain is at or below it are dropped.
    """
    threshold = _validate.positive_scalar(threshold, "threshold")
    img, h = _transfer(blurred, psf, otf)
    inv = np.zeros_like(h)
    keep = np.abs(h) > threshold
    inv[keep] = 1.0 / h[keep]
    return apply_transfer(img, inv)


def wiener_filter(blurred, psf=None, *, otf=None, nsr: float) -> np.ndarray:
    """Wiener filter with a constant noise-to-signal power ratio: ``conj(H) / (|H|^2 + nsr)``.

    Parameters
    ----------
    nsr : float
        Noise-to-signal power ratio, >= 0 (0 is the inverse filter); see :func:`estimate_nsr`.
    """
    nsr = _validate.positive_scalar(nsr, "nsr", allow_zero=True)
    img, h = _transfer(blurred, psf, otf)
    denom = np.abs(h) ** 2 + nsr
    filt = np.zeros_like(h)
    nz = denom > 0
    filt[nz] = np.conj(h[nz]) / denom[nz]
    return apply_transfer(img, filt)


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
    denom = np.abs(h) ** 2 + gamma * np.abs(laplacian_otf(img.shape[:2])) ** 2
    filt = np.zeros_like(h)
    nz = denom > 0
    filt[nz] = np.conj(h[nz]) / denom[nz]
    return apply_transfer(img, filt)


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
    adjoint = np.conj(h)
    for _ in range(num_iter):
        predicted = np.maximum(apply_transfer(estimate, h), tiny)
        estimate = np.maximum(estimate * apply_transfer(img / predicted, adjoint), 0.0)
    return estimate


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
