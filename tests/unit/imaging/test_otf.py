import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.conftest import reference_otf

from deblurkit.imaging import otf
from deblurkit.imaging import psf


@pytest.mark.parametrize("a_x, a_y", [(1.4724174320412484, 0.0916516522235391), (-0.8, 1.3), (0.0, 2.0)])
def test_closed_form_matches_finely_rasterised_kernel(a_x, a_y):
    shape = (48, 64)
    closed = otf.acceleration_otf(a_x, a_y, 5.0, shape)
    fine = otf.rasterised_acceleration_otf(a_x, a_y, 5.0, shape, oversample=64)
    assert np.abs(closed - fine).max() <= 1e-3


def test_coarse_rasterisation_differs_visibly_at_high_frequency():
    shape = (64, 64)
    closed = otf.acceleration_otf(1.47, 0.09, 5.0, shape)
    coarse = otf.rasterised_acceleration_otf(1.47, 0.09, 5.0, shape, oversample=1)
    assert np.abs(closed - coarse).max() > 0.05


def test_rasterised_otf_equals_fft_of_the_kernel_on_the_image_grid():
    shape = (64, 64)
    k = psf.acceleration_psf(1.0, 0.5)
    assert np.allclose(otf.rasterised_acceleration_otf(1.0, 0.5, 5.0, shape), otf.psf_to_otf(k, shape))


