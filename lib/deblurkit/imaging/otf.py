"""Transfer functions: closed forms (uniform acceleration through Fresnel integrals), the DFT of
a kernel at any frequency, and the FFT of a rasterised kernel, with the half-spectrum helpers
(``psf_to_half_otf``, ``apply_half``, ``hermitian_half``) that blur and restore share.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
from scipy.special import fresnel

from ..imaging.psf import DEFAULT_EXPOSURE, acceleration_psf
from ..runtime import validate as _validate


def frequency_grid(shape) -> tuple[np.ndarray, np.ndarray]:
    """Column and row frequencies ``(u, v)`` of an image grid, broadcastable to ``shape``.

    Returns
    -------
    u : ndarray, shape (1, W)
        Horizontal frequency in cycles per pixel.
    v : ndarray, shape (H, 1)
        Vertical frequency in cycles per pixel.
    """
    rows, cols = _validate.shape2(shape)
    return np.fft.fftfreq(cols)[None, :], np.fft.fftfreq(rows)[:, None]


def _wrapped_kernel(k: np.ndarray, shape: tuple[int, int], name: str = "psf") -> np.ndarray:
    """The centred kernel ``k`` on an all-zero ``shape`` grid with its centre pixel at index (0, 0)."""
    rows, cols = shape
    if k.shape[0] > rows or k.shape[1] > cols:
        raise ValueError(f"{name} of shape {k.shape} does not fit in shape {(rows, cols)}")
    padded = np.zeros((rows, cols))
    r = (np.arange(k.shape[0]) - k.shape[0] // 2) % rows
    c = (np.arange(k.shape[1]) - k.shape[1] // 2) % cols
    padded[np.ix_(r, c)] = k
    return padded


def psf_to_otf(psf, shape) -> np.ndarray:
    """OTF of a centred kernel on an image grid of ``shape`` (circular convolution).

    The kernel's centre pixel (``size // 2``) is moved to index (0, 0) before the FFT, so
    that a symmetric kernel has a real OTF and no shift is introduced.

    Parameters
    ----------
    psf : array_like, shape (h, w)
        Non-negative kernel with odd sides and its origin at the array centre; ``h <= H`` and
        ``w <= W``.
    shape : (int, int)
        Image shape ``(H, W)``.

    Returns
    -------
    ndarray of complex, shape ``shape``
        The full transfer function; :func:`half_spectrum` keeps the ``u >= 0`` columns.
    """
    k = _validate.psf(psf)
    return scipy.fft.fft2(_wrapped_kernel(k, _validate.shape2(shape)))


def psf_to_half_otf(psf, shape) -> np.ndarray:
    """The columns ``u >= 0`` of :func:`psf_to_otf`, ``(H, W // 2 + 1)``, with real FFTs.

    Only the kernel's ``h`` rows are transformed along x (a real FFT of an ``(h, W)`` strip);
    they are then placed at their wrapped row offsets and transformed along y in place, so
    the only image-sized array made is the result.
    """
    k = _validate.psf(psf)
    rows, cols = _validate.shape2(shape)
    if k.shape[0] > rows or k.shape[1] > cols:
        raise ValueError(f"psf of shape {k.shape} does not fit in shape {(rows, cols)}")
    strip = np.zeros((k.shape[0], cols))
    strip[:, (np.arange(k.shape[1]) - k.shape[1] // 2) % cols] = k
    out = np.zeros((rows, cols // 2 + 1), np.complex128)
    out[(np.arange(k.shape[0]) - k.shape[0] // 2) % rows] = scipy.fft.rfft(strip, axis=1)
    return scipy.fft.fft(out, axis=0, overwrite_x=True)


def half_spectrum(transfer) -> np.ndarray:
    """The Hermitian part of a full transfer function, on the ``(H, W // 2 + 1)`` columns ``u >= 0``.

    ``(T(u, v) + conj(T(-u, -v))) / 2``: what a transfer function does to a real image (see
    the module docstring). Equal to ``transfer[:, : W // 2 + 1]`` when ``transfer`` is the OTF
    of a real kernel.

    Parameters
    ----------
    transfer : array_like of complex, shape (H, W)
        Transfer function in ``numpy.fft`` order.
    """
    t = _validate.array(transfer, "transfer", ndim=2, dtype=np.complex128)
    return hermitian_half(t)


def hermitian_half(t: np.ndarray) -> np.ndarray:
    rows, cols = t.shape
    half = cols // 2 + 1
    mirror_r = (-np.arange(rows)) % rows
    mirror_c = (-np.arange(half)) % cols
    return 0.5 * (t[:, :half] + np.conj(t[np.ix_(mirror_r, mirror_c)]))


def apply_half(img: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Filter a validated grey or colour image by a half-spectrum transfer with real FFTs."""
    rows, cols = img.shape[:2]
    spectrum = scipy.fft.rfft2(img, axes=(0, 1))
    spectrum *= half if img.ndim == 2 else half[:, :, None]
    return scipy.fft.irfft2(spectrum, s=(rows, cols), axes=(0, 1), overwrite_x=True)


def psf_dft(psf, u, v) -> np.ndarray:
    """Discrete-time Fourier transform of a centred kernel at arbitrary frequencies.

    ``H[i, j] = sum_{r, c} psf[r, c] exp(-2j pi (u[j] x_c + v[i] y_r))`` with ``x_c, y_r`` the
    pixel offsets from the array centre. Computed as two matrix products, so it is cheap
    for kernels of a few hundred pixels a side even where an FFT would need a huge grid.

    Parameters
    ----------
    psf : array_like, shape (h, w)
        Kernel with its origin at the array centre.
    u, v : array_like, 1-D
        Horizontal and vertical frequencies in cycles per pixel of the kernel's grid.
    """
    k = _validate.array(psf, "psf", ndim=2)
    u = _validate.array(u, "u", ndim=1)
    v = _validate.array(v, "v", ndim=1)
    x = np.arange(k.shape[1]) - k.shape[1] // 2
    y = np.arange(k.shape[0]) - k.shape[0] // 2
    ev = np.exp(-2j * np.pi * np.outer(v, y))
    eu = np.exp(-2j * np.pi * np.outer(x, u))
    return ev @ k @ eu


def acceleration_transfer_alpha(alpha, exposure: float = DEFAULT_EXPOSURE) -> np.ndarray:
    """The acceleration transfer function as a function of ``alpha = a_x u + a_y v`` alone.

    ``H(alpha) = (1/T) int_0^T exp(-j pi alpha t^2) dt`` in closed form via Fresnel integrals
    (see :func:`acceleration_otf`); useful for plotting ``H`` along the motion direction and
    for evaluating many candidate accelerations at arbitrary frequencies.

    Parameters
    ----------
    alpha : array_like
        ``a_x u + a_y v`` in (cycles/px) x (px/time^2), any shape.
    exposure : float
        Exposure time ``T``, > 0.
    """
    alpha = _validate.array(alpha, "alpha", ndim=None)
    exposure = _validate.positive_scalar(exposure, "exposure")
    return _fresnel_mean_phase(alpha, exposure)


def _fresnel_mean_phase(alpha: np.ndarray, exposure: float) -> np.ndarray:
    """Unvalidated core of :func:`acceleration_transfer_alpha`."""
    z = exposure * np.sqrt(2 * np.abs(alpha))
    s, c = fresnel(z)
    out = np.ones_like(alpha, dtype=complex)
    nz = z > 1e-12
    out[nz] = (c[nz] - 1j * np.sign(alpha[nz]) * s[nz]) / z[nz]
    return out


def _discrete_mean_phase(alpha: np.ndarray, exposure: float, samples: int, normalise: bool) -> np.ndarray:
    """The seed's sum ``sum_{t} exp(-j pi alpha t^2)`` over ``samples`` times in ``[0, T]``."""
    t = np.linspace(0.0, exposure, samples)
    total = np.zeros_like(alpha, dtype=complex)
    for tk in t:  # a loop keeps memory at one grid, not samples x grid
        total += np.exp(-1j * np.pi * alpha * tk**2)
    return total / samples if normalise else total


def acceleration_otf(
    a_x: float,
    a_y: float,
    exposure: float = DEFAULT_EXPOSURE,
    shape=(256, 256),
    *,
    form: str = "continuous",
    samples: int | None = None,
    normalise: bool = True,
) -> np.ndarray:
    """Transfer function of uniform acceleration from rest, ``x = a_x t^2/2``, ``y = a_y t^2/2``.

    With ``alpha = a_x u + a_y v``::

        H(u, v) = (1/T) int_0^T exp(-j pi alpha t^2) dt = (C(z) - j sign(alpha) S(z)) / z,
        z = T sqrt(2 |alpha|),

    where ``S, C`` are the Fresnel integrals (``scipy.special.fresnel`` returns ``(S, C)``).
    ``H`` depends on ``(u, v)`` only through ``alpha``: the blur is one-dimensional, along
    the direction ``(a_x, a_y)``.

    Parameters
    ----------
    a_x, a_y : float
        Accelerations in pixels per time unit squared.
    exposure : float
        Exposure time ``T``, > 0.
    shape : (int, int)
        Image shape ``(H, W)``; the OTF is sampled at its FFT frequencies.
    form : {"continuous", "discrete"}
        ``"continuous"``: the Fresnel closed form. ``"discrete"``: the seed's sum over
        ``samples`` equally spaced times ``t = 0, T/(samples-1), ..., T``.
    samples : int, optional
        Time samples for ``form="discrete"``, >= 1; default ``int(T) + 1`` (the seed's
        integer times 0..T).
    normalise : bool
        Divide the discrete sum by ``samples`` so that ``H(0, 0) = 1``. The seed's formula
        does not; an unnormalised OTF scales the restored image by ``1/samples``.

    Returns
    -------
    ndarray of complex, shape ``shape``
        The closed form sampled at ``numpy.fft`` frequencies. On an even grid the Nyquist row
        and column sample ``-0.5`` cycles/px only, so the array is not Hermitian there; blur and
        restoration use its Hermitian part (:func:`half_spectrum`), which averages ``+-0.5``,
        and are exact inverses on even grids as on odd ones.
    """
    a_x = _validate.real_scalar(a_x, "a_x")
    a_y = _validate.real_scalar(a_y, "a_y")
    exposure = _validate.positive_scalar(exposure, "exposure")
    _validate.choice(form, "form", {"continuous", "discrete"})
    u, v = frequency_grid(shape)
    alpha = a_x * u + a_y * v
    if form == "continuous":
        return _fresnel_mean_phase(alpha, exposure)
    samples = int(exposure) + 1 if samples is None else _validate.integer(samples, "samples", minimum=1)
    return _discrete_mean_phase(alpha, exposure, samples, normalise)


def acceleration_otf_separable(
    a_x: float,
    a_y: float,
    exposure: float = DEFAULT_EXPOSURE,
    shape=(256, 256),
    *,
    form: str = "continuous",
    samples: int | None = None,
    normalise: bool = True,
) -> np.ndarray:
    """The seed's *product* form ``H_x(u) H_y(v)``: a sum over t for x times a sum over t for y.

    A product of a function of ``u`` and a function of ``v`` is the OTF of a *separable*
    kernel ``h_x(x) h_y(y)``: the x and y motions are treated as if they happened with
    independent clocks. The true kernel is a segment; this one fills the rectangle that the
    segment spans. Arguments as in :func:`acceleration_otf`.
    """
    u, v = frequency_grid(shape)
    h_u = acceleration_otf(a_x, 0.0, exposure, (1, u.shape[1]), form=form, samples=samples, normalise=normalise)
    h_v = acceleration_otf(0.0, a_y, exposure, (v.shape[0], 1), form=form, samples=samples, normalise=normalise)
    return h_v * h_u


def rasterised_acceleration_otf(
    a_x: float,
    a_y: float,
    exposure: float = DEFAULT_EXPOSURE,
    shape=(256, 256),
    *,
    oversample: int = 1,
) -> np.ndarray:
    """OTF of the acceleration kernel rasterised on a grid ``oversample`` times finer than the image.

    The kernel is drawn with :func:`deblurkit.psf.acceleration_psf` at ``oversample``
    sub-pixels per pixel (accelerations scaled by ``oversample``), and its transform is
    evaluated at the image's FFT frequencies with :func:`psf_dft`. With ``oversample=1``
    this is the OTF of the kernel as blurred images use it; as ``oversample`` grows it
    converges to the closed form of :func:`acceleration_otf`.
    """
    oversample = _validate.integer(oversample, "oversample", minimum=1)
    rows, cols = _validate.shape2(shape)
    fine = acceleration_psf(a_x * oversample, a_y * oversample, exposure)
    u = np.fft.fftfreq(cols) / oversample
    v = np.fft.fftfreq(rows) / oversample
    return psf_dft(fine, u, v)


def laplacian_otf(shape) -> np.ndarray:
    """OTF of the discrete Laplacian ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]`` (the CLS regulariser)."""
    u, v = frequency_grid(shape)
    return (2 * np.cos(2 * np.pi * u) - 2) + (2 * np.cos(2 * np.pi * v) - 2)


def apply_transfer(image, transfer) -> np.ndarray:
    """Filter a real image by a transfer function: ``ifft2(T * fft2(image))``, real by construction.

    A transfer without Hermitian symmetry would give a complex result; the image is filtered
    by the transfer's Hermitian part instead (:func:`half_spectrum`), which is what taking
    the real part of the complex result would give, computed with real FFTs.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        Grey or colour image; colour channels are filtered independently.
    transfer : array_like of complex, shape (H, W)
        Transfer function in ``numpy.fft`` order (see the module docstring).
    """
    img = _validate.image(image)
    t = _validate.transfer(transfer, "transfer", img.shape[:2])
    return apply_half(img, hermitian_half(t))
