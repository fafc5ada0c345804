"""The adaptive-basis network of Carbajal et al.: B global kernels plus per-pixel mixing weights.

A blurred image goes through a U-Net-style encoder (five max-pool levels); two heads read it:

- the *kernels* head averages each encoder level over the image (global average pooling), grows
  a 1x1 map by transposed convolutions (x2 per level, fed the pooled encoder levels as skips) to
  ``K x K``, and ends with a softmax over each kernel's ``K^2`` entries: ``B`` kernels for the
  whole image, each non-negative and summing to one;
- the *masks* head is the U-Net decoder (transposed convolutions and skip connections back to
  full resolution) ending with a softmax over ``b``: ``B`` weights per pixel summing to one.

The layer plan follows the authors' published inference code (``TwoHeadsNetwork``: LeakyReLU,
widths 64-1024, kernel head widths 512-256-256-128-64); ``base`` scales every width,
``basis`` is B and ``kernel_size`` is K (2^n + 1 with n from 2 to 5, the kernel head having n
levels). At the paper's size (``base=64, basis=25, kernel_size=33``) it has about 80 million
parameters. Training follows the paper: a reblur loss and a per-pixel kernel loss, weights 1
and 1, Adam at 1e-4.

This module imports torch; ``import deblurkit`` does not import it. ``python -m
deblurkit.adaptive_basis --help`` trains from the command line, in one process or under
``torchrun`` on several.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import _validate
from .nonuniform import GAMMA, blur_nonuniform_torch

#: The paper's network: 25 kernels of 33 x 33, base width 64 (about 80 M parameters).
PAPER_ARCHITECTURE = {"in_channels": 3, "basis": 25, "kernel_size": 33, "base": 64}

#: Encoder depth (max-pool levels); inputs must have sides divisible by 2**DEPTH.
DEPTH = 5


def _conv(c_in: int, c_out: int, k: int = 3, padding: int = 1, norm: str = "none") -> list:
    layers = [nn.Conv2d(c_in, c_out, k, padding=padding)]
    if norm == "batch":
        layers.append(nn.BatchNorm2d(c_out))
    return [*layers, nn.LeakyReLU(0.01, inplace=True)]


class Down(nn.Module):
    """Two 3x3 convolutions, then a 2x2 max-pool; returns the features and the pooled map."""

    def __init__(self, c_in: int, c_out: int, norm: str = "none") -> None:
        super().__init__()
        self.convs = nn.Sequential(*_conv(c_in, c_out, norm=norm), *_conv(c_out, c_out, norm=norm))

    def forward(self, x):
        features = self.convs(x)
        return features, F.max_pool2d(features, 2)


class Up(nn.Module):
    """A 2x2 transposed convolution (x2), two 3x3 convolutions, then a 3x3 convolution that merges
    a skip connection (concatenated channels)."""

    def __init__(self, c_in: int, c_skip: int, c_out: int, norm: str = "none") -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(c_in, c_in, 2, stride=2)
        self.convs = nn.Sequential(*_conv(c_in, c_out, norm=norm), *_conv(c_out, c_out, norm=norm))
        self.merge = nn.Sequential(*_conv(c_skip + c_out, c_out, norm=norm))

    def forward(self, x, skip):
        x = self.convs(self.up(x))
        return self.merge(torch.cat([skip, x], dim=1))


class AdaptiveBasisNet(nn.Module):
    """Blurred image -> ``B`` kernels (global) and ``B`` per-pixel weights (Carbajal et al.).

    Parameters
    ----------
    in_channels : int
        1 (grey) or 3 (RGB) input channels.
    basis : int
        ``B``, the number of kernels, >= 1 (paper: 25).
    kernel_size : int
        ``K``, one of 5, 9, 17, 33 (paper: 33).
    base : int
        Width of the first level, >= 1; level widths are base x (1, 1, 2, 4, 8, 16) (paper: 64).
    init : {"he", "default"}
        Weight initialisation: He (Kaiming-normal for LeakyReLU, zero biases), or PyTorch's
        default, under which the ~30 plain layers to the kernels' logits shrink the signal so
        much that the kernels barely depend on the input (see :func:`input_sensitivity`).
    norm : {"none", "batch"}
        ``"none"``: the paper's plain convolutions. ``"batch"``: a batch normalisation after
        every 3x3 convolution but the two heads' last ones (not in the paper): with it a narrow
        network starts learning to tell blurs apart in hundreds of steps instead of thousands,
        which is what a two-core budget allows. Inference (``eval()``) uses the running
        statistics, so any image size works.

    Notes
    -----
    ``forward(x)`` takes ``(N, in_channels, H, W)`` with ``H`` and ``W`` divisible by 32 (use
    :func:`estimate` for any size) and returns ``kernels (N, B, K, K)`` and ``weights
    (N, B, H, W)``, both from softmaxes computed in float32.
    """

    def __init__(self, in_channels: int = 1, basis: int = 25, kernel_size: int = 33, base: int = 64, *, init: str = "he", norm: str = "none") -> None:
        super().__init__()
        _validate.choice(init, "init", {"he", "default"})
        _validate.choice(norm, "norm", {"none", "batch"})
        in_channels = _validate.integer(in_channels, "in_channels", minimum=1)
        if in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")
        self.basis = _validate.integer(basis, "basis", minimum=1)
        self.kernel_size = _validate.integer(kernel_size, "kernel_size", minimum=5)
        if self.kernel_size not in (5, 9, 17, 33):
            raise ValueError(f"kernel_size must be 2**n + 1 with n in 2..5 (5, 9, 17, 33), got {kernel_size}")
        b = _validate.integer(base, "base", minimum=1)
        self.architecture = {"in_channels": in_channels, "basis": self.basis, "kernel_size": self.kernel_size, "base": b}
        if norm != "none":  # recorded only when used, so that the paper's record stays as it was
            self.architecture["norm"] = norm
        widths = [b, 2 * b, 4 * b, 8 * b, 16 * b]  # features of the five encoder levels
        self.inc = nn.Sequential(*_conv(in_channels, b, norm=norm))
        self.downs = nn.ModuleList([Down(c_in, c_out, norm) for c_in, c_out in zip([b, *widths[:-1]], widths)])
        self.bottleneck = nn.Sequential(*_conv(widths[-1], widths[-1], norm=norm))
        # masks head: the U-Net decoder back to full resolution
        mask_out = [8 * b, 4 * b, 2 * b, b, b]
        self.mask_ups = nn.ModuleList(
            [Up(c_in, skip, c_out, norm) for c_in, skip, c_out in zip([16 * b, *mask_out[:-1]], widths[::-1], mask_out)]
        )
        self.mask_end = nn.Sequential(*_conv(b, b, norm=norm), *_conv(b, b, norm=norm), nn.Conv2d(b, self.basis, 3, padding=1))
        # kernels head: 1x1 -> 2**levels, fed globally pooled encoder features, then to K x K
        self.kernel_levels = int(math.log2(self.kernel_size - 1))
        kernel_out = [8 * b, 4 * b, 4 * b, 2 * b, b][: self.kernel_levels]
        self.kernel_ups = nn.ModuleList(
            [Up(c_in, skip, c_out, norm) for c_in, skip, c_out in zip([16 * b, *kernel_out[:-1]], widths[::-1], kernel_out)]
        )
        c = kernel_out[-1]
        # a 2x2 convolution with padding 1 turns 2**n into 2**n + 1 = K
        self.kernel_end = nn.Sequential(*_conv(c, c, 2, 1, norm), *_conv(c, c, norm=norm), nn.Conv2d(c, self.basis, 3, padding=1))
        if init == "he":
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                    nn.init.kaiming_normal_(m.weight, a=0.01, nonlinearity="leaky_relu")
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        if x.ndim != 4 or x.shape[-1] % 2**DEPTH or x.shape[-2] % 2**DEPTH:
            raise ValueError(f"x must be (N, C, H, W) with H and W divisible by {2**DEPTH}, got {tuple(x.shape)}")
        skips, h = [], self.inc(x)
        for down in self.downs:
            features, h = down(h)
            skips.append(features)
        h = self.bottleneck(h)
        # kernels: global average pooling of every level, grown from 1x1 to K x K
        k = h.mean(dim=(2, 3), keepdim=True)
        for level, up in enumerate(self.kernel_ups):
            side = 2 ** (level + 1)
            pooled = skips[-1 - level].mean(dim=(2, 3), keepdim=True).expand(-1, -1, side, side)
            k = up(k, pooled)
        k = self.kernel_end(k).float()
        n = k.shape[0]
        kernels = torch.softmax(k.reshape(n, self.basis, -1), dim=-1).reshape(n, self.basis, self.kernel_size, self.kernel_size)
        # weights: the U-Net decoder
        m = h
        for up, skip in zip(self.mask_ups, skips[::-1]):
            m = up(m, skip)
        weights = torch.softmax(self.mask_end(m).float(), dim=1)
        return kernels, weights


@torch.no_grad()
def input_sensitivity(model: AdaptiveBasisNet, images) -> float:
    """How much the kernels' logits depend on the input: their standard deviation across a batch
    of ``images`` (N >= 2), averaged over entries, relative to their overall standard deviation.

    Near 0, every image gets the same kernels (the network cannot learn to tell blurs apart).
    """
    if images.shape[0] < 2:
        raise ValueError(f"images must hold at least 2 images, got {tuple(images.shape)}")
    captured = {}
    handle = model.kernel_end.register_forward_hook(lambda mod, args, out: captured.update(logits=out))
    try:
        model(images)
    finally:
        handle.remove()
    logits = captured["logits"].float()
    return float(logits.std(dim=0).mean() / logits.std().clamp_min(1e-30))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def parameter_count(**architecture) -> int:
    """Parameters of :class:`AdaptiveBasisNet` with these arguments, built on the ``meta`` device
    (no memory is allocated for the weights)."""
    with torch.device("meta"):
        return count_parameters(AdaptiveBasisNet(**architecture))


# ---------------------------------------------------------------------------------------------
# Losses


def reblur_loss(kernels, weights, sharp_linear, blurred_linear):
    """Mean squared error between ``sum_b m_b * (k_b conv x)`` and the blurred image.

    Parameters
    ----------
    kernels : torch.Tensor (N, B, K, K)
    weights : torch.Tensor (N, B, H, W)
    sharp_linear : torch.Tensor (N, 1, H + K - 1, W + K - 1)
        Sharp crops in linear intensity ("valid" blur: no boundary assumed).
    blurred_linear : torch.Tensor (N, 1, H, W)
        The observed blurred crops, linear intensity.
    """
    return F.mse_loss(blur_nonuniform_torch(sharp_linear, kernels, weights, mode="valid"), blurred_linear)


def kernel_loss(kernels, weights, true_kernels, true_weights):
    """Mean over pixels of ``||sum_b m_b k_b - k_true(p)||^2`` (squared L2 over the kernel entries).

    With ``k_true(p) = sum_c m^true_c(p) k^true_c`` the squared distance expands into Gram
    matrices of the kernels, so the per-pixel kernels are never formed (memory O(N B H W)).

    Parameters
    ----------
    kernels, true_kernels : torch.Tensor (N, B, K, K) and (N, C, K, K)
    weights, true_weights : torch.Tensor (N, B, H, W) and (N, C, H, W)
    """
    n = kernels.shape[0]
    a = kernels.reshape(n, kernels.shape[1], -1)
    t = true_kernels.reshape(n, true_kernels.shape[1], -1)
    aa = torch.einsum("nbp,ncp->nbc", a, a)
    at = torch.einsum("nbp,ncp->nbc", a, t)
    tt = torch.einsum("nbp,ncp->nbc", t, t)
    est = torch.einsum("nbhw,nbc,nchw->nhw", weights, aa, weights)
    cross = torch.einsum("nbhw,nbc,nchw->nhw", weights, at, true_weights)
    truth = torch.einsum("nbhw,nbc,nchw->nhw", true_weights, tt, true_weights)
    return (est - 2 * cross + truth).mean()


def network_input(blurred, in_channels: int = 1):
    """The network's input from gamma-encoded blurred images in [0, 1]: centred to [-0.5, 0.5].

    Parameters
    ----------
    blurred : torch.Tensor (N, 1, H, W) or (N, 3, H, W)
    in_channels : int
        Channels the network expects; a grey image is repeated to 3 when needed.
    """
    x = blurred - 0.5
    return x.expand(-1, in_channels, -1, -1) if x.shape[1] == 1 and in_channels == 3 else x


@torch.no_grad()
def estimate(model: AdaptiveBasisNet, blurred, *, device=None) -> tuple[np.ndarray, np.ndarray]:
    """Kernels and per-pixel weights of one grey blurred image of any size.

    The image is extended by reflection to sides divisible by 32, the weights cropped back.

    Parameters
    ----------
    model : AdaptiveBasisNet
    blurred : array_like, shape (H, W)
        Gamma-encoded grey image in [0, 1], sides >= 16.
    device : str or torch.device, optional
        Default: the model's device.

    Returns
    -------
    kernels : ndarray, shape (B, K, K), float64, each summing to one
    weights : ndarray, shape (B, H, W), float64, summing to one over B
    """
    img = _validate.array(blurred, "blurred", ndim=2)
    if min(img.shape) < 16:
        raise ValueError(f"blurred must be at least 16 px on each side, got {img.shape}")
    device = device or next(model.parameters()).device
    h, w = img.shape
    ph, pw = (-h) % 2**DEPTH, (-w) % 2**DEPTH
    padded = np.pad(img, ((0, ph), (0, pw)), mode="reflect")
    x = torch.from_numpy(padded).float()[None, None].to(device)
    was_training = model.training
    model.eval()
    kernels, weights = model(network_input(x, model.architecture["in_channels"]))
    model.train(was_training)
    kernels = kernels[0].double().cpu().numpy()
    weights = weights[0, :, :h, :w].double().cpu().numpy()
    return kernels / kernels.sum(axis=(1, 2), keepdims=True), weights / weights.sum(axis=0, keepdims=True)


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
    from . import torchtrain
    from .checkpoints import require_checkpoint

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
    from .torchtrain import unwrap

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
    import time

    from . import torchtrain
    from .train import progress

    steps = _validate.integer(steps, "steps", minimum=1)
    batch_size = _validate.integer(batch_size, "batch_size", minimum=1)
    eval_every = _validate.integer(eval_every, "eval_every", minimum=1)
    learning_rate = _validate.positive_scalar(learning_rate, "learning_rate")
    decay_fraction = _validate.real_scalar(decay_fraction, "decay_fraction")
    if not 0 <= decay_fraction <= 1:
        raise ValueError(f"decay_fraction must be in [0, 1], got {decay_fraction}")
    schedule = torchtrain.linear_decay_lambda(steps, 1.0 - decay_fraction)
    count = len(train_set["blurred"])
    net = torchtrain.unwrap(model)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = {"step": [], "reblur": [], "kernel": [], "validation": []}
    start_step, best = 0, {"validation": float("inf"), "step": 0, "state": copy.deepcopy(net.state_dict())}
    elapsed_before = 0.0
    if resume and checkpoint is not None and torchtrain.metadata_path(checkpoint).is_file():
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
        with torchtrain.autocast(dist.device):
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
                meta = torchtrain.checkpoint_metadata(
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
    import argparse

    from . import data, torchtrain
    from .nonuniform import nonuniform_blur_dataset

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
    pictures = {s: [data.bundled_square(n, side) for n in data.split_names(s)] for s in ("train", "validation")}
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
