"""Blind deblurring of one photo from the command line, without learning.

    python -m deblurkit.blind deblur IN OUT [--kernel-size N] [--kernel-out K.png] [--gamma G]
                                     [--kernel-weight C] [--weight W]

Estimates one blur kernel for the whole image with an L0 gradient prior, coarse to fine, and
deconvolves every channel with it (:func:`deblurkit.imaging.blind.blind_deconvolve`). Grey
images stay grey and colour stays colour; 8-bit input is written as 8-bit, 16-bit as 16-bit
(16-bit colour as TIFF: Pillow neither writes nor reads 16-bit colour PNG).
``--kernel-weight`` (the kernel step's L2 weight scale) and ``--weight`` (the final step's data
weight) default to the library's defaults, which chapter 7 chose on its validation images
(cpu profile); a photo whose noise or blur differs from the book's may want others.
When the method's checks refuse the result, the input is written unchanged and the reason is
printed. A missing or unreadable file is answered with one line and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .data.external import read_image
from .imaging.blind import blind_deconvolve, estimate_kernel

#: The library's defaults (chapter 7's validated cpu choice), shown in ``--help``.
KERNEL_WEIGHT = estimate_kernel.__kwdefaults__["kernel_weight"]
WEIGHT = blind_deconvolve.__kwdefaults__["weight"]


def _positive(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


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
    kernel_help = f"scale of the kernel step's L2 weight (default {KERNEL_WEIGHT:g}, chosen on chapter 7's validation)"
    d.add_argument("--kernel-weight", type=_positive, default=KERNEL_WEIGHT, help=kernel_help)
    weight_help = f"the final step's data weight: larger is sharper and noisier (default {WEIGHT:g}, chosen on chapter 7's validation)"
    d.add_argument("--weight", type=_positive, default=WEIGHT, help=weight_help)
    d.add_argument("--workers", type=int, default=1, help="scipy.fft threads (default 1)")
    args = parser.parse_args(argv)
    try:
        image, dtype = _read(args.input)
        _check_output(args.output, image, dtype)
        if args.kernel_out:
            _check_output(args.kernel_out, image[..., 0], np.uint8)
        options = {"gamma": args.gamma, "weight": args.weight, "kernel_weight": args.kernel_weight, "workers": args.workers}
        result = blind_deconvolve(image, args.kernel_size, **options)
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
