"""Torch training utilities: one process or every process of a torchrun launch (DDP, gloo on CPU,
NCCL on CUDA), device set-up, mean across processes, RNG states, atomic resumable checkpoints
with their metadata record, and the step-size schedule of DeblurGAN.
"""

from __future__ import annotations

import os
import random
import warnings
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
        ``"cpu"`` or ``"cuda"`` to force a device; by default CUDA when one is visible
        (:func:`pick_device`).

    Returns
    -------
    Distributed
        Rank, world size, local rank and this process's device. Under ``torchrun`` on CUDA,
        process ``local_rank`` takes GPU ``local_rank``.
    """
    kind = pick_device(device).type
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


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The device a torch run uses: CUDA when torch sees one, else the CPU; or the one asked for.

    The one place the library decides between CPU and CUDA (training, chapter 8's networks,
    the command lines, ``tools/gpu_check.py``).

    Parameters
    ----------
    device : str or torch.device, optional
        ``"cpu"`` or ``"cuda"`` (or a ``torch.device`` of either type) to force a device; by
        default CUDA when ``torch.cuda.is_available()``, else the CPU.

    Returns
    -------
    torch.device
        ``cpu`` or ``cuda`` (torch's current CUDA device), or ``device`` itself when it was a
        ``torch.device``.

    Raises
    ------
    ValueError
        A device other than CPU or CUDA, or CUDA asked for where torch sees none.
    """
    if device is None:
        kind = "cuda" if torch.cuda.is_available() else "cpu"
    else:
        kind = device.type if isinstance(device, torch.device) else device
        _validate.choice(kind, "device", {"cpu", "cuda"})
        if kind == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device 'cuda' asked for, but no CUDA device is available to torch {torch.__version__}")
    if isinstance(device, torch.device):
        return device
    return torch.device(kind)  # no index: CUDA's current device, and no CUDA context is made here


def configure_device(device: torch.device, *, tf32: bool = True) -> None:
    """Set up CUDA for speed; nothing changes on the CPU.

    cuDNN picks the fastest convolution algorithms (inputs keep one size), and with ``tf32``
    (default, for training) convolutions and matrix products run in TF32 (10-bit mantissa).
    ``tf32=False`` keeps them float32, as on the CPU (chapter 8, whose networks' scores should
    not depend on the device beyond rounding). On CUDA the TF32 switches are set to ``tf32``.
    """
    if torch.device(device).type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = bool(tf32)
        torch.backends.cudnn.allow_tf32 = bool(tf32)


def prepare_model(model: torch.nn.Module, dist: Distributed, *, channels_last: bool | None = None) -> torch.nn.Module:
    """Move ``model`` to the process's device and, in a multi-process run, wrap it in
    ``DistributedDataParallel`` so that its gradients are averaged.

    All processes start from rank 0's weights: DDP broadcasts them when it wraps the model.
    Batch normalisation layers become ``SyncBatchNorm`` in a multi-process CUDA run (statistics
    over the whole batch of every process); ``SyncBatchNorm`` has no CPU implementation, so a
    multi-process CPU run of a model with batch normalisation is refused.

    Parameters
    ----------
    channels_last : bool, optional
        Channels-last memory layout (default: on CUDA only, where it makes convolutions faster).

    Raises
    ------
    ValueError
        Batch normalisation in a multi-process run on the CPU.
    """
    cuda = dist.device.type == "cuda"
    channels_last = cuda if channels_last is None else bool(channels_last)
    model = sync_batch_norm(model, dist)
    model = model.to(dist.device, memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    if not dist.enabled:
        return model
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=[dist.local_rank] if cuda else None)


def uses_channels_last(model: torch.nn.Module) -> bool:
    """Whether ``model``'s convolutions hold their weights in channels-last layout (as
    :func:`prepare_model` leaves them when asked), so that inputs should follow."""
    for m in unwrap(model).modules():
        if isinstance(m, torch.nn.Conv2d) and m.weight.shape[1] > 1 and m.weight.shape[2] * m.weight.shape[3] > 1:
            return m.weight.is_contiguous(memory_format=torch.channels_last) and not m.weight.is_contiguous()
    return False


def sync_batch_norm(model: torch.nn.Module, dist: Distributed) -> torch.nn.Module:
    """``model`` with its batch normalisation layers synchronised across the processes of a
    multi-process CUDA run (``SyncBatchNorm``); unchanged in a one-process run.

    Raises
    ------
    ValueError
        Batch normalisation in a multi-process run on the CPU (``SyncBatchNorm`` needs CUDA;
        unsynchronised layers would normalise each process's share of the batch differently).
    """
    has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    if not (dist.enabled and has_bn):
        return model
    if dist.device.type != "cuda":
        raise ValueError(
            f"a model with batch normalisation (e.g. AdaptiveBasisNet(norm='batch')) cannot train in {dist.world_size} CPU "
            "processes: SyncBatchNorm runs on CUDA only; train it in one process, or use norm='none'"
        )
    return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)


