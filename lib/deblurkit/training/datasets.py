"""The torch data sets and data loaders of the torch trainers.

- :class:`ShakeBlurDataset`: sharp crops of bundled images blurred by random camera-shake
  kernels (DeblurGAN without GoPro);
- :class:`GoProDataset`: aligned crops of GoPro pairs, read from a cache of decoded frames
  (:class:`FrameCache`), so that a training step decodes no PNG;
- :class:`NonUniformBlurSamples`: the samples of a
  :func:`deblurkit.data.synthetic.nonuniform_blur_dataset` (the adaptive-basis network);
- batch samplers that carry what a worker process needs to draw a sample — the epoch travels
  with every index (:class:`EpochBatchSampler`), because ``set_epoch`` on a data set never
  reaches persistent worker processes — and that start at any batch, so a resumed run takes
  the very batches an uninterrupted one would;
- :func:`make_loader`: a ``DataLoader`` with persistent workers, pinned memory on CUDA and a
  generator of its own (it draws nothing from torch's global random state), and
  :func:`to_device` for the non-blocking copy.

This module imports torch; ``import deblurkit`` does not import it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from ..data import bundled
from ..data.external import gopro_pairs, read_rgb
from ..imaging.blur import camera_blur
from ..imaging.nonuniform import GAMMA
from ..imaging.psf import random_shake_kernel, shake_kernel_size
from ..models.adaptive_basis import network_input
from ..models.deblurgan import to_tensor
from ..runtime import validate as _validate
from ..runtime.files import artifact_path, atomic_write
from ..runtime.progress import progress


def _epoch_and_index(item, default_epoch: int) -> tuple[int, int]:
    """``(epoch, index)`` from a sampler's ``(epoch, index)`` pair or a plain index."""
    if isinstance(item, tuple):
        return int(item[0]), int(item[1])
    return int(default_epoch), int(item)


class _EpochSamples(torch.utils.data.Dataset):
    """``length`` samples per epoch, sample ``i`` of epoch ``e`` a pure function of
    ``(seed, e, i)``; indexed by a sampler's ``(epoch, index)`` or by a plain index (of
    :attr:`epoch`, which :meth:`set_epoch` sets in this process only)."""

    epoch = 0
    length = 1
    seed = 0

    def set_epoch(self, epoch: int) -> None:
        """The epoch of a plain index: draw a new set of samples. A data loader's sampler passes
        ``(epoch, index)`` instead (worker processes never see this attribute change)."""
        self.epoch = _validate.integer(epoch, "epoch", minimum=0)

    def __len__(self) -> int:
        return self.length

    def _draw(self, item) -> tuple[int, np.random.Generator]:
        """The sample's index and its random generator."""
        epoch, index = _epoch_and_index(item, self.epoch)
        return index, np.random.default_rng([self.seed, epoch, index])


class ShakeBlurDataset(_EpochSamples):
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

    def __getitem__(self, item):
        _, rng = self._draw(item)
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


