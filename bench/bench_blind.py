"""Seconds per image of the L0 blind deconvolution (kernel estimation + final deconvolution). Prints; asserts nothing.

    python bench/bench_blind.py [--repeat N] [--workers 1 2] [--kernel-sizes 15 31 51]

Grey images of 256 x 256, 512 x 512 and 1280 x 720 (the bundled astronaut resized), blurred by a
camera-shake kernel about two thirds of the kernel window long, noise 0.01; for each kernel
window size and each number of ``scipy.fft`` workers, the median wall time of
``blind_deconvolve`` over ``--repeat`` runs. The FFT grids are ``scipy.fft.next_fast_len`` sizes.
The book's chapter times one thread; several workers is what a reader's machine can add.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from deblurkit import data
from deblurkit.imaging import blind, psf
from deblurkit.imaging.blur import add_gaussian_noise, camera_blur

SHAPES = ((256, 256), (512, 512), (720, 1280))


def blurred_image(shape, kernel_size: int, seed: int = 0) -> np.ndarray:
    """A grey ``shape`` image blurred by a shake kernel of length ~2/3 of ``kernel_size``, noise 0.01."""
    side = max(shape)
    scene = data.resize(data.bundled_image("astronaut", gray=True), (side + 2 * kernel_size, side + 2 * kernel_size))
    rng = np.random.default_rng(seed)
    kernel = psf.trajectory_psf(psf.random_trajectory(rng, max_length=2 * kernel_size / 3))
    crop = camera_blur(scene, kernel, side)[: shape[0], : shape[1]]
    return add_gaussian_noise(crop, 0.01, rng, clip=True)


def seconds(image, kernel_size: int, workers: int, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        blind.blind_deconvolve(image, kernel_size, workers=workers)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument("--kernel-sizes", type=int, nargs="+", default=[15, 31, 51])
    args = parser.parse_args(argv)
    print(f"# L0 blind deconvolution, seconds per grey image ({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs)")
    print(f"{'image':>10} {'kernel':>6} " + " ".join(f"{f'{w} worker(s)':>12}" for w in sorted(set(args.workers))))
    for shape in SHAPES:
        for size in args.kernel_sizes:
            image = blurred_image(shape, size)
            cells = [seconds(image, size, w, args.repeat) for w in sorted(set(args.workers))]
            print(f"{shape[1]:>5}x{shape[0]:<4} {size:>6} " + " ".join(f"{c:12.2f}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
