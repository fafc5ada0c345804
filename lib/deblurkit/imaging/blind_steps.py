"""The sub-steps of :mod:`deblurkit.imaging.blind`: latent (x) step, kernel (k) step, kernel clean-up.

Each is a small function with its own test against an independent computation (the x-step's
closed form, the k-step's normal equations) and the energy it lowers. The circular forward
differences, the smooth periodic extension and the FFT products live here too.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
from scipy import ndimage

from ..runtime import validate as _validate
from .otf import psf_to_half_otf


def fast_shape(shape) -> tuple[int, int]:
    """The smallest ``(rows, cols)`` at least ``shape`` whose real FFTs are fast (``scipy.fft.next_fast_len``)."""
    rows, cols = _validate.shape2(shape)
    return scipy.fft.next_fast_len(rows, real=True), scipy.fft.next_fast_len(cols, real=True)


def smooth_periodic_extension(image, shape) -> np.ndarray:
    """``image`` at the top-left of a ``shape`` grid whose other rows and columns make it periodic.

    Past the last row, the band cross-fades (raised cosine) from the mirror image of the
    bottom edge to the mirror image of the top edge, so that wrapping around is smooth; the
    same for columns. A circular deconvolution of the grid then sees no jump at the frame and
    does not ring there; the band is cropped away afterwards.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
    shape : (int, int)
        Grid size, ``>= (H, W)``; each band (``rows - H``, ``cols - W``) at most the image's side.
    """
    out = _validate.image(image)
    rows, cols = _validate.shape2(shape)
    for axis, total in ((0, rows), (1, cols)):
        n = out.shape[axis]
        band = total - n
        if band < 0 or band > n:
            raise ValueError(f"shape {(rows, cols)} must be at least the image's {out.shape[:2]} and at most twice it")
        if band == 0:
            continue
        t = np.arange(band)
        weight = 0.5 * (1 + np.cos(np.pi * (t + 0.5) / band))
        weight = weight.reshape([-1 if a == axis else 1 for a in range(out.ndim)])
        end = np.take(out, n - 1 - t, axis=axis)
        start = np.take(out, band - 1 - t, axis=axis)
        out = np.concatenate([out, weight * end + (1 - weight) * start], axis=axis)
    return out


def _gradient_otfs(shape) -> tuple[np.ndarray, np.ndarray]:
    """Half-spectrum transfer functions of the circular forward differences along x and y."""
    rows, cols = shape
    u = np.fft.rfftfreq(cols)[None, :]
    v = np.fft.fftfreq(rows)[:, None]
    ones = np.ones((rows, cols // 2 + 1))
    return (np.exp(2j * np.pi * u) - 1) * ones, (np.exp(2j * np.pi * v) - 1) * ones


def circular_gradient(image) -> tuple[np.ndarray, np.ndarray]:
    """Forward differences ``(u[y, x+1] - u[y, x], u[y+1, x] - u[y, x])`` with wrap-around."""
    u = _validate.array(image, "image", ndim=2)
    return np.roll(u, -1, axis=1) - u, np.roll(u, -1, axis=0) - u


def _rfft(x, workers):
    return scipy.fft.rfft2(x, workers=workers)


def _irfft(x, shape, workers):
    return scipy.fft.irfft2(x, s=shape, workers=workers)


def quadratic_latent_step(blurred, kernel, gx, gy, beta: float, *, workers: int = 1) -> np.ndarray:
    """Closed-form x-step of half-quadratic splitting (circular boundary).

    Returns the minimiser of ``||k * u - v||^2 + beta ||grad u - g||^2``:
    ``u = F^-1[(conj(K) V + beta (conj(Dx) Gx + conj(Dy) Gy)) / (|K|^2 + beta (|Dx|^2 + |Dy|^2))]``.

    Parameters
    ----------
    blurred : array_like, shape (H, W)
        ``v``.
    kernel : array_like, shape (h, w)
        Centred kernel ``k``, odd sides, no larger than the image.
    gx, gy : array_like, shape (H, W)
        The auxiliary gradient field ``g``.
    beta : float
        Splitting weight, > 0.
    """
    v = _validate.array(blurred, "blurred", ndim=2)
    beta = _validate.positive_scalar(beta, "beta")
    gx = _validate.array(gx, "gx", ndim=2)
    gy = _validate.array(gy, "gy", ndim=2)
    if gx.shape != v.shape or gy.shape != v.shape:
        raise ValueError(f"gx and gy must have the image's shape {v.shape}, got {gx.shape} and {gy.shape}")
    spectra = _LatentSpectra(v, kernel, workers)
    return spectra.solve(gx, gy, beta)


class _LatentSpectra:
    """The FFTs that every x-step on one grid shares."""

    def __init__(self, v: np.ndarray, kernel, workers: int):
        self.shape, self.workers = v.shape, workers
        k = psf_to_half_otf(kernel, v.shape)
        self.dx, self.dy = _gradient_otfs(v.shape)
        self.numerator = np.conj(k) * _rfft(v, workers)
        self.kernel_power = np.abs(k) ** 2
        self.gradient_power = np.abs(self.dx) ** 2 + np.abs(self.dy) ** 2

    def solve(self, gx, gy, beta):
        num = self.numerator + beta * (np.conj(self.dx) * _rfft(gx, self.workers) + np.conj(self.dy) * _rfft(gy, self.workers))
        return _irfft(num / (self.kernel_power + beta * self.gradient_power), self.shape, self.workers)


def l0_latent(blurred, kernel, lam: float, *, beta_max: float = 1e5, beta_rate: float = 2.0, workers: int = 1) -> np.ndarray:
    """Latent image of ``min ||k * u - v||^2 + lam ||grad u||_0`` by half-quadratic splitting.

    Circular boundary on the given grid (extend the image first, e.g. with
    :func:`smooth_periodic_extension`). Starting from ``u = v`` and ``beta = 2 lam``, each
    round sets ``g = grad u`` where ``|grad u|^2 >= lam / beta`` and 0 elsewhere (the exact
    g-step), solves the x-step (:func:`quadratic_latent_step`) and multiplies ``beta`` by
    ``beta_rate`` until it reaches ``beta_max`` (IPOL's schedule).

    Parameters
    ----------
    lam : float
        L0 weight, > 0 (intensities in [0, 1]).
    beta_max : float
        Last splitting weight, > 2 lam.
    beta_rate : float
        Growth of beta per round, > 1.
    """
    v = _validate.array(blurred, "blurred", ndim=2)
    lam = _validate.positive_scalar(lam, "lam")
    beta_max = _validate.positive_scalar(beta_max, "beta_max")
    beta_rate = _validate.positive_scalar(beta_rate, "beta_rate")
    if beta_rate <= 1:
        raise ValueError(f"beta_rate must be > 1, got {beta_rate}")
    spectra = _LatentSpectra(v, kernel, workers)
    u, beta = v, 2 * lam
    while beta < beta_max:
        gx, gy = circular_gradient(u)
        flat = gx**2 + gy**2 < lam / beta
        gx[flat] = 0.0
        gy[flat] = 0.0
        u = spectra.solve(gx, gy, beta)
        beta *= beta_rate
    return u


def l0_energy(latent, blurred, kernel, lam: float, *, tol: float = 1e-3) -> float:
    """``||k * u - v||^2 + lam #{pixels with |grad u| > tol}``: what :func:`l0_latent` lowers.

    Circular convolution and gradients. Half-quadratic splitting leaves residues of about
    ``sqrt(lam / beta_max)`` where its auxiliary field was zero, so gradients below ``tol``
    (intensity units, >= 0) count as zero.
    """
    u = _validate.array(latent, "latent", ndim=2)
    v = _validate.array(blurred, "blurred", ndim=2)
    tol = _validate.positive_scalar(tol, "tol", allow_zero=True)
    reblurred = _irfft(psf_to_half_otf(kernel, u.shape) * _rfft(u, 1), u.shape, 1)
    gx, gy = circular_gradient(u)
    return float(np.sum((reblurred - v) ** 2) + lam * np.count_nonzero(np.hypot(gx, gy) > tol))


class _ValidConvolution:
    """``y = valid(a * k)`` for a fixed image ``a`` and a ``size`` x ``size`` kernel, with its adjoint."""

    def __init__(self, a: np.ndarray, size: int, workers: int):
        self.size, self.workers = size, workers
        self.grid = fast_shape((a.shape[0] + size - 1, a.shape[1] + size - 1))
        self.spectrum = scipy.fft.rfft2(a, s=self.grid, workers=workers)
        self.out = (a.shape[0] - size + 1, a.shape[1] - size + 1)

    def __call__(self, k):
        full = _irfft(self.spectrum * scipy.fft.rfft2(k, s=self.grid, workers=self.workers), self.grid, self.workers)
        s = self.size - 1
        return full[s : s + self.out[0], s : s + self.out[1]]

    def adjoint(self, r):
        full = _irfft(self.spectrum * scipy.fft.rfft2(r[::-1, ::-1], s=self.grid, workers=self.workers), self.grid, self.workers)
        r0, c0 = self.out[0] - 1, self.out[1] - 1
        return full[r0 : r0 + self.size, c0 : c0 + self.size][::-1, ::-1]


def _kernel_system(latent, blurred, kernel_size, workers):
    """The gradient-domain operators and targets of the kernel step (valid region)."""
    u = _validate.array(latent, "latent", ndim=2)
    v = _validate.array(blurred, "blurred", ndim=2)
    if u.shape != v.shape:
        raise ValueError(f"latent {u.shape} and blurred {v.shape} must have the same shape")
    size = _validate.integer(kernel_size, "kernel_size", minimum=1)
    if size % 2 == 0 or min(u.shape) <= size + 1:
        raise ValueError(f"kernel_size must be odd and smaller than the image's sides minus 1, got {size} for {u.shape}")
    r = size // 2
    ops, targets = [], []
    for axis in (1, 0):
        op = _ValidConvolution(np.diff(u, axis=axis), size, workers)
        dv = np.diff(v, axis=axis)
        ops.append(op)
        targets.append(dv[r : r + op.out[0], r : r + op.out[1]])
    return ops, targets


def kernel_energy(kernel, latent, blurred, weight: float) -> float:
    """``sum_d ||valid(d u * k) - d v||^2 + weight ||k||^2`` over the valid region (what the k-step lowers)."""
    k = _validate.array(kernel, "kernel", ndim=2)
    ops, targets = _kernel_system(latent, blurred, k.shape[0], 1)
    return float(sum(np.sum((op(k) - t) ** 2) for op, t in zip(ops, targets)) + weight * np.sum(k**2))


def kernel_least_squares(latent, blurred, kernel_size: int, weight: float, *, initial=None, iterations: int = 30, workers: int = 1):
    """Unconstrained kernel step: the least-squares kernel in the gradient domain, valid region only.

    Minimises ``sum_{d in x, y} ||valid(d u * k) - d v||^2 + weight ||k||^2`` where ``d`` is
    a forward difference, ``valid`` keeps the outputs whose kernel footprint lies inside the
    image (no boundary assumption), and ``d v`` is cropped to match. The normal equations
    ``(A^T A + weight I) k = A^T b`` are solved by conjugate gradients with FFT products.
    IPOL divides in the Fourier domain instead, which assumes a periodic image.

    Parameters
    ----------
    latent, blurred : array_like, shape (H, W)
        ``u`` and ``v``.
    kernel_size : int
        Odd side of ``k``.
    weight : float
        L2 weight, >= 0.
    initial : array_like, optional
        Start of the iterations (warm start), shape (kernel_size, kernel_size).
    iterations : int
        Conjugate-gradient iterations, >= 1.

    Returns
    -------
    kernel : ndarray, shape (kernel_size, kernel_size)
        Not projected: may be negative and need not sum to 1 (see :func:`clean_kernel`).
    n_terms : int
        Number of data terms (valid pixels, both directions).
    """
    weight = _validate.positive_scalar(weight, "weight", allow_zero=True)
    iterations = _validate.integer(iterations, "iterations", minimum=1)
    ops, targets = _kernel_system(latent, blurred, kernel_size, workers)

    def normal(k):
        return sum(op.adjoint(op(k)) for op in ops) + weight * k

    rhs = sum(op.adjoint(t) for op, t in zip(ops, targets))
    k = np.zeros((kernel_size, kernel_size)) if initial is None else _validate.array(initial, "initial", ndim=2).copy()
    residual = rhs - normal(k)
    direction = residual.copy()
    rs = float(np.vdot(residual, residual))
    stop = 1e-24 * max(float(np.vdot(rhs, rhs)), 1e-300)
    for _ in range(iterations):
        if rs <= stop:
            break
        a_dir = normal(direction)
        step = rs / float(np.vdot(direction, a_dir))
        k += step * direction
        residual -= step * a_dir
        rs_new = float(np.vdot(residual, residual))
        direction = residual + (rs_new / rs) * direction
        rs = rs_new
    return k, sum(t.size for t in targets)


def clean_kernel(kernel, *, threshold: float = 0.2, min_mass: float = 0.1) -> np.ndarray:
    """Project a least-squares kernel onto plausible blur kernels.

    Negative values set to 0; values below ``threshold`` times the maximum set to 0; connected
    components (8-neighbourhood) holding less than ``min_mass`` of the total removed (the
    largest always kept); the kernel shifted by whole pixels so its centroid is the centre
    pixel (the image moves the other way, which a blind method cannot see; left alone the
    kernel drifts out of its window); normalised to sum 1. An all-non-positive kernel becomes
    the identity (a delta).
    """
    k = np.maximum(_validate.array(kernel, "kernel", ndim=2), 0.0)
    threshold = _validate.positive_scalar(threshold, "threshold", allow_zero=True)
    min_mass = _validate.positive_scalar(min_mass, "min_mass", allow_zero=True)
    if threshold >= 1:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    if k.max() <= 0:
        out = np.zeros_like(k)
        out[k.shape[0] // 2, k.shape[1] // 2] = 1.0
        return out
    k[k < threshold * k.max()] = 0.0
    labels, count = ndimage.label(k > 0, structure=np.ones((3, 3)))
    if count > 1:
        mass = ndimage.sum(k, labels, index=np.arange(1, count + 1)) / k.sum()
        keep = np.concatenate([[False], mass >= min_mass])
        keep[1 + int(np.argmax(mass))] = True
        k = np.where(keep[labels], k, 0.0)
    rows, cols = np.indices(k.shape)
    total = k.sum()
    dy = int(np.round((k * rows).sum() / total)) - k.shape[0] // 2
    dx = int(np.round((k * cols).sum() / total)) - k.shape[1] // 2
    k = ndimage.shift(k, (-dy, -dx), order=0, mode="constant", cval=0.0)
    return k / k.sum()


def resize(image, shape) -> np.ndarray:
    """Bilinear resampling of a grey image to ``shape`` (pixel centres aligned, edges clamped)."""
    img = _validate.array(image, "image", ndim=2)
    rows, cols = _validate.shape2(shape)
    r = (np.arange(rows) + 0.5) * img.shape[0] / rows - 0.5
    c = (np.arange(cols) + 0.5) * img.shape[1] / cols - 0.5
    grid = np.meshgrid(r, c, indexing="ij")
    return ndimage.map_coordinates(img, grid, order=1, mode="nearest")


def noise_level(image) -> float:
    """Noise standard deviation of a grey image: the median absolute diagonal Haar detail / 0.6745 (Donoho)."""
    img = _validate.array(image, "image", ndim=2)
    h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
    if h < 2 or w < 2:
        raise ValueError(f"image must be at least 2 x 2 to estimate its noise, got {img.shape}")
    x = img[:h, :w]
    detail = (x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]) / 2
    return float(np.median(np.abs(detail)) / 0.6745)


def gaussian_profile_energy(blurred, kernel, weight: float) -> float:
    """``min_u ||k * u - v||^2 + weight ||grad u||^2`` (circular): the Gaussian prior's profile energy.

    The minimiser is :func:`quadratic_latent_step` with ``g = 0`` and ``beta = weight``; the
    energy is evaluated at it. Compared between the true kernel and a delta, it shows Levin et
    al.'s no-blur preference of MAP with a Gaussian prior.
    """
    v = _validate.array(blurred, "blurred", ndim=2)
    weight = _validate.positive_scalar(weight, "weight")
    zero = np.zeros_like(v)
    u = _LatentSpectra(v, kernel, 1).solve(zero, zero, weight)
    reblurred = _irfft(psf_to_half_otf(kernel, u.shape) * _rfft(u, 1), u.shape, 1)
    gx, gy = circular_gradient(u)
    return float(np.sum((reblurred - v) ** 2) + weight * np.sum(gx**2 + gy**2))