def _save_npy(path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:  # np.save on a name would append ".npy" to the temporary file
        np.save(handle, array)


class FrameCache:
    """Decoded frames kept on disk as ``.npy`` files and read back memory-mapped.

    A PNG of 1280x720 takes tens of milliseconds to decode; a crop of a memory-mapped array
    reads only its rows. Each frame is decoded once (by :meth:`prepare`, or on first use) with
    :func:`deblurkit.data.external.read_rgb` and stored as ``uint8`` when that is exact (8-bit
    images: :meth:`frame` returns the very values ``read_rgb`` does), else as float64. A cache
    file is named after the frame's path, size and modification time, so an edited frame is
    decoded again.

    Parameters
    ----------
    folder : str or Path, optional
        Where the ``.npy`` files go (default: the book's ``data/cache/frames``).
    """

    def __init__(self, folder=None) -> None:
        self.folder = Path(folder) if folder is not None else artifact_path("cache", "frames")

    def path_of(self, image) -> Path:
        """The cache file of ``image`` (an existing image file)."""
        image = Path(image).resolve()
        st = image.stat()
        key = hashlib.sha1(f"{image}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:20]
        return self.folder / f"{image.stem}-{key}.npy"

    def _store(self, image) -> Path:
        target = self.path_of(image)
        if not target.is_file():
            frame = read_rgb(image)
            as_bytes = np.round(frame * 255).astype(np.uint8)
            exact = np.array_equal(as_bytes.astype(np.float64) / 255, frame)
            atomic_write(target, lambda tmp: _save_npy(tmp, as_bytes if exact else frame))
        return target

    def prepare(self, images, *, show_progress: bool = False) -> None:
        """Decode every image of ``images`` not cached yet."""
        for image in progress(list(images), desc="decoding frames", disable=not show_progress):
            self._store(image)

    def frame(self, image) -> np.ndarray:
        """``read_rgb(image)``'s ``(H, W, 3)`` float64 values in [0, 1], from the cache."""
        stored = np.load(self._store(image), mmap_mode="r")
        return stored.astype(np.float64) / 255 if stored.dtype == np.uint8 else np.asarray(stored)

    def crop(self, image, r0: int, c0: int, size: int) -> np.ndarray:
        """The ``size`` x ``size`` crop at row ``r0``, column ``c0`` of :meth:`frame`, reading
        only those rows from disk."""
        stored = np.load(self._store(image), mmap_mode="r")
        part = np.array(stored[r0 : r0 + size, c0 : c0 + size])
        return part.astype(np.float64) / 255 if part.dtype == np.uint8 else part

    def shape(self, image) -> tuple[int, ...]:
        """The frame's shape, from the cache file's header."""
        return tuple(np.load(self._store(image), mmap_mode="r").shape)


class GoProDataset(_EpochSamples):
    """Random aligned crops of GoPro blur/sharp pairs at full resolution (the paper's code first
    shrinks the 1280x720 frames by two, to 640x360: chapter 6 lists that as a departure).

    Items are ``(blurred, sharp, None)`` tensors in [-1, 1] like :class:`ShakeBlurDataset`
    (the true kernel is unknown). Sample ``i`` of epoch ``e`` is a pure function of
    ``(seed, e, i)`` and reads pair ``i * len(pairs) // length``, so a ``length`` above the
    number of pairs visits every pair about equally often. With a :class:`FrameCache` frames
    are decoded once (call :meth:`prepare` before training, so that no step decodes a PNG);
    without one every item decodes its two PNG files.

    Parameters
    ----------
    root : str or Path
        The GoPro folder (see :func:`deblurkit.data.external.gopro_pairs`).
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
    cache : FrameCache, optional
        Where decoded frames are kept (training uses one in the book's ``data/cache/frames``).
    """

    def __init__(self, root, *, split: str = "train", sequences=None, pairs=None, crop: int = 256, seed: int = 0,
                 flips: bool = True, length: int | None = None, cache: FrameCache | None = None) -> None:
        self.pairs = list(pairs) if pairs is not None else gopro_pairs(root, split, sequences=sequences)
        if not self.pairs:
            raise ValueError("pairs must hold at least one GoPro pair")
        self.crop = _validate.integer(crop, "crop", minimum=16)
        self.seed = _validate.integer(seed, "seed", minimum=0)
        self.length = len(self.pairs) if length is None else _validate.integer(length, "length", minimum=1)
        self.flips = bool(flips)
        self.cache = cache
        if cache is not None and not isinstance(cache, FrameCache):
            raise TypeError(f"cache must be a FrameCache or None, got {type(cache).__name__}")
        self.epoch = 0

    def prepare(self, *, show_progress: bool = False) -> GoProDataset:
        """Decode every frame of the data set into the cache now (no-op without a cache)."""
        if self.cache is not None:
            self.cache.prepare([p for pair in self.pairs for p in pair], show_progress=show_progress)
        return self

    def __getitem__(self, item):
        index, rng = self._draw(item)
        pair = self.pairs[index * len(self.pairs) // self.length]
        if self.cache is None:
            frames = [read_rgb(p) for p in pair]
            shapes = [f.shape for f in frames]
        else:
            shapes = [self.cache.shape(p) for p in pair]
        if shapes[0] != shapes[1]:
            raise ValueError(f"GoPro pair {pair[0]} and its sharp twin differ in shape")
        if min(shapes[0][:2]) < self.crop:
            raise ValueError(f"GoPro frame {pair[0]} ({shapes[0][1]}x{shapes[0][0]}) is smaller than a {self.crop}-px crop")
        r0 = int(rng.integers(0, shapes[0][0] - self.crop + 1))
        c0 = int(rng.integers(0, shapes[0][1] - self.crop + 1))
        if self.cache is None:
            b, s = (x[r0 : r0 + self.crop, c0 : c0 + self.crop] for x in frames)
        else:
            b, s = (self.cache.crop(p, r0, c0, self.crop) for p in pair)
        if self.flips and rng.uniform() < 0.5:
            b, s = b[:, ::-1], s[:, ::-1]
        return to_tensor(b), to_tensor(s), None


def collate_pairs(batch) -> tuple[torch.Tensor, torch.Tensor]:
    """``(blurred, sharp)`` batches of :class:`ShakeBlurDataset` / :class:`GoProDataset` items
    (their kernels, numpy arrays or ``None``, are left out)."""
    blurred, sharp, _ = zip(*batch)
    return torch.stack(blurred), torch.stack(sharp)


#: The arrays of a :func:`deblurkit.data.synthetic.nonuniform_blur_dataset` a training step reads.
NONUNIFORM_KEYS = ("blurred", "sharp_padded", "kernels", "weights")


class NonUniformBlurSamples(torch.utils.data.Dataset):
    """The samples of a :func:`deblurkit.data.synthetic.nonuniform_blur_dataset` as tensors.

    Item ``i`` is ``{key: tensor}`` for the arrays of :data:`NONUNIFORM_KEYS` (row ``i``); a
    batch of them becomes the network's input and the losses' targets with
    :func:`training_tensors` on the training device (where the gamma is applied to the whole
    batch at once: the same numbers as :func:`batch_tensors`).
    """

    def __init__(self, dataset: dict) -> None:
        missing = set(NONUNIFORM_KEYS) - set(dataset)
        if missing:
            raise ValueError(f"dataset lacks {sorted(missing)} (expected nonuniform_blur_dataset's dict)")
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset["blurred"])

    def __getitem__(self, row) -> dict:
        return {k: torch.from_numpy(np.array(self.dataset[k][int(row)])) for k in NONUNIFORM_KEYS}


def training_tensors(batch: dict, device, *, gamma: float = GAMMA) -> dict:
    """The network's input and the losses' targets from a batch of :data:`NONUNIFORM_KEYS`
    tensors, on ``device`` (copied without blocking from pinned memory).

    Returns ``"input"`` (network input), ``"sharp_linear"``, ``"blurred_linear"`` (linear
    intensity), ``"kernels"`` and ``"weights"`` (the truth); the true kernels are neither
    padded nor cropped: they must already have the network's ``K``.
    """
    take = {k: batch[k].to(device, non_blocking=True) for k in NONUNIFORM_KEYS}
    blurred = take["blurred"][:, None]
    return {
        "input": network_input(blurred),
        "blurred_linear": blurred.clamp(0, 1) ** gamma,
        "sharp_linear": take["sharp_padded"][:, None].clamp(0, 1) ** gamma,
        "kernels": take["kernels"],
        "weights": take["weights"],
    }


def batch_tensors(dataset: dict, rows, device, *, gamma: float = GAMMA) -> dict:
    """:func:`training_tensors` of the samples ``rows`` of a
    :func:`deblurkit.data.synthetic.nonuniform_blur_dataset`."""
    return training_tensors({k: torch.from_numpy(np.ascontiguousarray(dataset[k][rows])) for k in NONUNIFORM_KEYS}, device, gamma=gamma)


class EpochBatchSampler(torch.utils.data.Sampler):
    """Endless batches of ``(epoch, index)`` pairs in ``DistributedSampler`` order, from any batch.

    Epoch ``e`` visits this process's share of ``range(length)`` in the order
    ``torch.utils.data.DistributedSampler(..., shuffle=True, seed=seed)`` gives after
    ``set_epoch(e)``, in batches of ``batch`` (a last partial batch is dropped). The epoch
    travels with every index, so a worker process draws epoch ``e``'s sample without being told.

    Parameters
    ----------
    length : int
        Samples per epoch of the data set, >= 1.
    batch : int
        Samples per batch, >= 1 and at most this process's share of an epoch.
    seed : int
        The shuffling seed.
    rank, world_size : int
        This process and the number of processes.
    start : int
        Batches taken before (0 for a fresh run): the first batch yielded is batch ``start``.
    """

    def __init__(self, length: int, batch: int, *, seed: int = 0, rank: int = 0, world_size: int = 1, start: int = 0) -> None:
        self.length = _validate.integer(length, "length", minimum=1)
        self.batch = _validate.integer(batch, "batch", minimum=1)
        self.start = _validate.integer(start, "start", minimum=0)
        self.order = torch.utils.data.DistributedSampler(range(self.length), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
        self.per_epoch = len(self.order) // self.batch
        if self.per_epoch == 0:
            raise ValueError(f"batch must be at most this process's {len(self.order)} samples per epoch, got {self.batch}")

    def __iter__(self):
        epoch, position = divmod(self.start, self.per_epoch)
        while True:
            self.order.set_epoch(epoch)
            indices = list(self.order)
            for p in range(position, self.per_epoch):
                yield [(epoch, i) for i in indices[p * self.batch : (p + 1) * self.batch]]
            epoch, position = epoch + 1, 0


class ChoiceBatchSampler(torch.utils.data.Sampler):
    """Endless batches of ``batch`` distinct rows of ``range(count)``, drawn afresh for every
    step from ``numpy.random.default_rng([seed, rank, 0])``, from any batch (the ``start``
    batches before it are drawn and dropped, so a resumed run continues the same sequence)."""

    def __init__(self, count: int, batch: int, *, seed: int = 0, rank: int = 0, start: int = 0) -> None:
        self.count = _validate.integer(count, "count", minimum=1)
        self.batch = min(_validate.integer(batch, "batch", minimum=1), self.count)
        self.seed, self.rank = _validate.integer(seed, "seed", minimum=0), int(rank)
        self.start = _validate.integer(start, "start", minimum=0)

    def __iter__(self):
        generator = np.random.default_rng([self.seed, self.rank, 0])
        for _ in range(self.start):
            generator.choice(self.count, size=self.batch, replace=False)
        while True:
            yield generator.choice(self.count, size=self.batch, replace=False).tolist()


def make_loader(dataset, batch_sampler, *, workers: int, device, collate_fn=None, seed: int = 0) -> torch.utils.data.DataLoader:
    """A ``DataLoader`` over ``dataset`` in ``batch_sampler``'s batches.

    ``workers`` worker processes (0: the main process prepares the batches), kept alive
    between epochs (``persistent_workers``); pinned memory when ``device`` is CUDA, so that
    :func:`to_device` copies asynchronously; a random generator of its own, seeded by ``seed``,
    so that creating the loader draws nothing from torch's global random state (the training
    run's numbers do not depend on the number of workers).
    """
    workers = _validate.integer(workers, "workers", minimum=0)
    return torch.utils.data.DataLoader(
        dataset,
        batch_sampler=batch_sampler,
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=torch.device(device).type == "cuda",
        collate_fn=collate_fn,
        generator=torch.Generator().manual_seed(int(seed)),
        prefetch_factor=4 if workers > 0 else None,
    )


def to_device(tensor: torch.Tensor, device, *, channels_last: bool = False) -> torch.Tensor:
    """``tensor`` on ``device``, copied without blocking (from pinned memory), and in
    channels-last layout when asked (4-D tensors only)."""
    out = tensor.to(device, non_blocking=True)
    return out.contiguous(memory_format=torch.channels_last) if channels_last and out.ndim == 4 else out
