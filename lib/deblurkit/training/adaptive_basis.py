"""Training the adaptive-basis network (chapter 5): batches from a non-uniform blur data set, the
kernel-error validation, the training loop with the best validation weights kept and resume,
and reloading a trained network from its checkpoint.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import nn

from ..book import checkpoints
from ..book.checkpoints import require_checkpoint
from ..imaging.nonuniform import GAMMA
from ..models import torch_ops
from ..models.adaptive_basis import (
    AdaptiveBasisNet,
    kernel_loss,
    network_input,
    reblur_loss,
)
from ..models.torch_ops import unwrap
from ..runtime import validate as _validate
from ..runtime.progress import progress
from ..training import torchtrain


def load_trained(checkpoint, *, profile: str, device: str = "cpu") -> tuple[AdaptiveBasisNet, dict]:
    """The network chapter 5 saved, rebuilt from its metadata record, in inference mode.

    Parameters
    ----------
    checkpoint : str or Path
        ``data/checkpoints/05_adaptive_basis_<profile>.pt``.
    profile : str
        The profile the reader runs; a checkpoint of another profile is refused.
    device : str
        Where to put the network.

    Raises
    ------
    FileNotFoundError or ValueError
        One sentence naming chapter 5 and the profile to run it in.
    """

    meta = require_checkpoint(checkpoint, chapter="05_adaptive_basis", profile=profile)
    net = AdaptiveBasisNet(**meta["architecture"])
    torchtrain.load_checkpoint(checkpoint, models={"model": net}, map_location=device)
    return net.to(device).eval(), meta


# ---------------------------------------------------------------------------------------------
# Training


def batch_tensors(dataset: dict, rows, device, *, gamma: float = GAMMA) -> dict:
    """Torch tensors for the samples ``rows`` of a :func:`deblurkit.nonuniform.nonuniform_blur_dataset`.

    Returns ``"input"`` (network input), ``"sharp_linear"``, ``"blurred_linear"``,
    ``"kernels"`` and ``"weights"`` (the truth) on ``device``; the true kernels are zero-padded or
    cropped to nothing: they must already have the network's ``K``.
    """

    def take(key):
        return torch.from_numpy(np.ascontiguousarray(dataset[key][rows])).to(device)

    blurred = take("blurred")[:, None]
    return {
        "input": network_input(blurred),
        "blurred_linear": blurred.clamp(0, 1) ** gamma,
        "sharp_linear": take("sharp_padded")[:, None].clamp(0, 1) ** gamma,
        "kernels": take("kernels"),
        "weights": take("weights"),
    }


@torch.no_grad()
def mean_kernel_error(model: nn.Module, dataset: dict, device, *, batch_size: int = 16) -> float:
    """Mean per-pixel kernel error (:func:`kernel_loss`) of ``model`` over a whole data set."""

    net = unwrap(model)
    was_training = net.training
    net.eval()
    total, count = 0.0, len(dataset["blurred"])
    for start in range(0, count, batch_size):
        rows = np.arange(start, min(start + batch_size, count))
        b = batch_tensors(dataset, rows, device)
        kernels, weights = net(b["input"])
        total += float(kernel_loss(kernels, weights, b["kernels"], b["weights"])) * len(rows)
    net.train(was_training)
    return total / count


def train_adaptive_basis(
    model: nn.Module,
    train_set: dict,
    validation_set: dict,
    *,
    steps: int,
    batch_size: int,
    dist,
    learning_rate: float = 1e-4,
    decay_fraction: float = 0.0,
    eval_every: int = 100,
    checkpoint=None,
    metadata: dict | None = None,
    resume: bool = False,
    seed: int = 0,
    show_progress: bool = True,
):
    """Train with the paper's losses (reblur + per-pixel kernel, weights 1 and 1) and Adam.

    Every ``eval_every`` steps (and at the end) the mean kernel error on ``validation_set`` is
    measured; the weights with the lowest one are kept and returned (early stopping on
    validation, never on test data). With ``checkpoint``, the state is saved atomically at each
    evaluation (model, optimiser, step, history, best weights), so an interrupted run resumes
    with ``resume=True``.

    Parameters
    ----------
    model : torch.nn.Module
        From :func:`deblurkit.torchtrain.prepare_model` (on ``dist.device``, DDP-wrapped when
        several processes run).
    train_set, validation_set : dict
        From :func:`deblurkit.nonuniform.nonuniform_blur_dataset`, with the network's ``K``.
        Under ``torchrun`` each process should get its own training samples.
    steps : int
        Optimiser steps, >= 1.
    batch_size : int
        Samples per step and process, >= 1.
    dist : deblurkit.torchtrain.Distributed
        From :func:`deblurkit.torchtrain.setup_distributed`.
    learning_rate : float
        Adam's step size, > 0 (paper: 1e-4).
    decay_fraction : float
        In [0, 1]: the step size falls linearly to 0 over this last fraction of ``steps``
        (0: constant, as in the paper). It is a function of the step alone, so a resumed run
        follows the same schedule.
    eval_every : int
        Steps between validation measurements, >= 1.
    checkpoint : str or Path, optional
        Where to keep the resumable state (written by the main process only).
    metadata : dict, optional
        Keyword arguments for :func:`deblurkit.torchtrain.checkpoint_metadata` other than
        ``steps``, ``wall_seconds``, ``device`` and ``validation``.
    resume : bool
        Continue from ``checkpoint`` when it exists.
    seed : int
        Seed of the sample order.
    show_progress : bool
        A tqdm bar with the losses (main process only).

    Returns
    -------
    dict
        ``"history"``: lists ``step``, ``reblur``, ``kernel`` (training losses, averaged over
        the last ``eval_every`` steps) and ``validation`` (kernel error); ``"best_step"``,
        ``"best_validation"``, ``"seconds"``, ``"steps"``.
    """

    steps = _validate.integer(steps, "steps", minimum=1)
    batch_size = _validate.integer(batch_size, "batch_size", minimum=1)
    eval_every = _validate.integer(eval_every, "eval_every", minimum=1)
    learning_rate = _validate.positive_scalar(learning_rate, "learning_rate")
    decay_fraction = _validate.real_scalar(decay_fraction, "decay_fraction")
    if not 0 <= decay_fraction <= 1:
        raise ValueError(f"decay_fraction must be in [0, 1], got {decay_fraction}")
    schedule = torchtrain.linear_decay_lambda(steps, 1.0 - decay_fraction)
    count = len(train_set["blurred"])
    net = torch_ops.unwrap(model)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = {"step": [], "reblur": [], "kernel": [], "validation": []}
    start_step, best = 0, {"validation": float("inf"), "step": 0, "state": copy.deepcopy(net.state_dict())}
    elapsed_before = 0.0
    if resume and checkpoint is not None and checkpoints.metadata_path(checkpoint).is_file():
        loaded = torchtrain.load_checkpoint(checkpoint, models={"model": model}, optimisers={"optimiser": optimiser}, restore_rng=True)
        extra = loaded["extra"]
        start_step, history, elapsed_before = loaded["metadata"]["steps"], extra["history"], loaded["metadata"]["wall_seconds"]
        best = {"validation": extra["best_validation"], "step": extra["best_step"], "state": extra["best_state"]}
    generator = np.random.default_rng([seed, dist.rank, start_step])
    sums = {"reblur": 0.0, "kernel": 0.0, "n": 0}
    quiet = {} if show_progress and dist.is_main else {"disable": True}
    bar = progress(range(start_step, steps), total=steps, initial=start_step, desc="training", **quiet)
    t0 = time.perf_counter()
    model.train()
    for step in bar:
        for group in optimiser.param_groups:
            group["lr"] = learning_rate * schedule(step)
        rows = generator.choice(count, size=min(batch_size, count), replace=False)
        b = batch_tensors(train_set, rows, dist.device)
        if dist.device.type == "cuda":
            b["input"] = b["input"].contiguous(memory_format=torch.channels_last)
        with torch_ops.autocast(dist.device):
            kernels, weights = model(b["input"])
        # the losses in float32: the kernels' entries are small and their squares smaller
        l_reblur = reblur_loss(kernels.float(), weights.float(), b["sharp_linear"], b["blurred_linear"])
        l_kernel = kernel_loss(kernels.float(), weights.float(), b["kernels"], b["weights"])
        loss = l_reblur + l_kernel
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        sums["reblur"] += l_reblur.item()
        sums["kernel"] += l_kernel.item()
        sums["n"] += 1
        if dist.is_main:
            bar.set_postfix(reblur=f"{l_reblur.item():.2e}", kernel=f"{l_kernel.item():.2e}")
        done = step + 1
        if done % eval_every == 0 or done == steps:
            val = torchtrain.mean_across_processes(mean_kernel_error(model, validation_set, dist.device), dist)
            history["step"].append(done)
            history["reblur"].append(torchtrain.mean_across_processes(sums["reblur"] / sums["n"], dist))
            history["kernel"].append(torchtrain.mean_across_processes(sums["kernel"] / sums["n"], dist))
            history["validation"].append(val)
            sums = {"reblur": 0.0, "kernel": 0.0, "n": 0}
            if val < best["validation"]:
                best = {"validation": val, "step": done, "state": copy.deepcopy(net.state_dict())}
            if checkpoint is not None and dist.is_main:
                meta = checkpoints.checkpoint_metadata(
                    **(metadata or {}),
                    steps=done,
                    wall_seconds=elapsed_before + time.perf_counter() - t0,
                    device=dist.device,
                    validation={"kernel_error": best["validation"], "best_step": best["step"]},
                )
                torchtrain.save_checkpoint(
                    checkpoint,
                    models={"model": model},
                    optimisers={"optimiser": optimiser},
                    metadata=meta,
                    extra={"history": history, "best_validation": best["validation"], "best_step": best["step"], "best_state": best["state"]},
                )
    bar.close()
    net.load_state_dict(best["state"])
    return {
        "history": history,
        "best_step": best["step"],
        "best_validation": best["validation"],
        "seconds": elapsed_before + time.perf_counter() - t0,
        "steps": steps,
    }


# ---------------------------------------------------------------------------------------------
# Command line: one process or torchrun
