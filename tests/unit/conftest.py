import numpy as np
import pytest

from deblurkit import data
from deblurkit.imaging import psf


@pytest.fixture(scope="session")
def camera64():
    """A 64x64 grey crop of the bundled camera image, values in [0, 1]."""
    return data.resize(data.bundled_image("camera"), (64, 64))


@pytest.fixture(scope="session")
def astronaut32():
    """A 32x32 colour crop of the bundled astronaut image."""
    return data.resize(data.bundled_image("astronaut"), (32, 32))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def l_kernel() -> np.ndarray:
    """A 7x5 L-shaped kernel with unequal weights: no symmetry, complex OTF, centroid off-centre."""
    k = np.zeros((7, 5))
    k[0:6, 1] = [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]  # vertical bar, heavier towards the bottom
    k[5, 2:5] = [4.0, 2.0, 1.0]  # foot pointing right
    return k / k.sum()


def square_l_kernel() -> np.ndarray:
    """A 5x5 L-shaped kernel: square, so that swapping its axes keeps the shape and must be caught by values."""
    k = np.zeros((5, 5))
    k[0:4, 1] = [1.0, 1.0, 2.0, 3.0]
    k[3, 2:5] = [4.0, 2.0, 1.0]
    return k / k.sum()


# Kernels without any mirror symmetry, with complex OTFs: a filter that drops a complex
# conjugate, flips a kernel or swaps an axis gives a different answer with each of them.
ASYMMETRIC_KERNELS = {
    "acceleration": lambda: psf.acceleration_psf(1.4724174320412484, 0.0916516522235391),
    "acceleration_up_left": lambda: psf.acceleration_psf(-0.6, -0.35),
    "trajectory": lambda: psf.trajectory_psf(psf.random_trajectory(3, max_length=12)),
    "L": l_kernel,
    "L_square": square_l_kernel,
}


@pytest.fixture(params=sorted(ASYMMETRIC_KERNELS))
def asymmetric_kernel(request):
    """Each asymmetric kernel in turn."""
    return ASYMMETRIC_KERNELS[request.param]()


def reference_otf(kernel, shape) -> np.ndarray:
    """The OTF of a centred kernel by the DFT sum written out: sum_{r,c} k[r,c] exp(-2j pi (u dx_c + v dy_r))."""
    kernel = np.asarray(kernel, float)
    dy = np.arange(kernel.shape[0]) - kernel.shape[0] // 2
    dx = np.arange(kernel.shape[1]) - kernel.shape[1] // 2
    v = np.fft.fftfreq(shape[0])[:, None, None, None]
    u = np.fft.fftfreq(shape[1])[None, :, None, None]
    phase = np.exp(-2j * np.pi * (u * dx[None, None, None, :] + v * dy[None, None, :, None]))
    return (kernel[None, None] * phase).sum(axis=(2, 3))
