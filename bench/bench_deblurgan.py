"""Inference time of the paper-exact DeblurGAN generator per 1280x720 colour frame, next to the
library's Wiener filter on the same frame. Prints a table; asserts nothing.

    python bench/bench_deblurgan.py [--repeat N] [--shape 720 1280]

CPU float32 always; on CUDA also float32 and bf16 autocast (channels-last, cuDNN benchmark).
Times are medians over ``--repeat`` calls after one warm-up call, in milliseconds. The
generator's weights are untrained: the time does not depend on them.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch
from deblurkit.imaging import psf, restore
from deblurkit.models import deblurgan
from deblurkit.training import torchtrain


def median_ms(fn, repeat: int, sync=lambda: None) -> float:
    """Median wall time of ``fn()`` in ms over ``repeat`` calls, after one warm-up call."""
    fn()
    sync()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shape", type=int, nargs=2, default=(720, 1280), metavar=("H", "W"))
    args = parser.parse_args()
    h, w = args.shape
    frame = np.random.default_rng(0).uniform(size=(h, w, 3))
    kernel = psf.trajectory_psf(psf.random_trajectory(0, max_length=21.0))
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, frame {w}x{h}")
    rows = [("Wiener filter (numpy FFT), cpu", median_ms(lambda: restore.wiener_filter(frame, kernel, nsr=1e-2), args.repeat))]
    generator = deblurgan.Generator().eval()
    x = deblurgan.to_tensor(frame)[None]
    with torch.no_grad():
        rows.append(("DeblurGAN generator float32, cpu", median_ms(lambda: generator(x), args.repeat)))
        if torch.cuda.is_available():
            torchtrain.configure_device("cuda")
            gpu = deblurgan.Generator().eval().to("cuda", memory_format=torch.channels_last)
            xg = x.to("cuda", memory_format=torch.channels_last)
            sync = torch.cuda.synchronize
            rows.append(("DeblurGAN generator float32, cuda", median_ms(lambda: gpu(xg), args.repeat, sync)))
            with torch.autocast("cuda", dtype=torch.bfloat16):
                rows.append(("DeblurGAN generator bf16, cuda", median_ms(lambda: gpu(xg), args.repeat, sync)))
    print(f"{'method':<38}{'ms per frame':>14}")
    for name, ms in rows:
        print(f"{name:<38}{ms:>14.1f}")


if __name__ == "__main__":
    main()
