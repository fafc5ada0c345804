"""Chapters 2-4's Keras models run on the evaluation set in their own process
(``python -m deblurkit.evaluation.keras_worker keras ...``), so that no process imports both
TensorFlow and torch; the outputs come back as a NumPy archive.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ..book.checkpoints import checkpoint_path
from ..evaluation.items import (
    EVALUATION_PROFILES,
    EVALUATION_SPLITS,
    evaluation_set,
    luminance,
    photo_input,
)
from ..evaluation.methods import full_resolution_map
from ..evaluation.tiling import tiled_apply
from ..models import acceleration_nets, sigma_cnn
from ..models import autoencoder as ae
from ..models.autoencoder import REPORT_ARCHITECTURE as _AUTOENCODER_ARCHITECTURE
from ..runtime import validate as _validate
from ..training import keras
from ..training.keras import load_keras_model

# --------------------------------------------------------------------------------------------
# The Keras models, in their own process


#: The Keras chapters' models chapter 8 loads: chapter, model name (``None``: the chapter's only
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
    the models' records, the Wiener settings chapter 8 needs).

    Raises
    ------
    FileNotFoundError, ValueError
        From :func:`deblurkit.checkpoints.require_checkpoint`: one sentence naming the chapter to run.
    """

    estimator, est_meta = keras.load_estimator(keras_checkpoint("estimator", profile), profile=profile)
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

    def sigma_full(image, step=stride):
        centres = sigma_cnn.sigma_map(classifier, image, grid, stride=step)
        return full_resolution_map(centres, image.shape, step, sigma_cnn.PATCH // 2)

    def grey_of(rgb):
        return np.asarray(rgb, float).mean(axis=2)

    # one call of each before timing: the first predict of a Keras model builds its graph
    warm = np.zeros((max(64, int(estimator.input_shape[1])),) * 2)
    acceleration_nets.estimate_on_image(estimator, warm, a_max=a_max)
    ae.deblur_image(autoencoder, warm)
    sigma_cnn.sigma_map(classifier, warm[:48, :48], grid, stride=stride)

    arrays: dict[str, np.ndarray] = {}
    for split in EVALUATION_SPLITS:
        for it in evaluation_set(profile, seed, split=split):
            g = it["blurred"]
            if it["kind"] == "acceleration":
                arrays[_npz_key(it["key"], "a_hat")], t = timed(lambda x: acceleration_nets.estimate_on_image(estimator, x, a_max=a_max), g)
                arrays[_npz_key(it["key"], "a_hat__seconds")] = np.array(t)
            restored, t = timed(lambda x: grey_of(ae.deblur_image(autoencoder, x)), g)
            arrays[_npz_key(it["key"], "autoencoder")] = restored
            arrays[_npz_key(it["key"], "autoencoder__seconds")] = np.array(t)
            if it["kind"] in ("defocus", "gaussian"):
                arrays[_npz_key(it["key"], "sigma_map")], t = timed(sigma_full, g)
                arrays[_npz_key(it["key"], "sigma_map__seconds")] = np.array(t)
    picture = photo_input(photo, profile, seed)
    grey = luminance(picture["blurred"])
    arrays["photo__a_hat"] = acceleration_nets.estimate_on_image(estimator, grey, a_max=a_max)
    # the autoencoder takes fixed-size tiles: overlapping, cross-faded where they meet (no seams)
    tile = int(autoencoder.input_shape[1])
    rgb = picture["blurred"] if picture["blurred"].ndim == 3 else np.repeat(picture["blurred"][..., None], 3, axis=2)
    arrays["photo__autoencoder"] = np.clip(tiled_apply(lambda w: autoencoder.predict(w.astype(np.float32), batch_size=16, verbose=0), rgb, tile=tile, overlap=tile // 4), 0, 1)
    # about 128 windows along the longer side at most, so a large photo takes seconds, not minutes
    photo_stride = max(stride, -(-max(grey.shape) // 128))
    arrays["photo__sigma_map"] = sigma_full(grey, photo_stride)
    meta = {
        "estimator": est_meta,
        "autoencoder": ae_meta,
        "sigma_classifier": sc_meta,
        "sigma_grid": grid.tolist(),
        "sigma_map_stride": stride,
        "photo_sigma_map_stride": photo_stride,
        "autoencoder_tile": {"tile": tile, "overlap": tile // 4},
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

    cmd = [python or sys.executable, "-m", "deblurkit.evaluation.keras_worker", "keras", "--profile", profile, "--seed", str(seed), "--out", str(out)]
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


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deblurkit.evaluation.keras_worker", description=__doc__.splitlines()[0])
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
