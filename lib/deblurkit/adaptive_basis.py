"""Command line of the adaptive-basis network (chapter 5): ``python -m deblurkit.adaptive_basis``.

Trains :class:`deblurkit.models.adaptive_basis.AdaptiveBasisNet` with
:func:`deblurkit.training.adaptive_basis.train_adaptive_basis`, in one process or under torchrun.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from .data import bundled
from .data.synthetic import nonuniform_blur_dataset
from .models.adaptive_basis import PAPER_ARCHITECTURE, AdaptiveBasisNet
from .training import torchtrain
from .training.adaptive_basis import train_adaptive_basis


def main(argv=None) -> dict:
    """Train from the command line, in one process or under ``torchrun`` (one GPU per process).

    ``python -m deblurkit.adaptive_basis --steps 8000 --checkpoint data/checkpoints/ab.pt`` or
    ``torchrun --nproc_per_node=4 -m deblurkit.adaptive_basis ...``. Each process draws its own
    training crops from the ``train`` split (seeded by its rank); validation crops come from the
    ``validation`` split; ``--resume`` continues an interrupted run from its checkpoint.

    Returns
    -------
    dict
        What :func:`train_adaptive_basis` returns (on every process).
    """
    p = argparse.ArgumentParser(prog="python -m deblurkit.adaptive_basis", description=main.__doc__.splitlines()[0])
    p.add_argument("--basis", type=int, default=PAPER_ARCHITECTURE["basis"])
    p.add_argument("--kernel-size", type=int, default=PAPER_ARCHITECTURE["kernel_size"])
    p.add_argument("--base", type=int, default=PAPER_ARCHITECTURE["base"])
    p.add_argument("--norm", default="none", choices=["none", "batch"], help="batch normalisation (not in the paper)")
    p.add_argument("--crop", type=int, default=128, help="training crop side in px (multiple of 32)")
    p.add_argument("--count", type=int, default=4000, help="training crops per process")
    p.add_argument("--val-count", type=int, default=64)
    p.add_argument("--steps", type=int, default=8000)
    p.add_argument("--batch", type=int, default=16, help="crops per step and process")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", default="gpu", choices=["smoke", "cpu", "gpu"], help="recorded in the metadata")
    p.add_argument("--checkpoint", default=None, help="resumable state (.pt, with .json metadata)")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--device", default=None, choices=["cpu", "cuda"])
    args = p.parse_args(argv)
    dist = torchtrain.setup_distributed(args.device)
    torchtrain.configure_device(dist.device)
    torch.manual_seed(args.seed)
    architecture = {"in_channels": 1, "basis": args.basis, "kernel_size": args.kernel_size, "base": args.base}
    if args.norm != "none":
        architecture["norm"] = args.norm
    model = torchtrain.prepare_model(AdaptiveBasisNet(**architecture), dist)
    side = max(256, 2 * (args.crop + args.kernel_size))
    pictures = {s: [bundled.bundled_square(n, side) for n in bundled.split_names(s)] for s in ("train", "validation")}
    train_set = nonuniform_blur_dataset(pictures["train"], args.count, crop_size=args.crop, kernel_size=args.kernel_size, rng=np.random.default_rng([args.seed, dist.rank]))
    val_set = nonuniform_blur_dataset(pictures["validation"], args.val_count, crop_size=args.crop, kernel_size=args.kernel_size, rng=np.random.default_rng([args.seed, 10**6]))
    meta = {"chapter": "05_adaptive_basis", "profile": args.profile, "seed": args.seed, "architecture": architecture, "learning_rate": args.lr}
    try:
        return train_adaptive_basis(
            model, train_set, val_set, steps=args.steps, batch_size=args.batch, dist=dist, learning_rate=args.lr,
            eval_every=args.eval_every, checkpoint=args.checkpoint, metadata=meta, resume=args.resume, seed=args.seed,
        )
    finally:
        torchtrain.teardown_distributed(dist)


if __name__ == "__main__":
    main()
