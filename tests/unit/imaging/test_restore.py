"""Restoration tests against formulas written out here, on kernels without symmetry.

Each filter is compared with its textbook frequency-domain formula computed in the test with
``numpy.fft`` on the full complex spectrum and an OTF from the DFT sum (conftest.reference_otf),
for kernels whose OTF is complex: a filter that drops a conjugate, uses the kernel where the
flipped kernel belongs, or transposes an axis gives a different image. Richardson-Lucy is
compared with the iteration written with ``scipy.ndimage.convolve`` and the flipped kernel.
"""

import numpy as np
import pytest
from tests.unit.conftest import l_kernel, reference_otf
from scipy import ndimage

from deblurkit.imaging import blur
from deblurkit.imaging import metrics
from deblurkit.imaging import otf
from deblurkit.imaging import psf
from deblurkit.imaging import restore

LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], float)


def by_formula(image, h, filt):
    """``real(ifft2(filt(H) * fft2(image)))`` on the full complex spectrum."""
    return np.real(np.fft.ifft2(filt(h) * np.fft.fft2(image)))


@pytest.fixture(scope="module")
def noisy(camera64):
    return blur.add_gaussian_noise(camera64, 0.02, 5)


def test_wiener_filter_equals_conj_h_over_power_plus_nsr(asymmetric_kernel, noisy):
    h = reference_otf(asymmetric_kernel, noisy.shape)
    expected = by_formula(noisy, h, lambda h: np.conj(h) / (np.abs(h) ** 2 + 0.01))
    assert np.allclose(restore.wiener_filter(noisy, asymmetric_kernel, nsr=0.01), expected, atol=1e-10)


def test_cls_filter_equals_conj_h_over_power_plus_gamma_laplacian(asymmetric_kernel, noisy):
    h = reference_otf(asymmetric_kernel, noisy.shape)
    p = reference_otf(LAPLACIAN, noisy.shape)
    expected = by_formula(noisy, h, lambda h: np.conj(h) / (np.abs(h) ** 2 + 0.003 * np.abs(p) ** 2))
    assert np.allclose(restore.cls_filter(noisy, asymmetric_kernel, gamma=0.003), expected, atol=1e-10)


def test_inverse_filter_equals_g_over_h(noisy):
    k = psf.acceleration_psf(1.4724174320412484, 0.0916516522235391)  # no zeros on this grid
    h = reference_otf(k, noisy.shape)
    assert np.abs(h).min() > 0.05
    assert np.allclose(restore.inverse_filter(noisy, k), by_formula(noisy, h, lambda h: 1 / h), atol=1e-9)


def test_pseudo_inverse_filter_equals_g_over_h_above_the_threshold(asymmetric_kernel, noisy):
    h = reference_otf(asymmetric_kernel, noisy.shape)
    threshold = 0.3
    expected = by_formula(noisy, h, lambda h: np.where(np.abs(h) > threshold, 1 / np.where(h == 0, 1, h), 0))
    assert np.allclose(restore.pseudo_inverse_filter(noisy, asymmetric_kernel, threshold=threshold), expected, atol=1e-10)


def test_filters_given_the_otf_equal_filters_given_the_kernel(asymmetric_kernel, noisy):
    h = reference_otf(asymmetric_kernel, noisy.shape)
    for method, kw in [
        (restore.wiener_filter, {"nsr": 0.01}),
        (restore.cls_filter, {"gamma": 0.01}),
        (restore.pseudo_inverse_filter, {"threshold": 0.2}),
    ]:
        assert np.allclose(method(noisy, asymmetric_kernel, **kw), method(noisy, otf=h, **kw), atol=1e-10)


def reference_richardson_lucy(g, k, num_iter):
    """RL written out with scipy.ndimage: f <- f * (k_flipped (*) (g / (k (*) f)))."""
    flipped = k[::-1, ::-1]
    f = np.full_like(g, g.mean())
    for _ in range(num_iter):
        predicted = np.maximum(ndimage.convolve(f, k, mode="wrap"), 1e-12)
        f = f * ndimage.convolve(g / predicted, flipped, mode="wrap")
    return f


def test_richardson_lucy_equals_the_iteration_with_the_flipped_kernel(asymmetric_kernel, camera64):
    g = blur.blur(camera64, asymmetric_kernel)
    expected = reference_richardson_lucy(g, asymmetric_kernel, 8)
    assert np.allclose(restore.richardson_lucy(g, asymmetric_kernel, num_iter=8), expected, atol=1e-10)


def test_richardson_lucy_sharpens_keeps_flux_and_stays_non_negative(asymmetric_kernel, camera64):
    blurred = blur.blur(camera64, asymmetric_kernel)
    restored = restore.richardson_lucy(blurred, asymmetric_kernel, num_iter=30)
    assert metrics.psnr(camera64, restored) > metrics.psnr(camera64, blurred) + 1
    assert restored.min() >= 0
    assert restored.sum() == pytest.approx(blurred.sum(), rel=1e-6)


def test_richardson_lucy_leaves_a_flat_image_flat_up_to_the_border():
    flat = np.full((32, 32), 0.7)
    assert np.allclose(restore.richardson_lucy(flat, l_kernel(), num_iter=20), 0.7)


