import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from tests.unit.conftest import l_kernel as conftest_l_kernel
from scipy import ndimage, signal

from deblurkit.imaging import blur
from deblurkit.imaging import psf

# numpy.pad mode -> the scipy.ndimage mode that extends the image the same way
SAME_EXTENSION = {"wrap": "wrap", "reflect": "mirror", "symmetric": "reflect", "edge": "nearest", "constant": "constant"}


@pytest.mark.parametrize("mode", blur.BOUNDARY_MODES)
def test_blur_matches_scipy_ndimage_convolve_for_asymmetric_kernels_and_every_mode(mode, asymmetric_kernel, camera64):
    # ndimage.convolve is a true convolution (kernel flipped) centred on the middle pixel.
    expected = ndimage.convolve(camera64, asymmetric_kernel, mode=SAME_EXTENSION[mode], cval=0.0)
    assert np.allclose(blur.blur(camera64, asymmetric_kernel, mode=mode), expected, atol=1e-12)


def test_zero_padded_blur_matches_scipy_signal_fftconvolve(asymmetric_kernel, camera64):
    expected = signal.fftconvolve(camera64, asymmetric_kernel, mode="same")
    assert np.allclose(blur.blur(camera64, asymmetric_kernel, mode="constant"), expected, atol=1e-12)


def test_circular_blur_matches_fftconvolve_of_the_periodic_extension(asymmetric_kernel, camera64):
    kh, kw = asymmetric_kernel.shape
    tiled = np.pad(camera64, ((kh // 2, kh // 2), (kw // 2, kw // 2)), mode="wrap")
    expected = signal.fftconvolve(tiled, asymmetric_kernel, mode="valid")
    assert np.allclose(blur.blur(camera64, asymmetric_kernel), expected, atol=1e-12)


def test_blurring_an_impulse_draws_the_kernel_the_right_way_round(asymmetric_kernel):
    # A point light at (20, 20) becomes the kernel itself, with the kernel's centre on the point:
    # not flipped, not transposed.
    kh, kw = asymmetric_kernel.shape
    image = np.zeros((64, 80))
    image[20, 20] = 1.0
    out = blur.blur(image, asymmetric_kernel)
    window = out[20 - kh // 2 : 20 - kh // 2 + kh, 20 - kw // 2 : 20 - kw // 2 + kw]
    assert np.allclose(window, asymmetric_kernel, atol=1e-12)
    assert out.sum() == pytest.approx(1.0)


def test_a_wide_rectangular_kernel_blurs_like_ndimage(camera64):
    k = psf.acceleration_psf(2.0, 0.1)
    assert k.shape[1] > 3 * k.shape[0]
    expected = ndimage.convolve(camera64, k, mode="wrap")
    assert np.allclose(blur.blur(camera64, k), expected, atol=1e-12)


def test_colour_channels_are_blurred_independently(astronaut32):
    k = conftest_l_kernel()
    out = blur.blur(astronaut32, k, mode="reflect")
    for c in range(3):
        assert np.allclose(out[..., c], ndimage.convolve(astronaut32[..., c], k, mode="mirror"), atol=1e-12)


def test_circular_blur_preserves_the_mean(camera64):
    out = blur.blur(camera64, psf.trajectory_psf(psf.random_trajectory(2, max_length=20)))
    assert out.mean() == pytest.approx(camera64.mean(), abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    f=arrays(np.float64, (12, 10), elements=st.floats(-1, 1)),
    g=arrays(np.float64, (12, 10), elements=st.floats(-1, 1)),
    a=st.floats(-3, 3),
    b=st.floats(-3, 3),
    mode=st.sampled_from(blur.BOUNDARY_MODES),
)
def test_blur_is_linear(f, g, a, b, mode):
    k = psf.disk_psf(1.7)
    lhs = blur.blur(a * f + b * g, k, mode=mode)
    rhs = a * blur.blur(f, k, mode=mode) + b * blur.blur(g, k, mode=mode)
    assert np.allclose(lhs, rhs, atol=1e-9)


def test_noise_has_the_requested_standard_deviation_and_is_reproducible():
    img = np.full((200, 200), 0.5)
    a = blur.add_gaussian_noise(img, 0.05, 1)
    assert np.std(a - img) == pytest.approx(0.05, rel=0.03)
    assert np.array_equal(a, blur.add_gaussian_noise(img, 0.05, 1))
    assert blur.add_gaussian_noise(img, 0.5, 1, clip=True).max() <= 1.0


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: blur.blur(np.ones(5), psf.delta_psf(3)), "image"),
        (lambda: blur.blur(np.ones((0, 5)), psf.delta_psf(3)), "image"),
        (lambda: blur.blur(np.full((5, 5), np.nan), psf.delta_psf(3)), "image"),
        (lambda: blur.blur(np.ones((5, 5)), np.full((3, 3), np.inf)), "psf"),
        (lambda: blur.blur(np.ones((5, 5)), np.ones((2, 3)) / 6), "psf must have odd sides"),
        (lambda: blur.blur(np.ones((5, 5)), np.ones((3, 4)) / 12), "psf must have odd sides"),
        (lambda: blur.blur(np.ones((5, 5)), psf.delta_psf(3), mode="periodic"), "mode"),
        (lambda: blur.add_gaussian_noise(np.ones((5, 5)), -0.1), "sigma"),
        (lambda: blur.add_gaussian_noise(np.ones((5, 5)), float("nan")), "sigma"),
    ],
)
def test_bad_input_raises_value_error_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: blur.blur(np.ones((5, 5)) * (1 + 1j), psf.delta_psf(3)), "image must be real"),
        (lambda: blur.blur(np.ones((5, 5)), psf.delta_psf(3).astype(complex)), "psf must be real"),
        (lambda: blur.blur(np.array([[1.0, None], [0.0, 1.0]], dtype=object), psf.delta_psf(1)), "image .*NoneType"),
        (lambda: blur.blur([["a", "b"], ["c", "d"]], psf.delta_psf(1)), "image"),
    ],
)
def test_complex_object_and_string_input_is_refused_not_cast(call, name):
    with pytest.raises(TypeError, match=name):
        call()


