"""Synthetic sets with known blur, made as a camera would make them (rasterised kernels in the
image domain): accelerated crops (chapter 2), defocus pairs (chapter 3), two-region
non-uniform blur with per-pixel ground-truth kernels (chapter 5), random region masks.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ..data import bundled
from ..data.bundled import as_rgb
from ..imaging import blur, psf
from ..imaging.blur import camera_blur
from ..imaging.nonuniform import (
    GAMMA,
    NonUniformBlur,
    check_gamma,
    check_kernels,
    gamma_decode,
    gamma_encode,
)
from ..imaging.otf import acceleration_otf, apply_transfer
from ..imaging.psf import DEFAULT_EXPOSURE, acceleration_psf, random_shake_kernel
from ..runtime import validate as _validate


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
    gamma = check_gamma(gamma)
    masks = random_region_masks(img.shape, objects, gen)
    kernels = np.zeros((slots, size, size))
    kernels[:, size // 2, size // 2] = 1.0
    if kernel_bank is not None:
        bank = check_kernels(kernel_bank, "kernel_bank")
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


#: Formations of a blurred observation: the camera's, and the closed-form model's.
FORMATIONS = ("camera", "model")


def reach_px(a_max: float, exposure: float = DEFAULT_EXPOSURE) -> int:
    """Largest displacement of the acceleration path, ``a_max T^2 / 2``, rounded up, in pixels."""
    a_max = _validate.positive_scalar(a_max, "a_max")
    exposure = _validate.positive_scalar(exposure, "exposure")
    return math.ceil(0.5 * a_max * exposure**2)


def observe(region, a, *, crop_size: int, exposure: float = DEFAULT_EXPOSURE, formation: str = "camera"):
    """The noiseless blurred crop at the centre of ``region`` for accelerations ``a = (a_x, a_y)``.

    Parameters
    ----------
    region : ndarray, shape (H, W)
        Sharp grey scene, larger than the crop by at least the path's reach on every side for
        ``formation="camera"``.
    a : (float, float)
        Accelerations in pixels per time unit squared.
    crop_size : int
        Side of the returned square crop.
    exposure : float
        Exposure time ``T``.
    formation : {"camera", "model"}
        ``"camera"``: the rasterised kernel convolved in the image domain over the whole region
        (mirrored border, ``mode="symmetric"``, which the centre crop never sees when the
        margin covers the reach), then the centre crop. ``"model"``: the centre crop blurred
        circularly with the closed-form transfer function, the model Wiener and the spectral
        estimator invert.

    Returns
    -------
    ndarray, shape (crop_size, crop_size), float64
    """
    region = _validate.array(region, "region", ndim=2)
    crop_size = _validate.integer(crop_size, "crop_size", minimum=8)
    _validate.choice(formation, "formation", set(FORMATIONS))
    a_x, a_y = (_validate.real_scalar(v, "a") for v in a)
    rows, cols = region.shape
    if rows < crop_size or cols < crop_size:
        raise ValueError(f"region of shape {region.shape} is smaller than crop_size={crop_size}")
    r0, c0 = (rows - crop_size) // 2, (cols - crop_size) // 2
    if formation == "model":
        crop = np.asarray(region[r0 : r0 + crop_size, c0 : c0 + crop_size], float)
        return apply_transfer(crop, acceleration_otf(a_x, a_y, exposure, crop.shape))
    return camera_blur(region, acceleration_psf(a_x, a_y, exposure), crop_size)


def acceleration_dataset(
    images,
    count: int,
    *,
    crop_size: int,
    a_max: float = 2.0,
    exposure: float = DEFAULT_EXPOSURE,
    noise_sigma: float = 0.01,
    formations=("camera",),
    rng=None,
) -> dict:
    """Crops blurred by uniform acceleration with random, known ``(a_x, a_y)``, as a camera sees them.

    Each sample cuts a region of side ``crop_size + 2 * (reach + 1)`` from a random source
    image, draws ``a_x, a_y`` uniformly from ``[0, a_max]``, forms each requested observation
    with :func:`observe` and adds one white Gaussian noise draw (the same for every formation,
    so formations differ only by how the blur was made).

    Parameters
    ----------
    images : sequence of ndarray, each (H, W)
        Grey source images in [0, 1], each at least the region's side on both axes.
    count : int
        Number of samples, >= 1.
    crop_size : int
        Side of the square crops, >= 8.
    a_max : float
        Largest acceleration, > 0 (``|H|`` cannot tell ``a`` from ``-a``: labels are >= 0).
    exposure : float
        Exposure time ``T``, > 0.
    noise_sigma : float
        Noise standard deviation, >= 0.
    formations : sequence of {"camera", "model"}
        Which observations to return.
    rng : int, numpy.random.Generator or None
        Seed or generator.

    Returns
    -------
    dict
        ``"sharp"`` ``(count, crop, crop)`` float32; ``"blurred_<formation>"`` for each formation,
        float32; ``"labels"`` ``(count, 2)`` float64 ``(a_x, a_y)``; ``"source"`` source index.
    """
    if len(images) == 0:
        raise ValueError("images must hold at least one image")
    sources = [_validate.array(img, f"images[{i}]", ndim=2) for i, img in enumerate(images)]
    count = _validate.integer(count, "count", minimum=1)
    crop_size = _validate.integer(crop_size, "crop_size", minimum=8)
    a_max = _validate.positive_scalar(a_max, "a_max")
    exposure = _validate.positive_scalar(exposure, "exposure")
    noise_sigma = _validate.positive_scalar(noise_sigma, "noise_sigma", allow_zero=True)
    formations = tuple(formations)
    if not formations:
        raise ValueError("formations must name at least one of 'camera', 'model'")
    for f in formations:
        _validate.choice(f, "formation", set(FORMATIONS))
    side = crop_size + 2 * (reach_px(a_max, exposure) + 1)
    for i, img in enumerate(sources):
        if min(img.shape) < side:
            raise ValueError(f"images[{i}] of shape {img.shape} is smaller than the {side} px region needed")
    gen = _validate.rng(rng)
    source = gen.integers(0, len(sources), size=count)
    labels = gen.uniform(0.0, a_max, size=(count, 2))
    out = {"sharp": np.empty((count, crop_size, crop_size), np.float32)}
    for f in formations:
        out[f"blurred_{f}"] = np.empty_like(out["sharp"])
    m = (side - crop_size) // 2
    for n in range(count):
        img = sources[source[n]]
        r = gen.integers(0, img.shape[0] - side + 1)
        c = gen.integers(0, img.shape[1] - side + 1)
        region = img[r : r + side, c : c + side]
        noise = gen.normal(0.0, noise_sigma, (crop_size, crop_size)) if noise_sigma else 0.0
        out["sharp"][n] = region[m : m + crop_size, m : m + crop_size]
        for f in formations:
            clean = observe(region, labels[n], crop_size=crop_size, exposure=exposure, formation=f)
            out[f"blurred_{f}"][n] = clean + noise
    out.update(labels=labels, source=source)
    return out


def camera_defocus_view(image, radius: float, rng, *, size: int = 128, noise_sigma: float = 0.005):
    """One sharp / defocused pair of ``size`` x ``size`` RGB views of ``image``, blurred as a camera does.

    A random square of half the image's smaller side (at least ``size``) is shrunk to ``size``
    pixels; the blurred view is made from the same square *with a margin around it*, convolved in
    the image domain with the rasterised disk kernel of ``radius`` pixels
    (:func:`deblurkit.imaging.psf.disk_psf`, :func:`deblurkit.imaging.blur.camera_blur`) and cropped back, so the pixels near
    the border mix in scene from outside the frame, as in a photograph. The margin is wider than
    the kernel's radius, so the boundary mode never reaches the kept pixels. White Gaussian noise
    of ``noise_sigma`` is added and the result clipped to [0, 1].

    Returns
    -------
    (ndarray, ndarray)
        ``sharp`` and ``blurred``, ``float32``, shape ``(size, size, 3)``, values in [0, 1].
    """

    img = as_rgb(_validate.image(image))
    size = _validate.integer(size, "size", minimum=8)
    radius = _validate.positive_scalar(radius, "radius", allow_zero=True)
    gen = _validate.rng(rng)
    kernel = psf.disk_psf(radius)
    margin = kernel.shape[0] // 2 + 2
    side = max(size, min(img.shape[:2]) // 2)
    big_side = math.ceil(side * (size + 2 * margin) / size)
    if big_side > min(img.shape[:2]):
        raise ValueError(f"image {img.shape[:2]} is too small for {size}-pixel views with a {margin}-pixel margin")
    window = bundled.random_crops(img, big_side, 1, gen)[0]
    scene = np.clip(bundled.resize(window, (size + 2 * margin, size + 2 * margin)), 0.0, 1.0)
    blurred = blur.add_gaussian_noise(blur.camera_blur(scene, kernel, size), noise_sigma, gen, clip=True)
    keep = slice(margin, margin + size)
    return scene[keep, keep].astype(np.float32), blurred.astype(np.float32)


def defocus_pairs(names, count: int, rng, *, size: int = 128, radius_range=(1.5, 4.0),
                  noise_sigma: float = 0.005):
    """``count`` camera-blurred defocus pairs from the named bundled images.

    Each pair takes a random image of ``names``, a radius drawn uniformly from ``radius_range``
    and one view (:func:`camera_defocus_view`).

    Parameters
    ----------
    names : sequence of str
        Bundled image names (:func:`deblurkit.data.split_names`); grey images are repeated to RGB.
    count : int
        Number of pairs, >= 1.
    rng : int or numpy.random.Generator
        Seed or generator (image, crop, radius and noise are all drawn from it).

    Returns
    -------
    (ndarray, ndarray, ndarray)
        ``sharp`` and ``blurred`` of shape ``(count, size, size, 3)`` (``float32`` in [0, 1]) and
        the disk ``radii`` (pixels), so that a classical method can be given the true kernel.
    """

    names = list(names)
    if not names:
        raise ValueError("names must hold at least one bundled image")
    count = _validate.integer(count, "count", minimum=1)
    lo, hi = (_validate.positive_scalar(r, "radius_range", allow_zero=True) for r in radius_range)
    if hi < lo:
        raise ValueError(f"radius_range must be (low, high) with low <= high, got {radius_range!r}")
    gen = _validate.rng(rng)
    images = [bundled.bundled_image(n) for n in names]
    sharp, blurred, radii = [], [], []
    for _ in range(count):
        img = images[gen.integers(len(images))]
        radius = float(gen.uniform(lo, hi))
        s, b = camera_defocus_view(img, radius, gen, size=size, noise_sigma=noise_sigma)
        sharp.append(s)
        blurred.append(b)
        radii.append(radius)
    return np.stack(sharp), np.stack(blurred), np.array(radii)
