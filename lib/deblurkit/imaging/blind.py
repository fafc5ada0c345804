"""Blind deconvolution without learning: an L0 gradient prior, coarse to fine.

The kernel is estimated by alternating minimisation of

    ||k * u - v||^2 + lam ||grad u||_0 + gamma ||k||^2

over the latent image ``u`` and the kernel ``k`` (Xu, Zheng and Jia, CVPR 2013; Pan, Hu, Su and
Yang, CVPR 2014), in a pyramid from coarse to fine, as described by Anger, Facciolo and
Delbracio, "Blind Image Deblurring using the l0 Gradient Prior", IPOL 9 (2019). Its defaults are
kept where they carried over (lam = 4e-3 decaying by 1/1.1 per iteration down to 1e-4, five
iterations per scale, scale factor 1/2, half-quadratic splitting with beta from 2 lam doubling
up to 1e5, connected components of the kernel below 10 % of its mass removed, re-centring);
where this module departs it says so in the docstring concerned:

- the kernel step is least squares on the *valid* region (the pixels whose kernel footprint
  lies inside the image) solved by conjugate gradients, instead of a circular FFT division;
- its L2 weight is ``kernel_weight * n * sigma^2`` (``n`` the number of data terms, ``sigma``
  the noise level), tied to the noise and the pixel count instead of a constant, so that it
  means the same at every scale;
- the kernel is thresholded at 20 % of its maximum (IPOL: 5 %);
- the non-blind step is a hyper-Laplacian prior (Krishnan and Fergus, NIPS 2009) by
  half-quadratic splitting with a generalised shrinkage, on a smooth periodic extension of the
  image (no ringing from the frame's border), instead of TV by split Bregman on an edge taper;
- a result whose kernel spread into a blob, or whose re-blurred restoration does not explain
  the input, is refused and the input returned (:func:`blind_deconvolve`).

Every FFT here is ``scipy.fft`` with ``workers`` threads (1 by default: the book times one
thread). Intensities are in [0, 1]; kernels are centred with odd sides, as in :mod:`.psf`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.fft
import scipy.signal
from scipy import ndimage

from ..runtime import validate as _validate
from .blind_steps import (  # noqa: F401  (re-exported: the chapter and the tests use them from here)
    _irfft,
    _LatentSpectra,
    _rfft,
    circular_gradient,
    clean_kernel,
    fast_shape,
    gaussian_profile_energy,
    kernel_energy,
    kernel_least_squares,
    l0_energy,
    l0_latent,
    noise_level,
    quadratic_latent_step,
    resize,
    smooth_periodic_extension,
)

#: The IPOL article's defaults for the kernel estimation that this module keeps.
IPOL_DEFAULTS = {"lam": 4e-3, "lam_ratio": 1 / 1.1, "lam_min": 1e-4, "iterations": 5, "scale_factor": 0.5}

#: Noise level below which the kernel step's weight and the residual check stop shrinking
#: (intensity units): below it, discretisation and model error dominate the noise.
NOISE_FLOOR = 0.005

#: ITU-R BT.709 luminance weights of linear RGB.
LUMINANCE = (0.2126, 0.7152, 0.0722)


def _pyramid(v: np.ndarray, kernel_size: int, scale_factor: float):
    """Blurred images and kernel sizes from fine to coarse (IPOL: stop below a 3-px kernel)."""
    images, sizes = [v], [kernel_size]
    while True:
        size = int(sizes[-1] * scale_factor)
        size += (size + 1) % 2
        shape = tuple(max(1, int(np.ceil(s * scale_factor))) for s in images[-1].shape)
        if size < 3 or min(shape) <= 2 * size + 1:
            return images, sizes
        smooth = ndimage.gaussian_filter(images[-1], 0.4 / scale_factor, mode="nearest")
        images.append(resize(smooth, shape))
        sizes.append(size)


def _upsample_kernel(k: np.ndarray, size: int) -> np.ndarray:
    out = np.maximum(resize(k, (size, size)), 0.0)
    return out / out.sum()


def estimate_kernel(
    blurred,
    kernel_size: int,
    *,
    noise_sigma: float | None = None,
    kernel_weight: float = 0.3,
    threshold: float = 0.2,
    min_mass: float = 0.1,
    lam: float = IPOL_DEFAULTS["lam"],
    lam_ratio: float = IPOL_DEFAULTS["lam_ratio"],
    lam_min: float = IPOL_DEFAULTS["lam_min"],
    iterations: int = IPOL_DEFAULTS["iterations"],
    scale_factor: float = IPOL_DEFAULTS["scale_factor"],
    cg_iterations: int = 15,
    multiscale: bool = True,
    workers: int = 1,
) -> dict:
    """Blur kernel of a grey image by alternating L0 latent and kernel steps, coarse to fine.

    At each scale (image and kernel size times ``scale_factor`` per level, coarsest first) the
    latent image carried from the coarser scale (upsampled; the blurred image itself at the
    coarsest) alternates ``iterations`` times: kernel step (:func:`kernel_least_squares`,
    warm-started, then :func:`clean_kernel`) and latent step (:func:`l0_latent` on a
    :func:`smooth_periodic_extension`), ``lam`` decaying by ``lam_ratio`` per iteration down to
    ``lam_min`` across the whole pyramid (IPOL's Algorithm 1).

    Parameters
    ----------
    blurred : array_like, shape (H, W)
        Grey image in [0, 1], ``min(H, W) > 2 kernel_size + 1``.
    kernel_size : int
        Odd side of the kernel window, >= 3: a little larger than the blur's extent.
    noise_sigma : float, optional
        Noise standard deviation; estimated with :func:`noise_level` when not given. The kernel
        step's L2 weight is ``kernel_weight * n * max(noise_sigma, NOISE_FLOOR)^2`` (``n`` data terms).
    kernel_weight : float
        Scale of that weight, > 0. The default 0.3 is chapter 7's choice on its validation
        images in the cpu profile (3 images x 3 shake lengths x 2 draws, 256 px, noise 0.01,
        31-px window, final weight 500; run of 2026-12-07): mean PSNR 25.50 dB at 0.3, 25.49 at
        0.1, 25.21 at 1, 24.82 at 3, 23.14 at the earlier default 10, against 24.24 dB for the
        blurred input. A fixed value: other noise levels, sizes or blurs may want another (the
        command line's ``--kernel-weight``).
    threshold, min_mass : float
        Passed to :func:`clean_kernel`.
    lam, lam_ratio, lam_min, iterations, scale_factor
        The L0 weight schedule and the pyramid (defaults: IPOL's).
    cg_iterations : int
        Conjugate-gradient iterations per kernel step (warm-started; 15 and 30 gave the same
        mean PSNR on the development images).
    multiscale : bool
        False: the finest scale only (what the pyramid buys is measured in the chapter).
    workers : int
        ``scipy.fft`` threads.

    Returns
    -------
    dict
        ``kernel`` (kernel_size x kernel_size, sums to 1), ``latent`` (the last L0 latent image,
        (H, W)), ``kernels`` (the estimate at the end of each scale, coarse to fine),
        ``sizes`` (their sides), ``noise_sigma`` (used).
    """
    v = _validate.array(blurred, "blurred", ndim=2)
    size = _validate.integer(kernel_size, "kernel_size", minimum=3)
    if size % 2 == 0:
        raise ValueError(f"kernel_size must be odd, got {size}")
    if min(v.shape) <= 2 * size + 1:
        raise ValueError(f"blurred of shape {v.shape} is too small for kernel_size={size}: its sides must exceed 2 * kernel_size + 1")
    kernel_weight = _validate.positive_scalar(kernel_weight, "kernel_weight")
    scale_factor = _validate.positive_scalar(scale_factor, "scale_factor")
    if scale_factor >= 1:
        raise ValueError(f"scale_factor must be in (0, 1), got {scale_factor}")
    iterations = _validate.integer(iterations, "iterations", minimum=1)
    lam = _validate.positive_scalar(lam, "lam")
    lam_min = _validate.positive_scalar(lam_min, "lam_min")
    lam_ratio = _validate.positive_scalar(lam_ratio, "lam_ratio")
    sigma = noise_level(v) if noise_sigma is None else _validate.positive_scalar(noise_sigma, "noise_sigma", allow_zero=True)
    variance = max(sigma, NOISE_FLOOR) ** 2
    images, sizes = _pyramid(v, size, scale_factor) if multiscale else ([v], [size])
    latent, k, history = None, None, []
    lam = max(lam, lam_min)
    for v_s, size_s in zip(images[::-1], sizes[::-1]):
        latent = v_s.copy() if latent is None else resize(latent, v_s.shape)
        k = None if k is None else _upsample_kernel(k, size_s)
        grid = fast_shape((v_s.shape[0] + size_s, v_s.shape[1] + size_s))
        extended = smooth_periodic_extension(v_s, grid)
        n_terms = v_s.shape[0] * (v_s.shape[1] - size_s) + v_s.shape[1] * (v_s.shape[0] - size_s)
        for _ in range(iterations):
            raw, n_terms = kernel_least_squares(
                latent, v_s, size_s, kernel_weight * n_terms * variance, initial=k, iterations=cg_iterations, workers=workers
            )
            k = clean_kernel(raw, threshold=threshold, min_mass=min_mass)
            latent = l0_latent(extended, k, lam, workers=workers)[: v_s.shape[0], : v_s.shape[1]]
            lam = max(lam * lam_ratio, lam_min)
        history.append(k.copy())
    return {"kernel": k, "latent": latent, "kernels": history, "sizes": sizes[::-1], "noise_sigma": sigma}


def _shrink(t: np.ndarray, tau: float, exponent: float, rounds: int = 3) -> np.ndarray:
    """Generalised shrinkage (Zuo et al., ICCV 2013): ``argmin_w (w - t)^2 / 2 + tau |w|^p``."""
    if exponent == 1:
        return np.sign(t) * np.maximum(np.abs(t) - tau, 0.0)
    p = exponent
    cut = (2 * tau * (1 - p)) ** (1 / (2 - p)) + tau * p * (2 * tau * (1 - p)) ** ((p - 1) / (2 - p))
    a = np.abs(t)
    keep = a > cut
    w = a[keep]
    for _ in range(rounds):
        w = a[keep] - tau * p * w ** (p - 1)
    out = np.zeros_like(t)
    out[keep] = np.sign(t[keep]) * w
    return out


def deconvolve(blurred, kernel, *, weight: float = 1000.0, exponent: float = 0.8, beta_max: float = 256.0, workers: int = 1) -> np.ndarray:
    """Non-blind deconvolution with a hyper-Laplacian gradient prior (Krishnan and Fergus, 2009).

    Minimises ``weight / 2 ||k * x - v||^2 + sum |grad x|^exponent`` by half-quadratic
    splitting (beta from 1, times 2 sqrt 2 per round up to ``beta_max``, one x-step per round,
    Krishnan and Fergus' schedule), the w-step by generalised shrinkage (``exponent = 1`` is
    anisotropic TV). Boundary: the image is extended by twice the kernel's side with
    :func:`smooth_periodic_extension` and cropped back, so the frame does not ring. Colour
    channels are restored one by one. The result is clipped to [0, 1].

    Parameters
    ----------
    blurred : array_like, shape (H, W) or (H, W, C)
    kernel : array_like
        Centred kernel with odd sides, non-negative.
    weight : float
        Data weight, > 0 (larger: sharper and noisier).
    exponent : float
        Prior exponent in (0, 1].
    """
    img = _validate.image(blurred, "blurred")
    k = _validate.psf(kernel, "kernel")
    weight = _validate.positive_scalar(weight, "weight")
    exponent = _validate.positive_scalar(exponent, "exponent")
    if exponent > 1:
        raise ValueError(f"exponent must be in (0, 1], got {exponent}")
    if img.ndim == 3:
        return np.stack([deconvolve(img[..., c], k, weight=weight, exponent=exponent, beta_max=beta_max, workers=workers) for c in range(img.shape[2])], axis=2)
    pad = max(k.shape)
    grid = fast_shape((img.shape[0] + 2 * pad, img.shape[1] + 2 * pad))
    if grid[0] > 2 * img.shape[0] or grid[1] > 2 * img.shape[1]:
        raise ValueError(f"kernel of shape {k.shape} is too large for an image of shape {img.shape}")
    spectra_start = smooth_periodic_extension(img, grid)
    spectra = _LatentSpectra(spectra_start, k, workers)
    spectra.numerator *= weight
    spectra.kernel_power *= weight
    x, beta = spectra_start, 1.0
    while beta <= beta_max:
        gx, gy = circular_gradient(x)
        x = spectra.solve(_shrink(gx, 1 / beta, exponent), _shrink(gy, 1 / beta, exponent), beta)
        beta *= 2 * np.sqrt(2)
    return np.clip(x[: img.shape[0], : img.shape[1]], 0.0, 1.0)


def aligned_kernel_error(estimate, truth, *, max_shift: int | None = None) -> float:
    """``min_s ||shift_s(estimate) - truth||^2``: squared L2 distance at the best whole-pixel shift.

    A blind estimate is defined up to a translation (the latent image moves the other way), so
    the two kernels (each normalised to sum 1, zero-padded to a common odd size) are compared at
    every shift up to ``max_shift`` pixels (default: half the larger side) and the smallest
    distance is returned, in (kernel units)^2 like :func:`deblurkit.imaging.nonuniform.kernel_error`.
    """
    a = _validate.psf(estimate, "estimate")
    b = _validate.psf(truth, "truth")
    side = max(a.shape + b.shape)
    reach = side // 2 if max_shift is None else _validate.integer(max_shift, "max_shift", minimum=0)
    n = side + 2 * reach

    def embed(k):
        out = np.zeros((n, n))
        r, c = (n - k.shape[0]) // 2, (n - k.shape[1]) // 2
        out[r : r + k.shape[0], c : c + k.shape[1]] = k / k.sum()
        return out

    a, b = embed(a), embed(b)
    # ||a_s - b||^2 = ||a||^2 + ||b||^2 - 2 (a correlated with b)(s), all shifts at once.
    corr = scipy.fft.irfft2(np.conj(scipy.fft.rfft2(b)) * scipy.fft.rfft2(a), s=(n, n))
    shifts = np.r_[0 : reach + 1, n - reach : n] if reach else np.r_[0:1]
    best = corr[np.ix_(shifts, shifts)].max()
    return float(max(np.sum(a**2) + np.sum(b**2) - 2 * best, 0.0))


def error_ratio(sharp, restored_estimated, restored_true) -> float:
    """Levin et al.'s error ratio ``||x_est - x||^2 / ||x_true - x||^2`` (CVPR 2009).

    The restoration with the estimated kernel against the same restoration with the true
    kernel; 1 is no price for blindness, and it equals ``10 ** ((PSNR_true - PSNR_est) / 10)``.
    """
    x = _validate.image(sharp, "sharp")
    e = _validate.image(restored_estimated, "restored_estimated")
    t = _validate.image(restored_true, "restored_true")
    if e.shape != x.shape or t.shape != x.shape:
        raise ValueError(f"sharp {x.shape}, restored_estimated {e.shape} and restored_true {t.shape} must have one shape")
    denominator = float(np.sum((t - x) ** 2))
    if denominator == 0:
        raise ValueError("restored_true equals sharp: the error ratio is undefined")
    return float(np.sum((e - x) ** 2)) / denominator


@dataclasses.dataclass
class BlindResult:
    """What :func:`blind_deconvolve` returns.

    Attributes
    ----------
    restored : ndarray
        The restoration, the input's shape, in [0, 1] (the input itself when ``failed``).
    kernel : ndarray
        The estimated kernel (sums to 1).
    kernels : list of ndarray
        The estimate at the end of each pyramid scale, coarse to fine.
    latent : ndarray
        The last L0 latent image (luminance, in the working intensity).
    noise_sigma : float
        Noise level used (of the working luminance).
    failed : bool
        True when a check refused the result and the input was returned.
    reason : str
        Why (empty when not failed).
    spread : float
        Effective support ``1 / sum k^2`` of the kernel over ``kernel_size``.
    residual_ratio : float
        RMS of ``valid(k * x) - v`` over the noise level.
    """

    restored: np.ndarray
    kernel: np.ndarray
    kernels: list
    latent: np.ndarray
    noise_sigma: float
    failed: bool
    reason: str
    spread: float
    residual_ratio: float


def working_luminance(image, gamma: float = 1.0) -> np.ndarray:
    """The grey image the kernel is estimated on: ``image ** gamma``, BT.709 luminance if RGB."""
    img = _validate.image(image)
    linear = img ** _validate.positive_scalar(gamma, "gamma")
    return linear if linear.ndim == 2 else linear[..., :3] @ np.array(LUMINANCE)


def blind_deconvolve(
    image,
    kernel_size: int = 31,
    *,
    gamma: float = 1.0,
    weight: float = 500.0,
    exponent: float = 0.8,
    max_spread: float = 2.5,
    max_residual_ratio: float = 1.5,
    estimate: dict | None = None,
    workers: int = 1,
    **estimate_options,
) -> BlindResult:
    """Restore one blurred photograph: kernel from its luminance, then :func:`deconvolve` per channel.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, 3)
        Blurred image in [0, 1], any size with ``min(H, W) > 2 kernel_size + 1``.
    kernel_size : int
        Odd side of the kernel window, >= 3.
    gamma : float
        The image is ``linear ** (1 / gamma)``: the work is done on ``image ** gamma`` and the
        result returned as ``restored ** (1 / gamma)`` (1: as stored; 2.2: the book's camera).
    weight, exponent : float
        The non-blind step's data weight and prior exponent (:func:`deconvolve`). The default
        weight 500 is chapter 7's validation choice in the cpu profile with the default kernel
        weight (25.50 dB; 250: 25.25, 1000: 25.43, 2000: 24.77; see :func:`estimate_kernel`);
        the exponent is Krishnan and Fergus'.
    max_spread : float
        Refuse a kernel whose effective support ``1 / sum k^2`` exceeds ``max_spread *
        kernel_size`` pixels: shake is a thin path; a kernel spread into a blob is a collapsed
        estimate (flat or low-contrast images).
    max_residual_ratio : float
        Refuse a result whose re-blurred luminance misses the input by more than this many noise
        levels (RMS over the valid region; the level taken as at least :data:`NOISE_FLOOR`): the
        kernel does not explain the image (e.g. blur that varies across it).
    estimate : dict, optional
        A result of :func:`estimate_kernel` on this image's working luminance, to restore with
        other final-step settings without estimating again (``estimate_options`` are then unused).
    **estimate_options
        Passed to :func:`estimate_kernel` (``kernel_weight``, ``threshold``, ...).

    Returns
    -------
    BlindResult
    """
    img = _validate.image(image)
    if img.ndim == 3 and img.shape[2] != 3:
        raise ValueError(f"image must be grey (H, W) or RGB (H, W, 3), got shape {img.shape}")
    if img.min() < 0 or img.max() > 1:
        raise ValueError(f"image intensities must be in [0, 1], got [{img.min():.4g}, {img.max():.4g}]")
    gamma = _validate.positive_scalar(gamma, "gamma")
    max_spread = _validate.positive_scalar(max_spread, "max_spread")
    max_residual_ratio = _validate.positive_scalar(max_residual_ratio, "max_residual_ratio")
    linear = img**gamma
    grey = working_luminance(img, gamma)
    est = estimate_kernel(grey, kernel_size, workers=workers, **estimate_options) if estimate is None else estimate
    if est["kernel"].shape != (kernel_size, kernel_size):
        raise ValueError(f"estimate holds a {est['kernel'].shape} kernel, not kernel_size={kernel_size}")
    k = est["kernel"]
    restored = deconvolve(linear, k, weight=weight, exponent=exponent, workers=workers)
    restored_grey = restored if restored.ndim == 2 else restored @ np.array(LUMINANCE)
    r = kernel_size // 2
    reblurred = scipy.signal.fftconvolve(restored_grey, k, mode="valid")
    rms = float(np.sqrt(np.mean((reblurred - grey[r:-r, r:-r]) ** 2)))
    residual_ratio = rms / max(est["noise_sigma"], NOISE_FLOOR)
    spread = 1.0 / float(np.sum(k**2)) / kernel_size
    reason = ""
    if spread > max_spread:
        reason = f"the kernel spread over {spread * kernel_size:.0f} px, more than {max_spread} x kernel_size: a collapsed estimate"
    elif residual_ratio > max_residual_ratio:
        reason = f"the re-blurred restoration misses the input by {residual_ratio:.2f} noise levels, more than {max_residual_ratio}"
    out = img if reason else np.clip(restored, 0.0, 1.0) ** (1 / gamma)
    return BlindResult(out, k, est["kernels"], est["latent"], est["noise_sigma"], bool(reason), reason, spread, residual_ratio)
