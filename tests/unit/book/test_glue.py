"""Glued values are plain, finite Python values."""

import numpy as np
import pytest


def test_report_plain_value_converts_numpy_scalars_and_refuses_nan():
    from deblurkit.book.glue import plain_value

    assert type(plain_value(np.float64(0.5))) is float and plain_value(np.float64(0.5)) == 0.5
    assert type(plain_value(np.int64(3))) is int
    assert plain_value("coffee") == "coffee"
    with pytest.raises(ValueError, match="finite"):
        plain_value(np.float64("nan"))
    with pytest.raises(TypeError, match="value"):
        plain_value([1.0])
