"""Methods as chapter 8 runs them: a record of how to restore an item and which settings to try,
evaluated with the setting chosen on validation and timed per image; the oracle filters;
sigma-map deconvolution through the non-uniform operator.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

import numpy as np
from scipy.ndimage import map_coordinates
from skimage.restoration import unsupervised_wiener

from ..evaluation.items import BLUR_KINDS
from ..imaging import metrics, nonuniform, restore
from ..runtime import validate as _validate

# --------------------------------------------------------------------------------------------
# Methods and their evaluation


@dataclasses.dataclass
class Method:
    """One restoration method as chapter 8 runs it.

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


def _timed_restore(method: Method, item: dict, setting) -> tuple[np.ndarray, float]:
    """``method``'s restoration of ``item`` at ``setting`` and its seconds (wall time here plus
    :attr:`Method.elsewhere_seconds`)."""
    start = time.perf_counter()
    image = method.restore(item, [setting])[setting]
    seconds = time.perf_counter() - start
    if method.elsewhere_seconds is not None:
        seconds += float(method.elsewhere_seconds(item))
    return image, seconds


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
        image, seconds = _timed_restore(method, it, setting)
        p, s = _score(it, image)
        row = out.setdefault(it["kind"], {"setting": setting, "psnr": [], "ssim": [], "seconds": [], "images": [], "keys": []})
        for name, value in (("psnr", p), ("ssim", s), ("seconds", seconds), ("images", np.clip(image, 0, 1)), ("keys", it["key"])):
            row[name].append(value)
    return out


def retime(method: Method, by_kind: dict, test: Sequence[dict], *, per_kind: int) -> dict:
    """Time ``method`` again on a sample of the test items: chapter 8's one-thread CPU seconds of
    a network that was evaluated on a GPU.

    ``by_kind`` is what :func:`evaluate` returned for the method run on the GPU; ``method`` is
    the same restoration with its network on the CPU. It restores the first ``per_kind`` test
    items of each kind in ``by_kind``, at the setting chosen there, and is timed as
    :func:`evaluate` times. The scores and images stay the GPU run's.

    Parameters
    ----------
    method : Method
    by_kind : dict
        :func:`evaluate`'s result for the same method on the other device.
    test : sequence of dict
        The test items :func:`evaluate` restored.
    per_kind : int
        Items timed per kind (>= 1; fewer where a kind has fewer).

    Returns
    -------
    dict
        ``by_kind`` with, per kind, ``"seconds"`` replaced by the CPU seconds of the timed
        items and the measured ones moved to ``"device_seconds"``; ``"timed_keys"`` names the
        timed items and ``"timed_psnr"`` gives the PSNR (dB) of their CPU restorations, to set
        against the GPU's ``"psnr"`` of the same items.
    """
    per_kind = _validate.integer(per_kind, "per_kind", minimum=1)
    test_keys = {it["key"] for it in test}
    out = {}
    for kind, row in by_kind.items():
        missing = [k for k in row["keys"] if k not in test_keys]
        if missing:
            raise ValueError(f"test holds no item {missing[0]!r} of the {kind} results of {method.name!r}")
        timed = [it for it in test if it["key"] in row["keys"]][:per_kind]
        seconds, psnrs = [], []
        for it in timed:
            image, elapsed = _timed_restore(method, it, row["setting"])
            seconds.append(elapsed)
            psnrs.append(_score(it, image)[0])
        out[kind] = {**row, "seconds": seconds, "device_seconds": list(row["seconds"]),
                     "timed_keys": [it["key"] for it in timed], "timed_psnr": psnrs}
    return out


def blurred_input() -> Method:
    """The blurred image itself: the row every method must beat."""
    return Method("blurred input", "blurred", BLUR_KINDS, lambda it, ss: {s: it["blurred"] for s in ss})


