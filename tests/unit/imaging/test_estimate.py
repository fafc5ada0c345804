import numpy as np
import pytest

from deblurkit import data
from deblurkit.imaging import estimate


@pytest.fixture(scope="module")
def sources():
    return [data.resize(data.bundled_image(n, gray=True), (128, 128)) for n in ("camera", "astronaut")]


def test_spectral_estimator_beats_the_mean_by_a_wide_margin(sources):
    ds = data.acceleration_dataset(sources, 40, crop_size=64, formations=("model",), rng=0)
    est = estimate.SpectralAccelerationEstimator((64, 64), step=0.1, refine_step=0.02)
    error = np.abs(est.estimate(ds["blurred_model"]) - ds["labels"])
    baseline = np.abs(ds["labels"] - ds["labels"].mean(axis=0))
    assert np.median(error) < 0.5 * np.median(baseline)


def test_spectral_estimator_single_image_and_shape_check(sources):
    est = estimate.SpectralAccelerationEstimator((32, 32), step=0.2, refine_step=0.1)
    ds = data.acceleration_dataset(sources, 1, crop_size=32, formations=("model",), rng=0)
    assert est.estimate(ds["blurred_model"][0]).shape == (2,)
    with pytest.raises(ValueError, match="images"):
        est.estimate(np.zeros((2, 16, 16)))


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda s: estimate.SpectralAccelerationEstimator((16, 16), step=3.0), "step"),
        (lambda s: estimate.SpectralAccelerationEstimator((16, 16), step=0.1, refine_step=0.2), "refine_step"),
        (lambda s: estimate.SpectralAccelerationEstimator((16, 16), exposure=-1), "exposure"),
        (lambda s: estimate.SpectralAccelerationEstimator((1, 1)), r"shape must be at least \(4, 4\)"),
        (lambda s: estimate.SpectralAccelerationEstimator(16), "shape must be a pair"),
        (lambda s: estimate.SpectralAccelerationEstimator((16, 16), max_memory_mib=1), "max_memory_mib"),
    ],
)
def test_bad_input_raises_value_error_naming_the_parameter(call, name, sources):
    with pytest.raises(ValueError, match=name):
        call(sources)


def test_chunked_estimation_gives_the_same_answer_within_a_memory_bound(sources):
    import tracemalloc

    ds = data.acceleration_dataset(sources, 4, crop_size=64, formations=("model",), rng=2)
    kept = estimate.SpectralAccelerationEstimator((64, 64), step=0.05, refine_step=0.05)
    tracemalloc.start()
    try:
        chunked = estimate.SpectralAccelerationEstimator((64, 64), step=0.05, refine_step=0.05, max_memory_mib=16)
        result = chunked.estimate(ds["blurred_model"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert chunked._model is None and kept._model is not None
    assert np.array_equal(result, kept.estimate(ds["blurred_model"]))
    assert peak < 16 * 2**20
