"""Chapter 6's DeblurGAN networks and losses: the ResNet generator (11,378,179 parameters), the
70x70 PatchGAN critic, WGAN-GP, the VGG19 conv3_3 perceptual loss (weights from a local file),
and inference on images of any size.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..models import torch_ops
from ..runtime import validate as _validate
from ..runtime.files import artifact_path

# --------------------------------------------------------------------------------------------
# Networks


def init_weights(module: nn.Module, std: float = 0.02) -> nn.Module:
    """DeblurGAN's (and pix2pix's) initialisation: every convolution's weights drawn from
    N(0, ``std``^2), biases zero. Small weights make the generator's residual small at first,
    so an untrained generator starts close to the identity (the global skip)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            nn.init.zeros_(m.bias)
    return module


class ResBlock(nn.Module):
    """The paper's ResBlock: two 3x3 convolutions with instance norm, ReLU and dropout between."""

    def __init__(self, channels: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Generator(nn.Module):
    """DeblurGAN's generator (the paper's Figure 3) with the global skip connection.

    A 7x7 convolution to ``ngf`` channels, two stride-2 convolutions (to ``2 ngf`` and
    ``4 ngf``), ``n_blocks`` ResBlocks, two stride-2 transposed convolutions back to ``ngf``,
    a 7x7 convolution to 3 channels and ``tanh``; the result is added to the input and clamped
    to [-1, 1]. Instance norm without affine parameters follows every convolution but the last
    (so the convolutions keep their biases). With ``ngf=64, n_blocks=9`` this is the paper's
    network: 11,378,179 parameters. Weights start as in the authors' code (:func:`init_weights`).

    Inputs of any size are accepted: they are padded by reflection to a multiple of 4 (the two
    down-samplings) and the output is cropped back, so output shape = input shape.

    Parameters
    ----------
    ngf : int
        Width of the first layer, >= 1 (paper: 64).
    n_blocks : int
        Number of ResBlocks, >= 0 (paper: 9).
    dropout : float
        Dropout probability inside the ResBlocks, in [0, 1) (paper: 0.5).
    identity_init : bool
        Start the last convolution at zero, so that the untrained generator is exactly the
        identity and training starts from "change nothing" (not in the paper; it changes no
        parameter count, and short runs need it).
    """

    def __init__(self, ngf: int = 64, n_blocks: int = 9, dropout: float = 0.5, identity_init: bool = False) -> None:
        super().__init__()
        ngf = _validate.integer(ngf, "ngf", minimum=1)
        n_blocks = _validate.integer(n_blocks, "n_blocks", minimum=0)
        dropout = _validate.real_scalar(dropout, "dropout")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.config = {"ngf": ngf, "n_blocks": n_blocks, "dropout": dropout, "identity_init": bool(identity_init)}

        def norm_relu(c):
            return [nn.InstanceNorm2d(c), nn.ReLU(inplace=True)]

        layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), *norm_relu(ngf)]
        for mult in (1, 2):
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1), *norm_relu(ngf * mult * 2)]
        layers += [ResBlock(ngf * 4, dropout) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [
                nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1),
                *norm_relu(ngf * mult // 2),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = init_weights(nn.Sequential(*layers))
        if identity_init:
            # instance norm rescales every earlier layer's output to unit variance, so small
            # weights alone leave a residual of order 1; a zero last layer starts at the identity
            nn.init.zeros_(self.model[-2].weight)

    def forward(self, blurred: torch.Tensor) -> torch.Tensor:
        """``clamp(blurred + residual(blurred), -1, 1)`` for a batch ``(N, 3, H, W)`` in [-1, 1]."""
        if blurred.ndim != 4 or blurred.shape[1] != 3:
            raise ValueError(f"blurred must have shape (N, 3, H, W), got {tuple(blurred.shape)}")
        h, w = blurred.shape[-2:]
        pad_h, pad_w = (-h) % 4, (-w) % 4
        x = nn.functional.pad(blurred, (0, pad_w, 0, pad_h), mode="reflect") if pad_h or pad_w else blurred
        residual = self.model(x)[..., :h, :w]
        return torch.clamp(blurred + residual, -1.0, 1.0)


class Critic(nn.Module):
    """The 70x70 PatchGAN critic, unconditional: it scores sharp or restored images only.

    Five 4x4 convolutions with padding 2 and strides 2, 2, 2, 1, 1, widths ``ndf``, ``2 ndf``,
    ``4 ndf``, ``8 ndf``, 1; instance norm and LeakyReLU(0.2) after every one but the first
    (LeakyReLU only) and the last (nothing: a WGAN critic outputs unbounded scores). With
    ``ndf=64`` this is the paper's critic: 2,764,737 parameters; a 256x256 input gives a 35x35
    map of patch scores, each seeing a 70x70 window.

    Parameters
    ----------
    ndf : int
        Width of the first layer, >= 1 (paper: 64).
    """

    def __init__(self, ndf: int = 64) -> None:
        super().__init__()
        ndf = _validate.integer(ndf, "ndf", minimum=1)
        self.config = {"ndf": ndf}
        widths = [3, ndf, ndf * 2, ndf * 4, ndf * 8]
        layers = []
        for i, stride in enumerate((2, 2, 2, 1)):
            layers.append(nn.Conv2d(widths[i], widths[i + 1], 4, stride=stride, padding=2))
            if i > 0:
                layers.append(nn.InstanceNorm2d(widths[i + 1]))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        layers.append(nn.Conv2d(widths[-1], 1, 4, stride=1, padding=2))
        self.model = init_weights(nn.Sequential(*layers))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Patch scores ``(N, 1, h, w)`` of a batch ``(N, 3, H, W)`` in [-1, 1]."""
        return self.model(image)


#: Where a reader's VGG19 weights are looked for when no path is given: this environment
#: variable, then ``data/external/vgg19.pth`` of the book.
VGG19_ENV = "DEBLURKIT_VGG19_WEIGHTS"


# torchvision's ``vgg19().features`` up to index 14 (conv3_3), as (index, in, out) for convs.
_VGG19_CONVS = {0: (3, 64), 2: (64, 64), 5: (64, 128), 7: (128, 128), 10: (128, 256), 12: (256, 256), 14: (256, 256)}


class VGG19Conv33(nn.Module):
    """VGG19 ``features[:15]``: the layers up to conv3_3, before its ReLU, with torchvision's
    module indices, so that a torchvision ``vgg19`` state dict loads into it as it is.

    Input: a batch in [-1, 1]; it is mapped to [0, 1] and normalised with ImageNet's mean and
    standard deviation, as the pretrained weights expect. Parameters are frozen.
    """

    def __init__(self) -> None:
        super().__init__()
        layers = []
        for i in range(15):
            if i in _VGG19_CONVS:
                layers.append(nn.Conv2d(*_VGG19_CONVS[i], 3, padding=1))
            elif i in (4, 9):
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers.append(nn.ReLU(inplace=True))
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.requires_grad_(False)

    def load_torchvision_weights(self, path) -> VGG19Conv33:
        """Load conv weights from a torchvision ``vgg19`` state dict saved with ``torch.save``.

        Raises
        ------
        FileNotFoundError, ValueError
            Naming the path, when it is missing or holds no VGG19 ``features`` weights.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"VGG19 weights not found: {path}")
        state = torch.load(path, map_location="cpu", weights_only=True)
        mine = {}
        for i in _VGG19_CONVS:
            for kind in ("weight", "bias"):
                key = f"features.{i}.{kind}"
                if key not in state:
                    raise ValueError(f"{path} is not a torchvision vgg19 state dict (no {key})")
                mine[f"{i}.{kind}"] = state[key]
        self.features.load_state_dict(mine)
        return self

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = ((image + 1) / 2 - self.mean) / self.std
        return self.features(x)


def find_vgg19_weights(path=None) -> Path | None:
    """The VGG19 weight file to use: ``path``, else ``$DEBLURKIT_VGG19_WEIGHTS``, else the
    book's ``data/external/vgg19.pth``; ``None`` when none of them exists. A ``path`` given
    explicitly must exist.
    """

    if path is not None:
        if not Path(path).is_file():
            raise FileNotFoundError(f"vgg19_weights: no file at {path}")
        return Path(path)
    for candidate in (os.environ.get(VGG19_ENV), artifact_path("external", "vgg19.pth")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


class ContentLoss(nn.Module):
    """The content term of DeblurGAN's loss.

    ``"perceptual"`` (the paper): mean squared difference of VGG19 conv3_3 feature maps of the
    restored and the sharp image; needs ImageNet weights on disk (:func:`find_vgg19_weights`).
    ``"pixel-l1"`` (the fallback when there are none): mean absolute difference of the pixels,
    the content term of pix2pix, on which DeblurGAN's design is based. A VGG19 with random
    weights is *not* offered: its features encode no image statistics, so "perceptual" would be
    a misnomer.

    Parameters
    ----------
    kind : {"perceptual", "pixel-l1"}
    vgg19_weights : str or Path, optional
        For ``"perceptual"``: the torchvision state dict file (see :func:`find_vgg19_weights`).
    """

    KINDS = ("perceptual", "pixel-l1")

    def __init__(self, kind: str, vgg19_weights=None) -> None:
        super().__init__()
        self.kind = _validate.choice(kind, "kind", set(self.KINDS))
        self.vgg = None
        if kind == "perceptual":
            weights = find_vgg19_weights(vgg19_weights)
            if weights is None:
                raise FileNotFoundError(
                    f"the perceptual loss needs VGG19 ImageNet weights: set {VGG19_ENV} or put the file at "
                    "data/external/vgg19.pth (or use kind='pixel-l1')"
                )
            self.vgg = VGG19Conv33().load_torchvision_weights(weights)
            self.vgg.eval()

    def forward(self, restored: torch.Tensor, sharp: torch.Tensor) -> torch.Tensor:
        if self.vgg is None:
            return (restored - sharp).abs().mean()
        return nn.functional.mse_loss(self.vgg(restored), self.vgg(sharp))


def default_content_loss(vgg19_weights=None) -> str:
    """``"perceptual"`` when VGG19 weights are on disk, else ``"pixel-l1"`` (never a silent switch:
    the chapters print and glue which one was used)."""
    return "perceptual" if find_vgg19_weights(vgg19_weights) is not None else "pixel-l1"


# --------------------------------------------------------------------------------------------
# Losses


def critic_loss(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, *, gp_weight: float = 10.0):
    """WGAN-GP critic loss ``D(fake).mean() - D(real).mean() + gp_weight * GP``.

    Under autocast (bf16) the critic's convolutions run in bf16 in the forward pass and in the
    double backward of the penalty; kept in float32: the interpolates (the leaf the gradient is
    taken with respect to), the means of the patch scores, and the gradient's norm and
    ``(||g|| - 1)^2``: the norm sums ~10^5 squares and the penalty subtracts two nearly equal
    numbers near the Lipschitz target, where bf16's 8-bit mantissa (steps of 0.4 %) would
    leave mostly rounding in ``||g|| - 1`` and in its gradient.

    Real, fake and interpolates go through the critic in *one* batch (the critic normalises
    each sample on its own, so this changes nothing) so that a ``DistributedDataParallel``
    critic sees one forward per backward.

    Returns
    -------
    loss : Tensor
        The scalar to minimise.
    wasserstein : float
        ``D(real).mean() - D(fake).mean()``, the critic's estimate of the Wasserstein distance
        (up to its Lipschitz constant): the training curve to watch.
    """
    n = real.shape[0]
    eps = torch.rand(n, 1, 1, 1, device=real.device)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    # under autocast the critic's convolutions (forward and the double backward) run in bf16;
    # the scores' means and the penalty are reduced in float32 (see above)
    scores = critic(torch.cat([real, fake, mixed])).float().flatten(1).mean(dim=1)
    real_s, fake_s, mixed_s = scores[:n], scores[n : 2 * n], scores[2 * n :]
    (grad,) = torch.autograd.grad(mixed_s.sum(), mixed, create_graph=True)
    # the score of an image is the mean of its patch scores, so grad is that of the mean
    penalty = ((grad.float().flatten(1).norm(dim=1) - 1) ** 2).mean()
    wasserstein = real_s.mean() - fake_s.mean()
    return -wasserstein + gp_weight * penalty, float(wasserstein.detach())


def generator_loss(critic_scores: torch.Tensor, content: torch.Tensor, *, content_weight: float = 100.0, adversarial: bool = True):
    """``-D(G(x)).mean() + content_weight * content`` (the adversarial term left out when
    ``adversarial`` is false: the content-only ablation)."""
    total = content_weight * content
    return total - critic_scores.mean() if adversarial else total


# --------------------------------------------------------------------------------------------
# Data


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """An ``(H, W, 3)`` image in [0, 1] as a ``(3, H, W)`` float32 tensor in [-1, 1]."""
    img = _validate.image(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.shape[2] != 3:
        raise ValueError(f"image must be grey or RGB, got shape {img.shape}")
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32)) * 2 - 1


def to_image(tensor: torch.Tensor) -> np.ndarray:
    """A ``(3, H, W)`` tensor in [-1, 1] as an ``(H, W, 3)`` float64 image in [0, 1]."""
    return ((tensor.detach().float().cpu().clamp(-1, 1).numpy().transpose(1, 2, 0) + 1) / 2).astype(np.float64)


@torch.no_grad()
def batch_psnr(restored: torch.Tensor, sharp: torch.Tensor) -> float:
    """Mean PSNR in dB over a batch of images in [-1, 1] (the [0, 1] scale: data range 1)."""
    mse = (((restored.float() - sharp.float()) / 2) ** 2).flatten(1).mean(dim=1).clamp_min(1e-12)
    return float((-10 * torch.log10(mse)).mean())


@torch.no_grad()
def restore_batch(generator: nn.Module, blurred: torch.Tensor, *, device=None, batch: int = 4, precision: str = "auto") -> torch.Tensor:
    """Run ``generator`` in evaluation mode (dropout off) over ``blurred`` in chunks, under
    :func:`~deblurkit.models.torch_ops.autocast` with ``precision``; returns CPU float32
    tensors in [-1, 1]."""
    gen = torch_ops.unwrap(generator)
    device = device or next(gen.parameters()).device
    was_training = gen.training
    gen.eval()
    outs = []
    for chunk in blurred.split(batch):
        with torch_ops.autocast(device, precision):
            outs.append(gen(chunk.to(device)).float().cpu())
    gen.train(was_training)
    return torch.cat(outs)


@torch.no_grad()
def deblur_image(generator: nn.Module, image, *, device: str | None = None) -> np.ndarray:
    """Restore one ``(H, W, 3)`` (or grey ``(H, W)``) image in [0, 1] of any size.

    Returns
    -------
    ndarray, shape (H, W, 3), float64 in [0, 1]
    """
    img = _validate.image(image)
    if img.min() < 0 or img.max() > 1:
        raise ValueError(f"image must lie in [0, 1], got values in [{img.min():.3g}, {img.max():.3g}]")
    gen = torch_ops.unwrap(generator)
    device = device or next(gen.parameters()).device
    return to_image(restore_batch(gen, to_tensor(img)[None], device=device, batch=1)[0])
