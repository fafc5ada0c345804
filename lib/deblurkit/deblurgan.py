"""DeblurGAN (Kupyn et al., CVPR 2018) as the paper describes it, trainable on one CPU, one GPU
or many (``torchrun``), with the data the book can ship.

This module imports torch; ``import deblurkit`` does not import it.

Contents
--------
Generator, Critic        the paper's Figure 3 generator and the 70x70 PatchGAN critic
VGG19Conv33              VGG19 ``features[:15]`` (conv3_3 before its ReLU), torchvision's indices
ContentLoss              perceptual loss on VGG19 conv3_3, or a named pixel-L1 fallback
critic_loss, generator_loss   WGAN-GP (with its gradient penalty) and the content term
ShakeBlurDataset         sharp crops of bundled images blurred by random camera-shake kernels
GoProDataset             paired crops from the GoPro folder layout, when it is on disk
find_gopro, gopro_split  where GoPro is, and its train / validation (by sequence) / test
TrainConfig, train       the training loop (tqdm, resumable checkpoints, DDP, bf16 on CUDA)
deblur_image             any-size inference on an ``(H, W, 3)`` image in [0, 1]

Command line::

    python -m deblurkit.deblurgan train --profile cpu --checkpoint data/checkpoints/g.pt
    torchrun --nproc_per_node=2 -m deblurkit.deblurgan train ...
    python -m deblurkit.deblurgan deblur IN.png OUT.png --checkpoint data/checkpoints/g.pt
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import _validate, torchtrain
from .data import read_rgb

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
    from .report import artifact_path

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
    scores = critic(torch.cat([real, fake, mixed])).flatten(1).mean(dim=1)
    real_s, fake_s, mixed_s = scores[:n], scores[n : 2 * n], scores[2 * n :]
    (grad,) = torch.autograd.grad(mixed_s.sum(), mixed, create_graph=True)
    # the score of an image is the mean of its patch scores, so grad is that of the mean
    penalty = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
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


def shake_blur(sharp: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Blur as a camera does: ``sharp`` is a crop *larger* than the result by the kernel's
    radius on every side, and only the pixels whose whole neighbourhood was seen are kept (a
    'valid' convolution), so no boundary rule is involved.

    Returns
    -------
    ndarray, shape (H - 2r, W - 2r[, 3]) with r = kernel.shape[0] // 2
    """
    from .blur import blur

    r = kernel.shape[0] // 2
    if min(sharp.shape[:2]) <= 2 * r:
        raise ValueError(f"sharp of shape {sharp.shape} is too small for a kernel of size {kernel.shape}")
    out = blur(sharp, kernel, mode="reflect")  # interior pixels equal the valid convolution
    return out[r : out.shape[0] - r, r : out.shape[1] - r]


def shake_kernel_size(max_shake: float) -> int:
    """The odd kernel side that holds any trajectory of up to ``max_shake`` px (> 0), with a
    pixel of margin on each side for bilinear rasterisation."""
    max_shake = _validate.positive_scalar(max_shake, "max_shake")
    return 2 * math.ceil(max_shake / 2) + 3


def random_shake_kernel(rng, *, max_length: float, size: int) -> np.ndarray:
    """A camera-shake kernel from a random trajectory (DeblurGAN's generator) of at most
    ``max_length`` px, rasterised on an odd ``size`` x ``size`` grid and summing to one."""
    from .psf import random_trajectory, trajectory_psf

    traj = random_trajectory(rng, max_length=max_length, steps=256)
    extent = max(np.ptp(traj.real), np.ptp(traj.imag))
    if extent > size - 3:  # a long straight shake: shrink it to fit the grid
        traj = traj * (size - 3) / extent
    return trajectory_psf(traj, size=size)


