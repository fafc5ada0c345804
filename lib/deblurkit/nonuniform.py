"""Non-uniform blur as a per-pixel mixture of a few kernels (Carbajal et al.'s forward model).

A blurred image is ``y = sum_b m_b * (k_b conv x)``: ``B`` kernels ``k_b`` (each non-negative,
summing to one) blur the whole image, and non-negative weights ``m_b(p)`` that sum to one at
every pixel ``p`` mix the ``B`` blurred images. Pixel ``p`` is thus blurred by its own kernel
``k(p) = sum_b m_b(p) k_b``. This module holds

- the operator ``A`` and its exact adjoint ``A^T r = sum_b flip(k_b) conv (m_b * r)``, in NumPy
  and in torch (torch is imported only by the ``*_torch`` functions);
- Richardson-Lucy for ``A``, optionally with the total-variation term of Dey et al. (2006),
  in linear ("photon") intensity: images are gamma-decoded before deblurring;
- a generator of synthetic non-uniform blur with its ground truth: a background and one or two
  object regions, each with its own camera-shake kernel;
- kernel errors, the best single (uniform) kernel, and a drawing of the per-pixel kernel field;
- a reader for the Koehler et al. (2012) benchmark's folder layout, used when it is on disk.

Boundaries are explicit. ``mode="valid"``: the sharp image is larger than the blurred one by
``K - 1`` pixels in each direction (``K`` the kernel side), as for training crops cut from a
bigger picture: no assumption about what lies outside the frame. ``mode="same"``: the sharp
image has the blurred image's size and is extended by reflection (``numpy.pad(...,
mode="reflect")``), the assumption a deblurring method has to make at inference.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import scipy.fft
from scipy import ndimage

from . import _validate

#: Boundary modes of the operator (see the module docstring).
MODES = ("valid", "same")

#: Display gamma of the bundled 8-bit images: linear intensity = encoded ** GAMMA.
GAMMA = 2.2

_WEIGHT_SUM_TOLERANCE = 1e-4


# ---------------------------------------------------------------------------------------------
# Input checks


def _kernels(kernels, name: str = "kernels") -> np.ndarray:
    k = _validate.array(kernels, name, ndim=3)
    if k.shape[1] != k.shape[2] or k.shape[1] % 2 == 0:
        raise ValueError(f"{name} must be (B, K, K) with K odd, got shape {k.shape}")
    if np.any(k < 0):
        raise ValueError(f"{name} must be non-negative")
    return k


def _weights(weights, basis: int, shape: tuple[int, int], name: str = "weights") -> np.ndarray:
    m = _validate.array(weights, name, ndim=3)
    if m.shape != (basis, *shape):
        raise ValueError(f"{name} must have shape {(basis, *shape)} (one map per kernel), got {m.shape}")
    if m.min() < -_WEIGHT_SUM_TOLERANCE:
        raise ValueError(f"{name} must be non-negative, got a minimum of {m.min():.3g}")
    total = m.sum(axis=0)
    if np.abs(total - 1).max() > _WEIGHT_SUM_TOLERANCE:
        raise ValueError(f"{name} must sum to 1 over the kernels at every pixel, got sums in [{total.min():.4g}, {total.max():.4g}]")
    return m


def _gamma(gamma) -> float:
    return _validate.positive_scalar(gamma, "gamma")


# ---------------------------------------------------------------------------------------------
# The operator A and its adjoint (NumPy)


class NonUniformBlur:
    """The linear operator ``A x = sum_b m_b * (k_b conv x)`` and its exact adjoint.

    Parameters
    ----------
    kernels : array_like, shape (B, K, K)
        Non-negative kernels, ``K`` odd, origin at the centre pixel. Usually each sums to one.
    weights : array_like, shape (B, H, W)
        Mixing weights on the *blurred* image's grid: ``>= 0`` and summing to 1 over ``b`` at
        every pixel (to within 1e-4).
    mode : {"valid", "same"}
        ``"valid"``: ``A`` maps a sharp ``(H + K - 1, W + K - 1)`` image to ``(H, W)``.
        ``"same"``: ``A`` maps ``(H, W)`` to ``(H, W)``, the sharp image extended by
        reflection (needs ``H, W > K // 2``).

    Notes
    -----
    Convolutions are done with real FFTs on the padded grid ``(H + K - 1, W + K - 1)``, on
    which the circular convolution equals the linear one where it is read, so the result is
    the linear convolution to rounding error. The adjoint is ``P^T sum_b C_b^T (m_b * r)``
    with ``C_b^T`` the correlation with ``k_b`` (the convolution with ``flip(k_b)``) and
    ``P^T`` the transpose of the reflection padding, which adds each mirrored pixel back onto
    the pixel it copies.
    """

    def __init__(self, kernels, weights, *, mode: str = "same") -> None:
        _validate.choice(mode, "mode", set(MODES))
        self.kernels = _kernels(kernels)
        basis, size = self.kernels.shape[0], self.kernels.shape[1]
        w = _validate.array(weights, "weights", ndim=3)
        self.weights = _weights(w, basis, w.shape[1:])
        self.mode = mode
        self.shape_out = self.weights.shape[1:]
        self.pad = size // 2
        h, w_ = self.shape_out
        self.shape_padded = (h + size - 1, w_ + size - 1)
        if mode == "same":
            if min(h, w_) <= self.pad:
                raise ValueError(f"weights of shape {self.weights.shape} are too small for reflection padding by {self.pad} px")
            self.shape_in = self.shape_out
            index = np.arange(h * w_).reshape(h, w_)
            self._pad_index = np.pad(index, self.pad, mode="reflect")
        else:
            self.shape_in = self.shape_padded
        embedded = np.zeros((basis, *self.shape_padded))
        embedded[:, :size, :size] = self.kernels
        self._kernel_ft = scipy.fft.rfft2(embedded)

    # reflection padding and its transpose
    def _extend(self, x: np.ndarray) -> np.ndarray:
        return x if self.mode == "valid" else x.ravel()[self._pad_index]

    def _extend_adjoint(self, z: np.ndarray) -> np.ndarray:
        if self.mode == "valid":
            return z
        flat = np.bincount(self._pad_index.ravel(), weights=z.ravel(), minlength=int(np.prod(self.shape_out)))
        return flat.reshape(self.shape_out)

    def _check(self, x, name: str, shape) -> np.ndarray:
        x = _validate.array(x, name, ndim=2)
        if x.shape != tuple(shape):
            raise ValueError(f"{name} must have shape {tuple(shape)} for this operator (mode={self.mode!r}), got {x.shape}")
        return x

    def blurred_components(self, image) -> np.ndarray:
        """``k_b conv x`` for every ``b`` on the output grid, before weighting: ``(B, H, W)``."""
        x = self._extend(self._check(image, "image", self.shape_in))
        full = scipy.fft.irfft2(scipy.fft.rfft2(x)[None] * self._kernel_ft, s=self.shape_padded)
        size = self.kernels.shape[1]
        return full[:, size - 1 :, size - 1 :]

    def forward(self, image) -> np.ndarray:
        """``A x``: the blurred image, shape ``(H, W)``."""
        return np.einsum("bhw,bhw->hw", self.weights, self.blurred_components(image))

    def adjoint(self, residual) -> np.ndarray:
        """``A^T r = P^T sum_b flip(k_b) conv (m_b * r)``, shape of the sharp image."""
        r = self._check(residual, "residual", self.shape_out)
        size = self.kernels.shape[1]
        embedded = np.zeros((self.kernels.shape[0], *self.shape_padded))
        embedded[:, size - 1 :, size - 1 :] = self.weights * r
        summed = (scipy.fft.rfft2(embedded) * np.conj(self._kernel_ft)).sum(axis=0)
        return self._extend_adjoint(scipy.fft.irfft2(summed, s=self.shape_padded))

    def approximate_adjoint(self, residual) -> np.ndarray:
        """``sum_b m_b * (flip(k_b) conv r)``, reflection at the border (mode "same" only).

        The weights applied *after* the flipped convolution, as in the authors' published
        Richardson-Lucy code: not the adjoint of :meth:`forward` where the weights vary within
        a kernel's reach (shown by :func:`adjoint_error`).
        """
        if self.mode != "same":
            raise ValueError("approximate_adjoint is defined for mode='same' only")
        flipped = NonUniformBlur(self.kernels[:, ::-1, ::-1], self.weights, mode="same")
        return flipped.forward(self._check(residual, "residual", self.shape_out))


def blur_nonuniform(image, kernels, weights, *, mode: str = "same") -> np.ndarray:
    """Blur ``image`` with the per-pixel mixture ``sum_b m_b * (k_b conv image)``.

    Parameters
    ----------
    image : array_like, shape (H + K - 1, W + K - 1) for "valid", (H, W) for "same"
        Sharp grey image (any intensity scale; blur linear intensities, see :func:`gamma_decode`).
    kernels : array_like, shape (B, K, K)
        Non-negative kernels, ``K`` odd, origin at the centre pixel.
    weights : array_like, shape (B, H, W)
        Non-negative weights summing to one over ``b`` at every pixel.
    mode : {"valid", "same"}
        Boundary handling, see :class:`NonUniformBlur`.

    Returns
    -------
    ndarray, shape (H, W)
    """
    return NonUniformBlur(kernels, weights, mode=mode).forward(image)


def adjoint_error(operator: NonUniformBlur, rng=None, *, approximate: bool = False) -> float:
    """Relative error of the dot-product test ``<A x, r> = <x, A^T r>`` for random ``x, r``.

    Parameters
    ----------
    operator : NonUniformBlur
        The operator to test.
    rng : int, numpy.random.Generator or None
        Seed for the random ``x`` and ``r`` (uniform in [0, 1)).
    approximate : bool
        Test :meth:`NonUniformBlur.approximate_adjoint` instead of the exact adjoint.

    Returns
    -------
    float
        ``|<A x, r> - <x, A^T r>| / |<A x, r>|``: about 1e-16 for an exact adjoint in float64.
    """
    if not isinstance(operator, NonUniformBlur):
        raise TypeError(f"operator must be a NonUniformBlur, got {type(operator).__name__}")
    gen = _validate.rng(rng)
    x = gen.uniform(size=operator.shape_in)
    r = gen.uniform(size=operator.shape_out)
    back = operator.approximate_adjoint(r) if approximate else operator.adjoint(r)
    lhs = float(np.vdot(operator.forward(x), r))
    return abs(lhs - float(np.vdot(x, back))) / abs(lhs)


# ---------------------------------------------------------------------------------------------
# Gamma, Richardson-Lucy


def gamma_decode(image, gamma: float = GAMMA) -> np.ndarray:
    """Display values in [0, 1] to linear intensity: ``clip(image, 0, 1) ** gamma``."""
    return np.clip(_validate.array(image, "image"), 0.0, 1.0) ** _gamma(gamma)


def gamma_encode(image, gamma: float = GAMMA) -> np.ndarray:
    """Linear intensity in [0, 1] to display values: ``clip(image, 0, 1) ** (1 / gamma)``."""
    return np.clip(_validate.array(image, "image"), 0.0, 1.0) ** (1.0 / _gamma(gamma))


def tv_divergence(image, *, eps: float = 1e-4) -> np.ndarray:
    """``div(grad u / |grad u|)``, the (negative) gradient of total variation, Dey et al.'s term.

    Forward differences with a replicated border for the gradient, the matching backward
    differences for the divergence; ``|grad u|`` is smoothed as ``sqrt(|grad u|^2 + eps^2)``.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Intensities in [0, 1].
    eps : float
        Smoothing of the gradient magnitude, > 0, in intensity units per pixel.
    """
    u = _validate.array(image, "image", ndim=2)
    eps = _validate.positive_scalar(eps, "eps")
    gx = np.diff(u, axis=1, append=u[:, -1:])
    gy = np.diff(u, axis=0, append=u[-1:, :])
    norm = np.sqrt(gx**2 + gy**2 + eps**2)
    nx, ny = gx / norm, gy / norm
    div_x = np.diff(nx, axis=1, prepend=0.0)
    div_y = np.diff(ny, axis=0, prepend=0.0)
    div_x[:, -1] = -nx[:, -2] if u.shape[1] > 1 else 0.0
    div_y[-1, :] = -ny[-2, :] if u.shape[0] > 1 else 0.0
    return div_x + div_y


def richardson_lucy_nonuniform(
    blurred,
    kernels,
    weights,
    *,
    num_iter: int = 30,
    tv_weight: float = 0.0,
    gamma: float = GAMMA,
    record=None,
) -> np.ndarray | dict:
    """Richardson-Lucy deconvolution of a non-uniform blur, optionally with Dey et al.'s TV term.

    In linear intensity ``y = blurred ** gamma``, from the start ``x_0 = y``::

        x <- x * A^T(y / A x) / (A^T 1 - tv_weight * div(grad x / |grad x|))

    with ``A`` the ``"same"`` (reflection) operator of ``kernels`` and ``weights`` and its exact
    adjoint. ``A^T 1`` is not 1 where the weights change, which is why it divides. The result is
    gamma-encoded back and clipped to [0, 1].

    Parameters
    ----------
    blurred : array_like, shape (H, W)
        Observed grey image, gamma-encoded, in [0, 1].
    kernels : array_like, shape (B, K, K)
        Kernels (non-negative, ``K`` odd).
    weights : array_like, shape (B, H, W)
        Per-pixel weights (non-negative, summing to 1 over ``b``).
    num_iter : int
        Number of multiplicative updates, >= 1: the regulariser (more sharpen more and amplify
        noise more).
    tv_weight : float
        Weight of the total-variation term, in [0, 0.05); 0 is plain Richardson-Lucy. Dey et
        al. use about 2e-3; the authors' code 1e-3.
    gamma : float
        Display gamma, > 0 (1 for data that is already linear).
    record : sequence of int, optional
        Iteration counts at which to keep the estimate; then a dict ``{count: image}`` is
        returned (``num_iter`` becomes their maximum), so that one run scores several counts.

    Returns
    -------
    ndarray, shape (H, W), or dict of them
        The restoration, gamma-encoded, in [0, 1].
    """
    y_enc = _validate.array(blurred, "blurred", ndim=2)
    if y_enc.min() < 0 or y_enc.max() > 1:
        raise ValueError(f"blurred must be in [0, 1], got [{y_enc.min():.3g}, {y_enc.max():.3g}]")
    tv_weight = _validate.positive_scalar(tv_weight, "tv_weight", allow_zero=True)
    if tv_weight >= 0.05:
        raise ValueError(f"tv_weight must be in [0, 0.05), got {tv_weight}")
    gamma = _gamma(gamma)
    if record is not None:
        counts = sorted({_validate.integer(n, "record", minimum=1) for n in record})
        if not counts:
            raise ValueError("record must hold at least one iteration count")
        num_iter = counts[-1]
    else:
        counts = []
    num_iter = _validate.integer(num_iter, "num_iter", minimum=1)
    operator = NonUniformBlur(kernels, weights, mode="same")
    if operator.shape_out != y_enc.shape:
        raise ValueError(f"weights must have the blurred image's shape {y_enc.shape}, got {operator.shape_out}")
    tiny = 1e-8
    y = y_enc**gamma
    normaliser = operator.adjoint(np.ones_like(y))
    x = np.maximum(y, tiny)
    kept = {}
    for n in range(1, num_iter + 1):
        ratio = operator.adjoint(y / np.maximum(operator.forward(x), tiny))
        denominator = normaliser - tv_weight * tv_divergence(x) if tv_weight else normaliser
        x = np.maximum(x * ratio / np.maximum(denominator, tiny), tiny)
        if n in counts:
            kept[n] = gamma_encode(x, gamma)
    return kept if record is not None else gamma_encode(x, gamma)


def gaussian_mixture(sigma_map, levels, *, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A per-pixel Gaussian blur (a σ-map) as kernels and weights of this module's operator.

    Each pixel's kernel is the linear interpolation between the Gaussians of the two
    ``levels`` that bracket its σ (hat-function weights, which are non-negative and sum to one),
    so a σ-map estimated by a network can be deblurred by :func:`richardson_lucy_nonuniform`.
    The same interpolation (:func:`deblurkit.blur.ladder_weights`) as
    :func:`deblurkit.blur.gaussian_blur_sigma_map`, applied to the kernels instead of the
    blurred images.

    Parameters
    ----------
    sigma_map : array_like, shape (H, W)
        Gaussian standard deviation per pixel, in pixels, >= 0; values outside the levels'
        range take the nearest level.
    levels : array_like, shape (B,)
        Strictly increasing σ of the basis kernels, in pixels, >= 0.
    size : int, optional
        Odd side of the kernels; by default the one :func:`deblurkit.psf.gaussian_psf` gives the
        largest level.

    Returns
    -------
    kernels : ndarray, shape (B, size, size)
    weights : ndarray, shape (B, H, W)
    """
    from .blur import ladder_weights
    from .psf import gaussian_psf

    smap = _validate.array(sigma_map, "sigma_map", ndim=2)
    if smap.min() < 0:
        raise ValueError(f"sigma_map must be >= 0, got a minimum of {smap.min():.3g}")
    lv = _validate.array(levels, "levels", ndim=1)
    if lv.size < 1 or lv[0] < 0 or np.any(np.diff(lv) <= 0):
        raise ValueError(f"levels must be non-negative and strictly increasing, got {lv}")
    if size is None:
        size = gaussian_psf(float(lv[-1])).shape[0]
    size = _validate.integer(size, "size", minimum=1)
    if size % 2 == 0:
        raise ValueError(f"size must be odd, got {size}")
    kernels = np.stack([gaussian_psf(float(s), size=size) for s in lv])
    return kernels, ladder_weights(smap, lv)


# ---------------------------------------------------------------------------------------------
# Kernel fields, errors and the uniform baseline


def _pad_kernels(k: np.ndarray, size: int) -> np.ndarray:
    extra = (size - k.shape[1]) // 2
    return np.pad(k, ((0, 0), (extra, extra), (extra, extra)))


def per_pixel_kernels(kernels, weights, *, rows=None, cols=None) -> np.ndarray:
    """The kernel of each pixel, ``k(p) = sum_b m_b(p) k_b``, at the given pixels.

    Parameters
    ----------
    kernels : array_like, shape (B, K, K)
    weights : array_like, shape (B, H, W)
    rows, cols : array_like of int, optional
        Pixel indices (broadcast together); all pixels when omitted (memory ``H W K^2``).

    Returns
    -------
    ndarray, shape (..., K, K)
    """
    k = _kernels(kernels)
    m = _validate.array(weights, "weights", ndim=3)
    if m.shape[0] != k.shape[0]:
        raise ValueError(f"weights must have {k.shape[0]} maps (one per kernel), got {m.shape[0]}")
    if rows is None and cols is None:
        picked = m
    else:
        picked = m[:, np.asarray(rows), np.asarray(cols)]
    return np.tensordot(np.moveaxis(picked, 0, -1), k, axes=1)


def kernel_error(kernels_a, weights_a, kernels_b, weights_b) -> float:
    """Mean over pixels of ``||k_a(p) - k_b(p)||^2``, the squared L2 distance of per-pixel kernels.

    Computed exactly from Gram matrices of the kernels (no per-pixel kernel is formed); kernels
    of different odd sizes are compared after zero-padding the smaller to the larger.

    Parameters
    ----------
    kernels_a, kernels_b : array_like, shapes (B_a, K_a, K_a) and (B_b, K_b, K_b)
    weights_a, weights_b : array_like, shapes (B_a, H, W) and (B_b, H, W)

    Returns
    -------
    float
        Mean squared distance, in (kernel units)^2; kernels that sum to one have
        ``||k||^2 <= 1``.
    """
    ka, kb = _kernels(kernels_a, "kernels_a"), _kernels(kernels_b, "kernels_b")
    ma = _validate.array(weights_a, "weights_a", ndim=3)
    mb = _validate.array(weights_b, "weights_b", ndim=3)
    if ma.shape[1:] != mb.shape[1:] or ma.shape[0] != ka.shape[0] or mb.shape[0] != kb.shape[0]:
        raise ValueError(f"weights_a {ma.shape} and weights_b {mb.shape} must cover the same pixels, one map per kernel")
    size = max(ka.shape[1], kb.shape[1])
    fa = _pad_kernels(ka, size).reshape(len(ka), -1)
    fb = _pad_kernels(kb, size).reshape(len(kb), -1)
    ma, mb = ma.reshape(len(ka), -1), mb.reshape(len(kb), -1)
    aa = np.einsum("ip,ij,jp->p", ma, fa @ fa.T, ma)
    bb = np.einsum("ip,ij,jp->p", mb, fb @ fb.T, mb)
    ab = np.einsum("ip,ij,jp->p", ma, fa @ fb.T, mb)
    return float(np.mean(np.maximum(aa + bb - 2 * ab, 0.0)))


def best_single_kernel(kernels, weights) -> np.ndarray:
    """The one kernel closest to all per-pixel kernels in mean squared error: their average.

    This is the uniform-blur assumption at its best (fitted to the true kernels, which no
    blind method knows): ``argmin_k mean_p ||k - k(p)||^2 = sum_b mean(m_b) k_b``.

    Returns
    -------
    ndarray, shape (K, K)
    """
    k = _kernels(kernels)
    m = _validate.array(weights, "weights", ndim=3)
    if m.shape[0] != k.shape[0]:
        raise ValueError(f"weights must have {k.shape[0]} maps (one per kernel), got {m.shape[0]}")
    return np.tensordot(m.mean(axis=(1, 2)), k, axes=1)


def uniform_kernel_error(kernel, kernels, weights) -> float:
    """:func:`kernel_error` of one ``kernel`` used at every pixel, against the per-pixel kernels
    ``sum_b weights_b kernels_b``: the score of a uniform-blur assumption.

    Parameters
    ----------
    kernel : array_like, shape (K, K)
    kernels : array_like, shape (B, K', K')
    weights : array_like, shape (B, H, W)
    """
    k = _validate.array(kernel, "kernel", ndim=2)
    m = _validate.array(weights, "weights", ndim=3)
    return kernel_error(k[None], np.ones((1, *m.shape[1:])), kernels, m)


def kernel_field(image, kernels, weights, *, step: int = 16, dim: float = 0.35) -> np.ndarray:
    """An RGB picture of the per-pixel kernel field: small kernels drawn over a dimmed image.

    At every ``step``-th pixel (grid offset ``step // 2``) the kernel ``k(p)`` of that pixel,
    scaled to its maximum, is painted in yellow over the grey image, so that the drawing shows
    how the blur changes across the picture (the signature figure of Carbajal et al.).

    Parameters
    ----------
    image : array_like, shape (H, W)
        Grey image in [0, 1] to draw under the kernels.
    kernels : array_like, shape (B, K, K)
    weights : array_like, shape (B, H, W)
    step : int
        Grid spacing in pixels, >= 1; kernels larger than ``step`` are cropped to it.
    dim : float
        Brightness of the image under the kernels, in (0, 1].

    Returns
    -------
    ndarray, shape (H, W, 3), values in [0, 1]
    """
    img = _validate.array(image, "image", ndim=2)
    k = _kernels(kernels)
    m = _weights(weights, k.shape[0], img.shape)
    step = _validate.integer(step, "step", minimum=1)
    dim = _validate.positive_scalar(dim, "dim")
    rgb = np.repeat((dim * np.clip(img, 0, 1))[..., None], 3, axis=2)
    half = min(k.shape[1] // 2, (step - 1) // 2)
    centre = k.shape[1] // 2
    rows = np.arange(step // 2, img.shape[0], step)
    cols = np.arange(step // 2, img.shape[1], step)
    fields = per_pixel_kernels(k, m, rows=rows[:, None], cols=cols[None, :])
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            kk = fields[i, j, centre - half : centre + half + 1, centre - half : centre + half + 1]
            kk = kk / max(kk.max(), 1e-12)
            r0, r1 = max(r - half, 0), min(r + half + 1, img.shape[0])
            c0, c1 = max(c - half, 0), min(c + half + 1, img.shape[1])
            patch = kk[r0 - (r - half) : kk.shape[0] - (r + half + 1 - r1), c0 - (c - half) : kk.shape[1] - (c + half + 1 - c1)]
            region = rgb[r0:r1, c0:c1]
            region[..., 0] = np.maximum(region[..., 0], patch)
            region[..., 1] = np.maximum(region[..., 1], 0.85 * patch)
    return np.clip(rgb, 0, 1)


# ---------------------------------------------------------------------------------------------
# Synthetic non-uniform blur with ground truth


def random_shake_kernel(size: int, rng=None, *, min_length: float = 3.0, max_length: float | None = None) -> np.ndarray:
    """A random camera-shake kernel that fits a ``size`` x ``size`` array.

    A trajectory from :func:`deblurkit.psf.random_trajectory` (500 steps) of length drawn
    uniformly in ``[min_length, max_length]`` pixels, shrunk if needed so that it reaches at most
    ``(size - 3) / 2`` pixels from its centroid, rasterised by :func:`deblurkit.psf.trajectory_psf`.

    Parameters
    ----------
    size : int
        Odd side in pixels, >= 5.
    rng : int, numpy.random.Generator or None
        Seed or generator.
    min_length, max_length : float
        Range of the path length in pixels, ``0 < min_length <= max_length``; ``max_length``
        defaults to ``size - 1``.

    Returns
    -------
    ndarray, shape (size, size)
        Non-negative, sums to one, centroid at the centre pixel.
    """
    from .psf import random_trajectory, trajectory_psf

    size = _validate.integer(size, "size", minimum=5)
    if size % 2 == 0:
        raise ValueError(f"size must be odd, got {size}")
    gen = _validate.rng(rng)
    min_length = _validate.positive_scalar(min_length, "min_length")
    max_length = float(size - 1) if max_length is None else _validate.positive_scalar(max_length, "max_length")
    if max_length < min_length:
        raise ValueError(f"max_length must be >= min_length, got {max_length} < {min_length}")
    path = random_trajectory(gen, steps=500, max_length=gen.uniform(min_length, max_length))
    centred = path - path.mean()
    reach = max(np.abs(centred.real).max(), np.abs(centred.imag).max(), 1e-9)
    limit = (size - 3) / 2
    if reach > limit:
        path = path * (limit / reach)
    return trajectory_psf(path, size=size)


def shake_kernel_bank(count: int, size: int, rng=None, *, min_length: float = 3.0, max_length: float | None = None) -> np.ndarray:
    """``count`` camera-shake kernels drawn once, for :func:`nonuniform_blur_example`'s
    ``kernel_bank``: a fixed vocabulary of blurs (a narrower task than fresh trajectories).

    Parameters
    ----------
    count : int
        Number of kernels, >= 2.
    size : int
        Odd side in pixels, >= 5.
    rng : int, numpy.random.Generator or None
        Seed or generator.
    min_length, max_length : float
        Range of the path lengths in pixels (see :func:`random_shake_kernel`).

    Returns
    -------
    ndarray, shape (count, size, size)
        Each non-negative, summing to one, centroid at the centre pixel.
    """
    count = _validate.integer(count, "count", minimum=2)
    gen = _validate.rng(rng)
    return np.stack([random_shake_kernel(size, gen, min_length=min_length, max_length=max_length) for _ in range(count)])


def random_region_masks(shape, objects: int, rng=None, *, area=(0.15, 0.4), smoothness: float = 0.15) -> np.ndarray:
    """A background and ``objects`` smooth random regions that partition an image.

    Each object is a thresholded Gaussian-smoothed white-noise field (a smooth random blob
    shape, possibly in several pieces) covering a fraction of the image drawn uniformly in
    ``area``; later objects occlude earlier ones; the background is what is left.

    Parameters
    ----------
    shape : (int, int)
        Image shape in pixels.
    objects : int
        Number of object regions, >= 0.
    rng : int, numpy.random.Generator or None
        Seed or generator.
    area : (float, float)
        Range of each object's area fraction, within (0, 1).
    smoothness : float
        Standard deviation of the smoothing, as a fraction of the smaller side, > 0.

    Returns
    -------
    ndarray of float, shape (objects + 1, H, W)
        Binary masks (background first) summing to 1 at every pixel.
    """
    if len(tuple(shape)) != 2:
        raise ValueError(f"shape must be (rows, cols), got {shape!r}")
    rows = _validate.integer(shape[0], "shape[0]", minimum=1)
    cols = _validate.integer(shape[1], "shape[1]", minimum=1)
    objects = _validate.integer(objects, "objects", minimum=0)
    lo, hi = (_validate.real_scalar(a, "area") for a in area)
    if not 0 < lo <= hi < 1:
        raise ValueError(f"area must be a range within (0, 1), got {area}")
    smoothness = _validate.positive_scalar(smoothness, "smoothness")
    gen = _validate.rng(rng)
    label = np.zeros((rows, cols), dtype=int)
    for obj in range(1, objects + 1):
        field = ndimage.gaussian_filter(gen.standard_normal((rows, cols)), smoothness * min(rows, cols), mode="wrap")
        label[field > np.quantile(field, 1 - gen.uniform(lo, hi))] = obj
    return np.stack([(label == r).astype(float) for r in range(objects + 1)])


def nonuniform_blur_example(
    sharp,
    *,
    kernel_size: int,
    rng=None,
    objects: int | None = None,
    slots: int = 3,
    min_length: float = 3.0,
    max_length: float | None = None,
    noise_sigma: float = 0.005,
    gamma: float = GAMMA,
    kernel_bank=None,
) -> dict:
    """One synthetic non-uniformly blurred image with its ground truth.

    A background kernel and one or two object regions (:func:`random_region_masks`), each
    with its own camera-shake kernel (:func:`random_shake_kernel`). Each region's binary mask
    is blurred by that region's kernel and the blurred masks are renormalised to sum to one:
    these are the true weights ``m_c``, so that the blurred image is exactly
    ``sum_c m_c * (k_c conv x)`` and the true kernel of every pixel is ``sum_c m_c k_c``. The
    blur is done in linear intensity (``sharp ** gamma``), in the image domain with the
    rasterised kernels and ``mode="valid"`` (the sharp picture is larger than the blurred one,
    no boundary is assumed); white Gaussian noise of ``noise_sigma`` (linear intensity) is
    added, the result clipped to [0, 1] and gamma-encoded.

    Parameters
    ----------
    sharp : array_like, shape (H + K - 1, W + K - 1)
        Grey sharp picture in [0, 1] (gamma-encoded, as stored).
    kernel_size : int
        ``K``, odd, >= 5.
    rng : int, numpy.random.Generator or None
        Seed or generator.
    objects : int, optional
        Number of object regions, 0 to ``slots - 1``; by default 1 or 2 at random.
    slots : int
        Number of kernel slots returned (>= 2); unused slots hold a centred delta with weight 0.
    min_length, max_length : float
        Range of trajectory lengths in pixels (see :func:`random_shake_kernel`).
    noise_sigma : float
        Standard deviation of the noise in linear intensity, >= 0.
    gamma : float
        Display gamma, > 0.
    kernel_bank : array_like, shape (n, K, K), optional
        Draw the regions' kernels from these ``n >= objects + 1`` kernels (distinct ones per
        image) instead of drawing fresh trajectories: a narrower task, for small budgets.

    Returns
    -------
    dict
        ``"sharp"`` (H, W): the part of ``sharp`` the blurred image sees, gamma-encoded;
        ``"blurred"`` (H, W), gamma-encoded; ``"kernels"`` (slots, K, K); ``"weights"``
        (slots, H, W); ``"objects"``: the number of object regions.
    """
    img = _validate.array(sharp, "sharp", ndim=2)
    size = _validate.integer(kernel_size, "kernel_size", minimum=5)
    if size % 2 == 0:
        raise ValueError(f"kernel_size must be odd, got {size}")
    rows, cols = img.shape[0] - size + 1, img.shape[1] - size + 1
    if min(rows, cols) < 8:
        raise ValueError(f"sharp of shape {img.shape} leaves less than 8 px after a {size}-px valid blur")
    slots = _validate.integer(slots, "slots", minimum=2)
    gen = _validate.rng(rng)
    if objects is None:
        objects = int(gen.integers(1, min(2, slots - 1) + 1))
    objects = _validate.integer(objects, "objects", minimum=0)
    if objects > slots - 1:
        raise ValueError(f"objects must be at most slots - 1 = {slots - 1}, got {objects}")
    noise_sigma = _validate.positive_scalar(noise_sigma, "noise_sigma", allow_zero=True)
    gamma = _gamma(gamma)
    masks = random_region_masks(img.shape, objects, gen)
    kernels = np.zeros((slots, size, size))
    kernels[:, size // 2, size // 2] = 1.0
    if kernel_bank is not None:
        bank = _kernels(kernel_bank, "kernel_bank")
        if bank.shape[1] != size or len(bank) < objects + 1:
            raise ValueError(f"kernel_bank must hold at least {objects + 1} kernels of {size}x{size}, got shape {bank.shape}")
        kernels[: objects + 1] = bank[gen.choice(len(bank), size=objects + 1, replace=False)]
    else:
        for c in range(objects + 1):
            kernels[c] = random_shake_kernel(size, gen, min_length=min_length, max_length=max_length)
    blurred_masks = np.stack([NonUniformBlur(kernels[c : c + 1], np.ones((1, rows, cols)), mode="valid").forward(masks[c]) for c in range(objects + 1)])
    blurred_masks = np.maximum(blurred_masks, 0.0)
    total = blurred_masks.sum(axis=0)
    # where no blurred mask reaches (possible only at thin gaps) the unblurred partition decides
    centre = masks[:, size // 2 : size // 2 + rows, size // 2 : size // 2 + cols]
    weights = np.zeros((slots, rows, cols))
    weights[: objects + 1] = np.where(total > 1e-6, blurred_masks / np.maximum(total, 1e-12), centre)
    linear = gamma_decode(img, gamma)
    blurred = NonUniformBlur(kernels, weights, mode="valid").forward(linear)
    blurred = blurred + noise_sigma * gen.standard_normal(blurred.shape)
    return {
        "sharp": img[size // 2 : size // 2 + rows, size // 2 : size // 2 + cols].copy(),
        "blurred": gamma_encode(blurred, gamma),
        "kernels": kernels,
        "weights": weights,
        "objects": objects,
    }


def nonuniform_blur_dataset(images, count: int, *, crop_size: int, kernel_size: int, rng=None, **options) -> dict:
    """``count`` random crops of ``images``, each blurred by :func:`nonuniform_blur_example`.

    Parameters
    ----------
    images : sequence of ndarray, each (H, W)
        Grey sharp source pictures in [0, 1], each at least ``crop_size + kernel_size - 1`` on
        each side (draw them from one split of :func:`deblurkit.data.split_names` only).
    count : int
        Number of samples, >= 1.
    crop_size : int
        Side of the blurred crops in pixels, >= 8.
    kernel_size : int
        Odd kernel side ``K``, >= 5.
    rng : int, numpy.random.Generator or None
        Seed or generator: the same seed gives the same data set.
    **options
        Passed to :func:`nonuniform_blur_example` (``slots``, ``min_length``, ``max_length``,
        ``noise_sigma``, ``gamma``, ``objects``, ``kernel_bank``).

    Returns
    -------
    dict
        ``"sharp_padded"`` (count, S + K - 1, S + K - 1): the sharp crops the blur saw
        (gamma-encoded); ``"sharp"`` and ``"blurred"`` (count, S, S); ``"kernels"``
        (count, slots, K, K); ``"weights"`` (count, slots, S, S); ``"source"``: index of the
        source picture; all arrays ``float32`` except ``"source"``.
    """
    if len(images) == 0:
        raise ValueError("images must hold at least one picture")
    sources = [_validate.array(img, f"images[{i}]", ndim=2) for i, img in enumerate(images)]
    count = _validate.integer(count, "count", minimum=1)
    crop = _validate.integer(crop_size, "crop_size", minimum=8)
    size = _validate.integer(kernel_size, "kernel_size", minimum=5)
    padded = crop + size - 1
    for i, img in enumerate(sources):
        if min(img.shape) < padded:
            raise ValueError(f"images[{i}] of shape {img.shape} is smaller than crop_size + kernel_size - 1 = {padded}")
    gen = _validate.rng(rng)
    out = {"sharp_padded": [], "sharp": [], "blurred": [], "kernels": [], "weights": [], "source": []}
    for _ in range(count):
        s = int(gen.integers(len(sources)))
        r = int(gen.integers(sources[s].shape[0] - padded + 1))
        c = int(gen.integers(sources[s].shape[1] - padded + 1))
        window = sources[s][r : r + padded, c : c + padded]
        example = nonuniform_blur_example(window, kernel_size=size, rng=gen, **options)
        out["sharp_padded"].append(window)
        for key in ("sharp", "blurred", "kernels", "weights"):
            out[key].append(example[key])
        out["source"].append(s)
    result = {k: np.stack(v).astype(np.float32) for k, v in out.items() if k != "source"}
    result["source"] = np.array(out["source"])
    return result


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


# ---------------------------------------------------------------------------------------------
# The operator in torch (imported only here), for training


def blur_nonuniform_torch(images, kernels, weights, *, mode: str = "valid"):
    """``sum_b m_b * (k_b conv x)`` for a batch, in torch (differentiable).

    Parameters
    ----------
    images : torch.Tensor, shape (N, 1, H + K - 1, W + K - 1) for "valid", (N, 1, H, W) for "same"
        Sharp grey images (linear intensity).
    kernels : torch.Tensor, shape (N, B, K, K)
        One set of ``B`` kernels per image, ``K`` odd.
    weights : torch.Tensor, shape (N, B, H, W)
        Per-pixel weights.
    mode : {"valid", "same"}
        As in :class:`NonUniformBlur` ("same" pads by reflection).

    Returns
    -------
    torch.Tensor, shape (N, 1, H, W)
    """
    import torch.nn.functional as F

    x, k, m = _torch_operands(images, kernels, weights, mode)
    n, basis, size = k.shape[0], k.shape[1], k.shape[-1]
    if mode == "same":
        p = size // 2
        x = F.pad(x, (p, p, p, p), mode="reflect")
    # conv2d correlates: flip to convolve; groups=N gives each image its own B kernels
    out = F.conv2d(x.reshape(1, n, *x.shape[-2:]), k.flip(-1, -2).reshape(n * basis, 1, size, size), groups=n)
    return (out.reshape(n, basis, *out.shape[-2:]) * m).sum(dim=1, keepdim=True)


def adjoint_nonuniform_torch(residual, kernels, weights, *, mode: str = "valid"):
    """The exact adjoint of :func:`blur_nonuniform_torch`: ``P^T sum_b flip(k_b) conv (m_b * r)``.

    Parameters
    ----------
    residual : torch.Tensor, shape (N, 1, H, W)
    kernels : torch.Tensor, shape (N, B, K, K)
    weights : torch.Tensor, shape (N, B, H, W)
    mode : {"valid", "same"}

    Returns
    -------
    torch.Tensor, shape of the sharp images
    """
    import torch
    import torch.nn.functional as F

    _validate.choice(mode, "mode", set(MODES))
    r = residual
    k, m = kernels, weights
    if r.ndim != 4 or r.shape[1] != 1 or r.shape[-2:] != m.shape[-2:]:
        raise ValueError(f"residual must be (N, 1, H, W) on the weights' grid {tuple(m.shape[-2:])}, got {tuple(r.shape)}")
    n, basis, size = k.shape[0], k.shape[1], k.shape[-1]
    weighted = (m * r).reshape(1, n * basis, *r.shape[-2:])
    full = F.conv_transpose2d(weighted, k.flip(-1, -2).reshape(n * basis, 1, size, size), groups=n)
    full = full.reshape(n, 1, *full.shape[-2:])
    if mode == "valid":
        return full
    h, w = r.shape[-2:]
    p = size // 2
    index = F.pad(torch.arange(h * w, dtype=full.dtype, device=full.device).reshape(1, 1, h, w), (p, p, p, p), mode="reflect")
    index = index.reshape(-1).round().long()
    out = torch.zeros(n, h * w, dtype=full.dtype, device=full.device)
    out.index_add_(1, index, full.reshape(n, -1))
    return out.reshape(n, 1, h, w)


def _torch_operands(images, kernels, weights, mode):
    _validate.choice(mode, "mode", set(MODES))
    for name, t in (("images", images), ("kernels", kernels), ("weights", weights)):
        if not hasattr(t, "ndim") or t.ndim != 4:
            raise ValueError(f"{name} must be a 4-D torch tensor, got {getattr(t, 'shape', type(t).__name__)}")
    if images.shape[1] != 1:
        raise ValueError(f"images must be grey (N, 1, H, W), got {tuple(images.shape)}")
    n, basis, size = kernels.shape[0], kernels.shape[1], kernels.shape[-1]
    if kernels.shape[-2] != size or size % 2 == 0:
        raise ValueError(f"kernels must be (N, B, K, K) with K odd, got {tuple(kernels.shape)}")
    if images.shape[0] != n or weights.shape[0] != n or weights.shape[1] != basis:
        raise ValueError(f"images {tuple(images.shape)}, kernels {tuple(kernels.shape)} and weights {tuple(weights.shape)} disagree on N or B")
    grow = size - 1 if mode == "valid" else 0
    if tuple(images.shape[-2:]) != (weights.shape[-2] + grow, weights.shape[-1] + grow):
        raise ValueError(f"images must be {grow} px larger than the weights' grid {tuple(weights.shape[-2:])} in mode {mode!r}, got {tuple(images.shape[-2:])}")
    return images, kernels, weights
