"""Inference time of the paper-exact DeblurGAN generator per 1280x720 colour frame in every
numeric mode, next to the library's Wiener filter on the same frame; and, with ``--training``,
the ``cpu`` profile's training steps per second (DeblurGAN and the adaptive-basis network)
with and without data-loader workers. Prints tables; asserts nothing.

    python bench/bench_deblurgan.py [--repeat N] [--shape 720 1280] [--threads T] [--training]

Modes (:mod:`deblurkit.training.inference`): on the CPU float32, float32 channels-last, bf16
autocast and bf16 autocast channels-last; on CUDA float32, TF32 (labelled so: float32 storage,
TF32 convolutions, which ``torchtrain.configure_device`` enables for training) and bf16, all
channels-last, cuDNN benchmark on. Times are medians over ``--repeat`` synchronised calls after
one warm-up call, in milliseconds. The generator's weights are untrained: the time does not
depend on them.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
from deblurkit.imaging import psf, restore
from deblurkit.models import deblurgan
from deblurkit.training import inference, torchtrain


def inference_rows(shape, repeat: int) -> list[tuple[str, float]]:
    h, w = shape
    frame = np.random.default_rng(0).uniform(size=(h, w, 3))
    kernel = psf.trajectory_psf(psf.random_trajectory(0, max_length=21.0))
    rows = [("Wiener filter (numpy FFT), cpu", inference.median_ms(lambda: restore.wiener_filter(frame, kernel, nsr=1e-2), repeat=repeat))]
    torch.manual_seed(0)
    generator = deblurgan.Generator()
    for mode in inference.available_modes("cpu"):
        rows.append((f"DeblurGAN, {inference.LABELS[mode]}, cpu", inference.frame_ms(generator, shape, mode, "cpu", repeat=repeat, warmup=1)))
    if torch.cuda.is_available():
        torchtrain.configure_device("cuda")
        for mode in ("fp32-cl", "tf32-cl", "bf16-cl"):
            rows.append((f"DeblurGAN, {inference.LABELS[mode]}, cuda", inference.frame_ms(generator, shape, mode, "cuda", repeat=repeat, warmup=1)))
    return rows


def training_rows(steps: int) -> list[tuple[str, float]]:
    """Steps per second of the cpu profiles' training loops (after one warm-up step), with the
    main process making the batches (workers 0, the profile's choice) and with one worker."""
    from deblurkit.data import bundled
    from deblurkit.data.synthetic import nonuniform_blur_dataset
    from deblurkit.imaging.psf import shake_kernel_bank
    from deblurkit.models.adaptive_basis import AdaptiveBasisNet
    from deblurkit.training import adaptive_basis as ab
    from deblurkit.training import deblurgan as dg

    os.environ["DEBLURKIT_QUIET"] = "1"
    rows = []
    for workers in (0, 1):
        settings = {**dg.PROFILE_DEFAULTS["cpu"], "steps": steps + 1, "workers": workers}
        r = dg.train(dg.TrainConfig(profile="cpu", seed=0, validate_every=10_000, validation_count=2, device="cpu", **settings), progress=False)
        rows.append((f"DeblurGAN cpu profile, {workers} loader workers", 1 / float(np.mean(r["step_seconds"][1:]))))
    cpu = ab.PROFILE_DEFAULTS["cpu"]
    k = cpu["kernel_size"]
    bank = shake_kernel_bank(4, k, np.random.default_rng([0, 4]), min_length=10.0)
    pictures = [bundled.bundled_square(n, 256) for n in bundled.split_names("train")]
    train_set = nonuniform_blur_dataset(pictures, 200, crop_size=cpu["crop"], kernel_size=k, rng=np.random.default_rng(0), kernel_bank=bank, min_length=10.0)
    val_set = {key: v[:4] for key, v in train_set.items()}
    dist = torchtrain.setup_distributed("cpu")
    for workers in (0, 1):
        torch.manual_seed(0)
        net = torchtrain.prepare_model(AdaptiveBasisNet(basis=cpu["basis"], kernel_size=k, base=cpu["base"], norm=cpu["norm"]), dist)
        r = ab.train_adaptive_basis(net, train_set, val_set, steps=steps + 1, batch_size=cpu["batch"], dist=dist, learning_rate=cpu["lrs"][0],
                                    eval_every=10_000, show_progress=False, workers=workers)
        rows.append((f"adaptive basis cpu profile, {workers} loader workers", 1 / float(np.mean(r["step_seconds"][1:]))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shape", type=int, nargs=2, default=(720, 1280), metavar=("H", "W"))
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--training", action="store_true", help="also the cpu profiles' training steps per second")
    parser.add_argument("--training-steps", type=int, default=20)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    h, w = args.shape
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, frame {w}x{h}")
    print(f"{'method':<62}{'ms per frame':>14}")
    for name, ms in inference_rows((h, w), args.repeat):
        print(f"{name:<62}{ms:>14.1f}")
    if args.training:
        start = time.perf_counter()
        print(f"\n{'training (steps after one warm-up step)':<62}{'steps/s':>14}")
        for name, rate in training_rows(args.training_steps):
            print(f"{name:<62}{rate:>14.3f}")
        print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
