import numpy as np
import pytest

from deblurkit import data


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
