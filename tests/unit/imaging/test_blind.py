"""Blind deconvolution (L0 prior, coarse to fine): each sub-step against an independent computation.

The x-step is checked against its closed form solved with dense matrices built here by loops;
the k-step against its normal equations built column by column with ``scipy.signal.convolve2d``
(no FFT); each step is checked to lower the energy it minimises; the whole estimator to recover
a known kernel on a camera-blurred image to a stated error.
"""

import numpy as np
import pytest
from deblurkit import data
from deblurkit.imaging import blind, psf
from deblurkit.imaging.blur import add_gaussian_noise, camera_blur
from scipy import signal


def circular_matrix(kernel, shape):
    """Dense matrix of circular convolution with a centred kernel on a ``shape`` grid."""
    rows, cols = shape
    r, c = kernel.shape[0] // 2, kernel.shape[1] // 2
    m = np.zeros((rows * cols, rows * cols))
    for i in range(rows):
        for j in range(cols):
            for a in range(kernel.shape[0]):
                for b in range(kernel.shape[1]):
                    m[i * cols + j, ((i - (a - r)) % rows) * cols + (j - (b - c)) % cols] += kernel[a, b]
    return m


def forward_difference_matrices(shape):
    rows, cols = shape
    n = rows * cols
    dx, dy = -np.eye(n), -np.eye(n)
    for i in range(rows):
        for j in range(cols):
            dx[i * cols + j, i * cols + (j + 1) % cols] += 1
            dy[i * cols + j, ((i + 1) % rows) * cols + j] += 1
    return dx, dy


@pytest.fixture(scope="module")
def shaken():
    """camera (160 px scene) blurred by a 9-px linear motion at 30 degrees, 128-px crop, noise 0.005."""
    scene = data.bundled_square("camera", 160)
    kernel = psf.linear_motion_psf(9, 30.0, size=11)
    blurred = add_gaussian_noise(camera_blur(scene, kernel, 128), 0.005, 0, clip=True)
    return scene[16:144, 16:144], blurred, kernel


def test_x_step_matches_closed_form(rng):
    shape = (6, 7)
    kernel = rng.uniform(0, 1, (3, 3))
    kernel /= kernel.sum()
    v, gx, gy = rng.uniform(0, 1, shape), rng.normal(0, 0.1, shape), rng.normal(0, 0.1, shape)
    beta = 0.7
    k = circular_matrix(kernel, shape)
    dx, dy = forward_difference_matrices(shape)
    lhs = k.T @ k + beta * (dx.T @ dx + dy.T @ dy)
    rhs = k.T @ v.ravel() + beta * (dx.T @ gx.ravel() + dy.T @ gy.ravel())
    expected = np.linalg.solve(lhs, rhs).reshape(shape)
    np.testing.assert_allclose(blind.quadratic_latent_step(v, kernel, gx, gy, beta), expected, atol=1e-10)


def test_circular_gradient_is_forward_difference(rng):
    u = rng.uniform(0, 1, (5, 6))
    dx, dy = forward_difference_matrices(u.shape)
    gx, gy = blind.circular_gradient(u)
    np.testing.assert_allclose(gx.ravel(), dx @ u.ravel())
    np.testing.assert_allclose(gy.ravel(), dy @ u.ravel())