@pytest.mark.parametrize(
    "method, kwargs",
    [
        (restore.inverse_filter, {}),
        (restore.pseudo_inverse_filter, {"threshold": 1e-6}),
        (restore.wiener_filter, {"nsr": 1e-12}),
        (restore.cls_filter, {"gamma": 1e-12}),
    ],
)
def test_noiseless_restoration_with_the_true_asymmetric_kernel_is_near_exact(method, kwargs, camera64):
    k = psf.acceleration_psf(1.4724174320412484, 0.0916516522235391)
    assert metrics.psnr(camera64, method(blur.blur(camera64, k), k, **kwargs)) >= 80


@pytest.mark.parametrize("side", [64, 63, 256, 255])
@pytest.mark.parametrize("a", [(1.4724174320412484, 0.0916516522235391), (-0.8, 1.3)])
def test_closed_form_otf_blur_then_inverse_is_exact_on_even_and_odd_grids(side, a):
    image = np.random.default_rng(side).uniform(size=(side, side))
    h = otf.acceleration_otf(*a, 5.0, image.shape)
    restored = restore.inverse_filter(otf.apply_transfer(image, h), otf=h)
    assert metrics.psnr(image, restored) >= 250


def test_a_wrong_kernel_orientation_restores_worse_than_the_right_one(camera64):
    # The kernel and its mirror image have the same |H|: only the phase tells them apart.
    k = psf.acceleration_psf(1.4724174320412484, 0.0916516522235391)
    g = blur.add_gaussian_noise(blur.blur(camera64, k), 0.005, 1)
    right = metrics.psnr(camera64, restore.wiener_filter(g, k, nsr=1e-3))
    mirrored = metrics.psnr(camera64, restore.wiener_filter(g, k[::-1, ::-1], nsr=1e-3))
    assert right > mirrored + 5


def test_wiener_beats_inverse_filter_under_noise(camera64):
    k = psf.linear_motion_psf(9, 10)
    noisy = blur.add_gaussian_noise(blur.blur(camera64, k), 0.01, 0)
    nsr = restore.estimate_nsr(noisy, 0.01)
    wiener = metrics.psnr(camera64, restore.wiener_filter(noisy, k, nsr=nsr))
    inverse = metrics.psnr(camera64, restore.inverse_filter(noisy, k))
    assert wiener > inverse + 10


def test_colour_restoration_matches_per_channel(astronaut32):
    k = l_kernel()
    blurred = blur.blur(astronaut32, k)
    for method, kw in [(restore.wiener_filter, {"nsr": 1e-3}), (restore.cls_filter, {"gamma": 1e-3}), (restore.inverse_filter, {})]:
        out = method(blurred, k, **kw)
        for c in range(3):
            assert np.allclose(out[..., c], method(blurred[..., c], k, **kw), atol=1e-12)
    rl = restore.richardson_lucy(np.clip(blurred, 0, None), k, num_iter=3)
    assert np.allclose(rl[..., 2], restore.richardson_lucy(np.clip(blurred[..., 2], 0, None), k, num_iter=3))


def test_rectangular_images_are_not_transposed(asymmetric_kernel):
    image = np.random.default_rng(2).uniform(size=(40, 56))
    g = ndimage.convolve(image, asymmetric_kernel, mode="wrap")
    h = reference_otf(asymmetric_kernel, image.shape)
    expected = by_formula(g, h, lambda h: np.conj(h) / (np.abs(h) ** 2 + 1e-3))
    assert np.allclose(restore.wiener_filter(g, asymmetric_kernel, nsr=1e-3), expected, atol=1e-10)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: restore.wiener_filter(np.ones((8, 8)), nsr=0.1), "psf or otf"),
        (lambda: restore.wiener_filter(np.ones((8, 8)), psf.delta_psf(3), otf=np.ones((8, 8)), nsr=0.1), "psf or otf"),
        (lambda: restore.wiener_filter(np.ones((8, 8)), psf.delta_psf(3), nsr=-1), "nsr"),
        (lambda: restore.wiener_filter(np.ones((8, 8)), otf=np.ones((4, 4)), nsr=0.1), "otf"),
        (lambda: restore.wiener_filter(np.ones((8, 8)), np.ones((2, 2)) / 4, nsr=0.1), "psf must have odd sides"),
        (lambda: restore.cls_filter(np.ones((8, 8)), psf.delta_psf(3), gamma=float("nan")), "gamma"),
        (lambda: restore.pseudo_inverse_filter(np.ones((8, 8)), psf.delta_psf(3), threshold=0), "threshold"),
        (lambda: restore.pseudo_inverse_filter(np.ones((8, 8)), psf.delta_psf(3), threshold=2), "threshold=2.* max|H|"),
        (lambda: restore.pseudo_inverse_filter(np.ones((8, 8)), psf.disk_psf(2), threshold=1.0), "threshold"),
        (lambda: restore.inverse_filter(np.full((8, 8), np.inf), psf.delta_psf(3)), "blurred"),
        (lambda: restore.inverse_filter(np.ones((8,)), psf.delta_psf(3)), "blurred"),
        (lambda: restore.richardson_lucy(-np.ones((8, 8)), psf.delta_psf(3)), "blurred"),
        (lambda: restore.richardson_lucy(np.ones((8, 8)), psf.delta_psf(3), num_iter=0), "num_iter"),
        (lambda: restore.estimate_nsr(np.ones((8, 8)), 0.1), "blurred"),
        (lambda: restore.estimate_nsr(np.eye(8), -0.1), "noise_sigma"),
    ],
)
def test_bad_input_raises_value_error_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_complex_blurred_image_is_refused():
    with pytest.raises(TypeError, match="blurred must be real"):
        restore.wiener_filter(np.ones((8, 8)) + 1j, psf.delta_psf(3), nsr=0.1)
