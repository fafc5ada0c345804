"""Image-quality metrics with an explicit ``data_range`` (wrapping ``skimage.metrics``)."""

from __future__ import annotations

import numpy as np

from . import _validate


def _pair(reference, estimate) -> tuple[np.ndarray, np.ndarray]:
    ref = _validate.image(reference, "reference")
    est = _validate.image(estimate, "estimate")
    if ref.shape != est.shape:
        raise ValueError(f"reference and estimate must have the same shape, got {ref.shape} and {est.shape}")
    return ref, est


def psnr(reference, estimate, *, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)``.

    Parameters
    ----------
    reference, estimate : array_like, same shape
        Ground truth and the image to score.
    data_range : float
        Peak-to-peak range of the intensity scale, > 0 (1.0 for images in [0, 1]). Given
        explicitly because scikit-image infers it from the dtype, which is wrong for floats
        that are not in [-1, 1].

    Returns
    -------
    float
        PSNR in dB; ``inf`` for identical images.
    """
    from skimage.metrics import peak_signal_noise_ratio

    ref, est = _pair(reference, estimate)
    data_range = _validate.positive_scalar(data_range, "data_range")
    if np.array_equal(ref, est):
        return float("inf")
    return float(peak_signal_noise_ratio(ref, est, data_range=data_range))


def ssim(reference, estimate, *, data_range: float = 1.0, paper: bool = False) -> float:
    """Structural similarity index (mean SSIM), colour channels averaged.

    Parameters
    ----------
    reference, estimate : array_like, shape (H, W) or (H, W, C)
        Ground truth and the image to score.
    data_range : float
        Peak-to-peak range of the intensity scale, > 0.
    paper : bool
        ``False``: scikit-image's default (7x7 uniform window, sample covariance).
        ``True``: the setting of Wang et al. (2004) that papers report: an 11x11 Gaussian
        window with sigma 1.5 and population covariance.
    """
    from skimage.metrics import structural_similarity

    ref, est = _pair(reference, estimate)
    data_range = _validate.positive_scalar(data_range, "data_range")
    channel_axis = -1 if ref.ndim == 3 else None
    kwargs = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False} if paper else {}
    return float(structural_similarity(ref, est, data_range=data_range, channel_axis=channel_axis, **kwargs))


def sigma_rmse(true_sigma, estimated_sigma) -> float:
    """Root-mean-square error between a true and an estimated blur map (e.g. Gaussian sigma per pixel).

    Parameters
    ----------
    true_sigma, estimated_sigma : array_like, same shape
        Blur parameter per pixel or per patch, in pixels.
    """
    t = _validate.array(true_sigma, "true_sigma")
    e = _validate.array(estimated_sigma, "estimated_sigma")
    if t.shape != e.shape:
        raise ValueError(f"true_sigma and estimated_sigma must have the same shape, got {t.shape} and {e.shape}")
    return float(np.sqrt(np.mean((t - e) ** 2)))


def mean_scores(references, estimates, *, data_range: float = 1.0) -> dict:
    """Mean PSNR (dB) and mean SSIM over pairs of images (e.g. a held-out set).

    Parameters
    ----------
    references, estimates : sequence of array_like
        Equally long sequences (or arrays with a leading batch axis) of same-shaped images.
    data_range : float
        Peak-to-peak range of the intensity scale, > 0.

    Returns
    -------
    dict
        ``{"psnr": mean PSNR, "ssim": mean SSIM}`` as floats.
    """
    if len(references) != len(estimates):
        raise ValueError(f"references and estimates must be equally long, got {len(references)} and {len(estimates)}")
    if len(references) == 0:
        raise ValueError("references must hold at least one image")
    pairs = list(zip(references, estimates))
    return {
        "psnr": float(np.mean([psnr(r, e, data_range=data_range) for r, e in pairs])),
        "ssim": float(np.mean([ssim(r, e, data_range=data_range) for r, e in pairs])),
    }
