"""Chapter 8's torch networks at test time: the device they run on (:func:`evaluation_device`),
and DeblurGAN as its authors' code runs it: dropout on, one seeded mask per image.

The official test model (KupynOrest/DeblurGAN, ``models/test_model.py``) builds the generator
with dropout (``not opt.no_dropout``) and never calls ``.eval()``, so the ResBlocks' dropout
stays on when images are restored; the paper keeps it too. Instance normalisation here keeps no
running statistics, so dropout is the only layer that differs between the two modes. To keep
glued numbers deterministic, each image's dropout masks are drawn from a seed of its own
(:func:`item_seed`), independent of batch order and of torch's global random state. On CUDA
the masks come from CUDA's generator, not the CPU's: the same seed gives other masks there.

This module imports torch only inside its functions.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from ..runtime import validate as _validate


def evaluation_device(device=None):
    """The device chapter 8 runs its torch networks on, set up for float32 inference.

    CUDA when torch sees one, else the CPU (:func:`deblurkit.training.torchtrain.pick_device`,
    the library's one choice between them), configured by
    :func:`~deblurkit.training.torchtrain.configure_device` with TF32 *off*: on a GPU the
    networks keep float32 convolutions, as on the CPU, so their scores differ from a CPU run
    only by rounding (and DeblurGAN's dropout masks, which CUDA draws with its own generator).

    Parameters
    ----------
    device : str or torch.device, optional
        ``"cpu"`` or ``"cuda"`` to force one (``"cuda"`` where none is visible is refused).

    Returns
    -------
    torch.device
    """
    from ..training import torchtrain

    chosen = torchtrain.pick_device(device)
    torchtrain.configure_device(chosen, tf32=False)
    return chosen


def item_seed(seed: int, key: str) -> int:
    """A 32-bit seed for one image from the run's ``seed`` (>= 0) and the image's ``key`` (a
    string naming it, e.g. an evaluation item's key): the same pair always gives the same seed."""
    seed = _validate.integer(seed, "seed", minimum=0)
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must be a non-empty string, got {key!r}")
    return int(np.random.SeedSequence([seed, zlib.crc32(key.encode())]).generate_state(1)[0])


def restore_images(generator, images: Sequence, *, seeds: Sequence[int], dropout: bool = True, device=None,
                   mode: str | None = None) -> list[np.ndarray]:
    """Restore ``images`` one by one with a DeblurGAN ``generator``, dropout on or off.

    Parameters
    ----------
    generator : torch.nn.Module
        A :class:`deblurkit.models.deblurgan.Generator` (or a wrapped one).
    images : sequence of array_like
        ``(H, W, 3)`` or grey ``(H, W)`` images in [0, 1], any size.
    seeds : sequence of int
        One seed per image for its dropout masks (:func:`item_seed`); ignored when ``dropout``
        is false.
    dropout : bool
        True (default): as the official test code runs it (dropout on); False: evaluation mode.
    device : str or torch.device, optional
        Default: the generator's device.
    mode : str, optional
        A numeric mode of :data:`deblurkit.training.inference.MODES` (precision and memory
        layout; the command line's ``--precision``); the generator is moved to the mode's
        layout in place. Default: float32 in the generator's layout, with no autocast (what the
        chapters use).

    Returns
    -------
    list of ndarray, each (H, W, 3), float64 in [0, 1]
    """
    import contextlib

    import torch

    from ..models import deblurgan as dg
    from ..models import torch_ops
    from ..training import inference

    images, seeds = list(images), [int(s) for s in seeds]
    if len(images) != len(seeds):
        raise ValueError(f"seeds must give one seed per image: {len(images)} images, {len(seeds)} seeds")
    gen = torch_ops.unwrap(generator)
    device = torch.device(device) if device is not None else next(gen.parameters()).device
    modes = {m: m.training for m in gen.modules()}
    if mode is not None:
        _validate.choice(mode, "mode", set(inference.available_modes(device)))
        gen = inference.prepared(gen, mode, device)  # moved in place to the mode's layout
    layout = torch.channels_last if mode is not None and inference.MODES[mode][1] else torch.contiguous_format
    gen.eval()
    for m in gen.modules():
        if isinstance(m, torch.nn.Dropout):
            m.train(bool(dropout))
    outs = []
    try:
        for img, s in zip(images, seeds):
            x = dg.to_tensor(_validate.image(img))[None].to(device, memory_format=layout)
            cuda = [device.index or 0] if device.type == "cuda" else []
            numeric = inference.numeric_mode(mode, device) if mode is not None else contextlib.nullcontext()
            with torch.random.fork_rng(devices=cuda), torch.no_grad(), numeric:
                torch.manual_seed(s)
                outs.append(dg.to_image(gen(x)[0]))
    finally:
        for m, was in modes.items():
            m.train(was)
    return outs


def network_label(content_loss: str) -> str:
    """What a trained generator may be called: ``"DeblurGAN"`` with the paper's perceptual loss,
    else ``"WGAN-GP + L1 (pix2pix-style)"`` (the paper: trained "without Perceptual loss or with
    simple MSE on pixels instead doesn't converge to meaningful state", so it is not DeblurGAN).
    """
    _validate.choice(content_loss, "content_loss", {"perceptual", "pixel-l1"})
    return "DeblurGAN" if content_loss == "perceptual" else "WGAN-GP + L1 (pix2pix-style)"
