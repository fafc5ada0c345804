"""Training the adaptive-basis network (chapter 5): batches from a non-uniform blur data set, the
kernel-error validation, the training loop with the best validation weights kept and resume,
and reloading a trained network from its checkpoint.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from ..book import checkpoints
from ..book.checkpoints import require_checkpoint
from ..models import torch_ops
from ..models.adaptive_basis import (
    AdaptiveBasisNet,
    kernel_loss,
    reblur_loss,
)
from ..models.torch_ops import unwrap
from ..runtime import validate as _validate
from ..training import datasets, loop, torchtrain
from ..training.datasets import batch_tensors


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


#: Chapter 5's network and training settings per profile, the ones ``tools/gpu_check.py``
#: projects from; the chapter reads them from here and adds its data and evaluation rows
#: (``tests/unit/training/test_adaptive_basis_training.py`` checks it never overrides one):
#: network (``basis``, ``kernel_size``, ``base``, ``norm``), training crops, optimiser steps
#: and batch, the step-size probes (``lrs``, ``probe_steps`` each) and the validation interval.
PROFILE_DEFAULTS = {
    "smoke": {"basis": 3, "kernel_size": 9, "base": 4, "norm": "batch", "crop": 32, "train_count": 24, "steps": 4, "batch": 4,
              "probe_steps": 2, "eval_every": 2, "lrs": [1e-4, 1e-3]},
    "cpu": {"basis": 4, "kernel_size": 17, "base": 8, "norm": "batch", "crop": 64, "train_count": 3000, "steps": 1200, "batch": 16,
            "probe_steps": 150, "eval_every": 150, "lrs": [1e-3, 3e-3]},
    "gpu": {"basis": 25, "kernel_size": 33, "base": 64, "norm": "none", "crop": 128, "train_count": 6000, "steps": 8000, "batch": 16,
            "probe_steps": 300, "eval_every": 500, "lrs": [1e-4, 3e-4]},
}

#: Data-loader worker processes on CUDA (the CPU's cores are free while the GPU computes).
CUDA_LOADER_WORKERS = 2


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
    workers: int | None = None,
    precision: str = "auto",
    on_checkpoint=None,
):
    """Train with the paper's losses (reblur + per-pixel kernel, weights 1 and 1) and Adam.

    Every ``eval_every`` steps (and at the end) the mean kernel error on ``validation_set`` is
    measured; the weights with the lowest one are kept and returned (early stopping on
    validation, never on test data). With ``checkpoint``, the state is saved atomically at each
    evaluation (model, optimiser, step, history, best weights, the random state of every
    process), so an interrupted run resumes with ``resume=True`` and takes the same batches
    and numbers as an uninterrupted one. The loop is :func:`deblurkit.training.loop.run_loop`.

    Parameters
    ----------
    model : torch.nn.Module
        From :func:`deblurkit.training.torchtrain.prepare_model` (on ``dist.device``,
        DDP-wrapped when several processes run).
    train_set, validation_set : dict
        From :func:`deblurkit.data.synthetic.nonuniform_blur_dataset`, with the network's ``K``.
        Under ``torchrun`` each process should get its own training samples.
    steps : int
        Optimiser steps, >= 1.
    batch_size : int
        Samples per step and process, >= 1.
    dist : deblurkit.training.torchtrain.Distributed
        From :func:`deblurkit.training.torchtrain.setup_distributed`.
    learning_rate : float
        Adam's step size, > 0 (paper: 1e-4).
    decay_fraction : float
        In [0, 1]: the step size falls linearly to 0 over this last fraction of ``steps``
        (0: constant, as in the paper). It is a function of the step alone, so a resumed run
        follows the same schedule.
    eval_every : int
        Steps between validation measurements, >= 1.
    checkpoint : str or Path, optional
        Where to keep the resumable state (written by the main process).
    metadata : dict, optional
        Keyword arguments for :func:`deblurkit.book.checkpoints.checkpoint_metadata` other
        than ``steps``, ``wall_seconds``, ``device`` and ``validation``.
    resume : bool
        Continue from ``checkpoint`` when it exists.
    seed : int
        Seed of the sample order: step ``s`` of process ``r`` trains on rows drawn by
        :class:`~deblurkit.training.datasets.ChoiceBatchSampler`.
    show_progress : bool
        A tqdm bar with the losses (main process only).
    workers : int, optional
        Data-loader worker processes, >= 0 (default: :data:`CUDA_LOADER_WORKERS` on CUDA,
        none on the CPU, where the main process slices the precomputed crops faster).
    precision : {"auto", "bf16", "fp32"}
        Autocast of the network's forward pass (``"auto"``: bf16 on CUDA, float32 on the
        CPU); the losses are computed in float32 whatever it is.

    Returns
    -------
    dict
        ``"history"``: lists ``step``, ``reblur``, ``kernel`` (training losses, averaged over
        the last ``eval_every`` steps and the processes) and ``validation`` (kernel error);
        ``"best_step"``, ``"best_validation"``, ``"seconds"`` (time in training steps),
        ``"data_seconds"`` (of which waiting for batches), ``"step_seconds"`` (each step of
        this session), ``"local_history"`` (this process's own ``reblur`` and ``kernel``
        losses, steps of this session), ``"steps"``.
    """
    steps = _validate.integer(steps, "steps", minimum=1)
    batch_size = _validate.integer(batch_size, "batch_size", minimum=1)
    eval_every = _validate.integer(eval_every, "eval_every", minimum=1)
    learning_rate = _validate.positive_scalar(learning_rate, "learning_rate")
    decay_fraction = _validate.real_scalar(decay_fraction, "decay_fraction")
    if not 0 <= decay_fraction <= 1:
        raise ValueError(f"decay_fraction must be in [0, 1], got {decay_fraction}")
    _validate.choice(precision, "precision", set(torch_ops.PRECISIONS))
    samples = datasets.NonUniformBlurSamples(train_set)
    if workers is None:
        workers = CUDA_LOADER_WORKERS if dist.device.type == "cuda" else 0
    channels_last = torchtrain.uses_channels_last(model)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    sums = {"reblur": 0.0, "kernel": 0.0, "n": 0}
    step_seconds, local = [], {"reblur": [], "kernel": []}  # this process, this session

    def make_loader(start: int):
        sampler = datasets.ChoiceBatchSampler(len(samples), batch_size, seed=seed, rank=dist.rank, start=start)
        return datasets.make_loader(samples, sampler, workers=workers, device=dist.device, seed=seed + dist.rank)

    def step_fn(step: int, next_batch) -> dict:
        begin = time.perf_counter()
        b = datasets.training_tensors(next_batch(), dist.device)
        if channels_last:
            b["input"] = b["input"].contiguous(memory_format=torch.channels_last)
        with torch_ops.autocast(dist.device, precision):
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
        local["reblur"].append(l_reblur.item())
        local["kernel"].append(l_kernel.item())
        step_seconds.append(time.perf_counter() - begin)
        return {"reblur": f"{l_reblur.item():.2e}", "kernel": f"{l_kernel.item():.2e}"}

    def record(state, validation: float) -> None:
        h = state.history
        h["step"].append(state.step)
        h["reblur"].append(torchtrain.mean_across_processes(sums["reblur"] / max(sums["n"], 1), dist))
        h["kernel"].append(torchtrain.mean_across_processes(sums["kernel"] / max(sums["n"], 1), dist))
        h["validation"].append(validation)
        sums.update(reblur=0.0, kernel=0.0, n=0)

    def checkpoint_record(state) -> dict:
        return checkpoints.checkpoint_metadata(
            **(metadata or {}), steps=state.step, wall_seconds=state.seconds, device=dist.device,
            validation={"kernel_error": state.best_score, "best_step": state.best_step},
        )

    state = loop.run_loop(
        dist=dist, steps=steps, step_fn=step_fn, make_loader=make_loader,
        validate_fn=lambda: mean_kernel_error(model, validation_set, dist.device), record_fn=record, keep=model,
        models={"model": model}, optimisers={"optimiser": optimiser}, higher_is_better=False, validate_every=eval_every,
        schedule=torchtrain.linear_decay_lambda(steps, 1.0 - decay_fraction), checkpoint=checkpoint, checkpoint_every=eval_every,
        metadata_fn=checkpoint_record, resume=resume, history={"step": [], "reblur": [], "kernel": [], "validation": []},
        show_progress=show_progress, on_checkpoint=on_checkpoint,
    )
    unwrap(model).load_state_dict(state.best_state)
    return {
        "history": state.history,
        "best_step": state.best_step,
        "best_validation": state.best_score,
        "seconds": state.seconds,
        "data_seconds": state.data_seconds,
        "step_seconds": step_seconds,
        "local_history": local,
        "steps": state.step,
    }


# ---------------------------------------------------------------------------------------------
# Command line: one process or torchrun
