"""Training DeblurGAN (chapter 6): the random-trajectory and GoPro data sets, the training
configuration per profile, the WGAN-GP loop (5 critic steps per generator step, Adam 1e-4,
beta1 0.5, linear decay), and reloading a trained generator.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..book import checkpoints
from ..data import bundled
from ..data.external import gopro_pairs, gopro_split
from ..models import torch_ops
from ..models.deblurgan import (
    ContentLoss,
    Critic,
    Generator,
    batch_psnr,
    critic_loss,
    generator_loss,
    restore_batch,
)
from ..runtime import validate as _validate
from ..training import datasets, loop, torchtrain
from ..training.datasets import GoProDataset, ShakeBlurDataset

# --------------------------------------------------------------------------------------------
# Training


@dataclass
class TrainConfig:
    """Everything a training run depends on (saved in the checkpoint's metadata).

    ``workers``: data-loader worker processes (default: the profile's, :data:`PROFILE_DEFAULTS`);
    ``precision``: autocast of the whole step, ``"auto"`` (bf16 on CUDA, float32 on the CPU),
    ``"bf16"`` or ``"fp32"``; ``channels_last``: memory layout (default: on CUDA only).

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
    workers: int | None = None
    precision: str = "auto"
    channels_last: bool | None = None
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
        return GoProDataset(config.gopro_root, pairs=pairs, crop=config.crop, seed=config.seed, length=max(length, len(pairs)),
                            cache=datasets.FrameCache())
    return ShakeBlurDataset(training_images(config), crop=config.crop, length=length, max_shake=config.max_shake,
                            noise_sigma=config.noise_sigma, seed=config.seed, scale=config.image_scale)


def validation_set(config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed set of ``validation_count`` blurred/sharp validation crops, never the test: from
    the validation sequences of :func:`gopro_split` when ``config.gopro_root`` is set, else
    camera-shake crops of the bundled validation split (or ``config.validation_images``)."""

    if config.gopro_root:
        ds = GoProDataset(config.gopro_root, sequences=gopro_split(config.gopro_root)["validation"], crop=config.crop,
                          seed=config.seed + 10_000, flips=False, length=config.validation_count, cache=datasets.FrameCache())
    else:
        names = list(config.validation_images) or bundled.split_names("validation")
        ds = ShakeBlurDataset(names, crop=config.crop, length=config.validation_count, max_shake=config.max_shake,
                              noise_sigma=config.noise_sigma, seed=config.seed + 10_000, flips=False, scale=config.image_scale)
    return datasets.collate_pairs([ds[i] for i in range(len(ds))])


def _loader_workers(config: TrainConfig) -> int:
    """``config.workers``, else the profile's (:data:`PROFILE_DEFAULTS`)."""
    if config.workers is not None:
        return _validate.integer(config.workers, "workers", minimum=0)
    return PROFILE_DEFAULTS.get(config.profile, {}).get("workers", 0)


def train(config: TrainConfig, *, resume: bool = False, progress: bool = True, on_checkpoint=None) -> dict:
    """Train DeblurGAN (or its content-only ablation) as ``config`` says.

    Runs in one process, or in every process of a ``torchrun`` launch (DDP: each process
    draws its own share of the samples, :class:`~deblurkit.training.datasets.EpochBatchSampler`,
    and gradients are averaged). Batches come from a ``DataLoader`` with ``config.workers``
    persistent worker processes (default: the profile's), pinned memory and non-blocking
    copies on CUDA. The whole step — the critic's forward passes, its gradient penalty and the
    generator's — runs under autocast with ``config.precision`` (bf16 on CUDA by default; what
    stays in float32 is said in :func:`deblurkit.models.deblurgan.critic_loss`).

    The loop is :func:`deblurkit.training.loop.run_loop`: the main process validates every
    ``validate_every`` steps and writes the checkpoint every ``checkpoint_every`` steps and at
    the end. With ``resume`` and an existing checkpoint, training continues from it: same
    weights, optimiser moments, step, schedule, batches and random state of every process.

    Early stopping on validation: the generator returned (and the one :func:`load_generator`
    reads) is the one of the validation check with the highest PSNR; the last weights are
    kept for resuming and returned as ``last_generator``.

    Returns
    -------
    dict
        ``generator`` (the best on validation), ``last_generator`` and ``critic`` (plain
        modules), ``best_step``, ``history`` (lists per step: ``step``, ``critic_loss``,
        ``wasserstein``, ``content`` (means over the processes); per validation:
        ``val_step``, ``val_psnr``), ``local_history`` (this process's own losses, steps of
        this session), ``seconds`` (time in training steps), ``data_seconds`` (of which
        waiting for batches), ``step_seconds`` (each step of this session), ``steps``,
        ``images_per_second``, ``workers`` and ``content_loss`` (the kind used).
    """
    dist = torchtrain.setup_distributed(config.device)
    torchtrain.configure_device(dist.device)
    torch.manual_seed(config.seed + dist.rank)
    G = Generator(config.ngf, config.n_blocks, config.dropout, config.identity_init)
    D = Critic(config.ndf)
    G = torchtrain.prepare_model(G, dist, channels_last=config.channels_last)
    D = torchtrain.prepare_model(D, dist, channels_last=config.channels_last)
    channels_last = dist.device.type == "cuda" if config.channels_last is None else bool(config.channels_last)
    content = ContentLoss(config.content_loss, config.vgg19_weights).to(dist.device)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=tuple(config.betas))
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=tuple(config.betas))

    dataset = training_dataset(config)
    if isinstance(dataset, GoProDataset):
        dataset.prepare(show_progress=progress and dist.is_main)
    per_step = config.batch * (config.critic_steps + 1 if config.adversarial else 1)
    val_blurred, val_sharp = validation_set(config) if dist.is_main else (None, None)
    workers = _loader_workers(config)

    def make_loader(start: int):
        sampler = datasets.EpochBatchSampler(len(dataset), config.batch, seed=config.seed, rank=dist.rank, world_size=dist.world_size, start=start)
        return datasets.make_loader(dataset, sampler, workers=workers, device=dist.device, collate_fn=datasets.collate_pairs, seed=config.seed + dist.rank)

    def fetch(next_batch):
        blurred, sharp = next_batch()
        return (datasets.to_device(t, dist.device, channels_last=channels_last) for t in (blurred, sharp))

    history = {"step": [], "critic_loss": [], "wasserstein": [], "content": [], "val_step": [], "val_psnr": []}
    step_seconds, local = [], {"critic_loss": [], "wasserstein": [], "content": []}  # this process, this session

    def step_fn(step: int, next_batch) -> dict:
        start = time.perf_counter()
        c_loss, w_est = float("nan"), float("nan")
        if config.adversarial:
            for _ in range(config.critic_steps):
                blurred, sharp = fetch(next_batch)
                with torch_ops.autocast(dist.device, config.precision):
                    with torch.no_grad():
                        fake = G(blurred)
                    opt_d.zero_grad(set_to_none=True)
                    loss_d, w_est = critic_loss(D, sharp, fake.float(), gp_weight=config.gp_weight)
                loss_d.backward()
                opt_d.step()
                c_loss = float(loss_d.detach())
        blurred, sharp = fetch(next_batch)
        opt_g.zero_grad(set_to_none=True)
        with torch_ops.autocast(dist.device, config.precision):
            restored = G(blurred)
            content_value = content(restored.float(), sharp)
            # the critic's plain module: its weights are the same on every rank, and its
            # gradients from this step are discarded before the next critic step
            scores = torch_ops.unwrap(D)(restored) if config.adversarial else restored.new_zeros(1)
            loss_g = generator_loss(scores.float(), content_value, content_weight=config.content_weight, adversarial=config.adversarial)
        loss_g.backward()
        opt_g.step()
        for key, value in (("critic_loss", c_loss), ("wasserstein", w_est), ("content", float(content_value.detach()))):
            local[key].append(value)
        history["step"].append(step + 1)
        history["critic_loss"].append(torchtrain.mean_across_processes(c_loss, dist) if config.adversarial else float("nan"))
        history["wasserstein"].append(torchtrain.mean_across_processes(w_est, dist) if config.adversarial else float("nan"))
        history["content"].append(torchtrain.mean_across_processes(float(content_value.detach()), dist))
        step_seconds.append(time.perf_counter() - start)
        shown = {"content": f"{history['content'][-1]:.4f}"}
        if config.adversarial:
            shown["W"] = f"{history['wasserstein'][-1]:.3f}"
        return shown

    def record(state, psnr: float) -> None:
        state.history["val_step"].append(state.step)
        state.history["val_psnr"].append(psnr)

    def metadata(state) -> dict:
        val = {"psnr": state.history["val_psnr"][-1], "best_psnr": state.best_score, "best_step": state.best_step} if state.history["val_psnr"] else {}
        return checkpoints.checkpoint_metadata(
            chapter=config.chapter, profile=config.profile, seed=config.seed, steps=state.step, wall_seconds=state.seconds,
            device=dist.device, architecture=config.architecture(), validation=val, content_loss=config.content_loss,
            adversarial=config.adversarial, world_size=dist.world_size,
            config={k: v for k, v in asdict(config).items() if k != "extra"},
        )

    state = loop.run_loop(
        dist=dist, steps=config.steps, step_fn=step_fn, make_loader=make_loader,
        validate_fn=lambda: batch_psnr(restore_batch(G, val_blurred, device=dist.device, precision=config.precision), val_sharp),
        record_fn=record, keep=G, models={"generator": G, "critic": D}, optimisers={"generator": opt_g, "critic": opt_d},
        higher_is_better=True, validate_every=config.validate_every, schedule=torchtrain.linear_decay_lambda(config.steps, 0.5),
        checkpoint=config.checkpoint, checkpoint_every=config.checkpoint_every, metadata_fn=metadata, resume=resume,
        history=history, desc="DeblurGAN" if config.adversarial else "content only", show_progress=progress, on_checkpoint=on_checkpoint,
    )
    chosen = Generator(config.ngf, config.n_blocks, config.dropout, config.identity_init)
    chosen.load_state_dict(state.best_state if state.best_state is not None else torch_ops.unwrap(G).state_dict())
    result = {
        "generator": chosen.to(dist.device),
        "last_generator": torch_ops.unwrap(G),
        "best_step": state.best_step,
        "critic": torch_ops.unwrap(D),
        "history": state.history,
        "seconds": state.seconds,
        "data_seconds": state.data_seconds,
        "step_seconds": step_seconds,
        "local_history": local,
        "steps": state.step,
        "content_loss": config.content_loss,
        "images_per_second": state.step * per_step * dist.world_size / max(state.seconds, 1e-9),
        "world_size": dist.world_size,
        "workers": workers,
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
    extra = got["extra"]
    # the loop's record; a checkpoint written before the shared loop kept it under "best"
    best = extra[loop.LOOP_KEY]["best_state"] if loop.LOOP_KEY in extra else extra.get("best", {}).get("state")
    if best is not None:
        G.load_state_dict(best)
    return G.to(device).eval()


# --------------------------------------------------------------------------------------------
# Command line

PROFILE_DEFAULTS = {
    # generator steps, crop, widths; the chapter uses the same table. identity_init: short runs
    # start the generator at the identity (see Generator); widths and losses stay the paper's.
    # workers: data-loader worker processes (on two cores the main process makes the batches;
    # a GPU machine's cores synthesise the gpu profile's 48 crops of 290 px per step)
    "smoke": {"steps": 4, "batch": 2, "crop": 32, "ngf": 8, "n_blocks": 1, "ndf": 8, "max_shake": 7.0, "image_scale": 0.25, "identity_init": True, "workers": 0},
    "cpu": {"steps": 300, "batch": 4, "crop": 64, "ngf": 16, "n_blocks": 3, "ndf": 16, "max_shake": 15.0, "image_scale": 0.5, "identity_init": True, "workers": 0},
    "gpu": {"steps": 3000, "batch": 8, "crop": 256, "ngf": 64, "n_blocks": 9, "ndf": 64, "max_shake": 31.0, "image_scale": 1.0, "identity_init": True, "workers": 6},
}
