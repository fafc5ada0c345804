"""Speed of the core operations on a 512x512 grey image. Prints a table; asserts nothing.

    python bench/bench_restore.py [--repeat N]

* blur + Wiener restore with deblurkit (circular, constant NSR) against
  ``skimage.restoration.wiener`` on the same blurred input (blur time included in neither);
* building an acceleration kernel and a camera-shake kernel (trajectory + rasterisation).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

from deblurkit import blur, data, psf, restore


def best_of(fn, repeat: int) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeat`` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    from skimage.restoration import wiener as skimage_wiener

    image = data.bundled_square("camera", 512)
    kernel = psf.linear_motion_psf(21, 30)
    blurred = blur.add_gaussian_noise(blur.blur(image, kernel), 0.01, 0)
    nsr = restore.estimate_nsr(blurred, 0.01)

    rows = [
        ("blur 512x512 (FFT, wrap)", best_of(lambda: blur.blur(image, kernel), args.repeat)),
        ("blur 512x512 (FFT, symmetric pad)", best_of(lambda: blur.blur(image, kernel, mode="symmetric"), args.repeat)),
        ("Wiener restore, deblurkit", best_of(lambda: restore.wiener_filter(blurred, kernel, nsr=nsr), args.repeat)),
        ("Wiener restore, skimage.restoration.wiener", best_of(lambda: skimage_wiener(blurred, kernel, balance=nsr), args.repeat)),
        ("blur + Wiener, deblurkit", best_of(lambda: restore.wiener_filter(blur.blur(image, kernel), kernel, nsr=nsr), args.repeat)),
        ("acceleration kernel (1.47, 0.09), T=5", best_of(lambda: psf.acceleration_psf(1.4724174320412484, 0.0916516522235391), args.repeat)),
        ("camera-shake trajectory (2000 steps) + kernel", best_of(lambda: psf.trajectory_psf(psf.random_trajectory(0)), args.repeat)),
    ]
    print(f"# {platform.processor() or platform.machine()}, numpy {np.__version__}, median of {args.repeat}")
    width = max(len(r[0]) for r in rows)
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds * 1e3:9.2f} ms")
    ratio = rows[2][1] / rows[3][1]
    print(f"{'Wiener time ratio deblurkit / skimage':<{width}}  {ratio:9.2f}")


if __name__ == "__main__":
    main()
