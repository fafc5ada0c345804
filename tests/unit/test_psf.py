import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deblurkit import psf

KERNELS = {
    "motion": lambda: psf.linear_motion_psf(15, 30),
    "disk": lambda: psf.disk_psf(4.3),
    "gaussian": lambda: psf.gaussian_psf(2.0),
    "acceleration": lambda: psf.acceleration_psf(1.4724174320412484, 0.0916516522235391),
    "trajectory": lambda: psf.trajectory_psf(psf.random_trajectory(3)),
    "delta": lambda: psf.delta_psf(5),
}


@pytest.mark.parametrize("name", KERNELS)
def test_kernels_are_normalised_nonnegative_and_odd(name):
    k = KERNELS[name]()
    assert k.ndim == 2 and k.shape[0] % 2 == 1 and k.shape[1] % 2 == 1
    assert np.all(k >= 0)
    assert k.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("name", ["motion", "disk", "gaussian", "trajectory", "delta"])
def test_symmetric_and_shake_kernels_are_centred_on_their_centroid(name):
    cx, cy = psf.psf_centroid(KERNELS[name]())
    assert abs(cx) < 1e-9 and abs(cy) < 1e-9


@pytest.mark.parametrize("a_x, a_y", [(1.47, 0.09), (-1.0, 0.5), (0.0, -2.0)])
def test_acceleration_kernel_starts_at_the_centre(a_x, a_y):
    T = 5.0
    k = psf.acceleration_psf(a_x, a_y, T)
    # Mean of t^2 over (0, T) is T^2 / 3, so the centroid sits at a T^2 / 6.
    cx, cy = psf.psf_centroid(k)
    assert cx == pytest.approx(a_x * T**2 / 6, abs=0.02)
    assert cy == pytest.approx(a_y * T**2 / 6, abs=0.02)
    c = k.shape[0] // 2
    # Densest where the motion is slowest: the start, i.e. the origin pixel.
    assert k[c, c] == k.max()


def test_acceleration_path_is_a_straight_segment():
    _, x, y = psf.acceleration_path(1.2, -0.4, 5.0, samples=100)
    assert np.allclose(y / x, -0.4 / 1.2)


def test_motion_kernel_has_the_requested_length():
    k = psf.linear_motion_psf(20, 0)
    row = k[k.shape[0] // 2]
    assert np.count_nonzero(row > 1e-12) in (21, 22)
    assert np.allclose(k.sum(axis=1)[np.arange(k.shape[0]) != k.shape[0] // 2], 0)


def test_vertical_motion_points_up_for_90_degrees():
    k = psf.linear_motion_psf(10, 90)
    assert np.allclose(k.sum(axis=0)[np.arange(k.shape[1]) != k.shape[1] // 2], 0)


def test_disk_kernel_covers_the_disk_area():
    k = psf.disk_psf(6.0, oversample=16)
    support = np.count_nonzero(k > 0.5 * k.max())
    assert support == pytest.approx(math.pi * 36, rel=0.05)


def test_gaussian_second_moment_is_sigma_squared():
    sigma = 2.5
    k = psf.gaussian_psf(sigma, size=41)
    r = np.arange(41) - 20
    assert (k.sum(axis=0) * r**2).sum() == pytest.approx(sigma**2, rel=1e-6)


def test_zero_size_parameters_give_a_delta():
    for k in (psf.linear_motion_psf(0, 10), psf.disk_psf(0), psf.gaussian_psf(0)):
        assert k.max() == 1.0 and k[k.shape[0] // 2, k.shape[1] // 2] == 1.0


def test_trajectory_is_deterministic_for_a_seed_and_has_the_requested_length():
    a = psf.random_trajectory(7, steps=500, max_length=40)
    b = psf.random_trajectory(7, steps=500, max_length=40)
    assert np.array_equal(a, b)
    assert np.abs(np.diff(a)).sum() == pytest.approx(40, rel=1e-9)
    assert not np.array_equal(a, psf.random_trajectory(8, steps=500, max_length=40))


def test_trajectory_exposure_uses_a_prefix():
    t = psf.random_trajectory(1, max_length=50)
    full = psf.trajectory_psf(t, size=81)
    part = psf.trajectory_psf(t, size=81, exposure=0.3)
    assert np.count_nonzero(part) < np.count_nonzero(full)


@settings(max_examples=30, deadline=None)
@given(
    length=st.floats(0, 30),
    angle=st.floats(-360, 360),
)
def test_motion_kernel_energy_is_one_for_any_length_and_angle(length, angle):
    k = psf.linear_motion_psf(length, angle)
    assert k.sum() == pytest.approx(1.0, abs=1e-12) and k.min() >= 0


@settings(max_examples=30, deadline=None)
@given(a_x=st.floats(-2, 2), a_y=st.floats(-2, 2), exposure=st.floats(0.5, 6))
def test_acceleration_kernel_energy_is_one(a_x, a_y, exposure):
    k = psf.acceleration_psf(a_x, a_y, exposure)
    assert k.sum() == pytest.approx(1.0, abs=1e-12) and k.min() >= 0


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: psf.linear_motion_psf(-1, 0), "length"),
        (lambda: psf.linear_motion_psf(float("nan"), 0), "length"),
        (lambda: psf.linear_motion_psf(5, float("inf")), "angle"),
        (lambda: psf.linear_motion_psf(5, 0, size=4), "size"),
        (lambda: psf.linear_motion_psf(25, 0, size=5), "size"),
        (lambda: psf.disk_psf(-2), "radius"),
        (lambda: psf.disk_psf(2, oversample=0), "oversample"),
        (lambda: psf.gaussian_psf(-0.5), "sigma"),
        (lambda: psf.gaussian_psf(float("nan")), "sigma"),
        (lambda: psf.acceleration_psf(1, 1, 0), "exposure"),
        (lambda: psf.acceleration_psf(float("inf"), 1), "a_x"),
        (lambda: psf.acceleration_psf(1, float("nan")), "a_y"),
        (lambda: psf.acceleration_psf(1, 1, size=-3), "size"),
        (lambda: psf.random_trajectory(0, steps=1), "steps"),
        (lambda: psf.random_trajectory(0, max_length=-1), "max_length"),
        (lambda: psf.trajectory_psf([]), "trajectory"),
        (lambda: psf.trajectory_psf([0, 1 + 1j, np.nan]), "trajectory"),
        (lambda: psf.trajectory_psf([0, 1j], exposure=1.5), "exposure"),
        (lambda: psf.splat_points([0.0], [0.0, 1.0], 3), "x and y"),
        (lambda: psf.psf_centroid(np.zeros((3, 3))), "psf"),
        (lambda: psf.psf_centroid(np.ones(3)), "psf"),
    ],
)
def test_bad_input_raises_value_error_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
