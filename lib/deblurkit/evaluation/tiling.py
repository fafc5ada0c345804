"""Fixed-size networks on images of any size: overlapping tiles, cross-faded where they meet.

A network that takes only ``tile`` x ``tile`` inputs (chapter 3's autoencoder) restores a large
photo tile by tile. Cut edge to edge, the tiles leave visible seams; here neighbouring tiles
overlap by ``overlap`` pixels and are blended with a weight that ramps up from each tile's edge
(:func:`blend_window`), normalised by the summed weight, so each seam becomes a cross-fade.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..runtime import validate as _validate


def _starts(length: int, tile: int, step: int) -> list[int]:
    """Window starts covering ``length`` with windows of ``tile`` every ``step`` (the last flush with the end)."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, step))
    return starts + [length - tile]


def blend_window(tile: int, overlap: int) -> np.ndarray:
    """A ``tile`` x ``tile`` weight that ramps up over ``overlap`` px at every side (raised cosine)
    and is 1 inside: overlapping windows weighted by it and normalised by their summed weight
    cross-fade, so no seam is left where one window ends."""
    ramp = np.ones(tile)
    if overlap:
        rise = np.sin(0.5 * np.pi * (np.arange(overlap) + 0.5) / overlap) ** 2
        ramp[:overlap] = rise
        ramp[tile - overlap :] = rise[::-1]
    return np.outer(ramp, ramp)


def tiled_apply(fn: Callable, image, *, tile: int, overlap: int) -> np.ndarray:
    """Apply a fixed-size network ``fn`` to an image of any size, in overlapping blended tiles.

    Parameters
    ----------
    fn : callable
        ``fn(windows) -> windows``: maps a stack ``(n, tile, tile[, C])`` to one of the same
        shape (one call for all windows, so a network predicts them as one batch).
    image : array_like, shape (H, W) or (H, W, C)
        Smaller sides than ``tile`` are extended by reflection and cropped back.
    tile : int
        The side the network takes, >= 8.
    overlap : int
        Pixels shared by neighbouring tiles, 0 <= overlap <= tile // 2; the tiles cross-fade
        over it (:func:`blend_window`).

    Returns
    -------
    ndarray, the shape of ``image``, float64
    """
    img = _validate.image(image)
    tile = _validate.integer(tile, "tile", minimum=8)
    overlap = _validate.integer(overlap, "overlap", minimum=0)
    if overlap > tile // 2:
        raise ValueError(f"overlap must be at most tile // 2 = {tile // 2}, got {overlap}")
    h, w = img.shape[:2]
    pad = [(0, max(0, tile - h)), (0, max(0, tile - w))] + [(0, 0)] * (img.ndim - 2)
    padded = np.pad(img, pad, mode="reflect") if any(p[1] for p in pad[:2]) else img
    H, W = padded.shape[:2]
    weight = blend_window(tile, overlap)
    if img.ndim == 3:
        weight = weight[..., None]
    out = np.zeros(padded.shape)
    total = np.zeros(padded.shape[:2] + ((1,) if img.ndim == 3 else ()))
    corners = [(r, c) for r in _starts(H, tile, tile - overlap) for c in _starts(W, tile, tile - overlap)]
    windows = np.stack([padded[r : r + tile, c : c + tile] for r, c in corners])
    restored = np.asarray(fn(windows), dtype=float)
    if restored.shape != windows.shape:
        raise ValueError(f"fn must return windows of shape {windows.shape}, got {restored.shape}")
    for (r, c), window in zip(corners, restored):
        out[r : r + tile, c : c + tile] += weight * window
        total[r : r + tile, c : c + tile] += weight
    return (out / total)[:h, :w]