def in_linear(restore_linear: Callable, image, gamma: float) -> np.ndarray:
    """Run a restoration in linear intensity: decode ``image`` (values in [0, 1], display gamma
    ``gamma`` > 0; 1 for linear data), apply ``restore_linear`` and encode the result (clipped to
    [0, 1]). How every filter of chapter 8 receives the item's gamma."""
    linear = nonuniform.gamma_decode(image, gamma)
    return nonuniform.gamma_encode(restore_linear(linear), gamma)


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
    kernels and weights (:func:`deblurkit.nonuniform.richardson_lucy_nonuniform`); the uniform
    filters do not apply to it. Every filter works in linear intensity with the item's
    ``gamma`` (:func:`in_linear`).
    """
    uniform = BLUR_KINDS[:-1]

    def filtered(fn, option=None):
        def run(it, settings):
            def one(s):
                return lambda y: restore.mirrored_restore(fn, y, it["psf"], **({option: s} if option else {}))

            return {s: in_linear(one(s), it["blurred"], it["gamma"]) for s in settings}

        return run

    def unsupervised(it, settings):
        def fn(img, k):
            return unsupervised_wiener(img, k, clip=False, rng=seed)[0]

        restored = in_linear(lambda y: restore.mirrored_restore(fn, y, it["psf"]), it["blurred"], it["gamma"])
        return {s: restored for s in settings}

    def rl(it, settings):
        if it["kind"] == "nonuniform":
            kept = nonuniform.richardson_lucy_nonuniform(it["blurred"], it["kernels"], it["weights"], record=settings, gamma=it["gamma"])
            return {s: kept[s] for s in settings}
        def one(s):
            return lambda y: restore.mirrored_restore(restore.richardson_lucy, y, it["psf"], num_iter=s)

        return {s: in_linear(one(s), it["blurred"], it["gamma"]) for s in settings}

    common = {"oracle": True, "per_kind": True}
    return [
        Method("inverse", "inverse", uniform, filtered(restore.inverse_filter), **common),
        Method("pseudo-inverse", "pseudo_inverse", uniform, filtered(restore.pseudo_inverse_filter, "threshold"), ORACLE_SETTINGS["pseudo_inverse"], **common),
        Method("Wiener", "wiener", uniform, filtered(restore.wiener_filter, "nsr"), ORACLE_SETTINGS["wiener"], **common),
        Method("CLS", "cls", uniform, filtered(restore.cls_filter, "gamma"), ORACLE_SETTINGS["cls"], **common),
        Method("Richardson-Lucy", "richardson_lucy", BLUR_KINDS, rl, ORACLE_SETTINGS["richardson_lucy"], **common),
        Method("unsupervised Wiener (scikit-image)", "unsupervised_wiener", uniform, unsupervised, **common),
    ]


#: The blind L0 method's grid per profile: (kernel window in px, the final step's data weight),
#: chosen once on all validation items (a blind method does not know the kind). The kernel
#: step's L2 weight stays the library's default (``imaging.blind.estimate_kernel``).
BLIND_L0_SETTINGS = {
    "smoke": ((15, 1000.0),),
    "cpu": tuple((ks, w) for ks in (15, 23) for w in (500.0, 1000.0)),  # 500: chapter 7's choice
    "gpu": tuple((ks, w) for ks in (15, 23, 31) for w in (500.0, 1000.0, 2000.0)),
}


def blind_l0_method(profile: str) -> Method:
    """Chapter 7's blind deconvolution (L0 gradient prior, coarse to fine; no learning) as a
    chapter-8 method: the kernel estimated once per window on the item's linear luminance and
    reused for every weight; a refused estimate returns the input, scored as it is."""
    from ..imaging import blind

    settings = BLIND_L0_SETTINGS[_validate.choice(profile, "profile", set(BLIND_L0_SETTINGS))]

    def run(it, chosen):
        grey = blind.working_luminance(it["blurred"], it["gamma"])
        estimates, out = {}, {}
        for size, weight in chosen:
            if size not in estimates:
                estimates[size] = blind.estimate_kernel(grey, size)
            result = blind.blind_deconvolve(it["blurred"], size, gamma=it["gamma"], weight=weight, estimate=estimates[size])
            out[(size, weight)] = result.restored
        return out

    return Method("blind L0 (ch. 7)", "blind_l0", BLUR_KINDS, run, settings, chapter="07_blind_deconvolution")


def sigma_map_levels(grid) -> np.ndarray:
    """Every third σ of a classifier's grid, plus its ends: the basis of the σ-map deconvolution."""
    g = np.asarray(grid, float)
    return np.unique(np.concatenate([g[::3], g[-1:]]))


def sigma_map_deconvolution(blurred, sigma_map, levels, *, iterations, gamma: float) -> dict:
    """Richardson-Lucy for the spatially varying Gaussian blur of ``sigma_map`` (chapter 5's
    operator, :func:`deblurkit.nonuniform.gaussian_mixture`), in linear intensity with the
    item's display ``gamma``; ``{iterations: image}``."""
    kernels, weights = nonuniform.gaussian_mixture(sigma_map, levels)
    return nonuniform.richardson_lucy_nonuniform(blurred, kernels, weights, record=list(iterations), gamma=gamma)


def full_resolution_map(centres, shape, stride: int, offset: int) -> np.ndarray:
    """A map known at window centres ``offset + stride * i`` spread to every pixel of ``shape``
    (bilinear inside the centres, the nearest centre beyond them)."""
    grid = _validate.array(centres, "centres", ndim=2)
    rows, cols = np.indices(tuple(shape), dtype=float)
    coords = np.stack([(rows - offset) / stride, (cols - offset) / stride])
    return map_coordinates(grid, coords, order=1, mode="nearest")
