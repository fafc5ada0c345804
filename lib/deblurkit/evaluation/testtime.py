"""DeblurGAN at test time as its authors' code runs it: dropout on, one seeded mask per image.

The official test model (KupynOrest/DeblurGAN, ``models/test_model.py``) builds the generator
with dropout (``not opt.no_dropout``) and never calls ``.eval()``, so the ResBlocks' dropout
stays on when images are restored; the paper keeps it too. Instance normalisation here keeps no
running statistics, so dropout is the only layer that differs between the two modes. To keep
glued numbers deterministic, each image's dropout masks are drawn from a seed of its own
(:func:`item_seed`), independent of batch order and of torch's global random state.

This module imports torch only inside its functions.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from ..runtime import validate as _validate


def item_seed(seed: int, key: str) -> int:
    """A 32-bit seed for one image from the run's ``seed`` (>= 0) and the image's ``key`` (a
    string naming it, e.g. an evaluation item's key): the same pair always gives the same seed."""
    seed = _validate.integer(seed, "seed", minimum=0)
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must be a non-empty string, got {key!r}")
    return int(np.random.SeedSequence([seed, zlib.crc32(key.encode())]).generate_state(1)[0])


def restore_images(generator, images: Sequence, *, seeds: Sequence[int], dropout: bool = True, device=None) -> list[np.ndarray]:
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

    Returns
    -------
    list of ndarray, each (H, W, 3), float64 in [0, 1]
    """
    import torch

    from ..models import deblurgan as dg
    from ..models import torch_ops

    images, seeds = list(images), [int(s) for s in seeds]
    if len(images) != len(seeds):
        raise ValueError(f"seeds must give one seed per image: {len(images)} images, {len(seeds)} seeds")
    gen = torch_ops.unwrap(generator)
    device = torch.device(device) if device is not None else next(gen.parameters()).device
    modes = {m: m.training for m in gen.modules()}
    gen.eval()
    for m in gen.modules():
        if isinstance(m, torch.nn.Dropout):
            m.train(bool(dropout))
    outs = []
    try:
        for img, s in zip(images, seeds):
            x = dg.to_tensor(_validate.image(img))[None].to(device)
            cuda = [device.index or 0] if device.type == "cuda" else []
            with torch.random.fork_rng(devices=cuda), torch.no_grad():
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
