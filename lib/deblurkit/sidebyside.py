"""Chapter 7: every method of the book on one held-out evaluation set, and the claims ledger.

The evaluation set is defined here, once: held-out bundled images (the ``test`` split of
:data:`deblurkit.data.SPLITS`, never trained on by any chapter), each blurred by each kind of
blur the book covers, as a camera would (the rasterised kernel convolved in the image domain
over a larger scene, then the centre crop; white noise; values clipped to [0, 1]). Every item
carries its ground truth: the kernel, or for non-uniform blur the kernels and per-pixel weights.
The same construction on the ``validation`` split is where each method's setting is chosen.

Methods are :class:`Method` records: a name, the chapter that trained it, the blur kinds it
applies to, the settings to choose from, and a function that restores an item at several
settings at once. :func:`evaluate` chooses each method's setting on validation and scores the
test items once, with the time per image.

The Keras models of chapters 2-4 never share a process with torch: :func:`keras_predictions`
(``python -m deblurkit.sidebyside keras ...``) loads them in a subprocess and writes their
outputs on both splits (and the reader's photo) to an ``.npz`` file with the seconds they took.

This module imports no deep-learning framework at import time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from . import _validate, data, metrics, nonuniform, psf, restore
from .autoencoder import REPORT_ARCHITECTURE as _AUTOENCODER_ARCHITECTURE
from .blur import add_gaussian_noise, blur

#: The blur kinds of the evaluation set, in table order.
KINDS = ("acceleration", "defocus", "gaussian", "trajectory", "nonuniform")

#: Where each kind comes from (seed and chapter), for the page.
KIND_SOURCES = {
    "acceleration": "uniform acceleration from rest (seed 000, chapters 1-2)",
    "defocus": "defocus disk (seed 002, chapter 3)",
    "gaussian": "Gaussian (seed 001, chapter 4)",
    "trajectory": "camera-shake trajectory (seed 004, chapter 6)",
    "nonuniform": "two regions, each with its own camera-shake kernel (seed 003, chapter 5)",
}

#: Noise standard deviation of every item, in [0, 1] intensity units (linear intensity for
#: the non-uniform kind, as chapter 5 blurs).
NOISE_SIGMA = 0.01

#: Parameter ranges, drawn uniformly per item: accelerations in px/time² (chapter 2's range,
#: exposure :data:`deblurkit.psf.DEFAULT_EXPOSURE`), disk radius and Gaussian σ in px.
ACCELERATION_MAX = 2.0
DEFOCUS_RADII = (1.5, 4.0)
GAUSSIAN_SIGMAS = (0.5, 3.0)

#: Sizes per profile: ``size`` the side of an item (px), ``scene`` the side the bundled image is
#: resized to before the item is cut from its centre, ``kernel_size`` the side of the
#: camera-shake kernels (trajectory and non-uniform kinds), the number of test and validation
#: images, ``draws`` blurs of each kind per image, and the side of the reader's photo (its
#: longer side is resized to at most this).
EVALUATION_PROFILES = {
    "smoke": {"size": 64, "scene": 128, "kernel_size": 9, "test_images": 2, "validation_images": 1, "draws": 1, "photo_side": 96},
    "cpu": {"size": 128, "scene": 256, "kernel_size": 17, "test_images": 6, "validation_images": 3, "draws": 3, "photo_side": 256},
    "gpu": {"size": 256, "scene": 512, "kernel_size": 33, "test_images": 6, "validation_images": 3, "draws": 4, "photo_side": 512},
}

SPLITS = ("validation", "test")


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
    kernel = nonuniform.random_shake_kernel(kernel_size, rng, min_length=3.0, max_length=kernel_size - 1.0)
    return kernel, {"kernel_size": kernel_size}


def camera_blur(scene, kernel, size: int) -> np.ndarray:
    """The noiseless ``size`` x ``size`` centre crop of ``scene`` blurred as a camera does.

    The rasterised ``kernel`` is convolved in the image domain over the whole scene (mirrored
    beyond it, which the crop never sees when the scene is larger than the crop by the kernel's
    radius on every side) and the centre is cut out: no periodic boundary is assumed.
    """
    img = _validate.array(scene, "scene", ndim=2)
    k = _validate.psf(kernel)
    size = _validate.integer(size, "size", minimum=8)
    margin = (min(img.shape) - size) // 2
    if margin < max(k.shape) // 2:
        raise ValueError(
            f"scene of shape {img.shape} leaves a margin of {margin} px around a {size}-px crop, "
            f"less than the kernel's radius {max(k.shape) // 2} px"
        )
    r0, c0 = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
    return blur(img, k, mode="symmetric")[r0 : r0 + size, c0 : c0 + size]


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
        One item per (image, kind, draw), images in split order, kinds in :data:`KINDS` order.
        Keys: ``key`` (``"<split>:<image>:<kind>:<draw>"``), ``split``, ``image``, ``kind``,
        ``draw`` (0, 1, ...: each draw a new blur of the same kind), ``sharp``
        and ``blurred`` (grey, (size, size), float64 in [0, 1]), ``psf`` (the true kernel of a
        uniform kind, else None), ``kernels`` and ``weights`` (the true non-uniform mixture, else
        None), ``gamma`` (1.0: blurred as stored, as chapters 1-4 and 6 do; 2.2: in linear
        intensity, as chapter 5 does), ``params`` (the blur's parameters) and ``noise_sigma``.
    """
    settings = evaluation_settings(profile)
    seed = _validate.integer(seed, "seed", minimum=0)
    _validate.choice(split, "split", set(SPLITS))
    names = data.split_names(split)[: settings[f"{split}_images"]]
    size, k = settings["size"], settings["kernel_size"]
    items = []
    for i, name in enumerate(names):
        scene = data.bundled_square(name, settings["scene"])
        for j, kind in enumerate(KINDS):
            for d in range(settings["draws"]):
                rng = np.random.default_rng([seed, SPLITS.index(split), i, j, d])
                item = {"key": f"{split}:{name}:{kind}:{d}", "split": split, "image": name, "kind": kind, "draw": d, "noise_sigma": NOISE_SIGMA}
                if kind == "nonuniform":
                    m = (settings["scene"] - (size + k - 1)) // 2
                    region = scene[m : m + size + k - 1, m : m + size + k - 1]
                    sample = nonuniform.nonuniform_blur_example(
                        region, kernel_size=k, rng=rng, objects=1, min_length=3.0, max_length=k - 1.0, noise_sigma=NOISE_SIGMA
                    )
                    item.update(
                        sharp=sample["sharp"], blurred=np.clip(sample["blurred"], 0.0, 1.0), psf=None,
                        kernels=sample["kernels"], weights=sample["weights"], gamma=nonuniform.GAMMA,
                        params={"kernel_size": k, "regions": 2},
                    )
                else:
                    kernel, params = _uniform_kernel(kind, rng, k)
                    clean = camera_blur(scene, kernel, size)
                    m = (settings["scene"] - size) // 2
                    item.update(
                        sharp=scene[m : m + size, m : m + size].copy(),
                        blurred=add_gaussian_noise(clean, NOISE_SIGMA, rng, clip=True),
                        psf=kernel, kernels=None, weights=None, gamma=1.0, params=params,
                    )
                items.append(item)
    return items


