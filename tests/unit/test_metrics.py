import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from deblurkit import blur, metrics, psf


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
