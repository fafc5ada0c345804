import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from deblurkit import data
from deblurkit.imaging import blur
from deblurkit.imaging import metrics
from deblurkit.imaging import psf


@pytest.fixture(scope="module")
def pair(camera64):
    return camera64, blur.add_gaussian_noise(blur.blur(camera64, psf.disk_psf(1.5)), 0.02, 3)


def test_psnr_agrees_with_scikit_image(pair):
    ref, est = pair
    assert metrics.psnr(ref, est) == pytest.approx(peak_signal_noise_ratio(ref, est, data_range=1.0), abs=1e-6)
    assert metrics.psnr(ref * 255, est * 255, data_range=255) == pytest.approx(metrics.psnr(ref, est), abs=1e-6)


def test_psnr_is_infinite_for_identical_images(camera64):
    assert metrics.psnr(camera64, camera64) == float("inf")


def test_ssim_agrees_with_scikit_image_in_both_settings(pair):
    ref, est = pair
    assert metrics.ssim(ref, est) == pytest.approx(structural_similarity(ref, est, data_range=1.0), abs=1e-6)
    paper = structural_similarity(ref, est, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    assert metrics.ssim(ref, est, paper=True) == pytest.approx(paper, abs=1e-6)
    assert metrics.ssim(ref, est, paper=True) != pytest.approx(metrics.ssim(ref, est), abs=1e-6)


def test_colour_ssim_averages_channels(astronaut32):
    noisy = np.clip(astronaut32 + 0.05, 0, 1)
    expected = structural_similarity(astronaut32, noisy, data_range=1.0, channel_axis=-1)
    assert metrics.ssim(astronaut32, noisy) == pytest.approx(expected, abs=1e-6)


@pytest.fixture(scope="module")
def pair8():
    """8-bit reference and noisy estimate (the issue's example: 26.8 dB / 0.46 on a 512x512 camera)."""

    ref = data.bundled_image("camera")
    est = np.clip(ref + np.random.default_rng(0).normal(0, 0.05, ref.shape), 0, 1)
    return (ref * 255).round().astype(np.uint8), (est * 255).round().astype(np.uint8)


def test_integer_images_are_scored_on_their_dtype_range(pair8):
    ref, est = pair8
    assert metrics.psnr(ref, est) == pytest.approx(peak_signal_noise_ratio(ref, est, data_range=255), abs=1e-9)
    assert metrics.ssim(ref, est) == pytest.approx(structural_similarity(ref, est, data_range=255), abs=1e-9)
    assert metrics.psnr(ref, est, data_range=255) == metrics.psnr(ref, est)
    assert 20 < metrics.psnr(ref, est) < 35 and metrics.ssim(ref, est) > 0.3
    assert metrics.psnr(ref, est) == pytest.approx(metrics.psnr(ref / 255, est / 255), abs=1e-9)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda r, e: metrics.psnr(r, e, data_range=1.0), "data_range=1 contradicts .* uint8"),
        (lambda r, e: metrics.ssim(r, e, data_range=1.0), "data_range=1 contradicts"),
        (lambda r, e: metrics.psnr(r.astype(float), e.astype(float)), r"reference must lie in \[0, data_range\]"),
        (lambda r, e: metrics.ssim(r.astype(float), e.astype(float)), r"reference must lie in \[0, data_range\]"),
        (lambda r, e: metrics.psnr(r, e / 255.0), "same scale"),
        (lambda r, e: metrics.psnr(r, e.astype(np.uint16)), "same scale"),
        (lambda r, e: metrics.mean_scores([r.astype(float)], [e.astype(float)]), "reference must lie"),
    ],
)
def test_a_wrong_intensity_range_cannot_go_unnoticed(call, message, pair8):
    with pytest.raises(ValueError, match=message):
        call(*pair8)


def test_float_reference_must_lie_in_the_declared_range_but_the_estimate_may_overshoot(camera64):
    overshoot = camera64 * 1.3 - 0.15  # what an inverse filter can return
    assert np.isfinite(metrics.psnr(camera64, overshoot)) and np.isfinite(metrics.ssim(camera64, overshoot))
    assert metrics.psnr(camera64 * 255, overshoot * 255, data_range=255) == pytest.approx(metrics.psnr(camera64, overshoot))
    with pytest.raises(ValueError, match="reference"):
        metrics.psnr(camera64 - 0.1, camera64)
    with pytest.raises(ValueError, match="reference"):
        metrics.ssim(camera64 * 2, camera64, data_range=1.5)


@pytest.mark.parametrize("side, paper, ok", [(6, False, False), (7, False, True), (10, True, False), (11, True, True)])
def test_ssim_needs_an_image_at_least_as_large_as_its_window(side, paper, ok):
    img = np.random.default_rng(0).uniform(size=(side, side + 3))
    if ok:
        assert metrics.ssim(img, img * 0.9, paper=paper) < 1
    else:
        with pytest.raises(ValueError, match=f"at least {11 if paper else 7}x{11 if paper else 7}"):
            metrics.ssim(img, img * 0.9, paper=paper)


def test_mean_scores_accepts_generators_and_batch_arrays(pair):
    ref, est = pair
    expected = metrics.mean_scores([ref, ref], [est, est])
    assert metrics.mean_scores((r for r in [ref, ref]), (e for e in [est, est])) == expected
    assert metrics.mean_scores(np.stack([ref, ref]), np.stack([est, est])) == expected
    with pytest.raises(TypeError, match="references"):
        metrics.mean_scores(3, [est])
    with pytest.raises(ValueError, match="batch axis"):
        metrics.mean_scores(ref, est)


def test_sigma_rmse():
    assert metrics.sigma_rmse([1.0, 2.0, 3.0], [1.0, 2.0, 5.0]) == pytest.approx(np.sqrt(4 / 3))


def test_mean_scores_average_per_pair(pair):
    ref, est = pair
    out = metrics.mean_scores([ref, ref], [est, ref * 0.9])
    assert out["psnr"] == pytest.approx((metrics.psnr(ref, est) + metrics.psnr(ref, ref * 0.9)) / 2)
    assert out["ssim"] == pytest.approx((metrics.ssim(ref, est) + metrics.ssim(ref, ref * 0.9)) / 2)
    with pytest.raises(ValueError, match="equally long"):
        metrics.mean_scores([ref], [])
    with pytest.raises(ValueError, match="references"):
        metrics.mean_scores([], [])


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: metrics.psnr(np.ones((4, 4)), np.ones((4, 5))), "same shape"),
        (lambda: metrics.psnr(np.ones((4, 4)), np.full((4, 4), np.nan)), "estimate"),
        (lambda: metrics.psnr(np.ones((4, 4)), np.zeros((4, 4)), data_range=0), "data_range"),
        (lambda: metrics.ssim(np.ones((8, 8)), np.zeros((8, 8)), data_range=-1), "data_range"),
        (lambda: metrics.ssim(np.ones(8), np.zeros(8)), "reference"),
        (lambda: metrics.sigma_rmse([], []), "true_sigma"),
        (lambda: metrics.sigma_rmse([1.0], [1.0, 2.0]), "same shape"),
    ],
)
def test_bad_input_raises_value_error_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