# --------------------------------------------------------------------------------------------
# Methods and their evaluation


@dataclasses.dataclass
class Method:
    """One restoration method as chapter 7 runs it.

    Attributes
    ----------
    name : str
        Row label of the table.
    key : str
        Identifier used in glue names (``psnr_<key>_<kind>``).
    kinds : tuple of str
        The blur kinds it applies to.
    restore : callable
        ``restore(item, settings) -> {setting: image}``: grey restorations in [0, 1] of the
        item's blurred image, one per requested setting (a method without settings gets
        ``[None]``).
    settings : tuple
        The settings to choose from on validation (hashable values; ``(None,)`` for none).
    chapter : str or None
        Notebook stem of the chapter that trained it (None for the classical filters).
    oracle : bool
        True when it is given the true kernel(s): a ceiling, not a blind method.
    per_kind : bool
        Choose the setting per blur kind (fair only for an oracle, which knows the kind).
    elsewhere_seconds : callable, optional
        ``elsewhere_seconds(item) -> float``: time spent on the item in another process (the
        Keras subprocess), added to what is measured here.
    """

    name: str
    key: str
    kinds: tuple
    restore: Callable
    settings: tuple = (None,)
    chapter: str | None = None
    oracle: bool = False
    per_kind: bool = False
    elsewhere_seconds: Callable | None = None


