"""Blur kernels (point-spread functions): linear motion, defocus disk, Gaussian, uniform
acceleration, camera-shake trajectories (the DeblurGAN / Boracchi-Foi generator) and the one
random shake-kernel generator every chapter uses. Each kernel is non-negative, sums to one and
has odd sides with its origin at the centre.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..runtime import validate as _validate

#: Exposure time used by the book when the seed does not state one (time units; the
#: acceleration is in pixels per time unit squared). With T = 5 the seed's example
#: (a_x, a_y) = (1.47, 0.09) moves the image by about 18 px horizontally and 1 px vertically.
DEFAULT_EXPOSURE = 5.0


def _odd_size(size, name: str, minimum_extent: float) -> int:
    """Validate an explicit odd ``size`` or derive the smallest odd one holding ``minimum_extent``."""
    minimum_extent = max(0.0, minimum_extent - 1e-9)  # cos(90 degrees) is 6e-17, not 0
    if size is None:
        half = int(math.ceil(minimum_extent)) + 1
        return 2 * half + 1
    size = _validate.integer(size, name, minimum=1)
    if size % 2 == 0:
        raise ValueError(f"{name} must be odd so that the origin is a pixel centre, got {size}")
    if (size - 1) / 2 < minimum_extent:
        raise ValueError(
            f"{name}={size} is too small: the kernel reaches {minimum_extent:.2f} px from the origin, "
            f"needs size >= {2 * int(math.ceil(minimum_extent)) + 1}"
        )
    return size


def _odd_shape(size, name: str, extent_x: float, extent_y: float) -> tuple[int, int]:
    """``(rows, cols)`` from ``size`` (None, an odd int, or an odd pair) holding the given extents."""
    if size is None or isinstance(size, (numbers.Integral, np.integer)) or not hasattr(size, "__len__"):
        if size is None:
            return _odd_size(None, name, extent_y), _odd_size(None, name, extent_x)
        side = _odd_size(size, name, max(extent_x, extent_y))
        return side, side
    rows, cols = _validate.shape2(size, name)
    return _odd_size(rows, f"{name}[0]", extent_y), _odd_size(cols, f"{name}[1]", extent_x)


def _normalised(grid: np.ndarray, what: str) -> np.ndarray:
    """``grid / grid.sum()``, or a clear error if that would not be a finite, non-negative kernel."""
    total = grid.sum()
    if not np.isfinite(total) or total <= 0 or not np.all(np.isfinite(grid)):
        raise ValueError(f"{what}: the kernel could not be normalised (sum {total!r}); the parameters are out of numerical range")
    return grid / total


def splat_points(x, y, size, weights=None) -> np.ndarray:
    """Rasterise weighted points onto an odd ``size`` x ``size`` (or ``(rows, cols)``) grid with bilinear weights.

    Bilinear splatting keeps the total weight and the first moments (centroid) of the
    points exactly, which is why every path-shaped kernel here is built with it.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Point displacements from the array centre in pixels (x right, y down).
    size : int or (int, int)
        Side length of a square output grid, or its ``(rows, cols)``.
    weights : array_like, shape (n,), optional
        Non-negative weight per point; equal weights when omitted.

    Returns
    -------
    ndarray, shape (size, size) or (rows, cols)
        The accumulated weights (not normalised).
    """
    x = _validate.array(x, "x", ndim=1)
    y = _validate.array(y, "y", ndim=1)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    if hasattr(size, "__len__"):
        n_rows, n_cols = _validate.shape2(size, "size")
    else:
        n_rows = n_cols = _validate.integer(size, "size", minimum=1)
    w = np.ones_like(x) if weights is None else _validate.array(weights, "weights", ndim=1)
    if w.shape != x.shape:
        raise ValueError(f"weights must have shape {x.shape}, got {w.shape}")
    if np.any(w < 0):
        raise ValueError("weights must be non-negative")
    cols = x + n_cols // 2
    rows = y + n_rows // 2
    if cols.min() < 0 or rows.min() < 0 or cols.max() > n_cols - 1 or rows.max() > n_rows - 1:
        raise ValueError(
            f"size={size} is too small for points reaching {np.abs(x).max():.2f} px in x and {np.abs(y).max():.2f} px in y"
        )
    c0 = np.floor(cols).astype(int)
    r0 = np.floor(rows).astype(int)
    fc = cols - c0
    fr = rows - r0
    # Points exactly on the last row/column have zero weight on the neighbour outside.
    c1 = np.minimum(c0 + 1, n_cols - 1)
    r1 = np.minimum(r0 + 1, n_rows - 1)
    grid = np.zeros((n_rows, n_cols))
    np.add.at(grid, (r0, c0), w * (1 - fr) * (1 - fc))
    np.add.at(grid, (r0, c1), w * (1 - fr) * fc)
    np.add.at(grid, (r1, c0), w * fr * (1 - fc))
    np.add.at(grid, (r1, c1), w * fr * fc)
    return grid


def delta_psf(size: int = 1) -> np.ndarray:
    """The identity kernel: a single 1 at the centre of an odd ``size`` x ``size`` array."""
    size = _odd_size(size, "size", 0.0)
    out = np.zeros((size, size))
    out[size // 2, size // 2] = 1.0
    return out


def linear_motion_psf(length: float, angle: float, *, size=None) -> np.ndarray:
    """Uniform linear motion blur: a segment of ``length`` pixels at ``angle`` degrees.

    The continuous kernel is ``1/L`` on a segment of length ``L`` centred on the origin
    (seed 002, Eq. 2.1); it is rasterised with bilinear weights from densely sampled
    points, so it is anti-aliased and its centroid is exactly the array centre.

    Parameters
    ----------
    length : float
        Distance travelled during the exposure in pixels, >= 0 (0 gives a delta).
    angle : float
        Direction of motion in degrees, counter-clockwise from the +x axis on screen.
    size : int or (int, int), optional
        Odd side length, or odd ``(rows, cols)``; by default the smallest that holds the
        segment in each direction.
    """
    length = _validate.positive_scalar(length, "length", allow_zero=True)
    angle = _validate.real_scalar(angle, "angle")
    theta = math.radians(angle)
    half = length / 2
    shape = _odd_shape(size, "size", half * abs(math.cos(theta)), half * abs(math.sin(theta)))
    if length == 0:
        out = np.zeros(shape)
        out[shape[0] // 2, shape[1] // 2] = 1.0
        return out
    n = max(2, int(math.ceil(length * 16)) + 1)
    s = np.linspace(-half, half, n)
    # Trapezoid weights give the exact uniform density 1/L along the segment.
    w = np.full(n, 1.0)
    w[[0, -1]] = 0.5
    grid = splat_points(s * math.cos(theta), -s * math.sin(theta), shape, w)
    return _normalised(grid, "linear_motion_psf")


def disk_psf(radius: float, *, size: int | None = None, oversample: int = 8) -> np.ndarray:
    """Defocus blur: a uniform disk of ``radius`` pixels (seed 002, Eq. 2.3).

    Each pixel holds the fraction of its area inside the disk, measured on an
    ``oversample`` x ``oversample`` sub-grid, then the kernel is normalised to sum 1.

    Parameters
    ----------
    radius : float
        Disk radius in pixels, >= 0 (0 gives a delta).
    size : int, optional
        Odd side length; by default the smallest that holds the disk.
    oversample : int
        Sub-samples per pixel side used to measure the covered area, >= 1.
    """
    radius = _validate.positive_scalar(radius, "radius", allow_zero=True)
    oversample = _validate.integer(oversample, "oversample", minimum=1)
    size = _odd_size(size, "size", radius)
    if radius == 0:
        return delta_psf(size)
    centre = size // 2
    offsets = (np.arange(oversample) + 0.5) / oversample - 0.5
    fine = (np.arange(size)[:, None] - centre + offsets[None, :]).ravel()
    inside = (fine[:, None] ** 2 + fine[None, :] ** 2) <= radius**2
    area = inside.reshape(size, oversample, size, oversample).mean(axis=(1, 3))
    if area.sum() == 0:  # radius far below a pixel: all mass in the centre pixel
        return delta_psf(size)
    return _normalised(area, f"disk_psf(radius={radius})")


def gaussian_psf(sigma: float, *, size: int | None = None) -> np.ndarray:
    """Gaussian (atmospheric turbulence) blur, ``exp(-(i^2 + j^2) / (2 sigma^2))`` sampled at pixel centres.

    Parameters
    ----------
    sigma : float
        Standard deviation in pixels, >= 0 (0 gives a delta).
    size : int, optional
        Odd side length; by default ``2 * ceil(3 sigma) + 3``.
    """
    sigma = _validate.positive_scalar(sigma, "sigma", allow_zero=True)
    size = _odd_size(size, "size", 3 * sigma)
    if sigma == 0:
        return delta_psf(size)
    r = (np.arange(size) - size // 2) / sigma  # scaled first: sigma**2 underflows for tiny sigma
    with np.errstate(over="ignore"):
        g = np.exp(-0.5 * (r[:, None] ** 2 + r[None, :] ** 2))
    return _normalised(g, f"gaussian_psf(sigma={sigma})")


def acceleration_path(a_x: float, a_y: float, exposure: float = DEFAULT_EXPOSURE, *, samples: int = 4096):
    """Positions of a uniformly accelerated image point, ``x = a_x t^2 / 2, y = a_y t^2 / 2``.

    Time is sampled at the midpoints of ``samples`` equal intervals of ``(0, exposure)``,
    the rule under which the average of ``exp(-2j pi (u x + v y))`` over the samples
    converges fastest to the continuous transfer function.

    Returns
    -------
    t, x, y : ndarray, shape (samples,)
        Times and displacements in pixels (x right, y down).
    """
    a_x = _validate.real_scalar(a_x, "a_x")
    a_y = _validate.real_scalar(a_y, "a_y")
    exposure = _validate.positive_scalar(exposure, "exposure")
    samples = _validate.integer(samples, "samples", minimum=1)
    t = (np.arange(samples) + 0.5) * exposure / samples
    return t, 0.5 * a_x * t**2, 0.5 * a_y * t**2


def acceleration_psf(
    a_x: float,
    a_y: float,
    exposure: float = DEFAULT_EXPOSURE,
    *,
    size=None,
    samples: int | None = None,
) -> np.ndarray:
    """Blur kernel of uniform acceleration from rest during ``0 < t < exposure`` (seed 000).

    The image point follows ``x(t) = a_x t^2 / 2``, ``y(t) = a_y t^2 / 2``. Both coordinates
    share ``t^2``, so the path is a straight segment from the origin towards
    ``(a_x, a_y)``; the point moves ever faster, so the kernel is densest at the start
    (density along the segment falls as ``1/sqrt(distance)``).

    The origin (t = 0) is the array centre; the kernel occupies one quadrant. The kernel is
    sized by the path's extent in each direction: ``a = (8, 0)`` gives 3 rows, not a square.

    Parameters
    ----------
    a_x, a_y : float
        Accelerations in pixels per time unit squared (any sign).
    exposure : float
        Exposure time ``T`` in the same time unit, > 0.
    size : int or (int, int), optional
        Odd side length, or odd ``(rows, cols)``; by default the smallest that holds the path
        in each direction.
    samples : int, optional
        Time samples along the path; by default 16 per pixel of path length (at least 256).
    """
    a_x = _validate.real_scalar(a_x, "a_x")
    a_y = _validate.real_scalar(a_y, "a_y")
    exposure = _validate.positive_scalar(exposure, "exposure")
    shape = _odd_shape(size, "size", 0.5 * abs(a_x) * exposure**2, 0.5 * abs(a_y) * exposure**2)
    if samples is None:
        samples = max(256, int(16 * 0.5 * math.hypot(a_x, a_y) * exposure**2))
    _, x, y = acceleration_path(a_x, a_y, exposure, samples=samples)
    grid = splat_points(x, y, shape)
    return _normalised(grid, "acceleration_psf")


def random_trajectory(
    rng=None,
    *,
    steps: int = 2000,
    max_length: float = 60.0,
    exploration: float | None = None,
    centripetal: float | None = None,
    shake_probability: float | None = None,
    gaussian_shake: float | None = None,
) -> np.ndarray:
    """A random camera-shake trajectory (Boracchi & Foi 2012; the DeblurGAN data generator).

    A point moves with constant speed ``max_length / (steps - 1)`` pixels per step. Its
    velocity is nudged at each step by Gaussian jitter, pulled back towards the start
    (centripetal term, which keeps the path compact), and, with a small probability,
    kicked by an abrupt "big shake" that reverses it by roughly 180 degrees. The strength
    of every term is drawn at random unless given.

    Parameters
    ----------
    rng : int, numpy.random.Generator or None
        Seed or generator; the trajectory is deterministic for a given seed.
    steps : int
        Number of positions, >= 2.
    max_length : float
        Total path length in pixels, > 0.
    exploration : float, optional
        Overall strength of the random terms, >= 0. By default one of 0.01, 0.009, 0.008,
        0.007, 0.005, 0.003 at random, the values DeblurGAN's data generation draws from;
        values near 0.1 give short, tightly coiled paths.
    centripetal, shake_probability, gaussian_shake : float, optional
        Pull towards the start, per-step probability scale of a big shake, and the
        scale of the Gaussian jitter; defaults ``0.7 U``, ``0.2 U`` and ``10 U``.

    Returns
    -------
    ndarray of complex, shape (steps,)
        Positions ``x + 1j * y`` in pixels (x right, y down), starting at 0.
    """
    gen = _validate.rng(rng)
    steps = _validate.integer(steps, "steps", minimum=2)
    max_length = _validate.positive_scalar(max_length, "max_length")

    def draw(value, name, scale):
        if value is None:
            return scale * gen.uniform()
        return _validate.positive_scalar(value, name, allow_zero=True)

    if exploration is None:
        exploration = float(gen.choice([0.01, 0.009, 0.008, 0.007, 0.005, 0.003]))
    exploration = _validate.positive_scalar(exploration, "exploration", allow_zero=True)
    if exploration == 0:
        exploration = 1e-3  # a zero exploration would leave the velocity undefined after normalising
    centripetal = draw(centripetal, "centripetal", 0.7)
    shake_probability = draw(shake_probability, "shake_probability", 0.2)
    gaussian_shake = draw(gaussian_shake, "gaussian_shake", 10.0)

    step = max_length / (steps - 1)
    velocity = np.exp(1j * gen.uniform(0, 2 * np.pi)) * exploration
    positions = np.zeros(steps, dtype=complex)
    jitter = gen.standard_normal((steps - 1, 2)) @ np.array([1.0, 1j])
    kicks = gen.uniform(size=steps - 1) < shake_probability * exploration
    kick_angles = np.pi + gen.uniform(-0.5, 0.5, size=steps - 1)
    for k in range(steps - 1):
        kick = 2 * velocity * np.exp(1j * kick_angles[k]) if kicks[k] else 0.0
        velocity = velocity + kick + exploration * (gaussian_shake * jitter[k] - centripetal * positions[k]) * step
        velocity = velocity / abs(velocity) * step
        positions[k + 1] = positions[k] + velocity
    return positions


def trajectory_psf(trajectory, *, size=None, exposure: float = 1.0) -> np.ndarray:
    """Blur kernel of a camera-shake ``trajectory`` exposed for its first ``exposure`` fraction.

    Positions are equally weighted (constant speed), rasterised with bilinear weights and
    shifted so that the kernel's centroid is exactly the array centre.

    Parameters
    ----------
    trajectory : array_like of complex, shape (n,)
        Positions ``x + 1j * y`` in pixels, e.g. from :func:`random_trajectory`.
    size : int or (int, int), optional
        Odd side length, or odd ``(rows, cols)``; by default the smallest that holds the path
        in each direction.
    exposure : float
        Fraction of the trajectory seen by the sensor, in (0, 1].
    """
    traj = _validate.array(trajectory, "trajectory", ndim=1, dtype=np.complex128)
    exposure = _validate.positive_scalar(exposure, "exposure")
    if exposure > 1:
        raise ValueError(f"exposure must be in (0, 1], got {exposure}")
    seen = traj[: max(1, int(round(exposure * traj.size)))]
    seen = seen - seen.mean()
    shape = _odd_shape(size, "size", float(np.abs(seen.real).max()), float(np.abs(seen.imag).max()))
    grid = splat_points(seen.real, seen.imag, shape)
    return _normalised(grid, "trajectory_psf")


def psf_centroid(psf) -> tuple[float, float]:
    """Centroid ``(x, y)`` of a kernel in pixels relative to its array centre (x right, y down)."""
    k = _validate.psf(psf)
    rows, cols = np.indices(k.shape)
    total = k.sum()
    return (
        float((k * (cols - k.shape[1] // 2)).sum() / total),
        float((k * (rows - k.shape[0] // 2)).sum() / total),
    )


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


def shake_kernel_size(max_shake: float) -> int:
    """The odd kernel side that holds any trajectory of up to ``max_shake`` px (> 0), with a
    pixel of margin on each side for bilinear rasterisation."""
    max_shake = _validate.positive_scalar(max_shake, "max_shake")
    return 2 * math.ceil(max_shake / 2) + 3
