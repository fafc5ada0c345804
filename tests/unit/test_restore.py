import numpy as np
import pytest

from deblurkit import blur, metrics, otf, psf, restore


@pytest.fixture(scope="module")
def gaussian_case(camera64):
    k = psf.gaussian_psf(1.0)
    return k, blur.blur(camera64, k)


@pytest.mark.parametrize(
    "method, kwargs",
    [
        (restore.inverse_filter, {}),
        (restore.pseudo_inverse_filter, {"threshold": 1e-6}),
        (restore.wiener_filter, {"nsr": 1e-10}),
        (restore.cls_filter, {"gamma": 1e-10}),
    ],
)
def test_noiseless_restoration_with_the_true_psf_reaches_40_db(method, kwargs, gaussian_case, camera64):
    k, blurred = gaussian_case
    assert metrics.psnr(camera64, method(blurred, k, **kwargs)) >= 40


def test_inverse_filter_inverts_the_closed_form_acceleration_otf(camera64):
    h = otf.acceleration_otf(1.4724174320412484, 0.0916516522235391, 5.0, camera64.shape)
    blurred = otf.apply_transfer(camera64, h)
    assert metrics.psnr(camera64, restore.inverse_filter(blurred, otf=h)) >= 40


def test_wiener_beats_inverse_filter_under_noise(camera64):
    k = psf.linear_motion_psf(9, 10)
    noisy = blur.add_gaussian_noise(blur.blur(camera64, k), 0.01, 0)
    nsr = restore.estimate_nsr(noisy, 0.01)
    wiener = metrics.psnr(camera64, restore.wiener_filter(noisy, k, nsr=nsr))
    inverse = metrics.psnr(camera64, restore.inverse_filter(noisy, k))
    assert wiener > inverse + 10


def test_richardson_lucy_sharpens_and_keeps_flux(camera64):
    k = psf.disk_psf(2.0)
    blurred = blur.blur(camera64, k)
    restored = restore.richardson_lucy(blurred, k, num_iter=30)
    assert metrics.psnr(camera64, restored) > metrics.psnr(camera64, blurred) + 1
    assert restored.min() >= 0
    assert restored.sum() == pytest.approx(blurred.sum(), rel=1e-6)


def test_richardson_lucy_leaves_a_flat_image_flat_up_to_the_border():
    flat = np.full((32, 32), 0.7)
    restored = restore.richardson_lucy(flat, psf.disk_psf(2.0), num_iter=20)
    assert np.allclose(restored, 0.7)


def test_colour_restoration_matches_per_channel(astronaut32):
    k = psf.gaussian_psf(1.0)
    blurred = blur.blur(astronaut32, k)
    out = restore.wiener_filter(blurred, k, nsr=1e-3)
    assert np.allclose(out[..., 1], restore.wiener_filter(blurred[..., 1], k, nsr=1e-3))
    rl = restore.richardson_lucy(np.clip(blurred, 0, None), k, num_iter=3)
    assert np.allclose(rl[..., 2], restore.richardson_lucy(np.clip(blurred[..., 2], 0, None), k, num_iter=3))


def test_psf_and_otf_forms_agree(camera64):
    k = psf.disk_psf(2.5)
    blurred = blur.blur(camera64, k)
    h = otf.psf_to_otf(k, camera64.shape)
    assert np.allclose(restore.cls_filter(blurred, k, gamma=1e-3), restore.cls_filter(blurred, otf=h, gamma=1e-3))


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: restore.wiener_filter(np.ones((8, 8)), nsr=0.1), "psf or otf"),
        (lambda: restore.wiener_filter(np.ones((8, 8)), psf.delta_psf(3), otf=np.ones((8, 8)), nsr=0.1), "psf or otf"),
        (lambda: restore.wiener_filter(np.ones((8, 8)), psf.delta_psf(3), nsr=-1), "nsr"),
        (lambda: restore.wiener_filter(np.ones((8, 8)), otf=np.ones((4, 4)), nsr=0.1), "otf"),
        (lambda: restore.cls_filter(np.ones((8, 8)), psf.delta_psf(3), gamma=float("nan")), "gamma"),
        (lambda: restore.pseudo_inverse_filter(np.ones((8, 8)), psf.delta_psf(3), threshold=0), "threshold"),
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
