import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deblurkit.imaging import psf

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


def offsets(k):
    """Pixel offsets (x right, y down) of every kernel cell from the array centre."""
    rows, cols = np.indices(k.shape)
    return cols - k.shape[1] // 2, rows - k.shape[0] // 2


def principal_direction(k):
    """Unit vector (x, y) of the kernel's axis of largest second moment about its centroid."""
    x, y = offsets(k)
    cx, cy = (k * x).sum(), (k * y).sum()
    cov = np.array([[(k * (x - cx) ** 2).sum(), (k * (x - cx) * (y - cy)).sum()], [0, (k * (y - cy) ** 2).sum()]])
    cov[1, 0] = cov[0, 1]
    w, vecs = np.linalg.eigh(cov)
    return vecs[:, np.argmax(w)]


@pytest.mark.parametrize("a_x, a_y", [(1.47, 0.09), (-1.0, 0.5), (0.0, -2.0), (0.7, 0.7)])
def test_acceleration_kernel_starts_at_the_centre_and_runs_towards_a(a_x, a_y):
    T = 5.0
    k = psf.acceleration_psf(a_x, a_y, T)
    # Mean of t^2 over (0, T) is T^2 / 3, so the centroid sits at a T^2 / 6 (x right, y down).
    cx, cy = psf.psf_centroid(k)
    assert cx == pytest.approx(a_x * T**2 / 6, abs=0.02)
    assert cy == pytest.approx(a_y * T**2 / 6, abs=0.02)
    # Densest where the motion is slowest: the start, i.e. the origin pixel.
    assert k[k.shape[0] // 2, k.shape[1] // 2] == k.max()
    # All energy on the side a points to (one pixel of bilinear spill at most).
    x, y = offsets(k)
    if a_x:
        assert k[np.sign(a_x) * x < -1].sum() == 0
    if a_y:
        assert k[np.sign(a_y) * y < -1].sum() == 0


def test_acceleration_kernel_is_sized_by_its_extent_in_each_direction():
    k = psf.acceleration_psf(8.0, 0.0)  # 100 px to the right in T = 5
    assert k.shape == (3, 203)
    assert np.count_nonzero(k.sum(axis=1)) == 1
    tall = psf.acceleration_psf(0.1, -1.0)
    assert tall.shape[0] > tall.shape[1]
    assert psf.acceleration_psf(1.0, 1.0, size=(29, 31)).shape == (29, 31)
    assert psf.acceleration_psf(1.0, 1.0, size=29).shape == (29, 29)


@pytest.mark.parametrize("angle", [0.0, 30.0, 90.0, 135.0, -60.0])
def test_motion_kernel_energy_lies_along_the_angle_counter_clockwise_on_screen(angle):
    k = psf.linear_motion_psf(15, angle)
    theta = np.radians(angle)
    d = principal_direction(k)
    # Counter-clockwise on screen with y down: direction (cos, -sin).
    assert abs(d @ np.array([np.cos(theta), -np.sin(theta)])) == pytest.approx(1.0, abs=1e-3)
    cx, cy = psf.psf_centroid(k)
    assert abs(cx) < 1e-9 and abs(cy) < 1e-9


def test_motion_at_30_degrees_points_up_and_right():
    k = psf.linear_motion_psf(15, 30)
    x, y = offsets(k)
    up_right = k[(x > 1) & (y < -1)].sum()
    down_right = k[(x > 1) & (y > 1)].sum()
    assert up_right > 0.25 and down_right == 0


def test_motion_kernel_is_sized_by_its_extent_in_each_direction():
    assert psf.linear_motion_psf(21, 0).shape == (3, 25)
    assert psf.linear_motion_psf(21, 90).shape == (25, 3)
    assert psf.linear_motion_psf(21, 0, size=25).shape == (25, 25)


def test_trajectory_kernel_energy_follows_the_path():
    t = psf.random_trajectory(4, max_length=30)
    k = psf.trajectory_psf(t)
    seen = t - t.mean()
    path_cov = np.cov(np.stack([seen.real, seen.imag]), bias=True)
    w, vecs = np.linalg.eigh(path_cov)
    assert abs(principal_direction(k) @ vecs[:, np.argmax(w)]) == pytest.approx(1.0, abs=1e-3)
    # Each cell's weight comes from the path points that fall next to it.
    x, y = offsets(k)
    near = np.zeros(k.shape, bool)
    for p in seen:
        near |= (np.abs(x - p.real) < 1) & (np.abs(y - p.imag) < 1)
    assert k[~near].sum() == 0


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


@pytest.mark.parametrize("sigma", [1e-200, 1e-160, 1e-20, 1e-3])
def test_tiny_gaussian_is_a_finite_delta_not_nan(sigma):
    k = psf.gaussian_psf(sigma)
    assert np.all(np.isfinite(k)) and k[k.shape[0] // 2, k.shape[1] // 2] == pytest.approx(1.0)


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
        (lambda: psf.psf_centroid(np.ones((4, 3))), "psf must have odd sides"),
        (lambda: psf.acceleration_psf(1, 1, size=(27, 28)), r"size\[1\]"),
        (lambda: psf.acceleration_psf(8, 0, size=(3, 101)), r"size\[1\]=101 is too small"),
        (lambda: psf.linear_motion_psf(5, 0, size=(3, 5, 7)), "size"),
        (lambda: psf.trajectory_psf([0, 1j, 2j], size=(1, 9)), r"size\[0\]"),
    ],
)
def test_bad_input_raises_value_error_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
