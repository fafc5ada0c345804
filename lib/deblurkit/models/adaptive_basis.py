"""Chapter 5's adaptive-basis network (Carbajal et al.'s two heads: a global basis of kernels and
per-pixel mixing weights), its reblur and kernel losses, and kernel estimation on an image.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..models.torch_ops import blur_nonuniform_torch, count_parameters
from ..runtime import validate as _validate

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
