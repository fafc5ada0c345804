"""gradient_sharpness against a hand computation, and its direction under blur; mean_scores'
paper SSIM option."""

import numpy as np
from scipy.ndimage import gaussian_filter

from deblurkit.imaging import metrics


def test_a_ramp_has_its_slope_as_sharpness():
    ramp = np.tile(np.arange(12) * 0.05, (7, 1))
    assert np.isclose(metrics.gradient_sharpness(ramp), 0.05)
    assert np.isclose(metrics.gradient_sharpness(np.stack([ramp] * 3, axis=2)), 0.05)


def test_blur_lowers_sharpness():
    image = np.random.default_rng(0).uniform(size=(40, 40))
    assert metrics.gradient_sharpness(gaussian_filter(image, 2)) < 0.5 * metrics.gradient_sharpness(image)


def test_mean_scores_adds_the_papers_ssim_on_request():
    rng = np.random.default_rng(1)
    a = [rng.uniform(size=(24, 24)) for _ in range(2)]
    b = [np.clip(x + 0.05 * rng.normal(size=x.shape), 0, 1) for x in a]
    plain = metrics.mean_scores(a, b)
    both = metrics.mean_scores(a, b, paper_ssim=True)
    assert set(plain) == {"psnr", "ssim"} and plain.items() <= both.items()
    assert np.isclose(both["ssim_paper"], np.mean([metrics.ssim(x, y, paper=True) for x, y in zip(a, b)]))