def test_k_step_solves_normal_equations(rng):
    u, v = rng.uniform(0, 1, (20, 23)), rng.uniform(0, 1, (20, 23))
    size, weight, r = 5, 0.3, 2
    columns, targets = [], []
    for axis in (1, 0):
        du, dv = np.diff(u, axis=axis), np.diff(v, axis=axis)
        cols = []
        for m in range(size):
            for n in range(size):
                e = np.zeros((size, size))
                e[m, n] = 1
                cols.append(signal.convolve2d(du, e, mode="valid").ravel())
        columns.append(np.array(cols).T)
        out = cols[0].size
        shape = signal.convolve2d(du, np.ones((size, size)), mode="valid").shape
        assert out == shape[0] * shape[1]
        targets.append(dv[r : r + shape[0], r : r + shape[1]].ravel())
    a, b = np.vstack(columns), np.concatenate(targets)
    expected = np.linalg.solve(a.T @ a + weight * np.eye(size * size), a.T @ b).reshape(size, size)
    got, n_terms = blind.kernel_least_squares(u, v, size, weight, iterations=size * size)
    assert n_terms == b.size
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    # and kernel_energy is that least-squares objective
    assert blind.kernel_energy(got, u, v, weight) == pytest.approx(np.sum((a @ got.ravel() - b) ** 2) + weight * np.sum(got**2))


def test_each_step_lowers_its_energy(shaken):
    _, blurred, kernel = shaken
    lam = 4e-3
    grid = blind.fast_shape((blurred.shape[0] + 11, blurred.shape[1] + 11))
    ext = blind.smooth_periodic_extension(blurred, grid)
    latent = blind.l0_latent(ext, kernel, lam)
    assert blind.l0_energy(latent, ext, kernel, lam) < 0.7 * blind.l0_energy(ext, ext, kernel, lam)
    u = latent[: blurred.shape[0], : blurred.shape[1]]
    start = np.zeros((11, 11))
    start[5, 5] = 1.0
    new, _ = blind.kernel_least_squares(u, blurred, 11, 1.0, initial=start, iterations=5)
    before, after = blind.kernel_energy(start, u, blurred, 1.0), blind.kernel_energy(new, u, blurred, 1.0)
    assert after < 0.5 * before


def test_known_kernel_recovered(shaken):
    """9-px motion at 30 degrees on camera, noise 0.005: aligned error < 10 % of ||k||^2 (measured 0.006 of 0.136)."""
    _, blurred, kernel = shaken
    est = blind.estimate_kernel(blurred, 15)
    error = blind.aligned_kernel_error(est["kernel"], kernel)
    assert error < 0.1 * np.sum(kernel**2)
    assert error < 0.2 * blind.aligned_kernel_error(np.ones((11, 11)), kernel)  # far better than a flat guess
    assert len(est["kernels"]) == len(est["sizes"]) >= 2
    assert [k.shape[0] for k in est["kernels"]] == est["sizes"]


def test_deconvolve_with_true_kernel_gains_and_keeps_shape(shaken):
    sharp, blurred, kernel = shaken
    restored = blind.deconvolve(blurred, kernel)
    assert restored.shape == blurred.shape and 0 <= restored.min() and restored.max() <= 1
    assert np.mean((restored - sharp) ** 2) < 0.7 * np.mean((blurred - sharp) ** 2)
    colour = blind.deconvolve(np.stack([blurred] * 3, axis=2), kernel)
    np.testing.assert_allclose(colour[..., 1], restored)


def test_clean_kernel_projects(rng):
    raw = np.zeros((9, 9))
    raw[2, 2:6] = [1.0, 2.0, 2.0, 1.0]
    raw[8, 8] = 0.3  # isolated speck holding < 10 % of the mass
    raw[0, 0] = -1.0
    k = blind.clean_kernel(raw)
    assert k.min() >= 0 and k.sum() == pytest.approx(1.0)
    assert np.count_nonzero(k) == 4  # the speck and the negative value gone
    assert abs(psf.psf_centroid(k)[0]) <= 0.5 and abs(psf.psf_centroid(k)[1]) <= 0.5
    delta = blind.clean_kernel(-np.ones((5, 5)))
    assert delta[2, 2] == 1.0 and delta.sum() == 1.0


def test_smooth_periodic_extension_has_no_jump(camera64):
    ext = blind.smooth_periodic_extension(camera64, (80, 90))
    np.testing.assert_array_equal(ext[:64, :64], camera64)
    wrap_jump = np.abs(ext[-1, :64] - ext[0, :64]).max()
    assert wrap_jump < 0.1 * np.abs(camera64[-1] - camera64[0]).max() + 0.05


