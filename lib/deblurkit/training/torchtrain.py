"""Torch training utilities: one process or every process of a torchrun launch (DDP, gloo on CPU,
NCCL on CUDA), device set-up, mean across processes, RNG states, atomic resumable checkpoints
with their metadata record, and the step-size schedule of DeblurGAN.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..book import checkpoints
from ..models.torch_ops import unwrap
from ..runtime import validate as _validate
from ..runtime.files import atomic_write


@dataclass(frozen=True)
class Distributed:
    """Where this process stands in a (possibly one-process) training run."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """True on the process that writes checkpoints, logs and progress bars."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """True when a process group of more than one process is running."""
        return self.world_size > 1


def setup_distributed(device: str | None = None) -> Distributed:
    """Join the process group ``torchrun`` describes in the environment, or run alone.

    Parameters
    ----------
    device : str, optional
        ``"cpu"`` or ``"cuda"`` to force a device; by default CUDA when one is visible.

    Returns
    -------
    Distributed
        Rank, world size, local rank and this process's device. Under ``torchrun`` on CUDA,
        process ``local_rank`` takes GPU ``local_rank``.
    """
    kind = device or ("cuda" if torch.cuda.is_available() else "cpu")
    _validate.choice(kind, "device", {"cpu", "cuda"})
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed(0, 1, 0, torch.device(kind))
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if kind == "cuda":
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend="nccl" if kind == "cuda" else "gloo")
    return Distributed(rank, world_size, local_rank, dev)


def teardown_distributed(dist: Distributed) -> None:
    """Leave the process group (a no-op in a one-process run)."""
    if dist.enabled and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def configure_device(device: torch.device) -> None:
    """Let cuDNN pick the fastest convolution algorithms on CUDA (inputs keep one size)."""
    if torch.device(device).type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def prepare_model(model: torch.nn.Module, dist: Distributed) -> torch.nn.Module:
    """Move ``model`` to the process's device (channels-last on CUDA) and, in a multi-process
    run, wrap it in ``DistributedDataParallel`` so that its gradients are averaged.

    All processes start from rank 0's weights: DDP broadcasts them when it wraps the model.
    """
    cuda = dist.device.type == "cuda"
    model = model.to(dist.device, memory_format=torch.channels_last if cuda else torch.contiguous_format)
    if not dist.enabled:
        return model
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=[dist.local_rank] if cuda else None)


def mean_across_processes(value: float, dist: Distributed) -> float:
    """The mean of a scalar over all processes (the scalar itself in a one-process run)."""
    if not dist.enabled:
        return float(value)
    t = torch.tensor([float(value)], device=dist.device, dtype=torch.float64)
    torch.distributed.all_reduce(t)
    return float(t.item()) / dist.world_size


def rng_state() -> dict:
    """The state of every random generator a training run draws from (Python, NumPy, torch)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` captured, so a resumed run draws the same numbers."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    path,
    *,
    models: dict,
    metadata: dict,
    optimisers: dict | None = None,
    schedulers: dict | None = None,
    extra: dict | None = None,
) -> Path:
    """Save everything a run needs to resume, atomically, plus its metadata as JSON beside it.

    Parameters
    ----------
    path : str or Path
        ``.pt`` file; the metadata goes to the same name with ``.json``.
    models, optimisers, schedulers : dict
        ``{name: object with state_dict()}``; DDP wrappers are unwrapped.
    metadata : dict
        From :func:`checkpoint_metadata`.
    extra : dict, optional
        Other picklable state (e.g. the loss history drawn as training curves).
    """
    state = {
        "models": {k: unwrap(m).state_dict() for k, m in models.items()},
        "optimisers": {k: o.state_dict() for k, o in (optimisers or {}).items()},
        "schedulers": {k: s.state_dict() for k, s in (schedulers or {}).items()},
        "rng": rng_state(),
        "metadata": metadata,
        "extra": extra or {},
    }
    path = Path(path)
    atomic_write(path, lambda tmp: torch.save(state, tmp))
    checkpoints.write_metadata(path, metadata)
    return path


def load_checkpoint(
    path,
    *,
    models: dict,
    optimisers: dict | None = None,
    schedulers: dict | None = None,
    restore_rng: bool = False,
    map_location="cpu",
) -> dict:
    """Load what :func:`save_checkpoint` wrote into the given objects.

    Returns
    -------
    dict
        ``{"metadata": ..., "extra": ...}`` of the checkpoint.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If a named model is missing from the checkpoint or its weights do not fit the model
        (another architecture).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    state = torch.load(path, map_location=map_location, weights_only=False)
    for name, model in models.items():
        if name not in state["models"]:
            raise ValueError(f"checkpoint {path} holds no model {name!r} (it has {sorted(state['models'])})")
        try:
            unwrap(model).load_state_dict(state["models"][name])
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise ValueError(f"checkpoint {path}: model {name!r} has another architecture ({first})") from None
    for name, opt in (optimisers or {}).items():
        opt.load_state_dict(state["optimisers"][name])
    for name, sched in (schedulers or {}).items():
        sched.load_state_dict(state["schedulers"][name])
    if restore_rng:
        set_rng_state(state["rng"])
    return {"metadata": state["metadata"], "extra": state["extra"]}


def linear_decay_lambda(total_steps: int, constant_fraction: float = 0.5):
    """The DeblurGAN schedule as a ``LambdaLR`` factor: 1 for the first ``constant_fraction``
    of ``total_steps``, then a straight line to 0 at the end (the paper: 150 constant epochs,
    then 150 decaying).
    """
    total_steps = _validate.integer(total_steps, "total_steps", minimum=1)
    constant_fraction = _validate.real_scalar(constant_fraction, "constant_fraction")
    if not 0 <= constant_fraction <= 1:
        raise ValueError(f"constant_fraction must be in [0, 1], got {constant_fraction}")
    start = round(constant_fraction * total_steps)

    def factor(step: int) -> float:
        if step < start:
            return 1.0
        return max(0.0, 1.0 - (step - start) / max(1, total_steps - start))

    return factor