def _score(item, image) -> tuple[float, float]:
    out = np.clip(_validate.array(image, f"restoration of {item['key']}", ndim=2), 0.0, 1.0)
    return metrics.psnr(item["sharp"], out, data_range=1.0), metrics.ssim(item["sharp"], out, data_range=1.0)


def choose_setting(method: Method, validation: Sequence[dict]) -> dict:
    """The setting of ``method`` with the best mean validation PSNR, per kind or overall.

    Returns
    -------
    dict
        ``{kind: setting}`` for every kind of the method that validation holds.
    """
    items = [it for it in validation if it["kind"] in method.kinds]
    if not items:
        raise ValueError(f"validation holds no item of the kinds {method.kinds} of {method.name!r}")
    psnrs = {}
    for it in items:
        outs = method.restore(it, list(method.settings))
        for s in method.settings:
            psnrs.setdefault((it["kind"] if method.per_kind else None, s), []).append(_score(it, outs[s])[0])
    groups = sorted({g for g, _ in psnrs}, key=str)
    best = {g: max(method.settings, key=lambda s: np.mean(psnrs[(g, s)])) for g in groups}
    return {kind: best[kind if method.per_kind else None] for kind in sorted({it["kind"] for it in items})}


def evaluate(method: Method, validation: Sequence[dict], test: Sequence[dict]) -> dict:
    """Choose ``method``'s setting on ``validation``, then restore every applicable test item once.

    Returns
    -------
    dict
        ``{kind: {"setting", "psnr", "ssim", "seconds" (lists over the test items, seconds
        per image including :attr:`Method.elsewhere_seconds`), "images" (the restorations),
        "keys"}}``.
    """
    chosen = choose_setting(method, validation) if len(method.settings) > 1 else None
    out: dict = {}
    for it in test:
        if it["kind"] not in method.kinds:
            continue
        setting = method.settings[0] if chosen is None else chosen[it["kind"]]
        start = time.perf_counter()
        image = method.restore(it, [setting])[setting]
        seconds = time.perf_counter() - start
        if method.elsewhere_seconds is not None:
            seconds += float(method.elsewhere_seconds(it))
        p, s = _score(it, image)
        row = out.setdefault(it["kind"], {"setting": setting, "psnr": [], "ssim": [], "seconds": [], "images": [], "keys": []})
        for name, value in (("psnr", p), ("ssim", s), ("seconds", seconds), ("images", np.clip(image, 0, 1)), ("keys", it["key"])):
            row[name].append(value)
    return out


def blurred_input() -> Method:
    """The blurred image itself: the row every method must beat."""
    return Method("blurred input", "blurred", KINDS, lambda it, ss: {s: it["blurred"] for s in ss})


#: Settings the oracle filters choose from on validation (per blur kind).
ORACLE_SETTINGS = {
    "pseudo_inverse": (0.03, 0.1, 0.3),
    "wiener": tuple(float(v) for v in np.geomspace(1e-4, 1e-1, 7)),
    "cls": tuple(float(v) for v in np.geomspace(1e-4, 1e-1, 7)),
    "richardson_lucy": (5, 10, 20, 40, 80),
}


