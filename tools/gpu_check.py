"""Measure a GPU for the book's ``gpu`` profile in one command, and print one JSON object.

    PYTHONPATH=lib python tools/gpu_check.py                 # CUDA when visible, ~5 min on one H100
    PYTHONPATH=lib python tools/gpu_check.py --device cpu --quick   # the same code, small sizes

Needs torch, numpy, scipy and scikit-image (what a lent GPU machine has); it imports no
TensorFlow, Keras, Jupyter, papermill, ipywidgets or myst-nb, and downloads nothing. It measures:

- ``inference``: the paper-size DeblurGAN generator (11,378,179 parameters) on one colour frame
  (1280x720; ``--quick``: 320x180) in each numeric mode of
  :mod:`deblurkit.training.inference` (float32, TF32, bf16 autocast; channels-last;
  synchronised; median after warm-up), and the CPU float32 time of the same frame;
- ``training``: both torch chapters' ``gpu`` configurations at paper size (DeblurGAN generator
  and critic; the adaptive-basis network, B 25, K 33, ~80 M), each through its real data
  pipeline (``DataLoader`` workers), its trainer and its shared loop: steps/s and images/s
  after warm-up, the fraction of step time spent waiting for data, peak GPU memory;
- ``resume``: each run is checkpointed one step before its end and resumed from there in the
  same process: the resumed weights against the uninterrupted run's (bitwise on the CPU;
  within ``RESUME_TOLERANCE`` on CUDA, where reflection padding and transposed convolutions
  accumulate gradients in a non-deterministic order);
- ``projection``: the wall time of the torch work of chapters 5, 6 and 8 in the ``gpu``
  profile from these rates (training steps of every run each chapter makes; chapter 8's torch
  inference on its evaluation items), and their sum.

``--quick`` changes only sizes (frame, crops, batch) and repeat/step counts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from deblurkit.data import bundled
from deblurkit.data.synthetic import nonuniform_blur_dataset
from deblurkit.evaluation.items import BLUR_KINDS, evaluation_settings
from deblurkit.models import adaptive_basis as ab_model
from deblurkit.models import torch_ops
from deblurkit.models.deblurgan import Generator
from deblurkit.training import adaptive_basis as ab_train
from deblurkit.training import deblurgan as dg_train
from deblurkit.training import inference, torchtrain

#: Largest weight difference a CUDA resume may show (non-deterministic kernels), absolute.
RESUME_TOLERANCE = 1e-3

#: Sizes and counts: the full check, and ``--quick`` (sizes and repeats only).
SIZES = {
    "full": {"frame": (720, 1280), "repeat": 10, "warmup": 3, "cpu_repeat": 3, "dg_crop": 256, "dg_batch": 8,
             "ab_crop": 128, "ab_batch": 16, "warmup_steps": 3, "measured_steps": 20, "workers": 6, "item_side": 256},
    "quick": {"frame": (180, 320), "repeat": 2, "warmup": 1, "cpu_repeat": 1, "dg_crop": 32, "dg_batch": 2,
              "ab_crop": 32, "ab_batch": 2, "warmup_steps": 1, "measured_steps": 2, "workers": 2, "item_side": 64},
}


def inference_check(device: torch.device, size: dict) -> dict:
    """Generator milliseconds per frame in every mode of ``device``, and on the CPU in float32."""
    torch.manual_seed(0)
    generator = Generator()
    ms = {m: inference.frame_ms(generator, size["frame"], m, device, repeat=size["repeat"], warmup=size["warmup"]) for m in inference.available_modes(device)}
    cpu_fp32 = ms["fp32"] if device.type == "cpu" else inference.frame_ms(generator, size["frame"], "fp32", "cpu", repeat=size["cpu_repeat"], warmup=1)
    fastest = min(ms, key=ms.get)
    # one chapter-8 item: the DeblurGAN restoration and the adaptive-basis estimate (grey)
    side = size["item_side"]
    item = {"side": side, "deblurgan_ms": inference.frame_ms(generator, (side, side), fastest, device, repeat=size["repeat"], warmup=1)}
    net = ab_model.AdaptiveBasisNet(in_channels=1, **{k: ab_train.PROFILE_DEFAULTS["gpu"][k] for k in ("basis", "kernel_size", "base")})
    net = net.to(device, memory_format=torch.channels_last if inference.MODES[fastest][1] else torch.contiguous_format).eval()
    x = torch.zeros(1, 1, side, side, device=device)

    @torch.no_grad()
    def estimate():
        with inference.numeric_mode(fastest, device):
            net(x)

    item["adaptive_basis_ms"] = inference.median_ms(estimate, repeat=size["repeat"], warmup=1, device=device)
    return {"frame": list(size["frame"]), "repeat": size["repeat"], "ms": ms, "labels": {m: inference.LABELS[m] for m in ms},
            "cpu_fp32_ms": cpu_fp32, "cpu_threads": torch.get_num_threads(), "fastest": fastest, "cpu_fp32_over_fastest": cpu_fp32 / ms[fastest],
            "item": item}


def _peak_memory(device: torch.device):
    return int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def _rates(step_seconds: list, warmup: int, images_per_step: int, data_seconds: float, seconds: float) -> dict:
    measured = step_seconds[warmup:]
    per_step = float(np.median(measured))
    return {"steps_per_s": 1.0 / per_step, "images_per_s": images_per_step / per_step, "measured_steps": len(measured),
            "data_wait_fraction": data_seconds / max(seconds, 1e-12)}


def _compare(a: dict, b: dict, device: torch.device) -> dict:
    diff = max(float((a[k].float() - b[k].float()).abs().max()) for k in a if a[k].is_floating_point())
    exact = all(torch.equal(a[k], b[k]) for k in a)
    tolerance = 0.0 if device.type == "cpu" else RESUME_TOLERANCE
    return {"bitwise_equal": exact, "max_abs_difference": diff, "tolerance": tolerance, "ok": diff <= tolerance}


def _link(source: Path, target: Path) -> None:
    """``target`` holding ``source``'s content: a hard link (checkpoints are replaced by a
    rename, never rewritten, so the linked content stays), else a copy."""
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy(source, target)


def _resume_copy(folder: Path, name: str, at_step: int):
    """An ``on_checkpoint`` hook keeping the checkpoint written at ``at_step``."""
    def keep(state):
        if state.step == at_step:
            for suffix in (".pt", ".json"):
                _link(folder / f"{name}{suffix}", folder / f"{name}_resume{suffix}")
    return keep


def deblurgan_check(device: torch.device, size: dict, folder: Path) -> dict:
    """Training throughput and a resume of the ``gpu`` DeblurGAN configuration."""
    steps = size["warmup_steps"] + size["measured_steps"]
    settings = {**dg_train.PROFILE_DEFAULTS["gpu"], "steps": steps, "crop": size["dg_crop"], "batch": size["dg_batch"], "workers": size["workers"]}
    config = dg_train.TrainConfig(profile="gpu", seed=0, device=device.type, validate_every=steps, validation_count=2,
                                  checkpoint=str(folder / "dg.pt"), checkpoint_every=steps - 1, **settings)
    _reset_peak(device)
    run = dg_train.train(config, progress=False, on_checkpoint=_resume_copy(folder, "dg", steps - 1))
    out = _rates(run["step_seconds"], size["warmup_steps"], config.batch * (config.critic_steps + 1), run["data_seconds"], run["seconds"])
    out.update(peak_memory_bytes=_peak_memory(device), crop=config.crop, batch=config.batch, workers=run["workers"],
               parameters={"generator": torch_ops.count_parameters(run["last_generator"]), "critic": torch_ops.count_parameters(run["critic"])})
    for suffix in (".pt", ".json"):  # back to the checkpoint one step before the end
        _link(folder / f"dg_resume{suffix}", folder / f"dg{suffix}")
    resumed = dg_train.train(config, resume=True, progress=False)
    check = _compare(run["last_generator"].state_dict(), resumed["last_generator"].state_dict(), device)
    return out, {**check, "from_step": steps - 1, "to_step": steps, "steps_after_resume": len(resumed["step_seconds"])}


def _ab_data(size: dict, count: int, seed: int, split: str) -> dict:
    k = ab_train.PROFILE_DEFAULTS["gpu"]["kernel_size"]
    side = max(256, 2 * (size["ab_crop"] + k))
    pictures = [bundled.bundled_square(n, side) for n in bundled.split_names(split)]
    return nonuniform_blur_dataset(pictures, count, crop_size=size["ab_crop"], kernel_size=k, rng=np.random.default_rng(seed))


def adaptive_basis_check(device: torch.device, size: dict, folder: Path) -> dict:
    """Training throughput and a resume of the ``gpu`` adaptive-basis configuration."""
    steps = size["warmup_steps"] + size["measured_steps"]
    gpu = ab_train.PROFILE_DEFAULTS["gpu"]
    architecture = {"in_channels": 1, "basis": gpu["basis"], "kernel_size": gpu["kernel_size"], "base": gpu["base"]}
    train_set = _ab_data(size, 4 * size["ab_batch"], 0, "train")
    val_set = _ab_data(size, 2, 1, "validation")
    dist = torchtrain.setup_distributed(device.type)
    torchtrain.configure_device(dist.device)

    def run(resume: bool, hook=None):
        torch.manual_seed(0)
        model = torchtrain.prepare_model(ab_model.AdaptiveBasisNet(**architecture), dist)
        meta = {"chapter": "05_adaptive_basis", "profile": "gpu", "seed": 0, "architecture": architecture}
        result = ab_train.train_adaptive_basis(model, train_set, val_set, steps=steps, batch_size=size["ab_batch"], dist=dist,
                                               learning_rate=gpu["lrs"][0], eval_every=steps - 1, checkpoint=folder / "ab.pt", metadata=meta,
                                               resume=resume, show_progress=False, workers=size["workers"], on_checkpoint=hook)
        return result, torchtrain.unwrap(model)

    _reset_peak(device)
    first, model = run(False, _resume_copy(folder, "ab", steps - 1))
    # the uninterrupted run's last weights: the model holds the best-on-validation ones now
    last = torch.load(folder / "ab.pt", map_location="cpu", weights_only=False)["models"]["model"]
    out = _rates(first["step_seconds"], size["warmup_steps"], size["ab_batch"], first["data_seconds"], first["seconds"])
    out.update(peak_memory_bytes=_peak_memory(device), crop=size["ab_crop"], batch=size["ab_batch"], workers=size["workers"],
               parameters=torch_ops.count_parameters(model))
    for suffix in (".pt", ".json"):  # back to the checkpoint one step before the end
        _link(folder / f"ab_resume{suffix}", folder / f"ab{suffix}")
    resumed, _ = run(True)
    again = torch.load(folder / "ab.pt", map_location="cpu", weights_only=False)["models"]["model"]
    return out, {**_compare(last, again, device), "from_step": steps - 1, "to_step": steps, "steps_after_resume": len(resumed["step_seconds"])}


def projection(inference_result: dict, training: dict, device: torch.device) -> dict:
    """Seconds of the torch work of chapters 5, 6 and 8 in the ``gpu`` profile at these rates."""
    gpu_ab, gpu_dg = ab_train.PROFILE_DEFAULTS["gpu"], dg_train.PROFILE_DEFAULTS["gpu"]
    ab_steps = gpu_ab["steps"] + len(gpu_ab["lrs"]) * gpu_ab["probe_steps"]
    # chapter 6 trains three generators: DeblurGAN, DeblurGAN on 1/6 of the images (the same
    # steps) and the content-only ablation (one batch per step instead of critic_steps + 1)
    batches = dg_train.TrainConfig().critic_steps + 1
    dg_steps = (2 + 1 / batches) * gpu_dg["steps"]
    items = evaluation_settings("gpu")
    n_items = (items["test_images"] + items["validation_images"]) * len(BLUR_KINDS) * items["draws"]
    item = inference_result["item"]
    chapters = {
        "05_adaptive_basis": ab_steps / training["adaptive_basis"]["steps_per_s"],
        "06_deblurgan": dg_steps / training["deblurgan"]["steps_per_s"],
        "08_side_by_side_torch_inference": n_items * (item["deblurgan_ms"] + item["adaptive_basis_ms"]) / 1e3,
    }
    return {"seconds": chapters, "total_seconds": sum(chapters.values()), "adaptive_basis_steps": ab_steps,
            "deblurgan_generator_steps": dg_steps, "evaluation_items": n_items,
            "note": "training steps at the measured rates (validation, data preparation and the chapters' other cells not included); chapter 8: the DeblurGAN restoration and the adaptive-basis estimate of every evaluation item (validation and test) at the item's side in the fastest mode (--quick: a smaller side), its Richardson-Lucy and the other methods not included"}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda when visible")
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (the same code)")
    parser.add_argument("--out", help="also write the JSON to this file")
    args = parser.parse_args(argv)
    try:
        kind = torchtrain.pick_device(args.device).type  # cuda when visible
    except ValueError as exc:
        parser.error(f"--device {args.device}: {exc}")
    device = torch.device(kind, 0) if kind == "cuda" else torch.device("cpu")
    size = SIZES["quick" if args.quick else "full"]
    started = time.perf_counter()
    os.environ.setdefault("DEBLURKIT_QUIET", "1")
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        os.environ["DEBLURKIT_HOME"] = tmp  # the frame cache and any artifact stay out of the book
        result = {
            "device": torch.cuda.get_device_name(device) if kind == "cuda" else (platform.processor() or platform.machine()),
            "device_kind": kind,
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "python": platform.python_version(),
            "quick": bool(args.quick),
            "inference": inference_check(device, size),
        }
        dg, dg_resume = deblurgan_check(device, size, Path(tmp))
        ab, ab_resume = adaptive_basis_check(device, size, Path(tmp))
    result["training"] = {"deblurgan": dg, "adaptive_basis": ab}
    result["resume"] = {"deblurgan": dg_resume, "adaptive_basis": ab_resume}
    result["projection"] = projection(result["inference"], result["training"], device)
    result["seconds"] = time.perf_counter() - started
    text = json.dumps(result, indent=2, sort_keys=True)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