def test_sigma_map_blur_equals_uniform_blur_for_a_constant_map(camera64):
    out = blur.gaussian_blur_sigma_map(camera64, np.full(camera64.shape, 1.5), levels=[0.5, 1.5, 2.5])
    assert np.allclose(out, blur.blur(camera64, psf.gaussian_psf(1.5), mode="symmetric"))


def test_sigma_map_blur_of_a_constant_map_with_default_levels(camera64):
    out = blur.gaussian_blur_sigma_map(camera64, np.full(camera64.shape, 0.7))
    assert np.allclose(out, blur.blur(camera64, psf.gaussian_psf(0.7), mode="symmetric"))


def test_sigma_map_blur_interpolates_between_levels(camera64):
    levels = [1.0, 2.0]
    out = blur.gaussian_blur_sigma_map(camera64, np.full(camera64.shape, 1.25), levels=levels)
    a, b = (blur.blur(camera64, psf.gaussian_psf(s), mode="symmetric") for s in levels)
    assert np.allclose(out, 0.75 * a + 0.25 * b)


def test_sigma_map_blur_follows_a_ramp(camera64):
    ramp = np.tile(np.linspace(0.0, 3.0, camera64.shape[1]), (camera64.shape[0], 1))
    out = blur.gaussian_blur_sigma_map(camera64, ramp)
    left, right = np.abs(out - camera64)[:, :8].mean(), np.abs(out - camera64)[:, -8:].mean()
    assert left < 0.01 < right


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(sigma_map=np.ones((4, 4))), "sigma_map"),
        (dict(sigma_map=-np.ones((8, 8))), "sigma_map"),
        (dict(sigma_map=np.ones((8, 8)) * 2, levels=[0.0, 1.0]), "levels"),
        (dict(sigma_map=np.ones((8, 8)), levels=[1.0, 0.5]), "levels"),
    ],
)
def test_sigma_map_blur_rejects_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        blur.gaussian_blur_sigma_map(np.ones((8, 8)), **kwargs)
