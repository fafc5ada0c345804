"""Chapter 2's estimators of (a_x, a_y): data, the four networks, tiling, restoration, saving."""

import numpy as np
import pytest

from deblurkit import data
from deblurkit.imaging import blur
from deblurkit.imaging import metrics
from deblurkit.imaging import otf
from deblurkit.imaging import psf
from deblurkit.imaging import restore
from deblurkit.models import acceleration_nets as an
from deblurkit.training import keras


def conv(k, c_in, c_out):
    return k * k * c_in * c_out + c_out


def dense(n_in, n_out):
    return n_in * n_out + n_out


# Parameter counts written out layer by layer for 64x64 grey inputs (the seed gives none).
EXPECTED_PARAMS = {
    # 3x3 convs 1->16->32->64, 8x8x64 flattened -> 128 -> 2
    "approach1": conv(3, 1, 16) + conv(3, 16, 32) + conv(3, 32, 64) + dense(8 * 8 * 64, 128) + dense(128, 2),
    # fixed Sobel, 3 covariance features -> 32 -> 32 -> 2
    "approach2": dense(3, 32) + dense(32, 32) + dense(32, 2),
    # 5x5 convs 1->8->8, 8x8 covariance (64 features) -> 64 -> 2
    "approach3": conv(5, 1, 8) + conv(5, 8, 8) + dense(64, 64) + dense(64, 2),
    # two paths: 3x3 convs 1->16->32->64, global pooling, 64 -> 32 -> 1
    "approach4": 2 * (conv(3, 1, 16) + conv(3, 16, 32) + conv(3, 32, 64) + dense(64, 32) + dense(32, 1)),
}


def test_parameter_counts_match_the_layers():
    assert EXPECTED_PARAMS == {"approach1": 547970, "approach2": 1250, "approach3": 6106, "approach4": 50818}
    for key, expected in EXPECTED_PARAMS.items():
        assert an.build(key, (64, 64, 1)).count_params() == expected, key


@pytest.mark.parametrize("key", list(an.APPROACHES))
def test_every_approach_maps_a_batch_to_two_accelerations(key):
    model = an.build(key, (32, 32, 1))
    x = np.random.default_rng(0).normal(size=(3, 32, 32, 1)).astype("float32")
    out = np.asarray(model(x))
    assert out.shape == (3, 2) and np.all(np.isfinite(out))


def test_remedy_arguments_change_approach1():
    base = an.approach1_cnn((64, 64, 1)).count_params()
    assert an.approach1_cnn((64, 64, 1), width=4, dense=16).count_params() < base
    assert an.approach1_cnn((64, 64, 1), l2=1e-4).count_params() == base
    dropped = an.approach1_cnn((64, 64, 1), dropout=0.5)
    assert any(layer.__class__.__name__ == "Dropout" for layer in dropped.layers)


def test_sobel_layer_is_the_sobel_derivative():
    img = np.zeros((1, 16, 16, 1), np.float32)
    img[0, :, :, 0] = np.arange(16)[None, :]  # unit ramp in x
    d = np.asarray(an.layers()["Sobel"]()(img))
    assert np.allclose(d[0, 4:-4, 4:-4, 0], 1.0) and np.allclose(d[0, 4:-4, 4:-4, 1], 0.0)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="approach"):
        an.build("approach5", (64, 64, 1))
    with pytest.raises(ValueError, match="multiples of 8"):
        an.build("approach1", (60, 60, 1))
    with pytest.raises(ValueError, match="grey"):
        an.build("approach1", (64, 64, 3))
    with pytest.raises(ValueError, match="dropout"):
        an.approach1_cnn((64, 64, 1), dropout=1.0)
    with pytest.raises(ValueError, match="formation"):
        data.acceleration_dataset([np.zeros((128, 128))], 2, crop_size=16, formations=("fresnel",))
    with pytest.raises(ValueError, match="smaller than"):
        data.acceleration_dataset([np.zeros((40, 40))], 2, crop_size=16)


def test_dataset_is_seeded_and_camera_differs_from_model():
    images = [data.bundled_square("camera", 128)]
    a = data.acceleration_dataset(images, 4, crop_size=16, formations=("camera", "model"), rng=3)
    b = data.acceleration_dataset(images, 4, crop_size=16, formations=("camera", "model"), rng=3)
    assert a["blurred_camera"].shape == a["blurred_model"].shape == a["sharp"].shape == (4, 16, 16)
    assert np.array_equal(a["blurred_camera"], b["blurred_camera"]) and np.array_equal(a["labels"], b["labels"])
    assert np.all((a["labels"] >= 0) & (a["labels"] <= 2))
    assert not np.allclose(a["blurred_camera"], a["blurred_model"], atol=1e-3)


def test_camera_observation_is_the_rasterised_kernel_in_the_image_domain():
    region = data.bundled_square("camera", 80)
    a = (1.2, 0.7)
    got = data.observe(region, a, crop_size=16)
    full = blur.blur(region, psf.acceleration_psf(*a), mode="symmetric")
    assert np.allclose(got, full[32:48, 32:48])
    model = data.observe(region, a, crop_size=16, formation="model")
    crop = region[32:48, 32:48]
    assert np.allclose(model, otf.apply_transfer(crop, otf.acceleration_otf(*a, psf.DEFAULT_EXPOSURE, (16, 16))))


def test_tiles_and_estimate_on_image():
    img = np.arange(96 * 64, dtype=float).reshape(96, 64)
    t = an.tiles(img, 32)
    assert t.shape == (5 * 3, 32, 32) and np.array_equal(t[1], img[:32, 16:48])
    model = an.build("approach2", (32, 32, 1))
    est = an.estimate_on_image(model, img, a_max=2.0)
    assert est.shape == (2,) and np.all(np.isfinite(est))
    with pytest.raises(ValueError, match="smaller than"):
        an.tiles(img[:20], 32)


def test_wiener_with_true_accelerations_restores_camera_blur():
    region = data.bundled_square("camera", 128)
    a = (1.5, 0.5)
    g = data.observe(region, a, crop_size=64)
    sharp = region[32:96, 32:96]
    out = restore.wiener_restore(g, a, nsr=1e-3, pad=20)
    assert metrics.psnr(sharp, out) > metrics.psnr(sharp, g) + 3


def test_taper_zeroes_the_border_and_removes_the_mean():
    x = an.taper(np.ones((2, 8, 8)) + np.arange(8)[None, None, :])
    assert x.shape == (2, 8, 8) and np.allclose(x[:, 0, :], 0) and np.allclose(x[:, :, -1], 0)


def test_save_and_load_round_trip(tmp_path):
    from deblurkit.book.checkpoints import checkpoint_metadata

    model = an.build("approach4", (32, 32, 1))
    path = tmp_path / "est.keras"
    meta = checkpoint_metadata(
        chapter=an.CHAPTER, profile="smoke", seed=0, steps=0, wall_seconds=0.0, device="cpu",
        architecture={"approach": "approach4"}, a_max=2.0,
    )
    keras.save_estimator(model, path, metadata=meta)
    loaded, record = keras.load_estimator(path, profile="smoke", architecture={"approach": "approach4"})
    x = np.random.default_rng(1).normal(size=(2, 32, 32, 1)).astype("float32")
    assert np.allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)
    assert record["a_max"] == 2.0
    with pytest.raises(ValueError, match="02_estimating_acceleration"):
        keras.load_estimator(path, profile="cpu")
