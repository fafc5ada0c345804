"""Non-uniform blur as a per-pixel mixture of kernels (Carbajal et al.'s model): the operator and
its exact adjoint, gamma decoding, Richardson-Lucy(-TV) with per-pixel kernels, sigma-maps as
kernel mixtures, and kernel errors between kernel fields. NumPy/SciPy only; the torch versions
of the operator live in :mod:`deblurkit.models.torch_ops`.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from ..imaging.blur import ladder_weights
from ..imaging.psf import gaussian_psf
from ..runtime import validate as _validate

#: Boundary modes of the operator (see the module docstring).
MODES = ("valid", "same")


#: Display gamma of the bundled 8-bit images: linear intensity = encoded ** GAMMA.
GAMMA = 2.2


_WEIGHT_SUM_TOLERANCE = 1e-4


# ---------------------------------------------------------------------------------------------
# Input checks


def check_kernels(kernels, name: str = "kernels") -> np.ndarray:
    k = _validate.array(kernels, name, ndim=3)
    if k.shape[1] != k.shape[2] or k.shape[1] % 2 == 0:
        raise ValueError(f"{name} must be (B, K, K) with K odd, got shape {k.shape}")
    if np.any(k < 0):
        raise ValueError(f"{name} must be non-negative")
    return k


def check_weights(weights, basis: int, shape: tuple[int, int], name: str = "weights") -> np.ndarray:
    m = _validate.array(weights, name, ndim=3)
    if m.shape != (basis, *shape):
        raise ValueError(f"{name} must have shape {(basis, *shape)} (one map per kernel), got {m.shape}")
    if m.min() < -_WEIGHT_SUM_TOLERANCE:
        raise ValueError(f"{name} must be non-negative, got a minimum of {m.min():.3g}")
    total = m.sum(axis=0)
    if np.abs(total - 1).max() > _WEIGHT_SUM_TOLERANCE:
        raise ValueError(f"{name} must sum to 1 over the kernels at every pixel, got sums in [{total.min():.4g}, {total.max():.4g}]")
    return m


def check_gamma(gamma) -> float:
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
        self.kernels = check_kernels(kernels)
        basis, size = self.kernels.shape[0], self.kernels.shape[1]
        w = _validate.array(weights, "weights", ndim=3)
        self.weights = check_weights(w, basis, w.shape[1:])
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
    return np.clip(_validate.array(image, "image"), 0.0, 1.0) ** check_gamma(gamma)


def gamma_encode(image, gamma: float = GAMMA) -> np.ndarray:
    """Linear intensity in [0, 1] to display values: ``clip(image, 0, 1) ** (1 / gamma)``."""
    return np.clip(_validate.array(image, "image"), 0.0, 1.0) ** (1.0 / check_gamma(gamma))


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
    gamma = check_gamma(gamma)
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
    k = check_kernels(kernels)
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
    ka, kb = check_kernels(kernels_a, "kernels_a"), check_kernels(kernels_b, "kernels_b")
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
    k = check_kernels(kernels)
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