def oracle_methods(seed: int = 0) -> list[Method]:
    """The non-blind filters, given the true kernel of each item (the oracle rows).

    Uniform kinds: the circular filters of :mod:`deblurkit.restore` on a mirrored extension
    (:func:`deblurkit.restore.mirrored_restore`) and scikit-image's ``unsupervised_wiener``
    (which estimates its own regularisation). Non-uniform kind: Richardson-Lucy with the true
    kernels and weights (:func:`deblurkit.nonuniform.richardson_lucy_nonuniform`, linear
    intensity); the uniform filters do not apply to it.
    """
    from skimage.restoration import unsupervised_wiener

    uniform = KINDS[:-1]

    def filtered(fn, option=None):
        def run(it, settings):
            return {s: restore.mirrored_restore(fn, it["blurred"], it["psf"], **({option: s} if option else {})) for s in settings}

        return run

    def unsupervised(it, settings):
        def fn(img, k):
            return unsupervised_wiener(img, k, clip=False, rng=seed)[0]

        return {s: restore.mirrored_restore(fn, it["blurred"], it["psf"]) for s in settings}

    def rl(it, settings):
        if it["kind"] == "nonuniform":
            kept = nonuniform.richardson_lucy_nonuniform(it["blurred"], it["kernels"], it["weights"], record=settings, gamma=it["gamma"])
            return {s: kept[s] for s in settings}
        return {s: restore.mirrored_restore(restore.richardson_lucy, it["blurred"], it["psf"], num_iter=s) for s in settings}

    common = {"oracle": True, "per_kind": True}
    return [
        Method("inverse", "inverse", uniform, filtered(restore.inverse_filter), **common),
        Method("pseudo-inverse", "pseudo_inverse", uniform, filtered(restore.pseudo_inverse_filter, "threshold"), ORACLE_SETTINGS["pseudo_inverse"], **common),
        Method("Wiener", "wiener", uniform, filtered(restore.wiener_filter, "nsr"), ORACLE_SETTINGS["wiener"], **common),
        Method("CLS", "cls", uniform, filtered(restore.cls_filter, "gamma"), ORACLE_SETTINGS["cls"], **common),
        Method("Richardson-Lucy", "richardson_lucy", KINDS, rl, ORACLE_SETTINGS["richardson_lucy"], **common),
        Method("unsupervised Wiener (scikit-image)", "unsupervised_wiener", uniform, unsupervised, **common),
    ]


def sigma_map_levels(grid) -> np.ndarray:
    """Every third σ of a classifier's grid, plus its ends: the basis of the σ-map deconvolution."""
    g = np.asarray(grid, float)
    return np.unique(np.concatenate([g[::3], g[-1:]]))


def sigma_map_deconvolution(blurred, sigma_map, levels, *, iterations, gamma: float = 1.0) -> dict:
    """Richardson-Lucy for the spatially varying Gaussian blur of ``sigma_map`` (chapter 5's
    operator, :func:`deblurkit.nonuniform.gaussian_mixture`); ``{iterations: image}``."""
    kernels, weights = nonuniform.gaussian_mixture(sigma_map, levels)
    return nonuniform.richardson_lucy_nonuniform(blurred, kernels, weights, record=list(iterations), gamma=gamma)


def full_resolution_map(centres, shape, stride: int, offset: int) -> np.ndarray:
    """A map known at window centres ``offset + stride * i`` spread to every pixel of ``shape``
    (bilinear inside the centres, the nearest centre beyond them)."""
    from scipy.ndimage import map_coordinates

    grid = _validate.array(centres, "centres", ndim=2)
    rows, cols = np.indices(tuple(shape), dtype=float)
    coords = np.stack([(rows - offset) / stride, (cols - offset) / stride])
    return map_coordinates(grid, coords, order=1, mode="nearest")


# --------------------------------------------------------------------------------------------
# The reader's photo


