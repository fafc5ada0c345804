"""Torch building blocks shared by the torch networks and their trainers: parameter counts,
unwrapping DDP, autocast (bf16 on CUDA and for the CPU dry run), and the non-uniform blur
operator and its adjoint in torch (the same model as :mod:`deblurkit.imaging.nonuniform`).
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from ..imaging.nonuniform import MODES
from ..runtime import validate as _validate

# ---------------------------------------------------------------------------------------------
# The operator in torch (imported only here), for training


def blur_nonuniform_torch(images, kernels, weights, *, mode: str = "valid"):
    """``sum_b m_b * (k_b conv x)`` for a batch, in torch (differentiable).

    Parameters
    ----------
    images : torch.Tensor, shape (N, 1, H + K - 1, W + K - 1) for "valid", (N, 1, H, W) for "same"
        Sharp grey images (linear intensity).
    kernels : torch.Tensor, shape (N, B, K, K)
        One set of ``B`` kernels per image, ``K`` odd.
    weights : torch.Tensor, shape (N, B, H, W)
        Per-pixel weights.
    mode : {"valid", "same"}
        As in :class:`NonUniformBlur` ("same" pads by reflection).

    Returns
    -------
    torch.Tensor, shape (N, 1, H, W)
    """
    import torch.nn.functional as F

    x, k, m = _torch_operands(images, kernels, weights, mode)
    n, basis, size = k.shape[0], k.shape[1], k.shape[-1]
    if mode == "same":
        p = size // 2
        x = F.pad(x, (p, p, p, p), mode="reflect")
    # conv2d correlates: flip to convolve; groups=N gives each image its own B kernels
    out = F.conv2d(x.reshape(1, n, *x.shape[-2:]), k.flip(-1, -2).reshape(n * basis, 1, size, size), groups=n)
    return (out.reshape(n, basis, *out.shape[-2:]) * m).sum(dim=1, keepdim=True)


def adjoint_nonuniform_torch(residual, kernels, weights, *, mode: str = "valid"):
    """The exact adjoint of :func:`blur_nonuniform_torch`: ``P^T sum_b flip(k_b) conv (m_b * r)``.

    Parameters
    ----------
    residual : torch.Tensor, shape (N, 1, H, W)
    kernels : torch.Tensor, shape (N, B, K, K)
    weights : torch.Tensor, shape (N, B, H, W)
    mode : {"valid", "same"}

    Returns
    -------
    torch.Tensor, shape of the sharp images
    """
    import torch
    import torch.nn.functional as F

    _validate.choice(mode, "mode", set(MODES))
    r = residual
    k, m = kernels, weights
    if r.ndim != 4 or r.shape[1] != 1 or r.shape[-2:] != m.shape[-2:]:
        raise ValueError(f"residual must be (N, 1, H, W) on the weights' grid {tuple(m.shape[-2:])}, got {tuple(r.shape)}")
    n, basis, size = k.shape[0], k.shape[1], k.shape[-1]
    weighted = (m * r).reshape(1, n * basis, *r.shape[-2:])
    full = F.conv_transpose2d(weighted, k.flip(-1, -2).reshape(n * basis, 1, size, size), groups=n)
    full = full.reshape(n, 1, *full.shape[-2:])
    if mode == "valid":
        return full
    h, w = r.shape[-2:]
    p = size // 2
    index = F.pad(torch.arange(h * w, dtype=full.dtype, device=full.device).reshape(1, 1, h, w), (p, p, p, p), mode="reflect")
    index = index.reshape(-1).round().long()
    out = torch.zeros(n, h * w, dtype=full.dtype, device=full.device)
    out.index_add_(1, index, full.reshape(n, -1))
    return out.reshape(n, 1, h, w)


def _torch_operands(images, kernels, weights, mode):
    _validate.choice(mode, "mode", set(MODES))
    for name, t in (("images", images), ("kernels", kernels), ("weights", weights)):
        if not hasattr(t, "ndim") or t.ndim != 4:
            raise ValueError(f"{name} must be a 4-D torch tensor, got {getattr(t, 'shape', type(t).__name__)}")
    if images.shape[1] != 1:
        raise ValueError(f"images must be grey (N, 1, H, W), got {tuple(images.shape)}")
    n, basis, size = kernels.shape[0], kernels.shape[1], kernels.shape[-1]
    if kernels.shape[-2] != size or size % 2 == 0:
        raise ValueError(f"kernels must be (N, B, K, K) with K odd, got {tuple(kernels.shape)}")
    if images.shape[0] != n or weights.shape[0] != n or weights.shape[1] != basis:
        raise ValueError(f"images {tuple(images.shape)}, kernels {tuple(kernels.shape)} and weights {tuple(weights.shape)} disagree on N or B")
    grow = size - 1 if mode == "valid" else 0
    if tuple(images.shape[-2:]) != (weights.shape[-2] + grow, weights.shape[-1] + grow):
        raise ValueError(f"images must be {grow} px larger than the weights' grid {tuple(weights.shape[-2:])} in mode {mode!r}, got {tuple(images.shape[-2:])}")
    return images, kernels, weights


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside a ``DistributedDataParallel`` wrapper (or the module itself)."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


#: Autocast precisions: "auto" (bf16 on CUDA, none on the CPU), "bf16" (any device), "fp32" (none).
PRECISIONS = ("auto", "bf16", "fp32")


def autocast(device: torch.device, precision: str = "auto"):
    """bfloat16 autocast on ``device``: on CUDA for ``"auto"`` (the default; on the CPU bf16
    convolutions are not faster for the book's training), on any device for ``"bf16"`` (the
    paper-size dry runs, CPU inference), never for ``"fp32"``."""
    _validate.choice(precision, "precision", set(PRECISIONS))
    kind = torch.device(device).type
    if precision == "bf16" or (precision == "auto" and kind == "cuda"):
        return torch.autocast(kind, dtype=torch.bfloat16)
    return contextlib.nullcontext()


