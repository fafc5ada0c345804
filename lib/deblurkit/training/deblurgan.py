"""Training DeblurGAN (chapter 6): the random-trajectory and GoPro data sets, the training
configuration per profile, the WGAN-GP loop (5 critic steps per generator step, Adam 1e-4,
beta1 0.5, linear decay), and reloading a trained generator.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..book import checkpoints
from ..data import bundled
from ..data.external import gopro_pairs, gopro_split, read_rgb
from ..imaging.blur import camera_blur
from ..imaging.psf import random_shake_kernel, shake_kernel_size
from ..models import torch_ops
from ..models.deblurgan import (
    ContentLoss,
    Critic,
    Generator,
    batch_psnr,
    critic_loss,
    generator_loss,
    restore_batch,
    to_tensor,
)
from ..runtime import validate as _validate
from ..runtime.progress import progress as progress_bar
from ..training import torchtrain


class ShakeBlurDataset(torch.utils.data.Dataset):
    """Sharp crops of named bundled images, each blurred by its own random camera-shake kernel.

    Sample ``i`` of epoch ``e`` is a pure function of ``(seed, e, i)``: any process of a
    distributed run, and a resumed run, draws the same sample for the same index. Grey images
    are repeated to three channels.

    Parameters
    ----------
    names : sequence of str
        Bundled image names (e.g. ``bundled.split_names("train")``).
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
            img = bundled.bundled_image(name)
            img = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img
            if scale < 1:
                img = bundled.resize(img, (round(img.shape[0] * scale), round(img.shape[1] * scale)))
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
        kernel = random_shake_kernel(self.kernel_size, rng, min_length=0.3 * self.max_shake, max_length=self.max_shake)
        r = self.kernel_size // 2
        sharp = big[r : r + self.crop, r : r + self.crop]
        blurred = np.clip(camera_blur(big, kernel, sharp.shape[:2]) + self.noise_sigma * rng.standard_normal(sharp.shape), 0, 1)
        if self.flips:
            for axis in (0, 1):
                if rng.uniform() < 0.5:
                    sharp, blurred = np.flip(sharp, axis), np.flip(blurred, axis)
        return to_tensor(blurred), to_tensor(sharp), kernel


class GoProDataset(torch.utils.data.Dataset):
    """Random aligned crops of GoPro blur/sharp pairs at full resolution (the paper's code first
    shrinks the 1280x720 frames by two, to 640x360: chapter 6 lists that as a departure).

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

    return _fraction_of(list(config.train_images) or bundled.split_names("train"), config.image_fraction)


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

    if config.gopro_root:
        ds = GoProDataset(config.gopro_root, sequences=gopro_split(config.gopro_root)["validation"], crop=config.crop,
                          seed=config.seed + 10_000, flips=False, length=config.validation_count)
    else:
        names = list(config.validation_images) or bundled.split_names("validation")
        ds = ShakeBlurDataset(names, crop=config.crop, length=config.validation_count, max_shake=config.max_shake,
                              noise_sigma=config.noise_sigma, seed=config.seed + 10_000, flips=False, scale=config.image_scale)
    blurred, sharp, _ = _collate([ds[i] for i in range(len(ds))])
    return blurred, sharp


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
        meta = checkpoints.checkpoint_metadata(chapter=config.chapter, profile=config.profile, seed=config.seed, steps=step,
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
                with torch.no_grad(), torch_ops.autocast(dist.device):
                    fake = G(blurred).float()
                opt_d.zero_grad(set_to_none=True)
                loss_d, w_est = critic_loss(D, sharp, fake, gp_weight=config.gp_weight)
                loss_d.backward()
                opt_d.step()
                c_loss = float(loss_d.detach())
        blurred, sharp, _ = next(stream)
        blurred, sharp = blurred.to(dist.device), sharp.to(dist.device)
        opt_g.zero_grad(set_to_none=True)
        with torch_ops.autocast(dist.device):
            restored = G(blurred)
            content_value = content(restored.float(), sharp)
            # the critic's plain module: its weights are the same on every rank, and its
            # gradients from this step are discarded before the next critic step
            scores = torch_ops.unwrap(D)(restored) if config.adversarial else restored.new_zeros(1)
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
                weights = {k: v.detach().cpu().clone() for k, v in torch_ops.unwrap(G).state_dict().items()}
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
    chosen.load_state_dict(best["state"] if best["state"] is not None else torch_ops.unwrap(G).state_dict())
    result = {
        "generator": chosen.to(dist.device),
        "last_generator": torch_ops.unwrap(G),
        "best_step": best["step"],
        "critic": torch_ops.unwrap(D),
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
    path = Path(checkpoint)
    meta_file = checkpoints.metadata_path(path)
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


# --------------------------------------------------------------------------------------------
# Command line

PROFILE_DEFAULTS = {
    # generator steps, crop, widths; the chapter uses the same table. identity_init: short runs
    # start the generator at the identity (see Generator); widths and losses stay the paper's.
    "smoke": {"steps": 4, "batch": 2, "crop": 32, "ngf": 8, "n_blocks": 1, "ndf": 8, "max_shake": 7.0, "image_scale": 0.25, "identity_init": True},
    "cpu": {"steps": 300, "batch": 4, "crop": 64, "ngf": 16, "n_blocks": 3, "ndf": 16, "max_shake": 15.0, "image_scale": 0.5, "identity_init": True},
    "gpu": {"steps": 3000, "batch": 8, "crop": 256, "ngf": 64, "n_blocks": 9, "ndf": 64, "max_shake": 31.0, "image_scale": 1.0, "identity_init": True},
}
