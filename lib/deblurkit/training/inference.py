"""How fast, and how exactly, the DeblurGAN generator restores a frame in each numeric mode.

A *mode* is a precision and a memory layout:

========== =====================================================================
``fp32``   float32, contiguous layout (what the book's chapters use on the CPU)
``fp32-cl`` float32, channels-last layout
``tf32-cl`` CUDA only: float32 storage, TF32 convolutions and matrix products
           (10-bit mantissa), channels-last; what ``configure_device`` enables
``bf16``   bfloat16 autocast (float32 weights), contiguous layout
``bf16-cl`` bfloat16 autocast, channels-last layout
========== =====================================================================

:func:`frame_ms` times a mode (synchronised, median after warm-up); :func:`choose_mode` picks
the fastest mode whose PSNR on *validation* crops stays within a tolerance of float32's (the
command line's ``--precision auto``). Used by ``bench/bench_deblurgan.py``,
``tools/gpu_check.py``, ``python -m deblurkit.deblurgan deblur`` (which restores through
:func:`deblurkit.evaluation.testtime.restore_images` in the chosen mode, dropout on as in
the chapters).

This module imports torch; ``import deblurkit`` does not import it.
"""

from __future__ import annotations

import contextlib
import statistics
import time

import numpy as np
import torch

from ..models import torch_ops
from ..models.deblurgan import batch_psnr
from ..runtime import validate as _validate

#: Every mode: (autocast precision, channels-last, TF32 allowed).
MODES = {
    "fp32": ("fp32", False, False),
    "fp32-cl": ("fp32", True, False),
    "tf32-cl": ("fp32", True, True),
    "bf16": ("bf16", False, False),
    "bf16-cl": ("bf16", True, False),
}

#: What each mode is, for tables (the TF32 row is not float32 arithmetic, and says so).
LABELS = {
    "fp32": "float32",
    "fp32-cl": "float32, channels-last",
    "tf32-cl": "TF32 convolutions (float32 storage), channels-last",
    "bf16": "bf16 autocast",
    "bf16-cl": "bf16 autocast, channels-last",
}

#: Largest PSNR loss against float32, in dB, that ``--precision auto`` accepts.
AUTO_TOLERANCE_DB = 0.05


def available_modes(device) -> tuple[str, ...]:
    """The modes that exist on ``device`` (TF32 is a CUDA feature)."""
    cuda = torch.device(device).type == "cuda"
    return tuple(m for m in MODES if cuda or m != "tf32-cl")


@contextlib.contextmanager
def numeric_mode(mode: str, device):
    """Autocast and the TF32 switches of ``mode`` on ``device``; the switches are restored after."""
    _validate.choice(mode, "mode", set(available_modes(device)))
    precision, _, tf32 = MODES[mode]
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
    try:
        with torch_ops.autocast(device, precision):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def prepared(generator: torch.nn.Module, mode: str, device) -> torch.nn.Module:
    """``generator`` on ``device`` in ``mode``'s memory layout, in evaluation mode."""
    layout = torch.channels_last if MODES[mode][1] else torch.contiguous_format
    return torch_ops.unwrap(generator).to(device, memory_format=layout).eval()


@torch.no_grad()
def restore(generator: torch.nn.Module, batch: torch.Tensor, mode: str, device) -> torch.Tensor:
    """The generator's output for ``batch`` ``(N, 3, H, W)`` in [-1, 1] in ``mode``, as CPU float32."""
    gen = prepared(generator, mode, device)
    x = batch.to(device, memory_format=torch.channels_last if MODES[mode][1] else torch.contiguous_format)
    with numeric_mode(mode, device):
        return gen(x).float().cpu()


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(fn, *, repeat: int, warmup: int = 1, device="cpu") -> float:
    """Median wall time of ``fn()`` in milliseconds over ``repeat`` calls after ``warmup``
    calls, the device synchronised around each call."""
    repeat = _validate.integer(repeat, "repeat", minimum=1)
    for _ in range(_validate.integer(warmup, "warmup", minimum=0)):
        fn()
    _sync(device)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


@torch.no_grad()
def frame_ms(generator: torch.nn.Module, shape, mode: str, device, *, repeat: int = 10, warmup: int = 2) -> float:
    """Milliseconds the generator takes for one ``shape`` = ``(H, W)`` colour frame in ``mode``
    (median of ``repeat`` synchronised calls after ``warmup``)."""
    h, w = (int(s) for s in shape)
    gen = prepared(generator, mode, device)
    frame = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, size=(1, 3, h, w)).astype(np.float32))
    x = frame.to(device, memory_format=torch.channels_last if MODES[mode][1] else torch.contiguous_format)

    def once():
        with numeric_mode(mode, device):
            gen(x)

    return median_ms(once, repeat=repeat, warmup=warmup, device=device)


def choose_mode(generator: torch.nn.Module, blurred: torch.Tensor, sharp: torch.Tensor, device, *,
                tolerance_db: float = AUTO_TOLERANCE_DB, timing_shape=(256, 256), repeat: int = 3) -> dict:
    """The fastest mode whose mean PSNR on the crops is within ``tolerance_db`` of float32's.

    Parameters
    ----------
    generator : torch.nn.Module
    blurred, sharp : torch.Tensor (N, 3, H, W)
        *Validation* crops in [-1, 1] (never test data: this is a choice).
    device : str or torch.device
    tolerance_db : float
        Largest accepted PSNR loss against ``fp32``, dB (default 0.05).
    timing_shape : (int, int)
        Frame on which the modes are timed.
    repeat : int
        Timed calls per mode.

    Returns
    -------
    dict
        ``"chosen"``, and per mode ``"psnr"`` (dB) and ``"ms"`` (per ``timing_shape`` frame).
    """
    tolerance_db = _validate.positive_scalar(tolerance_db, "tolerance_db", allow_zero=True)
    psnr = {m: batch_psnr(restore(generator, blurred, m, device), sharp) for m in available_modes(device)}
    ms = {m: frame_ms(generator, timing_shape, m, device, repeat=repeat, warmup=1) for m in psnr}
    allowed = [m for m in psnr if psnr[m] >= psnr["fp32"] - tolerance_db]
    return {"chosen": min(allowed, key=ms.get), "psnr": psnr, "ms": ms, "tolerance_db": tolerance_db}


def validation_crops(config: dict, *, count: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` blurred/sharp validation crops made as the run of ``config`` (a checkpoint's
    ``metadata["config"]``) validated: bundled validation images (or GoPro's validation
    sequences), never the test split."""
    from dataclasses import fields

    from .deblurgan import TrainConfig, validation_set

    known = {f.name for f in fields(TrainConfig)}
    settings = {k: (tuple(v) if isinstance(v, list) else v) for k, v in (config or {}).items() if k in known}
    return validation_set(TrainConfig(**{**settings, "validation_count": int(count)}))


def choose_mode_for_checkpoint(generator: torch.nn.Module, metadata: dict, device, *, count: int = 8) -> dict:
    """:func:`choose_mode` on :func:`validation_crops` of the run that saved ``generator``."""
    blurred, sharp = validation_crops(metadata.get("config", {}), count=count)
    return {**choose_mode(generator, blurred, sharp, device), "crops": int(blurred.shape[0])}
