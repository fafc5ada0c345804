"""Seed 001's σ-map CNN (Keras): parameter counts, output shapes, data, maps, training bookkeeping."""

import numpy as np
import pytest

from deblurkit.imaging import blur
from deblurkit.imaging import psf
from deblurkit.models import sigma_cnn

pytest.importorskip("keras")


# The seed's layer list by hand: convolutions k*k*c_in*c_out + c_out, linears n_in*n_out + n_out.
SEED_CONV_PARAMS = 40 + 296 + 1168 + 4640 + 18496 + 36928 + 102464 + 102464
SEED_LINEAR_PARAMS = 1640000 + 1280800 + 80100


@pytest.mark.parametrize("classes", [10, 30])
def test_classifier_matches_the_seed_to_the_layer(classes):
    net = sigma_cnn.sigma_classifier(classes)
    expected = SEED_CONV_PARAMS + SEED_LINEAR_PARAMS + 100 * classes + classes
    assert sigma_cnn.expected_parameters(classes) == expected
    assert net.count_params() == expected
    assert len(net.layers) == 26
    out = np.asarray(net(np.random.default_rng(0).standard_normal((3, 32, 32, 1)).astype("float32")))
    assert out.shape == (3, classes)
    # log-softmax: the probabilities of each patch sum to one
    np.testing.assert_allclose(np.exp(out).sum(axis=1), 1.0, rtol=1e-5)


def test_seed_parameter_counts():
    assert sigma_cnn.expected_parameters(30) == 3_270_426
    assert sigma_cnn.expected_parameters(10) == 3_268_406


def test_classifier_refuses_bad_arguments():
    with pytest.raises(ValueError, match="classes"):
        sigma_cnn.sigma_classifier(1)
    with pytest.raises(ValueError, match="initializer"):
        sigma_cnn.sigma_classifier(10, initializer="zeros")


def test_fcn_parameters_shape_and_receptive_field():
    fcn = sigma_cnn.sigma_fcn()
    # five 3x3 convolutions (1->32, then 32->32) and a 1x1 head
    assert fcn.count_params() == (9 * 32 + 32) + 4 * (9 * 32 * 32 + 32) + (32 + 1)
    assert sigma_cnn.receptive_field(fcn) == 1 + 2 * (1 + 2 + 4 + 8 + 1)
    out = np.asarray(fcn(np.zeros((2, 40, 56, 1), "float32")))
    assert out.shape == (2, 40, 56, 1) and np.all(out >= 0)
    assert sigma_cnn.receptive_field(sigma_cnn.sigma_fcn(width=4, dilations=(1, 1))) == 5


def test_receptive_field_refuses_pooling():
    with pytest.raises(ValueError, match="stride-1"):
        sigma_cnn.receptive_field(sigma_cnn.sigma_classifier(10))


def test_patch_dataset_labels_and_balance():
    grid = sigma_cnn.SIGMA_GRIDS[10][:3]
    x, y, source = sigma_cnn.patch_dataset(["brick", "camera"], grid, 64, min_std=0.02)
    assert x.shape[1:] == (32, 32, 1) and x.dtype == np.float32
    assert set(np.unique(y)) == {0, 1, 2}
    # every sigma keeps the same positions: classes are balanced
    assert len(set(np.bincount(y))) == 1
    assert set(source) <= {"brick", "camera"}
    np.testing.assert_allclose(x.mean(axis=(1, 2, 3)), 0, atol=1e-4)
    with pytest.raises(ValueError, match="names"):
        sigma_cnn.patch_dataset([], grid, 64)


def test_blur_stack_is_the_image_domain_blur():

    img = np.random.default_rng(1).random((40, 36))
    stack = sigma_cnn.blur_stack(img, [0.0, 1.5])
    np.testing.assert_allclose(stack[0], img, atol=1e-12)
    np.testing.assert_allclose(stack[1], blur.blur(img, psf.gaussian_psf(1.5), mode="symmetric"))