def test_aligned_kernel_error_and_error_ratio(rng):
    k = rng.uniform(0, 1, (7, 7))
    k /= k.sum()
    shifted = np.zeros((11, 11))
    shifted[1:8, 3:10] = k  # moved by (-1, +1) inside a larger window
    assert blind.aligned_kernel_error(shifted, k) == pytest.approx(0.0, abs=1e-12)
    assert blind.aligned_kernel_error(shifted, k, max_shift=0) > 0.01
    sharp, a, b = rng.uniform(0, 1, (3, 8, 8))
    ratio = blind.error_ratio(sharp, a, b)
    assert ratio == pytest.approx(np.sum((a - sharp) ** 2) / np.sum((b - sharp) ** 2))


def test_blind_deconvolve_colour_gamma_and_fallback(astronaut32):
    img = np.clip(np.kron(astronaut32, np.ones((3, 3, 1))), 0, 1)[:90, :80]
    out = blind.blind_deconvolve(img, 9, gamma=2.2)
    assert out.restored.shape == img.shape and out.kernel.shape == (9, 9)
    refused = blind.blind_deconvolve(img, 9, max_spread=1e-3)
    assert refused.failed and "kernel spread" in refused.reason
    np.testing.assert_array_equal(refused.restored, img)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda im: blind.estimate_kernel(im, 16), "kernel_size must be odd"),
        (lambda im: blind.estimate_kernel(im, 41), "too small for kernel_size"),
        (lambda im: blind.estimate_kernel(im, 9, kernel_weight=0), "kernel_weight must be > 0"),
        (lambda im: blind.blind_deconvolve(im * 2, 9), r"intensities must be in \[0, 1\]"),
        (lambda im: blind.blind_deconvolve(np.stack([im] * 4, axis=2), 9), "grey .* or RGB"),
        (lambda im: blind.blind_deconvolve(np.where(im > 0.5, np.nan, im), 9), "NaN"),
        (lambda im: blind.deconvolve(im, np.ones((3, 3)), exponent=1.5), "exponent must be in"),
        (lambda im: blind.clean_kernel(np.ones((3, 3)), threshold=1.0), "threshold must be in"),
        (lambda im: blind.kernel_least_squares(im, im[:-1], 5, 1.0), "same shape"),
    ],
)
def test_bad_input_is_refused(camera64, call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(camera64)


def test_a_given_estimate_is_reused_not_recomputed(shaken):
    _, blurred, _ = shaken
    est = blind.estimate_kernel(blind.working_luminance(blurred), 15)
    again = blind.blind_deconvolve(blurred, 15, estimate=est, weight=500.0)
    np.testing.assert_array_equal(again.kernel, est["kernel"])
    np.testing.assert_allclose(again.restored, blind.deconvolve(blurred, est["kernel"], weight=500.0))
    with pytest.raises(ValueError, match="not kernel_size=17"):
        blind.blind_deconvolve(blurred, 17, estimate=est)


def test_gaussian_profile_energy_matches_dense_formula(rng):
    shape, weight = (5, 6), 0.3
    kernel = rng.uniform(0, 1, (3, 3))
    kernel /= kernel.sum()
    v = rng.uniform(0, 1, shape)
    k = circular_matrix(kernel, shape)
    dx, dy = forward_difference_matrices(shape)
    u = np.linalg.solve(k.T @ k + weight * (dx.T @ dx + dy.T @ dy), k.T @ v.ravel())
    expected = np.sum((k @ u - v.ravel()) ** 2) + weight * (np.sum((dx @ u) ** 2) + np.sum((dy @ u) ** 2))
    assert blind.gaussian_profile_energy(v, kernel, weight) == pytest.approx(expected, rel=1e-10)