class ShakeBlurDataset(torch.utils.data.Dataset):
    """Sharp crops of named bundled images, each blurred by its own random camera-shake kernel.

    Sample ``i`` of epoch ``e`` is a pure function of ``(seed, e, i)``: any process of a
    distributed run, and a resumed run, draws the same sample for the same index. Grey images
    are repeated to three channels.

    Parameters
    ----------
    names : sequence of str
        Bundled image names (e.g. ``data.split_names("train")``).
    crop : int
        Side of the returned crops in pixels, >= 16.
    length : int
        Samples per epoch, >= 1.
    max_shake : float
        Longest trajectory in pixels, > 0.
    noise_sigma : float
        Gaussian noise added after blurring, >= 0, in [0, 1] intensity units.
    seed : int
        Base seed.
    flips : bool
        Random horizontal/vertical flips (training).
    scale : float
        Images are first resized by this factor, in (0, 1], so that a crop holds more scene.

    Items
    -----
    ``(blurred, sharp, kernel)``: two ``(3, crop, crop)`` tensors in [-1, 1] and the
    ``(k, k)`` kernel as float64 numpy (k = the odd size that holds ``max_shake``).

    Attributes
    ----------
    names, skipped : list of str
        The images used, and those left out because they are smaller than one crop plus the
        kernel's margin (say so where it matters).
    """

    def __init__(self, names, *, crop: int, length: int, max_shake: float, noise_sigma: float = 0.01, seed: int = 0, flips: bool = True, scale: float = 1.0) -> None:
        from . import data

        names = list(names)
        if not names:
            raise ValueError("names must hold at least one bundled image name")
        self.crop = _validate.integer(crop, "crop", minimum=16)
        self.length = _validate.integer(length, "length", minimum=1)
        self.max_shake = _validate.positive_scalar(max_shake, "max_shake")
        self.noise_sigma = _validate.positive_scalar(noise_sigma, "noise_sigma", allow_zero=True)
        self.seed = _validate.integer(seed, "seed", minimum=0)
        self.flips = bool(flips)
        scale = _validate.positive_scalar(scale, "scale")
        if scale > 1:
            raise ValueError(f"scale must be in (0, 1], got {scale}")
        self.kernel_size = shake_kernel_size(self.max_shake)
        self.images, self.skipped = [], []
        for name in names:
            img = data.bundled_image(name)
            img = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img
            if scale < 1:
                img = data.resize(img, (round(img.shape[0] * scale), round(img.shape[1] * scale)))
            if min(img.shape[:2]) < self.crop + self.kernel_size:
                self.skipped.append(name)  # too small for one crop plus the kernel's margin
            else:
                self.images.append(img)
        self.names = [n for n in names if n not in self.skipped]
        if not self.images:
            raise ValueError(f"every image in names is smaller than crop + kernel = {self.crop + self.kernel_size} px")
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw a new set of samples (crops, kernels, noise) for ``epoch``."""
        self.epoch = _validate.integer(epoch, "epoch", minimum=0)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        img = self.images[int(rng.integers(len(self.images)))]
        side = self.crop + self.kernel_size - 1
        r0 = int(rng.integers(0, img.shape[0] - side + 1))
        c0 = int(rng.integers(0, img.shape[1] - side + 1))
        big = img[r0 : r0 + side, c0 : c0 + side]
        kernel = random_shake_kernel(rng, max_length=rng.uniform(0.3, 1.0) * self.max_shake, size=self.kernel_size)
        r = self.kernel_size // 2
        sharp = big[r : r + self.crop, r : r + self.crop]
        blurred = np.clip(shake_blur(big, kernel) + self.noise_sigma * rng.standard_normal(sharp.shape), 0, 1)
        if self.flips:
            for axis in (0, 1):
                if rng.uniform() < 0.5:
                    sharp, blurred = np.flip(sharp, axis), np.flip(blurred, axis)
        return to_tensor(blurred), to_tensor(sharp), kernel


#: Folder names under :func:`deblurkit.data.dataset_root` where the GoPro data set is looked
#: for: the name the book uses, then the name of the authors' archive.
GOPRO_FOLDERS = ("GoPro", "GOPRO_Large")
#: Share of GoPro's training *sequences* held out for validation (at least one sequence).
GOPRO_VALIDATION_FRACTION = 0.1

_GOPRO_LAYOUT = "<root>/{train,test}/<sequence>/{blur,sharp}/*.png"


def find_gopro(root=None) -> Path | None:
    """The GoPro folder to use, or ``None`` when there is none.

    ``root`` when given (it must hold ``train/`` and ``test/``); else the first of
    :data:`GOPRO_FOLDERS` under :func:`deblurkit.data.dataset_root` (``$DEBLURKIT_DATA``, else
    the book's ``data/external``) that exists. A folder that exists but lacks ``train/`` or
    ``test/`` is an error, not a quiet fall-back to other data.

    Raises
    ------
    FileNotFoundError
        One sentence naming the folder and the expected layout.
    """
    from .data import dataset_root

    if root is not None:
        candidates = [Path(root)]
        if not candidates[0].is_dir():
            raise FileNotFoundError(f"GoPro folder not found: {candidates[0]} (expected {_GOPRO_LAYOUT})")
    else:
        candidates = [dataset_root() / name for name in GOPRO_FOLDERS if (dataset_root() / name).is_dir()]
    for folder in candidates:
        for split in ("train", "test"):
            if not (folder / split).is_dir():
                raise FileNotFoundError(f"GoPro folder {folder} has no {split}/ folder (expected {_GOPRO_LAYOUT})")
        return folder
    return None


def gopro_sequences(root, split: str = "train") -> list[str]:
    """Names of the sequence folders of ``<root>/<split>``, sorted."""
    _validate.choice(split, "split", {"train", "test"})
    folder = Path(root) / split
    if not folder.is_dir():
        raise FileNotFoundError(f"GoPro folder not found: {folder} (expected {_GOPRO_LAYOUT})")
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def gopro_split(root, validation_fraction: float = GOPRO_VALIDATION_FRACTION) -> dict[str, list[str]]:
    """GoPro's sequences as ``{"train", "validation", "test"}`` lists of names.

    Validation is carved from GoPro's *training* sequences, by whole sequence: the last
    ``ceil(validation_fraction * n)`` of them in name order (at least one). Frames of one
    sequence are near-duplicates, so a frame-wise split would leak; GoPro's test sequences are
    never used for a choice.

    Raises
    ------
    ValueError
        If fewer than two training sequences are there (one must stay for training).
    """
    fraction = _validate.real_scalar(validation_fraction, "validation_fraction")
    if not 0 < fraction < 1:
        raise ValueError(f"validation_fraction must be in (0, 1), got {fraction}")
    train = gopro_sequences(root, "train")
    if len(train) < 2:
        raise ValueError(f"GoPro folder {root} holds {len(train)} training sequence(s); validation needs a second one")
    n_val = min(len(train) - 1, max(1, math.ceil(fraction * len(train))))
    return {"train": train[:-n_val], "validation": train[-n_val:], "test": gopro_sequences(root, "test")}


def gopro_pairs(root, split: str = "train", *, sequences=None) -> list[tuple[Path, Path]]:
    """``(blurred, sharp)`` file pairs of the GoPro data set (Nah et al. 2017):
    ``<root>/<split>/<sequence>/{blur,sharp}/<frame>.png``, paired by sequence and file name,
    in sequence then frame order; only the named ``sequences`` when given.

    Raises
    ------
    FileNotFoundError
        If ``<root>/<split>`` or a named sequence is missing or no pair is there; ``ValueError``
        if a blurred frame has no sharp twin (pairing is exact).
    """
    _validate.choice(split, "split", {"train", "test"})
    folder = Path(root) / split
    if not folder.is_dir():
        raise FileNotFoundError(f"GoPro folder not found: {folder} (expected {_GOPRO_LAYOUT})")
    names = gopro_sequences(root, split) if sequences is None else list(sequences)
    pairs = []
    for seq in (folder / name for name in names):
        blur_dir, sharp_dir = seq / "blur", seq / "sharp"
        if not blur_dir.is_dir() or not sharp_dir.is_dir():
            raise FileNotFoundError(f"GoPro sequence {seq} lacks a blur/ or sharp/ folder")
        for b in sorted(blur_dir.glob("*.png")):
            s = sharp_dir / b.name
            if not s.is_file():
                raise ValueError(f"GoPro frame {b} has no sharp twin {s}")
            pairs.append((b, s))
    if not pairs:
        raise FileNotFoundError(f"no GoPro blur/sharp pairs under {folder}")
    return pairs


class GoProDataset(torch.utils.data.Dataset):
    """Random aligned crops of GoPro blur/sharp pairs at full resolution (as the paper trains).

    Items are ``(blurred, sharp, None)`` tensors in [-1, 1] like :class:`ShakeBlurDataset`
    (the true kernel is unknown). Sample ``i`` of epoch ``e`` is a pure function of
    ``(seed, e, i)`` and reads pair ``i * len(pairs) // length``, so a ``length`` above the
    number of pairs visits every pair about equally often.

    Parameters
    ----------
    root : str or Path
        The GoPro folder (see :func:`gopro_pairs`).
    split : {"train", "test"}
        GoPro's own split.
    sequences : sequence of str, optional
        Only these sequences of ``split`` (e.g. ``gopro_split(root)["validation"]``).
    pairs : list of (Path, Path), optional
        The pairs to use, instead of ``split`` and ``sequences`` (e.g. a fraction of them).
    crop : int
        Side of the crops, >= 16; every frame must be at least this large.
    length : int, optional
        Samples per epoch (default: the number of pairs).
    """

    def __init__(self, root, *, split: str = "train", sequences=None, pairs=None, crop: int = 256, seed: int = 0,
                 flips: bool = True, length: int | None = None) -> None:
        self.pairs = list(pairs) if pairs is not None else gopro_pairs(root, split, sequences=sequences)
        if not self.pairs:
            raise ValueError("pairs must hold at least one GoPro pair")
        self.crop = _validate.integer(crop, "crop", minimum=16)
        self.seed = _validate.integer(seed, "seed", minimum=0)
        self.length = len(self.pairs) if length is None else _validate.integer(length, "length", minimum=1)
        self.flips = bool(flips)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = _validate.integer(epoch, "epoch", minimum=0)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        pair = self.pairs[int(index) * len(self.pairs) // self.length]
        b, s = (read_rgb(p) for p in pair)
        if b.shape != s.shape:
            raise ValueError(f"GoPro pair {pair[0]} and its sharp twin differ in shape")
        if min(b.shape[:2]) < self.crop:
            raise ValueError(f"GoPro frame {pair[0]} ({b.shape[1]}x{b.shape[0]}) is smaller than a {self.crop}-px crop")
        r0 = int(rng.integers(0, b.shape[0] - self.crop + 1))
        c0 = int(rng.integers(0, b.shape[1] - self.crop + 1))
        b, s = (x[r0 : r0 + self.crop, c0 : c0 + self.crop] for x in (b, s))
        if self.flips and rng.uniform() < 0.5:
            b, s = b[:, ::-1], s[:, ::-1]
        return to_tensor(b), to_tensor(s), None


def _collate(batch):
    blurred, sharp, kernels = zip(*batch)
    return torch.stack(blurred), torch.stack(sharp), list(kernels)


# --------------------------------------------------------------------------------------------
# Training


@dataclass
class TrainConfig:
    """Everything a training run depends on (saved in the checkpoint's metadata).

    The defaults are the paper's: ``ngf=64, n_blocks=9, ndf=64``, Adam 1e-4 with betas
    (0.5, 0.999), 5 critic steps per generator step, gradient-penalty weight 10, content weight
    100, a constant learning rate for the first half of the run and a linear decay to zero in
    the second (the paper: 150 + 150 epochs).
    """

    profile: str = "cpu"
    seed: int = 0
    steps: int = 1000  # generator steps
    batch: int = 1
    crop: int = 256
    ngf: int = 64
    n_blocks: int = 9
    ndf: int = 64
    dropout: float = 0.5
    identity_init: bool = False
    lr: float = 1e-4
    betas: tuple = (0.5, 0.999)
    critic_steps: int = 5
    gp_weight: float = 10.0
    content_weight: float = 100.0
    content_loss: str = "pixel-l1"
    vgg19_weights: str | None = None
    adversarial: bool = True
    train_images: tuple = ()
    image_fraction: float = 1.0
    max_shake: float = 21.0
    noise_sigma: float = 0.01
    image_scale: float = 1.0
    gopro_root: str | None = None
    validation_images: tuple = ()
    validation_count: int = 8
    validate_every: int = 100
    checkpoint: str | None = None
    checkpoint_every: int = 500
    device: str | None = None
    chapter: str = "06_deblurgan"
    extra: dict = field(default_factory=dict)

    def architecture(self) -> dict:
        generator = {"ngf": self.ngf, "n_blocks": self.n_blocks, "dropout": self.dropout, "identity_init": self.identity_init}
        return {"generator": generator, "critic": {"ndf": self.ndf}}


def _fraction_of(items: list, fraction) -> list:
    fraction = _validate.real_scalar(fraction, "image_fraction")
    if not 0 < fraction <= 1:
        raise ValueError(f"image_fraction must be in (0, 1], got {fraction}")
    return items[: max(1, math.ceil(fraction * len(items)))]


def training_images(config: TrainConfig) -> list[str]:
    """The bundled images a run trains on: ``config.train_images`` (default: the book's train
    split), the first ``ceil(image_fraction * n)`` of them (seed 004's "1/6 of the images")."""
    from . import data

    return _fraction_of(list(config.train_images) or data.split_names("train"), config.image_fraction)


def training_pairs(config: TrainConfig) -> list[tuple[Path, Path]]:
    """The GoPro pairs a run on ``config.gopro_root`` trains on: those of the training
    sequences of :func:`gopro_split` (validation's held apart), the first
    ``ceil(image_fraction * n)`` of them in sequence order."""
    sequences = gopro_split(config.gopro_root)["train"]
    return _fraction_of(gopro_pairs(config.gopro_root, "train", sequences=sequences), config.image_fraction)


def training_dataset(config: TrainConfig) -> torch.utils.data.Dataset:
    """What :func:`train` draws its batches from: GoPro crops of :func:`training_pairs` when
    ``config.gopro_root`` is set, else camera-shake crops of :func:`training_images`."""
    length = max(64, config.batch * 64)
    if config.gopro_root:
        pairs = training_pairs(config)
        return GoProDataset(config.gopro_root, pairs=pairs, crop=config.crop, seed=config.seed, length=max(length, len(pairs)))
    return ShakeBlurDataset(training_images(config), crop=config.crop, length=length, max_shake=config.max_shake,
                            noise_sigma=config.noise_sigma, seed=config.seed, scale=config.image_scale)


def validation_set(config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed set of ``validation_count`` blurred/sharp validation crops, never the test: from
    the validation sequences of :func:`gopro_split` when ``config.gopro_root`` is set, else
    camera-shake crops of the bundled validation split (or ``config.validation_images``)."""
    from . import data

    if config.gopro_root:
        ds = GoProDataset(config.gopro_root, sequences=gopro_split(config.gopro_root)["validation"], crop=config.crop,
                          seed=config.seed + 10_000, flips=False, length=config.validation_count)
    else:
        names = list(config.validation_images) or data.split_names("validation")
        ds = ShakeBlurDataset(names, crop=config.crop, length=config.validation_count, max_shake=config.max_shake,
                              noise_sigma=config.noise_sigma, seed=config.seed + 10_000, flips=False, scale=config.image_scale)
    blurred, sharp, _ = _collate([ds[i] for i in range(len(ds))])
    return blurred, sharp


@torch.no_grad()
def batch_psnr(restored: torch.Tensor, sharp: torch.Tensor) -> float:
    """Mean PSNR in dB over a batch of images in [-1, 1] (the [0, 1] scale: data range 1)."""
    mse = (((restored.float() - sharp.float()) / 2) ** 2).flatten(1).mean(dim=1).clamp_min(1e-12)
    return float((-10 * torch.log10(mse)).mean())


@torch.no_grad()
def restore_batch(generator: nn.Module, blurred: torch.Tensor, *, device=None, batch: int = 4) -> torch.Tensor:
    """Run ``generator`` in evaluation mode (dropout off) over ``blurred`` in chunks; returns CPU
    float32 tensors in [-1, 1]."""
    gen = torchtrain.unwrap(generator)
    device = device or next(gen.parameters()).device
    was_training = gen.training
    gen.eval()
    outs = []
    for chunk in blurred.split(batch):
        with torchtrain.autocast(device):
            outs.append(gen(chunk.to(device)).float().cpu())
    gen.train(was_training)
    return torch.cat(outs)


def train(config: TrainConfig, *, resume: bool = False, progress: bool = True) -> dict:
    """Train DeblurGAN (or its content-only ablation) as ``config`` says.

    Runs in one process, or in every process of a ``torchrun`` launch (DDP: each process
    draws its own share of the samples through a ``DistributedSampler`` and gradients are
    averaged). Rank 0 validates every ``validate_every`` steps, shows a tqdm bar with the
    losses and writes the checkpoint (atomically, with metadata) every ``checkpoint_every``
    steps and at the end. With ``resume`` and an existing checkpoint, training continues from
    it: same weights, optimiser moments, step, schedule, sample order and random state.

    Early stopping on validation: the generator returned (and the one :func:`load_generator`
    reads) is the one of the validation check with the highest PSNR; the last weights are
    kept for resuming and returned as ``last_generator``.

    Returns
    -------
    dict
        ``generator`` (the best on validation), ``last_generator`` and ``critic`` (plain
        modules), ``best_step``, ``history`` (lists per step: ``step``, ``critic_loss``,
        ``wasserstein``, ``content``; per validation: ``val_step``, ``val_psnr``), ``seconds``
        (training wall time), ``steps`` and ``content_loss`` (the kind used).
    """
    from .train import progress as progress_bar

    dist = torchtrain.setup_distributed(config.device)
    torchtrain.configure_device(dist.device)
    torch.manual_seed(config.seed + dist.rank)
    G = Generator(config.ngf, config.n_blocks, config.dropout, config.identity_init)
    D = Critic(config.ndf)
    G, D = torchtrain.prepare_model(G, dist), torchtrain.prepare_model(D, dist)
    content = ContentLoss(config.content_loss, config.vgg19_weights).to(dist.device)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=tuple(config.betas))
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=tuple(config.betas))
    decay = torchtrain.linear_decay_lambda(config.steps, 0.5)
    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, decay)
    sched_d = torch.optim.lr_scheduler.LambdaLR(opt_d, decay)

    dataset = training_dataset(config)
    sampler = torch.utils.data.DistributedSampler(dataset, num_replicas=dist.world_size, rank=dist.rank, shuffle=True, seed=config.seed)
    per_step = config.batch * (config.critic_steps + 1 if config.adversarial else 1)
    val_blurred, val_sharp = validation_set(config) if dist.is_main else (None, None)

    history = {"step": [], "critic_loss": [], "wasserstein": [], "content": [], "val_step": [], "val_psnr": []}
    step, seconds, epoch, position = 0, 0.0, 0, 0
    best = {"step": 0, "psnr": float("-inf"), "state": None}
    ckpt = Path(config.checkpoint) if config.checkpoint else None
    if resume and ckpt is not None and ckpt.is_file():
        got = torchtrain.load_checkpoint(ckpt, models={"generator": G, "critic": D}, optimisers={"generator": opt_g, "critic": opt_d},
                                         schedulers={"generator": sched_g, "critic": sched_d}, restore_rng=True, map_location=dist.device)
        step, seconds = got["metadata"]["steps"], got["metadata"]["wall_seconds"]
        epoch, position = got["extra"]["epoch"], got["extra"]["position"]
        history, best = got["extra"]["history"], got["extra"]["best"]

    def save():
        if ckpt is None or not dist.is_main:
            return
        val = {"psnr": history["val_psnr"][-1], "best_psnr": best["psnr"], "best_step": best["step"]} if history["val_psnr"] else {}
        meta = torchtrain.checkpoint_metadata(chapter=config.chapter, profile=config.profile, seed=config.seed, steps=step,
                                              wall_seconds=seconds, device=dist.device, architecture=config.architecture(),
                                              validation=val, content_loss=config.content_loss, adversarial=config.adversarial,
                                              world_size=dist.world_size, config={k: v for k, v in asdict(config).items() if k != "extra"})
        torchtrain.save_checkpoint(ckpt, models={"generator": G, "critic": D}, optimisers={"generator": opt_g, "critic": opt_d},
                                   schedulers={"generator": sched_g, "critic": sched_d}, metadata=meta,
                                   extra={"history": history, "epoch": epoch, "position": position, "best": best})

    def batches():
        # our own loop over the sampler's indices (no worker processes on 2 cores), so that a
        # resumed run starts at the very batch where the saved one stopped
        nonlocal epoch, position
        while True:
            sampler.set_epoch(epoch)
            dataset.set_epoch(epoch)
            order = list(sampler)
            while (position + 1) * config.batch <= len(order):
                rows = order[position * config.batch : (position + 1) * config.batch]
                position += 1
                yield _collate([dataset[i] for i in rows])
            epoch, position = epoch + 1, 0

    stream = batches()
    bar = progress_bar(total=config.steps, initial=step, desc="DeblurGAN" if config.adversarial else "content only",
                       disable=not (progress and dist.is_main) or bool(os.environ.get("DEBLURKIT_QUIET")))
    G.train()
    D.train()
    while step < config.steps:
        start = time.perf_counter()
        c_loss, w_est = float("nan"), float("nan")
        if config.adversarial:
            for _ in range(config.critic_steps):
                blurred, sharp, _ = next(stream)
                blurred, sharp = blurred.to(dist.device), sharp.to(dist.device)
                with torch.no_grad(), torchtrain.autocast(dist.device):
                    fake = G(blurred).float()
                opt_d.zero_grad(set_to_none=True)
                loss_d, w_est = critic_loss(D, sharp, fake, gp_weight=config.gp_weight)
                loss_d.backward()
                opt_d.step()
                c_loss = float(loss_d.detach())
        blurred, sharp, _ = next(stream)
        blurred, sharp = blurred.to(dist.device), sharp.to(dist.device)
        opt_g.zero_grad(set_to_none=True)
        with torchtrain.autocast(dist.device):
            restored = G(blurred)
            content_value = content(restored.float(), sharp)
            # the critic's plain module: its weights are the same on every rank, and its
            # gradients from this step are discarded before the next critic step
            scores = torchtrain.unwrap(D)(restored) if config.adversarial else restored.new_zeros(1)
            loss_g = generator_loss(scores.float(), content_value, content_weight=config.content_weight, adversarial=config.adversarial)
        loss_g.backward()
        opt_g.step()
        sched_g.step()
        if config.adversarial:
            sched_d.step()
        step += 1
        seconds += time.perf_counter() - start
        history["step"].append(step)
        history["critic_loss"].append(torchtrain.mean_across_processes(c_loss, dist) if config.adversarial else float("nan"))
        history["wasserstein"].append(torchtrain.mean_across_processes(w_est, dist) if config.adversarial else float("nan"))
        history["content"].append(torchtrain.mean_across_processes(float(content_value.detach()), dist))
        if dist.is_main and (step % config.validate_every == 0 or step == config.steps):
            history["val_step"].append(step)
            history["val_psnr"].append(batch_psnr(restore_batch(G, val_blurred, device=dist.device), val_sharp))
            if history["val_psnr"][-1] > best["psnr"]:
                weights = {k: v.detach().cpu().clone() for k, v in torchtrain.unwrap(G).state_dict().items()}
                best = {"step": step, "psnr": history["val_psnr"][-1], "state": weights}
        if dist.is_main:
            shown = {"content": f"{history['content'][-1]:.4f}"}
            if config.adversarial:
                shown["W"] = f"{history['wasserstein'][-1]:.3f}"
            if history["val_psnr"]:
                shown["val PSNR"] = f"{history['val_psnr'][-1]:.2f}"
            bar.set_postfix(shown, refresh=False)
            bar.update(1)
        if step % config.checkpoint_every == 0 or step == config.steps:
            save()
    bar.close()
    chosen = Generator(config.ngf, config.n_blocks, config.dropout, config.identity_init)
    chosen.load_state_dict(best["state"] if best["state"] is not None else torchtrain.unwrap(G).state_dict())
    result = {
        "generator": chosen.to(dist.device),
        "last_generator": torchtrain.unwrap(G),
        "best_step": best["step"],
        "critic": torchtrain.unwrap(D),
        "history": history,
        "seconds": seconds,
        "steps": step,
        "content_loss": config.content_loss,
        "images_per_second": step * per_step * dist.world_size / max(seconds, 1e-9),
        "world_size": dist.world_size,
    }
    torchtrain.teardown_distributed(dist)
    return result


def load_generator(checkpoint, *, device: str = "cpu") -> Generator:
    """The generator saved in ``checkpoint`` by :func:`train` (the best on validation), rebuilt
    from its metadata."""
    import json

    path = Path(checkpoint)
    meta_file = torchtrain.metadata_path(path)
    if not path.is_file() or not meta_file.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path} (and its metadata {meta_file.name})")
    arch = json.loads(meta_file.read_text()).get("architecture", {}).get("generator")
    if not arch:
        raise ValueError(f"checkpoint {path} holds no DeblurGAN generator (its metadata names no generator architecture)")
    G = Generator(**arch)
    got = torchtrain.load_checkpoint(path, models={"generator": G}, map_location=device)
    best = got["extra"].get("best", {}).get("state")
    if best is not None:
        G.load_state_dict(best)
    return G.to(device).eval()


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
    gen = torchtrain.unwrap(generator)
    device = device or next(gen.parameters()).device
    return to_image(restore_batch(gen, to_tensor(img)[None], device=device, batch=1)[0])


# --------------------------------------------------------------------------------------------
# Command line

PROFILE_DEFAULTS = {
    # generator steps, crop, widths; the chapter uses the same table. identity_init: short runs
    # start the generator at the identity (see Generator); widths and losses stay the paper's.
    "smoke": {"steps": 4, "batch": 2, "crop": 32, "ngf": 8, "n_blocks": 1, "ndf": 8, "max_shake": 7.0, "image_scale": 0.25, "identity_init": True},
    "cpu": {"steps": 300, "batch": 4, "crop": 64, "ngf": 16, "n_blocks": 3, "ndf": 16, "max_shake": 15.0, "image_scale": 0.5, "identity_init": True},
    "gpu": {"steps": 3000, "batch": 8, "crop": 256, "ngf": 64, "n_blocks": 9, "ndf": 64, "max_shake": 31.0, "image_scale": 1.0, "identity_init": True},
}


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deblurkit.deblurgan", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train (one process, or every process of torchrun)")
    t.add_argument("--profile", choices=list(PROFILE_DEFAULTS), default="cpu")
    t.add_argument("--checkpoint", required=True, help="the .pt file to write (metadata beside it as .json)")
    t.add_argument("--resume", action="store_true", help="continue from --checkpoint when it exists")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--steps", type=int, help="generator steps (default: the profile's)")
    t.add_argument("--content-only", action="store_true", help="leave out the adversarial term")
    t.add_argument("--gopro", help="train on the GoPro folder layout at this path")
    t.add_argument("--vgg19-weights", help=f"torchvision vgg19 state dict (default: ${VGG19_ENV} or data/external/vgg19.pth)")
    t.add_argument("--device", choices=["cpu", "cuda"])
    d = sub.add_parser("deblur", help="restore one image of any size")
    d.add_argument("input")
    d.add_argument("output")
    d.add_argument("--checkpoint", required=True)
    d.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = parser.parse_args(argv)
    try:
        if args.device == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"--device cuda: no CUDA device is available to torch {torch.__version__}")
        if args.command == "train":
            settings = dict(PROFILE_DEFAULTS[args.profile])
            if args.steps is not None:
                settings["steps"] = args.steps
            config = TrainConfig(profile=args.profile, seed=args.seed, checkpoint=args.checkpoint, adversarial=not args.content_only,
                                 gopro_root=str(find_gopro(args.gopro)) if args.gopro else None, vgg19_weights=args.vgg19_weights, device=args.device,
                                 content_loss=default_content_loss(args.vgg19_weights), **settings)
            result = train(config, resume=args.resume)
            if int(os.environ.get("RANK", "0")) == 0:
                last = result["history"]["val_psnr"][-1] if result["history"]["val_psnr"] else float("nan")
                print(f"trained {result['steps']} steps in {result['seconds']:.0f} s ({result['images_per_second']:.1f} images/s), "
                      f"content loss {result['content_loss']}, validation PSNR {last:.2f} dB -> {args.checkpoint}")
        else:
            from skimage import io

            G = load_generator(args.checkpoint, device=args.device)
            restored = deblur_image(G, read_rgb(args.input), device=args.device)
            out = Path(args.output)
            if not out.parent.is_dir():
                raise FileNotFoundError(f"output folder does not exist: {out.parent}")
            io.imsave(out, (restored * 255).round().astype(np.uint8), check_contrast=False)
            print(f"{args.input} -> {out} ({restored.shape[1]}x{restored.shape[0]})")
    except (FileNotFoundError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main())
