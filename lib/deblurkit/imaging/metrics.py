"""Image-quality metrics with an explicit ``data_range``: PSNR and SSIM (scikit-image, and the
papers' Gaussian-window setting), sigma-map RMSE, and mean scores over image lists.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ..runtime import validate as _validate

#: Smallest side SSIM accepts: scikit-image's default 7x7 window, and the 11x11 Gaussian
#: window (sigma 1.5, truncated at 3.5 sigma) of the "paper" setting.
SSIM_MIN_SIDE = {False: 7, True: 11}


def _as_image(value, name: str) -> tuple[np.ndarray, np.dtype]:
    """A validated float64 image and the dtype it came with."""
    dtype = np.asarray(value).dtype
    return _validate.image(value, name), dtype


def _range_of(dtype: np.dtype) -> tuple[float, float] | None:
    """``(min, max)`` of an integer dtype, ``None`` for float dtypes (bool counts as [0, 1])."""
    if dtype.kind == "b":
        return 0.0, 1.0
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return float(info.min), float(info.max)
    return None


def _pair(reference, estimate, data_range) -> tuple[np.ndarray, np.ndarray, float]:
    """Validated float64 images and the data range the score must use.

    * Integer (or bool) images: ``data_range`` defaults to the dtype's range (255 for uint8)
      and must equal it when given; both images must have the same integer dtype.
    * Float images: ``data_range`` defaults to 1.0 and the *reference* must lie within
      ``[0, data_range]``; the estimate may overshoot (restorations do).
    """
    ref, ref_dtype = _as_image(reference, "reference")
    est, est_dtype = _as_image(estimate, "estimate")
    if ref.shape != est.shape:
        raise ValueError(f"reference and estimate must have the same shape, got {ref.shape} and {est.shape}")
    ref_int, est_int = _range_of(ref_dtype), _range_of(est_dtype)
    if (ref_int is None) != (est_int is None) or (ref_int is not None and ref_dtype != est_dtype):
        raise ValueError(
            f"reference ({ref_dtype}) and estimate ({est_dtype}) must be on the same scale: both of one integer "
            "dtype, or both float (convert an integer image with .astype(float) / its maximum, e.g. 255)"
        )
    if ref_int is not None:
        dtype_range = ref_int[1] - ref_int[0]
        if data_range is None:
            return ref, est, dtype_range
        data_range = _validate.positive_scalar(data_range, "data_range")
        if data_range != dtype_range:
            raise ValueError(
                f"data_range={data_range:g} contradicts the images' dtype {ref_dtype}, whose range is "
                f"{dtype_range:g}; leave data_range out for integer images"
            )
        return ref, est, data_range
    data_range = 1.0 if data_range is None else _validate.positive_scalar(data_range, "data_range")
    tol = 1e-6 * data_range
    lo, hi = float(ref.min()), float(ref.max())
    if lo < -tol or hi > data_range + tol:
        raise ValueError(
            f"reference must lie in [0, data_range] = [0, {data_range:g}], got values in [{lo:.6g}, {hi:.6g}]; "
            "pass the data_range of its intensity scale (e.g. 255 for 8-bit values stored as float), or rescale it"
        )
    return ref, est, data_range


def psnr(reference, estimate, *, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)``.

    Parameters
    ----------
    reference, estimate : array_like, same shape
        Ground truth and the image to score. Both float, or both of the same integer dtype.
    data_range : float, optional
        Peak-to-peak range of the intensity scale, > 0. Float images: default 1.0, and the
        reference must lie within ``[0, data_range]`` (a ``ValueError`` otherwise, so that 8-bit
        values scored on a [0, 1] scale cannot go unnoticed). The estimate is not range-checked,
        because restorations legitimately overshoot; clip it first (``np.clip(x, 0, 1)``) to
        score the image as it would be displayed. Integer images: the dtype's range (255 for
        uint8), which a given ``data_range`` must equal.

    Returns
    -------
    float
        PSNR in dB; ``inf`` for identical images.
    """
    ref, est, data_range = _pair(reference, estimate, data_range)
    if np.array_equal(ref, est):
        return float("inf")
    return float(peak_signal_noise_ratio(ref, est, data_range=data_range))


