"""Chapter 8's one held-out evaluation set (every blur kind, camera-blurred in linear intensity,
with ground truth; a validation twin for choices) and the reader's photo.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from skimage.color import rgb2gray

from ..data import bundled, external, synthetic
from ..imaging import nonuniform, psf
from ..imaging.blur import add_gaussian_noise, blur, camera_blur
from ..runtime import validate as _validate

#: The blur kinds of the evaluation set, in table order.
BLUR_KINDS = ("acceleration", "defocus", "gaussian", "trajectory", "nonuniform")


#: Where each kind comes from (seed and chapter), for the page.
KIND_SOURCES = {
    "acceleration": "uniform acceleration from rest (seed 000, chapters 1-2)",
    "defocus": "defocus disk (seed 002, chapter 3)",
    "gaussian": "Gaussian (seed 001, chapter 4)",
    "trajectory": "camera-shake trajectory (seed 004, chapter 6)",
    "nonuniform": "two regions, each with its own camera-shake kernel (seed 003, chapter 5)",
}


#: Noise standard deviation of every item, in [0, 1] units of linear intensity.
NOISE_SIGMA = 0.01

#: The one convention of every kind: stored values are decoded with this display gamma, blurred
#: and made noisy in linear intensity, then encoded again (as chapter 5 and its paper do).
GAMMA = nonuniform.GAMMA


#: Parameter ranges, drawn uniformly per item: accelerations in px/time² (chapter 2's range,
#: exposure :data:`deblurkit.psf.DEFAULT_EXPOSURE`), disk radius and Gaussian σ in px.
ACCELERATION_MAX = 2.0


DEFOCUS_RADII = (1.5, 4.0)


GAUSSIAN_SIGMAS = (0.5, 3.0)


#: Sizes per profile: ``size`` the side of an item (px), ``scene`` the side the bundled image is
#: resized to before the item is cut from its centre, ``kernel_size`` the side of the
#: camera-shake kernels (trajectory and non-uniform kinds), the number of test and validation
#: images, ``draws`` blurs of each kind per image, and the cap on the longer side of the
#: reader's photo (restored at its own resolution up to this; at least 1024 px in ``cpu``).
EVALUATION_PROFILES = {
    "smoke": {"size": 64, "scene": 128, "kernel_size": 9, "test_images": 2, "validation_images": 1, "draws": 1, "photo_side": 128},
    "cpu": {"size": 128, "scene": 256, "kernel_size": 17, "test_images": 6, "validation_images": 3, "draws": 3, "photo_side": 1024},
    "gpu": {"size": 256, "scene": 512, "kernel_size": 33, "test_images": 6, "validation_images": 3, "draws": 4, "photo_side": 2048},
}


EVALUATION_SPLITS = ("validation", "test")


def evaluation_settings(profile: str) -> dict:
    """The sizes of :data:`EVALUATION_PROFILES` for ``profile`` ("smoke", "cpu" or "gpu")."""
    _validate.choice(profile, "profile", set(EVALUATION_PROFILES))
    return dict(EVALUATION_PROFILES[profile])


def _uniform_kernel(kind: str, rng: np.random.Generator, kernel_size: int) -> tuple[np.ndarray, dict]:
    if kind == "acceleration":
        a_x, a_y = rng.uniform(0.0, ACCELERATION_MAX, size=2)
        return psf.acceleration_psf(a_x, a_y, psf.DEFAULT_EXPOSURE), {"a_x": float(a_x), "a_y": float(a_y)}
    if kind == "defocus":
        radius = rng.uniform(*DEFOCUS_RADII)
        return psf.disk_psf(radius), {"radius": float(radius)}
    if kind == "gaussian":
        sigma = rng.uniform(*GAUSSIAN_SIGMAS)
        return psf.gaussian_psf(sigma), {"sigma": float(sigma)}
    kernel = psf.random_shake_kernel(kernel_size, rng, min_length=3.0, max_length=kernel_size - 1.0)
    return kernel, {"kernel_size": kernel_size}


def evaluation_set(profile: str, seed: int = 0, *, split: str = "test") -> list[dict]:
    """The book's held-out evaluation set (or its validation twin), deterministic in (profile, seed).

    Parameters
    ----------
    profile : {"smoke", "cpu", "gpu"}
        Sets the sizes (:data:`EVALUATION_PROFILES`).
    seed : int
        Seed of the blur parameters and the noise, >= 0.
    split : {"test", "validation"}
        ``"test"``: the held-out images, scored once; ``"validation"``: where settings are chosen.

    Returns
    -------
    list of dict
        One item per (image, kind, draw), images in split order, kinds in :data:`BLUR_KINDS` order.
        Keys: ``key`` (``"<split>:<image>:<kind>:<draw>"``), ``split``, ``image``, ``kind``,
        ``draw`` (0, 1, ...: each draw a new blur of the same kind), ``sharp``
        and ``blurred`` (grey, (size, size), float64 in [0, 1]), ``psf`` (the true kernel of a
        uniform kind, else None), ``kernels`` and ``weights`` (the true non-uniform mixture, else
        None), ``gamma`` (:data:`GAMMA` for every kind: blurred in linear intensity, which every
        method receives), ``params`` (the blur's parameters) and ``noise_sigma``.
    """
    settings = evaluation_settings(profile)
    seed = _validate.integer(seed, "seed", minimum=0)
    _validate.choice(split, "split", set(EVALUATION_SPLITS))
    names = bundled.split_names(split)[: settings[f"{split}_images"]]
    size, k = settings["size"], settings["kernel_size"]
    items = []
    for i, name in enumerate(names):
        scene = bundled.bundled_square(name, settings["scene"])
        for j, kind in enumerate(BLUR_KINDS):
            for d in range(settings["draws"]):
                rng = np.random.default_rng([seed, EVALUATION_SPLITS.index(split), i, j, d])
                item = {"key": f"{split}:{name}:{kind}:{d}", "split": split, "image": name, "kind": kind, "draw": d, "noise_sigma": NOISE_SIGMA}
                if kind == "nonuniform":
                    m = (settings["scene"] - (size + k - 1)) // 2
                    region = scene[m : m + size + k - 1, m : m + size + k - 1]
                    sample = synthetic.nonuniform_blur_example(
                        region, kernel_size=k, rng=rng, objects=1, min_length=3.0, max_length=k - 1.0, noise_sigma=NOISE_SIGMA
                    )
                    item.update(
                        sharp=sample["sharp"], blurred=np.clip(sample["blurred"], 0.0, 1.0), psf=None,
                        kernels=sample["kernels"], weights=sample["weights"], gamma=GAMMA,
                        params={"kernel_size": k, "regions": 2},
                    )
                else:
                    kernel, params = _uniform_kernel(kind, rng, k)
                    clean = camera_blur(nonuniform.gamma_decode(scene, GAMMA), kernel, size)
                    m = (settings["scene"] - size) // 2
                    noisy = add_gaussian_noise(clean, NOISE_SIGMA, rng, clip=True)
                    item.update(
                        sharp=scene[m : m + size, m : m + size].copy(),
                        blurred=nonuniform.gamma_encode(noisy, GAMMA),
                        psf=kernel, kernels=None, weights=None, gamma=GAMMA, params=params,
                    )
                items.append(item)
    return items


# --------------------------------------------------------------------------------------------
# The reader's photo


def photo_input(photo, profile: str, seed: int = 0) -> dict:
    """The image the blind methods run on in the "your photo" section, at its own resolution.

    Parameters
    ----------
    photo : str or Path or None
        A path to an image file (any size, grey or colour). Empty or None: the default, the
        held-out bundled colour image chelsea at its own size, blurred by a random camera-shake
        trajectory in linear intensity (:data:`GAMMA`) with :data:`NOISE_SIGMA` noise, as a
        camera would.
    profile : str
        A photo whose longer side exceeds ``photo_side`` of :data:`EVALUATION_PROFILES` (1024 px
        in ``cpu``) is shrunk to it; a smaller one is used as it is.

    Returns
    -------
    dict
        ``blurred`` (H, W, 3) float64 in [0, 1]; ``sharp`` (the same shape, or None for a
        reader's photo); ``kernel`` (the default's true kernel, else None); ``gamma`` (the
        display gamma the methods decode with, :data:`GAMMA`); ``resized`` (bool);
        ``description`` (a sentence for the page).

    Raises
    ------
    FileNotFoundError, ValueError
        Naming the ``photo`` parameter, when the file is missing or cannot be read as an image.
    """
    cap = evaluation_settings(profile)["photo_side"]
    if photo in (None, ""):
        rng = np.random.default_rng([seed, 7])
        sharp = np.clip(bundled.bundled_image("chelsea"), 0, 1)
        own = sharp.shape[:2]
        if max(own) > cap:  # the same cap as a reader's photo (smoke only: chelsea is 451 px)
            scale = cap / max(own)
            sharp = np.clip(bundled.resize(sharp, (round(own[0] * scale), round(own[1] * scale))), 0, 1)
        k = evaluation_settings(profile)["kernel_size"]
        kernel = psf.random_shake_kernel(k, rng, min_length=3.0, max_length=k - 1.0)
        linear = blur(nonuniform.gamma_decode(sharp, GAMMA), kernel, mode="symmetric")
        blurred = nonuniform.gamma_encode(add_gaussian_noise(linear, NOISE_SIGMA, rng, clip=True), GAMMA)
        return {
            "blurred": blurred,
            "sharp": sharp,
            "kernel": kernel,
            "gamma": GAMMA,
            "resized": sharp.shape[:2] != own,
            "description": (
                f"no photo was given, so the held-out bundled image chelsea, at "
                + (f"its own {own[1]}x{own[0]} px" if sharp.shape[:2] == own else f"{sharp.shape[1]}x{sharp.shape[0]} px (shrunk from {own[1]}x{own[0]} to the {profile} profile's cap)")
                + f", was blurred by a random {k}x{k} camera-shake kernel in linear intensity with noise sigma {NOISE_SIGMA}"
            ),
        }
    path = Path(photo).expanduser()
    try:
        img = external.read_rgb(path)
    except (FileNotFoundError, ValueError) as exc:
        raise type(exc)(f"photo: {exc}") from None
    if min(img.shape[:2]) < 32:
        raise ValueError(f"photo {str(path)!r} must be at least 32 px on a side, got shape {img.shape}")
    own = img.shape[:2]
    resized = max(own) > cap
    if resized:
        scale = cap / max(own)
        img = np.clip(bundled.resize(img, (max(32, round(own[0] * scale)), max(32, round(own[1] * scale)))), 0, 1)
    size = f"{img.shape[1]}x{img.shape[0]} px" + (f", shrunk from {own[1]}x{own[0]} to the {profile} profile's cap of {cap} px" if resized else ", its own resolution")
    return {
        "blurred": img,
        "sharp": None,
        "kernel": None,
        "gamma": GAMMA,
        "resized": resized,
        "description": f"the reader's photo {path.name} ({size})",
    }


def per_channel(restore_grey: Callable, image) -> np.ndarray:
    """Apply a grey restoration ``restore_grey(channel) -> channel`` to every colour channel."""
    img = _validate.image(image)
    if img.ndim == 2:
        return restore_grey(img)
    return np.stack([restore_grey(img[..., c]) for c in range(img.shape[2])], axis=2)


def luminance(image) -> np.ndarray:
    """Grey version (ITU-R BT.709) of an RGB image in [0, 1]; a grey image is returned as it is."""
    img = _validate.image(image)
    if img.ndim == 2:
        return img
    return rgb2gray(img)