def photo_input(photo, profile: str, seed: int = 0) -> dict:
    """The image the blind methods run on in the "your photo" section.

    Parameters
    ----------
    photo : str or Path or None
        A path to an image file (any size, grey or colour). Empty or None: the default, a
        held-out bundled colour image (chelsea, test split) blurred by a random camera-shake
        trajectory with :data:`NOISE_SIGMA` noise, as a camera would.
    profile : str
        Its longer side is resized to at most ``photo_side`` of :data:`EVALUATION_PROFILES`.

    Returns
    -------
    dict
        ``blurred`` (H, W, 3) float64 in [0, 1]; ``sharp`` (the same shape, or None for a
        reader's photo); ``description`` (a sentence for the page); ``resized`` (bool).

    Raises
    ------
    FileNotFoundError, ValueError
        Naming the ``photo`` parameter, when the file is missing or cannot be read as an image.
    """
    side = evaluation_settings(profile)["photo_side"]
    if photo in (None, ""):
        rng = np.random.default_rng([seed, 7])
        sharp = data.bundled_image("chelsea")
        scale = side / max(sharp.shape[:2])
        sharp = np.clip(data.resize(sharp, (round(sharp.shape[0] * scale), round(sharp.shape[1] * scale))), 0, 1)
        k = evaluation_settings(profile)["kernel_size"]
        kernel = nonuniform.random_shake_kernel(k, rng, min_length=3.0, max_length=k - 1.0)
        blurred = add_gaussian_noise(blur(sharp, kernel, mode="symmetric"), NOISE_SIGMA, rng, clip=True)
        return {
            "blurred": blurred,
            "sharp": sharp,
            "kernel": kernel,
            "resized": True,
            "description": (
                f"no photo was given, so the held-out bundled image chelsea ({sharp.shape[1]}x{sharp.shape[0]} px) "
                f"was blurred by a random {k}x{k} camera-shake kernel with noise sigma {NOISE_SIGMA}"
            ),
        }
    path = Path(photo).expanduser()
    try:
        img = data.read_rgb(path)
    except (FileNotFoundError, ValueError) as exc:
        raise type(exc)(f"photo: {exc}") from None
    if min(img.shape[:2]) < 32:
        raise ValueError(f"photo {str(path)!r} must be at least 32 px on a side, got shape {img.shape}")
    resized = max(img.shape[:2]) > side
    if resized:
        scale = side / max(img.shape[:2])
        img = np.clip(data.resize(img, (max(32, round(img.shape[0] * scale)), max(32, round(img.shape[1] * scale)))), 0, 1)
    return {
        "blurred": img,
        "sharp": None,
        "kernel": None,
        "resized": resized,
        "description": f"the reader's photo {path.name} ({img.shape[1]}x{img.shape[0]} px{', resized' if resized else ''})",
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
    from skimage.color import rgb2gray

    return rgb2gray(img)


# --------------------------------------------------------------------------------------------
# The Keras models, in their own process


#: The Keras chapters' models chapter 7 loads: chapter, model name (``None``: the chapter's only
#: model) and the architecture expected (``None``: not checked); the file is
#: :func:`deblurkit.checkpoints.checkpoint_path` ``(chapter, profile, name)``.
KERAS_CHECKPOINTS = {
    "estimator": ("02_estimating_acceleration", "estimator", None),
    "autoencoder": ("03_autoencoder", None, _AUTOENCODER_ARCHITECTURE),
    "sigma_classifier": ("04_sigma_map_cnn", "classifier30", {"classes": 30, "initializer": "he_normal"}),
}


def keras_checkpoint(model: str, profile: str) -> Path:
    """The file of one of :data:`KERAS_CHECKPOINTS` (``"estimator"``, ``"autoencoder"``,
    ``"sigma_classifier"``) in ``profile``: the path its chapter saved it to."""
    from .checkpoints import checkpoint_path

    chapter, name, _ = KERAS_CHECKPOINTS[_validate.choice(model, "model", set(KERAS_CHECKPOINTS))]
    return checkpoint_path(chapter, profile, name)

#: Stride of the σ classifier's windows, per profile (px).
SIGMA_MAP_STRIDE = {"smoke": 8, "cpu": 4, "gpu": 4}


def _npz_key(key: str, what: str) -> str:
    return f"{key.replace(':', '__')}__{what}"


def keras_predictions(profile: str, seed: int, out, *, photo=None) -> Path:
    """Run chapters 2-4's saved Keras models on the evaluation set (both splits) and the photo.

    Writes ``out`` (``.npz``): for every item the chapter-2 estimate ``a_hat`` (acceleration
    items), the autoencoder's restoration (every item) and the 30-class σ-map spread to every
    pixel (defocus and Gaussian items), each with the seconds it took (``<...>__seconds``);
    for the photo the same on its luminance (the autoencoder on its colours); and ``meta`` (JSON:
    the models' records, the Wiener settings chapter 7 needs).

    Raises
    ------
    FileNotFoundError, ValueError
        From :func:`deblurkit.checkpoints.require_checkpoint`: one sentence naming the chapter to run.
    """
    from . import acceleration_nets as an
    from . import autoencoder as ae
    from . import sigma_cnn
    from .train import load_keras_model

    estimator, est_meta = an.load_estimator(keras_checkpoint("estimator", profile), profile=profile)
    chapter, _, arch = KERAS_CHECKPOINTS["autoencoder"]
    autoencoder, ae_meta = load_keras_model(keras_checkpoint("autoencoder", profile), chapter=chapter, profile=profile, architecture=arch)
    chapter, _, arch = KERAS_CHECKPOINTS["sigma_classifier"]
    classifier, sc_meta = load_keras_model(keras_checkpoint("sigma_classifier", profile), chapter=chapter, profile=profile, architecture=arch)
    grid = np.asarray(sc_meta["sigma_grid"], float)
    stride = SIGMA_MAP_STRIDE[profile]
    a_max = float(est_meta["a_max"])

    def timed(fn, *args):
        start = time.perf_counter()
        value = fn(*args)
        return value, time.perf_counter() - start

    def sigma_full(image):
        centres = sigma_cnn.sigma_map(classifier, image, grid, stride=stride)
        return full_resolution_map(centres, image.shape, stride, sigma_cnn.PATCH // 2)

    def grey_of(rgb):
        return np.asarray(rgb, float).mean(axis=2)

    # one call of each before timing: the first predict of a Keras model builds its graph
    warm = np.zeros((max(64, int(estimator.input_shape[1])),) * 2)
    an.estimate_on_image(estimator, warm, a_max=a_max)
    ae.deblur_image(autoencoder, warm)
    sigma_cnn.sigma_map(classifier, warm[:48, :48], grid, stride=stride)

    arrays: dict[str, np.ndarray] = {}
    for split in SPLITS:
        for it in evaluation_set(profile, seed, split=split):
            g = it["blurred"]
            if it["kind"] == "acceleration":
                arrays[_npz_key(it["key"], "a_hat")], t = timed(lambda x: an.estimate_on_image(estimator, x, a_max=a_max), g)
                arrays[_npz_key(it["key"], "a_hat__seconds")] = np.array(t)
            restored, t = timed(lambda x: grey_of(ae.deblur_image(autoencoder, x)), g)
            arrays[_npz_key(it["key"], "autoencoder")] = restored
            arrays[_npz_key(it["key"], "autoencoder__seconds")] = np.array(t)
            if it["kind"] in ("defocus", "gaussian"):
                arrays[_npz_key(it["key"], "sigma_map")], t = timed(sigma_full, g)
                arrays[_npz_key(it["key"], "sigma_map__seconds")] = np.array(t)
    picture = photo_input(photo, profile, seed)
    grey = luminance(picture["blurred"])
    arrays["photo__a_hat"] = an.estimate_on_image(estimator, grey, a_max=a_max)
    arrays["photo__autoencoder"] = np.clip(ae.deblur_image(autoencoder, picture["blurred"]), 0, 1)
    arrays["photo__sigma_map"] = sigma_full(grey)
    meta = {
        "estimator": est_meta,
        "autoencoder": ae_meta,
        "sigma_classifier": sc_meta,
        "sigma_grid": grid.tolist(),
        "sigma_map_stride": stride,
    }
    arrays["meta"] = np.array(json.dumps(meta))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    return out


class KerasOutputs:
    """What :func:`keras_predictions` wrote, read back: ``outputs[item_key, what]`` and seconds."""

    def __init__(self, path) -> None:
        with np.load(Path(path), allow_pickle=False) as f:
            self._arrays = {k: f[k] for k in f.files}
        self.meta = json.loads(str(self._arrays.pop("meta")))

    def __getitem__(self, key_what: tuple[str, str]) -> np.ndarray:
        key, what = key_what
        return self._arrays[_npz_key(key, what)] if key != "photo" else self._arrays[f"photo__{what}"]

    def seconds(self, key: str, what: str) -> float:
        return float(self._arrays[_npz_key(key, f"{what}__seconds")])


def run_keras_subprocess(profile: str, seed: int, out, *, photo=None, python: str | None = None) -> KerasOutputs:
    """:func:`keras_predictions` in a fresh Python process (so that this one may hold torch).

    Raises
    ------
    RuntimeError
        With the subprocess's last error line (e.g. which chapter to run first).
    """
    import os
    import subprocess

    cmd = [python or sys.executable, "-m", "deblurkit.sidebyside", "keras", "--profile", profile, "--seed", str(seed), "--out", str(out)]
    if photo:
        cmd += ["--photo", str(photo)]
    # one thread, as the torch methods get, so that the seconds per image compare
    threads = {k: "1" for k in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")}
    env = {**os.environ, **threads, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
        raise RuntimeError(lines[-1] if lines else f"the Keras subprocess failed with exit code {done.returncode}")
    return KerasOutputs(out)


# --------------------------------------------------------------------------------------------
# Tables and the claims ledger


def best_method(results: dict, kind: str) -> str:
    """Name of the method with the highest mean test PSNR on ``kind`` (``results[name][kind]``)."""
    scores = {name: float(np.mean(r[kind]["psnr"])) for name, r in results.items() if kind in r}
    if not scores:
        raise ValueError(f"no method has results on {kind!r}")
    return max(scores, key=scores.get)


def ledger_rows(verdicts: Sequence[dict]) -> list[dict]:
    """One row per seed claim: seed, claim, verdict, the deciding numbers and the chapter."""
    rows = []
    for v in verdicts:
        numbers = []
        unit = f" {v['unit']}" if v.get("unit") else ""
        digits = 4  # enough digits that a claimed and a measured number never print alike
        while digits < 12 and None not in (v.get("claimed"), v.get("measured")) and v["claimed"] != v["measured"] and f"{v['claimed']:.{digits}g}" == f"{v['measured']:.{digits}g}":
            digits += 1
        if v.get("claimed") is not None:
            numbers.append(f"claimed {v['claimed']:.{digits}g}{unit}")
        if v.get("measured") is not None:
            numbers.append(f"measured {v['measured']:.{digits}g}{unit}")
        if v.get("tolerance") is not None:
            numbers.append(f"tolerance {v['tolerance']:.3g}{unit}")
        rows.append({"seed": v["seed"], "claim": v["claim"], "verdict": v["verdict"], "numbers": "; ".join(numbers), "reason": v["reason"], "chapter": v["chapter"]})
    return sorted(rows, key=lambda r: (r["seed"], r["chapter"]))


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An HTML table (the book renders a code cell's HTML output as it is; a Markdown output
    would lose its table). Cells are escaped, except those given as ``("html", markup)``."""
    import html

    def cell(value, tag):
        markup = value[1] if isinstance(value, tuple) and value[0] == "html" else html.escape(str(value))
        return f"<{tag}>{markup}</{tag}>"

    head = "".join(cell(h, "th") for h in header)
    body = "".join("<tr>" + "".join(cell(v, "td") for v in r) + "</tr>" for r in rows)
    return f'<table class="table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def ledger_html(rows: Sequence[dict]) -> str:
    """The ledger as an HTML table; each chapter links to its page (``<chapter>.html``)."""
    import html

    cells = []
    for r in rows:
        number = r["chapter"].split("_")[0].lstrip("0") or "0"
        link = ("html", f'<a href="{html.escape(r["chapter"])}.html">chapter {number}</a>')
        verdict = ("html", f"<strong>{html.escape(r['verdict'])}</strong>")
        cells.append([r["seed"], r["claim"], verdict, r["numbers"] or r["reason"], link])
    return html_table(["seed", "claim", "verdict", "deciding numbers", "chapter"], cells)


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deblurkit.sidebyside", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    keras_cmd = sub.add_parser("keras", help="run chapters 2-4's Keras models on the evaluation set")
    keras_cmd.add_argument("--profile", required=True, choices=sorted(EVALUATION_PROFILES))
    keras_cmd.add_argument("--seed", type=int, default=0)
    keras_cmd.add_argument("--out", required=True)
    keras_cmd.add_argument("--photo", default=None)
    args = parser.parse_args(argv)
    try:
        keras_predictions(args.profile, args.seed, args.out, photo=args.photo)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main())
