"""Blind deblurring of one photo from the command line, without learning.

    python -m deblurkit.blind deblur IN OUT [--kernel-size N] [--kernel-out K.png] [--gamma G]

Estimates one blur kernel for the whole image with an L0 gradient prior, coarse to fine, and
deconvolves every channel with it (:func:`deblurkit.imaging.blind.blind_deconvolve`). Grey
images stay grey and colour stays colour; 8-bit input is written as 8-bit, 16-bit as 16-bit
(16-bit colour as TIFF: Pillow neither writes nor reads 16-bit colour PNG).
When the method's checks refuse the result, the input is written unchanged and the reason is
printed. A missing or unreadable file is answered with one line and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .data.external import read_image
from .imaging.blind import blind_deconvolve


def _read(path) -> tuple[np.ndarray, np.dtype]:
    """The image (grey (H, W) or RGB (H, W, 3), float in [0, 1]) and its stored integer dtype."""
    raw = read_image(path)
    if raw.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{path}: expected an 8- or 16-bit image, got {raw.dtype}")
    if raw.ndim == 3 and raw.shape[2] in (2, 4):  # drop alpha
        raw = raw[..., : raw.shape[2] - 1]
    if raw.ndim == 3 and raw.shape[2] == 1:
        raw = raw[..., 0]
    if raw.ndim not in (2, 3):
        raise ValueError(f"{path}: expected a grey or colour image, got shape {raw.shape}")
    return raw.astype(np.float64) / np.iinfo(raw.dtype).max, raw.dtype


def _check_output(path, image: np.ndarray, dtype) -> Path:
    """Refuse an output before the work is done: a missing folder, 16-bit colour as PNG."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"output folder does not exist: {path.parent}")
    if image.ndim == 3 and dtype == np.uint16 and path.suffix.lower() == ".png":
        raise ValueError(f"{path}: 16-bit colour cannot be written as PNG here (Pillow); name a .tif output")
    return path


def _write(path, image: np.ndarray, dtype) -> None:
    from skimage import io

    path = _check_output(path, image, dtype)
    peak = np.iinfo(dtype).max
    io.imsave(path, (np.clip(image, 0.0, 1.0) * peak).round().astype(dtype), check_contrast=False)


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deblurkit.blind", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("deblur", help="estimate the blur kernel of one image and restore it")
    d.add_argument("input")
    d.add_argument("output")
    d.add_argument("--kernel-size", type=int, default=31, help="odd side of the kernel window in pixels (default 31)")
    d.add_argument("--kernel-out", help="write the estimated kernel here (PNG, scaled to its maximum)")
    d.add_argument("--gamma", type=float, default=1.0, help="work on image**gamma (2.2: undo a camera's encoding; default 1)")
    d.add_argument("--workers", type=int, default=1, help="scipy.fft threads (default 1)")
    args = parser.parse_args(argv)
    try:
        image, dtype = _read(args.input)
        _check_output(args.output, image, dtype)
        if args.kernel_out:
            _check_output(args.kernel_out, image[..., 0], np.uint8)
        result = blind_deconvolve(image, args.kernel_size, gamma=args.gamma, workers=args.workers)
        _write(args.output, result.restored, dtype)
        if args.kernel_out:
            _write(args.kernel_out, result.kernel / result.kernel.max(), np.uint8)
        size = f"{image.shape[1]}x{image.shape[0]}"
        if result.failed:
            print(f"{args.input} -> {args.output} ({size}): input kept, {result.reason}")
        else:
            print(f"{args.input} -> {args.output} ({size}), kernel {args.kernel_size}x{args.kernel_size}")
    except (FileNotFoundError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main())
