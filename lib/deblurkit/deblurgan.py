"""DeblurGAN's command line: ``python -m deblurkit.deblurgan train|deblur``.

``train`` runs in one process or under torchrun; ``deblur`` restores an image of any size as
chapters 6 and 8 do and as the authors' test code does (KupynOrest/DeblurGAN,
``models/test_model.py``: the generator keeps dropout and is never switched to ``eval()``), with
the dropout masks drawn from ``--seed`` so that the same command gives the same image
(``--dropout off``: evaluation mode). Bad paths and mismatched checkpoints give one error line
and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from .data.external import find_gopro, read_rgb
from .evaluation import testtime
from .models.deblurgan import VGG19_ENV, default_content_loss
from .training import inference, torchtrain
from .training.deblurgan import PROFILE_DEFAULTS, TrainConfig, load_generator, train


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deblurkit.deblurgan", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train (one process, or every process of torchrun)")
    t.add_argument("--profile", choices=list(PROFILE_DEFAULTS), default="cpu")
    t.add_argument("--checkpoint", required=True, help="the .pt file to write (metadata beside it as .json)")
    t.add_argument("--resume", action="store_true", help="continue from --checkpoint when it exists")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--steps", type=int, help="generator steps (default: the profile's)")
    t.add_argument("--content-only", action="store_true", help="leave out the adversarial term")
    t.add_argument("--gopro", help="train on the GoPro folder layout at this path")
    t.add_argument("--vgg19-weights", help=f"torchvision vgg19 state dict (default: ${VGG19_ENV} or data/external/vgg19.pth)")
    t.add_argument("--device", choices=["cpu", "cuda"])
    d = sub.add_parser("deblur", help="restore one image of any size")
    d.add_argument("input")
    d.add_argument("output")
    d.add_argument("--checkpoint", required=True)
    d.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    d.add_argument("--precision", choices=["auto", *inference.MODES],
                   help="numeric mode (default: float32 on the CPU, bf16 autocast on CUDA); auto: the fastest mode "
                        f"within {inference.AUTO_TOLERANCE_DB} dB of float32's PSNR on validation crops (compared with dropout off)")
    d.add_argument("--dropout", choices=["on", "off"], default="on",
                   help="on (default): as the authors' test code and the book's chapters restore; off: evaluation mode")
    d.add_argument("--seed", type=int, default=0, help="seed of the dropout masks (default 0)")
    args = parser.parse_args(argv)
    try:
        if args.device is not None:
            torchtrain.pick_device(args.device)  # refuses cuda where torch sees none
        if args.command == "train":
            settings = dict(PROFILE_DEFAULTS[args.profile])
            if args.steps is not None:
                settings["steps"] = args.steps
            config = TrainConfig(profile=args.profile, seed=args.seed, checkpoint=args.checkpoint, adversarial=not args.content_only,
                                 gopro_root=str(find_gopro(args.gopro)) if args.gopro else None, vgg19_weights=args.vgg19_weights, device=args.device,
                                 content_loss=default_content_loss(args.vgg19_weights), **settings)
            result = train(config, resume=args.resume)
            if int(os.environ.get("RANK", "0")) == 0:
                last = result["history"]["val_psnr"][-1] if result["history"]["val_psnr"] else float("nan")
                print(f"trained {result['steps']} steps in {result['seconds']:.0f} s ({result['images_per_second']:.1f} images/s), "
                      f"content loss {result['content_loss']}, validation PSNR {last:.2f} dB -> {args.checkpoint}")
        else:
            from skimage import io

            if args.seed < 0:
                raise ValueError(f"--seed must be >= 0, got {args.seed}")
            G = load_generator(args.checkpoint, device=args.device)
            image = read_rgb(args.input)
            mode = args.precision
            if mode == "auto":
                import json

                from .book.checkpoints import metadata_path

                meta = json.loads(metadata_path(args.checkpoint).read_text())
                choice = inference.choose_mode_for_checkpoint(G, meta, args.device)
                mode = choice["chosen"]
                print(f"precision auto: {mode} ({inference.LABELS[mode]}): {choice['psnr'][mode]:.2f} dB against float32's "
                      f"{choice['psnr']['fp32']:.2f} dB on {choice['crops']} validation crops, {choice['ms'][mode]:.0f} ms against "
                      f"{choice['ms']['fp32']:.0f} ms per 256x256 frame")
            mode = mode or ("bf16" if args.device == "cuda" else "fp32")
            restored = testtime.restore_images(G, [image], seeds=[args.seed], dropout=args.dropout == "on", device=args.device,
                                               mode=mode)[0]
            out = Path(args.output)
            if not out.parent.is_dir():
                raise FileNotFoundError(f"output folder does not exist: {out.parent}")
            io.imsave(out, (restored * 255).round().astype(np.uint8), check_contrast=False)
            print(f"{args.input} -> {out} ({restored.shape[1]}x{restored.shape[0]}, {inference.LABELS[mode]}, dropout "
                  + (f"on, masks from seed {args.seed})" if args.dropout == "on" else "off)"))
    except (FileNotFoundError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main())
