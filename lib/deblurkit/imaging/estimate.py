"""Classical blur-parameter estimation: the accelerations (a_x, a_y) from the blurred spectrum,
by matching the closed-form transfer function's zeros (chapter 2's baseline).
"""

from __future__ import annotations

import numpy as np

from ..imaging.otf import acceleration_transfer_alpha, frequency_grid
from ..imaging.psf import DEFAULT_EXPOSURE
from ..runtime import validate as _validate

#: Bytes of working memory per (candidate, frequency) pair while the models are computed
#: (alpha, z, the Fresnel pair, the complex H, the gain: about eight float64 arrays).
_BYTES_PER_ELEMENT = 64


class SpectralAccelerationEstimator:
    """Estimate ``(a_x, a_y)`` of uniform-acceleration blur from the blurred image's spectrum.

    Image derivatives of natural images are close to white noise, so the power spectrum of
    the *derivative* of a blurred image is about ``c |H_a(w)|^2`` plus a flat noise floor
    (the idea behind Yitzhaky and Kopeika's motion-blur identification). The estimator
    correlates that periodogram with ``|H_a|^2`` for every candidate ``a`` on a grid (both
    centred, so ``c`` and the floor drop out), keeps the best, and refines it on a finer
    local grid. The fit is in the linear domain: the strong low frequencies, where the blur's
    signature is clearest, carry the weight. No training, no data set.

    Parameters
    ----------
    shape : (int, int)
        Shape of the images to be analysed.
    exposure : float
        Exposure time ``T``, > 0.
    a_max : float
        Candidates cover ``[0, a_max]`` for both accelerations, > 0 (``|H|`` cannot tell
        ``a`` from ``-a``, so signs are not estimated).
    step : float
        Spacing of the coarse candidate grid, in (0, a_max].
    refine_step : float
        Spacing of the local grid (``±step`` around the coarse winner), in (0, step].
    max_memory_mib : float
        Bound on the memory the estimator uses, in MiB (>= 16). The models of the candidates
        are computed in chunks that fit in a quarter of it; they are kept between calls when
        all of them fit in the rest (small images), and recomputed per call otherwise, so
        memory stays bounded for any image size at the cost of time.
    """

    def __init__(
        self,
        shape,
        *,
        exposure: float = DEFAULT_EXPOSURE,
        a_max: float = 2.0,
        step: float = 0.05,
        refine_step: float = 0.01,
        max_memory_mib: float = 256.0,
    ):
        self.exposure = _validate.positive_scalar(exposure, "exposure")
        self.a_max = _validate.positive_scalar(a_max, "a_max")
        self.step = _validate.positive_scalar(step, "step")
        if self.step > self.a_max:
            raise ValueError(f"step must be <= a_max={self.a_max}, got {self.step}")
        self.refine_step = _validate.positive_scalar(refine_step, "refine_step")
        if self.refine_step > self.step:
            raise ValueError(f"refine_step must be <= step={self.step}, got {self.refine_step}")
        self.max_memory_mib = _validate.positive_scalar(max_memory_mib, "max_memory_mib")
        if self.max_memory_mib < 16:
            raise ValueError(f"max_memory_mib must be >= 16, got {self.max_memory_mib}")
        rows, cols = _validate.shape2(shape)
        if rows < 4 or cols < 4:
            raise ValueError(f"shape must be at least (4, 4): the estimator needs a spectrum to fit, got {(rows, cols)}")
        u, v = frequency_grid((rows, cols))
        self.shape = (rows, cols)
        u = np.broadcast_to(u, self.shape).ravel()
        v = np.broadcast_to(v, self.shape).ravel()
        self._u, self._v = u[1:], v[1:]  # drop the zero frequency (index 0)
        # Power gain of a finite-difference gradient: whitens a 1/|w|^2 image spectrum.
        self._derivative_gain = 4 * np.sin(np.pi * self._u) ** 2 + 4 * np.sin(np.pi * self._v) ** 2
        axis = np.arange(0.0, self.a_max + 1e-9, self.step)
        ax, ay = np.meshgrid(axis, axis, indexing="ij")
        self.candidates = np.stack([ax.ravel(), ay.ravel()], axis=1)
        budget = self.max_memory_mib * 2**20
        n_freq = self._u.size
        # Chunks of candidates whose working arrays fit in a quarter of the budget.
        self._chunk = max(1, int(budget / 4 // (_BYTES_PER_ELEMENT * n_freq)))
        # Keep all coarse models (float32) only if they fit in half of the budget.
        self._model = None
        if len(self.candidates) * n_freq * 4 <= budget / 2:
            self._model, self._norm = self._models(self.candidates)

    def _models(self, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Centred ``|H_a|^2`` per candidate (rows, float32) and the rows' norms, chunk by chunk."""
        model = np.empty((len(candidates), self._u.size), np.float32)
        norm = np.empty(len(candidates))
        for start in range(0, len(candidates), self._chunk):
            part = candidates[start : start + self._chunk]
            alpha = part[:, :1] * self._u[None, :] + part[:, 1:] * self._v[None, :]
            gain = np.abs(acceleration_transfer_alpha(alpha, self.exposure)) ** 2
            del alpha
            gain -= gain.mean(axis=1, keepdims=True)
            model[start : start + len(part)] = gain
            # A flat model (a = 0) carries no shape; give it a tiny norm and a zero score.
            norm[start : start + len(part)] = np.maximum(np.linalg.norm(gain, axis=1), 1e-12)
        return model, norm

    def _coarse_scores(self, spectra: np.ndarray) -> np.ndarray:
        """Scores ``(n_candidates, n_images)`` of the coarse grid, from kept or chunked models."""
        if self._model is not None:
            return (self._model @ spectra) / self._norm[:, None]
        out = np.empty((len(self.candidates), spectra.shape[1]))
        for start in range(0, len(self.candidates), self._chunk):
            model, norm = self._models(self.candidates[start : start + self._chunk])
            out[start : start + len(model)] = (model @ spectra) / norm[:, None]
        return out

    def estimate(self, images) -> np.ndarray:
        """Estimated ``(a_x, a_y)`` for one image ``(H, W)`` or a batch ``(n, H, W)``.

        Returns
        -------
        ndarray, shape (2,) or (n, 2)
        """
        batch = _validate.array(images, "images", ndim=(2, 3))
        single = batch.ndim == 2
        batch = batch[None] if single else batch
        if batch.shape[1:] != self.shape:
            raise ValueError(f"images must have shape {self.shape} (per image), got {batch.shape[1:]}")
        offsets = np.arange(-self.step, self.step + 1e-9, self.refine_step)
        local = np.stack(np.meshgrid(offsets, offsets, indexing="ij"), axis=-1).reshape(-1, 2)
        spectra = np.empty((self._u.size, len(batch)), np.float32)
        for n, img in enumerate(batch):
            power = (np.abs(np.fft.fft2(img - img.mean())) ** 2).ravel()[1:] * self._derivative_gain
            spectra[:, n] = power - power.mean()
        best = self.candidates[np.argmax(self._coarse_scores(spectra), axis=0)]
        out = np.empty((len(batch), 2))
        for n in range(len(batch)):
            fine = np.clip(best[n] + local, 0.0, self.a_max)
            model, norm = self._models(fine)
            out[n] = fine[np.argmax((model @ spectra[:, n]) / norm)]
        return out[0] if single else out
