"""Figure helpers shared by the chapters: images, kernels and transfer functions with labelled axes."""

from __future__ import annotations

import numpy as np

from . import _validate


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