def test_discrete_sum_converges_to_the_closed_form():
    shape = (32, 32)
    closed = otf.acceleration_otf(1.2, 0.6, 5.0, shape)
    errors = [np.abs(otf.acceleration_otf(1.2, 0.6, 5.0, shape, form="discrete", samples=n) - closed).max() for n in (6, 60, 600)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-2


def test_seed_sum_without_normalisation_has_dc_gain_equal_to_the_sample_count():
    h = otf.acceleration_otf(1.0, 1.0, 5.0, (8, 8), form="discrete", normalise=False)
    assert h[0, 0] == pytest.approx(6.0)


def test_separable_form_equals_true_form_only_for_axis_aligned_motion():
    shape = (32, 32)
    assert np.allclose(otf.acceleration_otf_separable(1.3, 0.0, 5.0, shape), otf.acceleration_otf(1.3, 0.0, 5.0, shape))
    diff = otf.acceleration_otf_separable(1.3, 0.9, 5.0, shape) - otf.acceleration_otf(1.3, 0.9, 5.0, shape)
    assert np.abs(diff).max() > 0.1


@settings(max_examples=25, deadline=None)
@given(a_x=st.floats(-2, 2), a_y=st.floats(-2, 2), exposure=st.floats(0.5, 6))
def test_acceleration_otf_is_a_mean_of_unit_phasors(a_x, a_y, exposure):
    h = otf.acceleration_otf(a_x, a_y, exposure, (17, 17))
    assert h[0, 0] == pytest.approx(1.0)
    assert np.all(np.abs(h) <= 1 + 1e-12)
    # Real kernel: H(-u, -v) = conj H(u, v) on an odd grid.
    flipped = np.roll(h[::-1, ::-1], 1, axis=(0, 1))
    assert np.allclose(flipped, np.conj(h))


def test_psf_to_otf_of_a_delta_is_one_and_of_a_symmetric_kernel_is_real():
    assert np.allclose(otf.psf_to_otf(psf.delta_psf(3), (16, 16)), 1.0)
    h = otf.psf_to_otf(psf.gaussian_psf(1.5), (32, 32))
    assert np.abs(h.imag).max() < 1e-12


@pytest.mark.parametrize("shape", [(48, 44), (49, 45)])
def test_psf_to_otf_of_an_asymmetric_kernel_equals_the_dft_sum(asymmetric_kernel, shape):
    h = otf.psf_to_otf(asymmetric_kernel, shape)
    assert np.abs(h.imag).max() > 0.1  # the test means something only for a complex OTF
    assert np.allclose(h, reference_otf(asymmetric_kernel, shape), atol=1e-12)
    assert np.allclose(otf.psf_to_half_otf(asymmetric_kernel, shape), h[:, : shape[1] // 2 + 1], atol=1e-12)
    assert np.allclose(otf.half_spectrum(h), h[:, : shape[1] // 2 + 1], atol=1e-12)


@pytest.mark.parametrize("shape", [(16, 12), (15, 13), (16, 13)])
def test_apply_transfer_is_the_real_part_of_the_filtered_spectrum(shape):
    gen = np.random.default_rng(1)
    image = gen.uniform(size=shape)
    transfer = gen.normal(size=shape) + 1j * gen.normal(size=shape)  # no symmetry at all
    expected = np.real(np.fft.ifft2(np.fft.fft2(image) * transfer))
    assert np.allclose(otf.apply_transfer(image, transfer), expected, atol=1e-12)
    colour = gen.uniform(size=shape + (3,))
    out = otf.apply_transfer(colour, transfer)
    assert np.allclose(out[..., 1], np.real(np.fft.ifft2(np.fft.fft2(colour[..., 1]) * transfer)), atol=1e-12)


def test_the_hermitian_part_of_the_closed_form_differs_only_on_the_nyquist_row_and_column():
    h = otf.acceleration_otf(1.47, 0.09, 5.0, (16, 16))
    half = otf.half_spectrum(h)
    diff = np.abs(half - h[:, :9]) > 1e-12
    assert diff.any()
    diff[8, :] = False
    diff[:, 8] = False
    assert not diff.any()
    assert np.allclose(otf.half_spectrum(otf.acceleration_otf(1.47, 0.09, 5.0, (15, 15))), otf.acceleration_otf(1.47, 0.09, 5.0, (15, 15))[:, :8])


def test_psf_dft_matches_fft_on_grid_frequencies():
    k = psf.linear_motion_psf(9, 20)
    shape = (24, 20)
    direct = otf.psf_dft(k, np.fft.fftfreq(shape[1]), np.fft.fftfreq(shape[0]))
    assert np.allclose(direct, otf.psf_to_otf(k, shape))


def test_laplacian_otf_matches_fft_of_the_stencil():
    stencil = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], float)
    padded = np.zeros((16, 16))
    padded[:3, :3] = stencil
    expected = np.fft.fft2(np.roll(padded, (-1, -1), axis=(0, 1)))
    assert np.allclose(otf.laplacian_otf((16, 16)), expected)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: otf.acceleration_otf(1, 1, 5.0, (0, 8)), r"shape\[0\]"),
        (lambda: otf.acceleration_otf(1, 1, 5.0, (8,)), "shape"),
        (lambda: otf.acceleration_otf(1, 1, -5.0, (8, 8)), "exposure"),
        (lambda: otf.acceleration_otf(1, 1, 5.0, (8, 8), form="fresnel"), "form"),
        (lambda: otf.acceleration_otf(1, 1, 5.0, (8, 8), form="discrete", samples=0), "samples"),
        (lambda: otf.rasterised_acceleration_otf(1, 1, 5.0, (8, 8), oversample=0), "oversample"),
        (lambda: otf.psf_to_otf(psf.gaussian_psf(3), (5, 5)), "psf"),
        (lambda: otf.psf_to_otf(-np.ones((3, 3)), (5, 5)), "psf"),
        (lambda: otf.psf_to_otf(np.ones((4, 4)), (8, 8)), "psf must have odd sides"),
        (lambda: otf.acceleration_otf(1, 1, 5.0, 8), "shape"),
        (lambda: otf.apply_transfer(np.ones((4, 4)), np.ones((4, 5))), "transfer"),
        (lambda: otf.apply_transfer(np.ones((4, 4, 7)), np.ones((4, 4))), "image"),
    ],
)
def test_bad_input_raises_value_error_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_transfer_along_alpha_matches_the_grid_form():
    h = otf.acceleration_otf(1.0, 0.0, 5.0, (1, 32))
    assert np.allclose(otf.acceleration_transfer_alpha(np.fft.fftfreq(32), 5.0), h[0])
    with pytest.raises(ValueError, match="alpha"):
        otf.acceleration_transfer_alpha([np.nan])
