"""Labelled figures: images, kernels, transfer functions, and a kernel field drawn over an image.
"""

from __future__ import annotations

import numpy as np

from ..imaging.nonuniform import check_kernels, check_weights, per_pixel_kernels
from ..runtime import validate as _validate


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
    k = check_kernels(kernels)
    m = check_weights(weights, k.shape[0], img.shape)
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


def show_image(ax, image, title: str, *, vmin: float = 0.0, vmax: float = 1.0):
    """Draw an image in [vmin, vmax] (grey colour map for 2-D) with pixel axes; values outside are clipped for display."""
    img = _validate.image(image)
    shown = np.clip(img, vmin, vmax) if img.ndim == 3 else img
    artist = ax.imshow(shown, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_title(title)
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y (px)")
    return artist


def show_kernel(ax, psf, title: str, *, colorbar: bool = True):
    """Draw a centred kernel with axes in pixel offsets from its origin and a colour bar of its weights."""
    k = _validate.array(psf, "psf", ndim=2)
    cy, cx = k.shape[0] // 2, k.shape[1] // 2
    extent = (-cx - 0.5, k.shape[1] - cx - 0.5, k.shape[0] - cy - 0.5, -cy - 0.5)
    artist = ax.imshow(k, cmap="magma", extent=extent, interpolation="nearest")
    ax.set_title(title)
    ax.set_xlabel("x offset (px)")
    ax.set_ylabel("y offset (px)")
    if colorbar:
        ax.figure.colorbar(artist, ax=ax, fraction=0.046, pad=0.04, label="weight (sums to 1)")
    return artist


def show_transfer(ax, transfer, title: str, *, log: bool = True, colorbar: bool = True, vmin: float = -4.0):
    """Draw ``|H(u, v)|`` centred on zero frequency, axes in cycles per pixel.

    With ``log=True`` the colour is ``log10 |H|``, clipped below at ``vmin``.
    """
    h = _validate.array(transfer, "transfer", ndim=2, dtype=np.complex128)
    mag = np.abs(np.fft.fftshift(h))
    values = np.log10(np.maximum(mag, 10.0**vmin)) if log else mag
    rows, cols = h.shape
    u = np.fft.fftshift(np.fft.fftfreq(cols))
    v = np.fft.fftshift(np.fft.fftfreq(rows))
    extent = (u[0] - 0.5 / cols, u[-1] + 0.5 / cols, v[-1] + 0.5 / rows, v[0] - 0.5 / rows)
    artist = ax.imshow(values, cmap="viridis", extent=extent, vmin=vmin if log else 0, vmax=0 if log else None)
    ax.set_title(title)
    ax.set_xlabel("u (cycles/px)")
    ax.set_ylabel("v (cycles/px)")
    if colorbar:
        ax.figure.colorbar(artist, ax=ax, fraction=0.046, pad=0.04, label="log10 |H|" if log else "|H|")
    return artist


def show_with_inset(ax, image, title: str, box, *, where=(0.6, 0.0, 0.4, 0.4), colour: str = "yellow"):
    """Draw ``image`` with a magnified inset of one square region, the region marked on it.

    The inset shows the pixels of ``box`` as they are (nearest neighbour, no smoothing), so the
    same ``box`` on every method's result compares them pixel for pixel.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    image : array_like, shape (H, W) or (H, W, 3)
        Values in [0, 1] (clipped for display).
    title : str
    box : tuple of int
        ``(x0, y0, side)`` in pixels: the region's top-left corner and its side.
    where : tuple of float
        The inset's ``(left, bottom, width, height)`` in fractions of ``ax``.
    colour : str
        Colour of the square that marks the region and of the inset's frame.

    Returns
    -------
    matplotlib.axes.Axes
        The inset's axes.
    """
    from matplotlib.patches import Rectangle

    img = _validate.image(image)
    x0, y0, side = (int(v) for v in box)
    if side < 1 or x0 < 0 or y0 < 0 or x0 + side > img.shape[1] or y0 + side > img.shape[0]:
        raise ValueError(f"box must be (x0, y0, side) inside the image of shape {img.shape[:2]}, got {box}")
    show_image(ax, img, title)
    inset = ax.inset_axes(list(where))
    crop = np.clip(img[y0 : y0 + side, x0 : x0 + side], 0, 1)
    inset.imshow(crop, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    inset.set_xticks([])
    inset.set_yticks([])
    for spine in inset.spines.values():
        spine.set_edgecolor(colour)
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), side, side, fill=False, edgecolor=colour, lw=1))
    return inset