def test_dihedral_views_are_the_eight_symmetries():
    x = np.arange(2 * 4 * 4, dtype=float).reshape(2, 4, 4, 1)
    views = {sigma_cnn.dihedral(x, k).tobytes() for k in range(8)}
    assert len(views) == 8
    np.testing.assert_array_equal(sigma_cnn.dihedral(x, 0), x)
    with pytest.raises(ValueError, match="k"):
        sigma_cnn.dihedral(x, 8)


def test_windows_and_centres():
    img = np.arange(48 * 40, dtype=float).reshape(48, 40)
    w = sigma_cnn.windows(img, 4)
    assert w.shape == (5, 3, 32, 32)
    np.testing.assert_array_equal(sigma_cnn.at_centres(img, 4)[1, 2], img[4 + 16, 8 + 16])
    with pytest.raises(ValueError, match="at least"):
        sigma_cnn.windows(np.zeros((16, 64)), 1)


def test_smooth_map():
    m = np.random.default_rng(2).random((9, 11))
    np.testing.assert_array_equal(sigma_cnn.smooth_map(m, 0), m)
    many = sigma_cnn.smooth_map(m, 2000)
    assert np.ptp(many) < 1e-3 and abs(many.mean() - m.mean()) < 0.05
    with pytest.raises(ValueError, match="iterations"):
        sigma_cnn.smooth_map(m, -1)


def test_training_reshuffles_every_epoch_and_keeps_the_best_epoch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 32, 32, 1)).astype("float32")
    y = rng.integers(0, 3, 40).astype("int32")
    orders = []
    data = sigma_cnn._batches(x, y, 16, np.random.default_rng(5))
    for _ in range(3):
        orders.append(data.order.copy())
        data.on_epoch_end()
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])
    net = sigma_cnn.sigma_classifier(3)
    grid = np.array([0.5, 1.0, 1.5])
    run = sigma_cnn.train_classifier(net, x, y, grid=grid, epochs=2, x_val=x[:8], y_val=y[:8], seed=0, batch=16)
    assert run["steps"] == 2 * 3 and len(run["history"]) == 2
    assert run["best_validation_rmse"] == min(run["history"])
    assert run["best_epoch"] == 1 + int(np.argmin(run["history"]))
    predicted = sigma_cnn.predict_sigma(net, x[:8], grid)
    assert set(predicted) <= set(grid)


def test_sigma_map_and_fcn_training_shapes():
    rng = np.random.default_rng(0)
    image = rng.random((48, 48))
    net = sigma_cnn.sigma_classifier(10)
    m = sigma_cnn.sigma_map(net, image, sigma_cnn.SIGMA_GRIDS[10], stride=8)
    assert m.shape == (3, 3) and set(np.unique(m)) <= set(sigma_cnn.SIGMA_GRIDS[10])
    fcn = sigma_cnn.sigma_fcn(width=4, dilations=(1, 2))
    x, y = sigma_cnn.fcn_examples(["brick"], [0.5, 2.0], 64, 24, 6, rng)
    assert x.shape == y.shape == (6, 24, 24, 1) and set(np.unique(y)) <= {0.5, 2.0}
    run = sigma_cnn.train_fcn(fcn, x, y, epochs=2, margin=3, seed=0, x_val=x[:2], y_val=y[:2], batch=3)
    assert len(run["history"]) == 2 and run["best_validation_rmse"] == min(run["history"])
    assert sigma_cnn.predict_fcn(fcn, image).shape == (48, 48)
    with pytest.raises(ValueError, match="margin"):
        sigma_cnn.train_fcn(fcn, x, y, epochs=1, margin=12, seed=0, x_val=x, y_val=y)


def test_transfer_features_copies_all_but_the_class_layer():
    a, b = sigma_cnn.sigma_classifier(10), sigma_cnn.sigma_classifier(30)
    sigma_cnn.transfer_features(a, b)
    for la, lb in zip(a.layers[:-2], b.layers[:-2]):
        for wa, wb in zip(la.get_weights(), lb.get_weights()):
            np.testing.assert_array_equal(wa, wb)
    assert b.layers[-2].get_weights()[0].shape == (100, 30)
    with pytest.raises(ValueError, match="same layers"):
        sigma_cnn.transfer_features(a, sigma_cnn.sigma_fcn())