def ssim(reference, estimate, *, data_range: float | None = None, paper: bool = False) -> float:
    """Structural similarity index (mean SSIM), colour channels averaged.

    Parameters
    ----------
    reference, estimate : array_like, shape (H, W) or (H, W, C)
        Ground truth and the image to score; at least 7 x 7 (11 x 11 with ``paper=True``).
    data_range : float, optional
        Peak-to-peak range of the intensity scale, > 0; the same rules as :func:`psnr`.
    paper : bool
        ``False``: scikit-image's default (7x7 uniform window, sample covariance).
        ``True``: the setting of Wang et al. (2004) that papers report: an 11x11 Gaussian
        window with sigma 1.5 and population covariance.
    """
    ref, est, data_range = _pair(reference, estimate, data_range)
    side = SSIM_MIN_SIDE[bool(paper)]
    if min(ref.shape[:2]) < side:
        setting = "the paper setting's 11x11 Gaussian window" if paper else "the 7x7 window"
        raise ValueError(f"reference and estimate must be at least {side}x{side} pixels for SSIM with {setting}, got shape {ref.shape}")
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


def mean_scores(references, estimates, *, data_range: float | None = None, paper_ssim: bool = False) -> dict:
    """Mean PSNR (dB) and mean SSIM over pairs of images (e.g. a held-out set).

    Parameters
    ----------
    references, estimates : iterable of array_like
        Equally long sequences, iterables (generators are read once) or arrays with a leading
        batch axis, of same-shaped images.
    data_range : float, optional
        Peak-to-peak range of the intensity scale; the rules of :func:`psnr` apply per pair.
    paper_ssim : bool
        Also return ``"ssim_paper"``, the mean of :func:`ssim` with ``paper=True``.

    Returns
    -------
    dict
        ``{"psnr": mean PSNR, "ssim": mean SSIM}`` (and ``"ssim_paper"``) as floats.
    """
    refs, ests = _listed(references, "references"), _listed(estimates, "estimates")
    if len(refs) != len(ests):
        raise ValueError(f"references and estimates must be equally long, got {len(refs)} and {len(ests)}")
    if len(refs) == 0:
        raise ValueError("references must hold at least one image")
    pairs = list(zip(refs, ests))
    scores = {
        "psnr": float(np.mean([psnr(r, e, data_range=data_range) for r, e in pairs])),
        "ssim": float(np.mean([ssim(r, e, data_range=data_range) for r, e in pairs])),
    }
    if paper_ssim:
        scores["ssim_paper"] = float(np.mean([ssim(r, e, data_range=data_range, paper=True) for r, e in pairs]))
    return scores


def gradient_sharpness(image) -> float:
    """Mean gradient magnitude of an image, in intensity units per pixel: a simple sharpness
    measure (blur lowers it; noise and ringing raise it), to hold a restoration against the sharp
    image's value.

    Central differences inside, one-sided at the border (``numpy.gradient``); for a colour image
    the mean over channels. A linear ramp of slope ``s`` per pixel gives exactly ``s``.
    """
    img = _validate.image(image)
    channels = img[..., None] if img.ndim == 2 else img
    gy, gx = np.gradient(channels, axis=(0, 1))
    return float(np.mean(np.hypot(gx, gy)))


def _listed(images, name: str) -> list:
    """A list of the images in ``images`` (a sequence, an iterable or a batch array)."""
    if isinstance(images, np.ndarray):
        if images.ndim not in (3, 4):
            raise ValueError(f"{name} as an array must have a leading batch axis (ndim 3 or 4), got shape {images.shape}")
        return list(images)
    try:
        return list(images)
    except TypeError:
        raise TypeError(f"{name} must be a sequence or iterable of images, got {type(images).__name__}") from None
