"""Speed of the core operations, deblurkit against scikit-image in the same process. Prints tables; asserts nothing.

    python bench/bench_restore.py [--repeat N] [--sizes 512 2048]

* The four FFT restorations (inverse, pseudo-inverse, Wiener, CLS) of deblurkit against the
  scikit-image call that does the same FFT work: ``skimage.restoration.wiener`` with
  ``reg`` a unit impulse (constant-NSR Wiener; ``balance=0`` for the inverse filters, which
  scikit-image does not have) or with its default Laplacian ``reg`` (CLS), ``clip=False``.
  scikit-image has no colour axis for ``wiener``; colour is its per-channel loop.
  The ratio is median(deblurkit) / median(scikit-image) over ``--repeat`` calls after a
  warm-up: below 1 means deblurkit is faster. It is given twice, because at these sizes the
  first touch of freshly allocated memory (page faults; glibc returns large blocks to the
  system and takes them back depending on what ran before) costs as much as the FFTs:
  "interleaved" alternates the two calls (A, B, A, B, ...), "blocked" runs all of A, then
  all of B, as ``timeit`` does. Running with fixed allocator thresholds, e.g.
  ``MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=4294967296``, removes that effect.
* Blur and kernel construction times.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from deblurkit import data
from deblurkit.imaging import blur, psf, restore


def _once(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_time(fn, repeat: int) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeat`` runs after one warm-up."""
    fn()
    return statistics.median(_once(fn) for _ in range(repeat))


def paired_medians(a, b, repeat: int) -> tuple[float, float]:
    """Median times of ``a()`` and ``b()``, run alternately so that both see the same machine load."""
    a(), b()
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(_once(a))
        tb.append(_once(b))
    return statistics.median(ta), statistics.median(tb)


def restoration_pairs(blurred, kernel, nsr):
    """(name, deblurkit call, scikit-image call) for one grey or colour image."""
    from skimage.restoration import wiener as sk_wiener

    impulse = np.ones((1, 1))
    if blurred.ndim == 3:
        def sk(**kw):
            return lambda: [sk_wiener(blurred[..., c], kernel, clip=False, **kw) for c in range(blurred.shape[2])]
    else:
        def sk(**kw):
            return lambda: sk_wiener(blurred, kernel, clip=False, **kw)
    return [
        ("inverse", lambda: restore.inverse_filter(blurred, kernel), sk(balance=0.0, reg=impulse)),
        ("pseudo-inverse", lambda: restore.pseudo_inverse_filter(blurred, kernel, threshold=0.05), sk(balance=0.0, reg=impulse)),
        ("Wiener", lambda: restore.wiener_filter(blurred, kernel, nsr=nsr), sk(balance=nsr, reg=impulse)),
        ("CLS", lambda: restore.cls_filter(blurred, kernel, gamma=nsr), sk(balance=nsr)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 2048])
    args = parser.parse_args()
    import scipy
    import skimage

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {load:.2f}; "
        f"numpy {np.__version__}, scipy {scipy.__version__}, scikit-image {skimage.__version__}; "
        f"median of {args.repeat}"
    )
    kernel = psf.linear_motion_psf(21, 30)
    head = f"{'restoration':<16}{'size':>6} {'image':<7}"
    print(f"\n{head}{'interleaved: deblurkit ms':>27}{'skimage ms':>12}{'ratio':>7}{'blocked: deblurkit ms':>23}{'skimage ms':>12}{'ratio':>7}")
    for size in args.sizes:
        for colour in (False, True):
            image = data.bundled_square("astronaut", size, gray=not colour)
            blurred = blur.add_gaussian_noise(blur.blur(image, kernel), 0.01, 0)
            nsr = restore.estimate_nsr(blurred, 0.01)
            for name, ours, theirs in restoration_pairs(blurred, kernel, nsr):
                a, b = paired_medians(ours, theirs, args.repeat)
                a2, b2 = median_time(ours, args.repeat), median_time(theirs, args.repeat)
                label = "colour" if colour else "grey"
                print(
                    f"{name:<16}{size:>6} {label:<7}{a * 1e3:>27.2f}{b * 1e3:>12.2f}{a / b:>7.2f}"
                    f"{a2 * 1e3:>23.2f}{b2 * 1e3:>12.2f}{a2 / b2:>7.2f}",
                    flush=True,
                )

    image = data.bundled_square("camera", 512)
    rows = [
        ("blur 512x512 (FFT, wrap)", median_time(lambda: blur.blur(image, kernel), args.repeat)),
        ("blur 512x512 (FFT, symmetric pad)", median_time(lambda: blur.blur(image, kernel, mode="symmetric"), args.repeat)),
        ("acceleration kernel (1.47, 0.09), T=5", median_time(lambda: psf.acceleration_psf(1.4724174320412484, 0.0916516522235391), args.repeat)),
        ("camera-shake trajectory (2000 steps) + kernel", median_time(lambda: psf.trajectory_psf(psf.random_trajectory(0)), args.repeat)),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds * 1e3:9.2f} ms")


if __name__ == "__main__":
    main()