def mean_across_processes(value: float, dist: Distributed) -> float:
    """The mean of a scalar over all processes (the scalar itself in a one-process run)."""
    if not dist.enabled:
        return float(value)
    t = torch.tensor([float(value)], device=dist.device, dtype=torch.float64)
    torch.distributed.all_reduce(t)
    return float(t.item()) / dist.world_size


def broadcast_value(value: float, dist: Distributed) -> float:
    """The main process's ``value`` on every process (``value`` itself in a one-process run)."""
    if not dist.enabled:
        return float(value)
    t = torch.tensor([float(value)], device=dist.device, dtype=torch.float64)
    torch.distributed.broadcast(t, src=0)
    return float(t.item())


def rng_state(device=None) -> dict:
    """The state of every random generator this process draws from: Python, NumPy, torch's
    CPU generator and, for a CUDA ``device``, that device's generator.

    The torch states are stored as NumPy ``uint8`` arrays, so that loading a checkpoint with
    any ``map_location`` leaves them where :func:`set_rng_state` needs them (torch accepts only
    a CPU ``ByteTensor``).
    """
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state().numpy()}
    if device is not None and torch.device(device).type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(torch.device(device)).numpy()
    return state


def _byte_tensor(value) -> torch.Tensor:
    """A CPU ``ByteTensor`` of a saved generator state (a NumPy array, or a tensor anywhere)."""
    if isinstance(value, torch.Tensor):
        if value.device.type == "meta":
            raise ValueError("a random state was loaded onto the meta device: it holds no values")
        return value.detach().to("cpu", torch.uint8)
    return torch.from_numpy(np.array(value, dtype=np.uint8))


def set_rng_state(state: dict, device=None) -> None:
    """Restore what :func:`rng_state` captured (also older checkpoints' tensors, on any device),
    so that a resumed process draws the same numbers."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(_byte_tensor(state["torch"]))
    if "cuda" in state and device is not None and torch.device(device).type == "cuda":
        torch.cuda.set_rng_state(_byte_tensor(state["cuda"]), torch.device(device))


def _rng_states_of_every_process(dist: Distributed | None) -> list:
    """One :func:`rng_state` per process, in rank order (a collective in a multi-process run)."""
    mine = rng_state(dist.device if dist is not None else None)
    if dist is None or not dist.enabled:
        return [mine]
    every = [None] * dist.world_size
    torch.distributed.all_gather_object(every, mine)
    return every


def save_checkpoint(
    path,
    *,
    models: dict,
    metadata: dict | None,
    optimisers: dict | None = None,
    schedulers: dict | None = None,
    extra: dict | None = None,
    dist: Distributed | None = None,
) -> Path:
    """Save everything a run needs to resume, atomically, plus its metadata as JSON beside it.

    In a multi-process run every process calls it (each contributes its random state) and the
    main process writes the file.

    Parameters
    ----------
    path : str or Path
        ``.pt`` file; the metadata goes to the same name with ``.json``.
    models, optimisers, schedulers : dict
        ``{name: object with state_dict()}``; DDP wrappers are unwrapped.
    metadata : dict
        From :func:`checkpoint_metadata` (needed on the main process only).
    extra : dict, optional
        Other picklable state (e.g. the loss history drawn as training curves).
    dist : Distributed, optional
        This process's place in the run (default: a one-process run).
    """
    rngs = _rng_states_of_every_process(dist)
    path = Path(path)
    if dist is not None and not dist.is_main:
        return path
    state = {
        "models": {k: unwrap(m).state_dict() for k, m in models.items()},
        "optimisers": {k: o.state_dict() for k, o in (optimisers or {}).items()},
        "schedulers": {k: s.state_dict() for k, s in (schedulers or {}).items()},
        "rng": rngs,
        "metadata": metadata,
        "extra": extra or {},
    }
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
    dist: Distributed | None = None,
) -> dict:
    """Load what :func:`save_checkpoint` wrote into the given objects.

    Parameters
    ----------
    restore_rng : bool
        Restore this process's random state: the one of the process of the same rank in the
        saved run (a warning, and rank 0's state, when the run had fewer processes).
    map_location : str, torch.device or callable
        Where the file's tensors are loaded (any device: the random states are restored from
        CPU copies whatever it is).
    dist : Distributed, optional
        This process's place in the run (default: a one-process run, rank 0).

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
        rngs = state["rng"] if isinstance(state["rng"], list) else [state["rng"]]  # older files: one state
        rank = dist.rank if dist is not None else 0
        if rank >= len(rngs):
            warnings.warn(f"checkpoint {path} holds the random state of {len(rngs)} process(es); process {rank} takes rank 0's", stacklevel=2)
        set_rng_state(rngs[rank] if rank < len(rngs) else rngs[0], dist.device if dist is not None else None)
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
