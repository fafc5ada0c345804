import numpy as np
import pytest

keras = pytest.importorskip("keras")

from deblurkit import data
from deblurkit.imaging import blur
from deblurkit.imaging import psf
from deblurkit.imaging import restore
from deblurkit.models import autoencoder as ae

SMALL = {"input_shape": (32, 32, 3), "latent_dim": 8, "layer_filters": (4, 8), "kernel_size": 3}


def by_hand_parameters(input_shape=(128, 128, 3), latent_dim=256, layer_filters=(64, 128, 256), k=3):
    """k*k*c_in*c_out + c_out per (transposed) convolution, in*out + out per dense layer."""
    rows, cols, ch = input_shape
    enc, c_in = 0, ch
    for f in layer_filters:
        enc += k * k * c_in * f + f
        c_in = f
    flat = (rows // 2 ** len(layer_filters)) * (cols // 2 ** len(layer_filters)) * c_in
    enc += flat * latent_dim + latent_dim
    dec = latent_dim * flat + flat
    for f in layer_filters[::-1]:
        dec += k * k * c_in * f + f
        c_in = f
    dec += k * k * c_in * 3 + 3
    return enc, dec


def test_report_network_has_the_report_parameter_counts():
    encoder, decoder, model = ae.build_report_autoencoder(**ae.REPORT_ARCHITECTURE)
    counts = {"encoder": encoder.count_params(), "decoder": decoder.count_params(), "total": model.count_params()}
    assert counts == ae.REPORT_PARAMETERS == {"encoder": 17_148_288, "decoder": 17_803_395, "total": 34_951_683}
    assert (counts["encoder"], counts["decoder"]) == by_hand_parameters()
    assert encoder.get_layer("latent_vector").count_params() == 16_777_472


def test_report_network_output_shape_and_range():
    encoder, _, model = ae.build_report_autoencoder()
    x = np.random.default_rng(0).random((2, 128, 128, 3), dtype=np.float32)
    assert tuple(encoder.predict(x, verbose=0).shape) == (2, 256)
    y = model.predict(x, verbose=0)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1


def test_smaller_network_counts_and_shape():
    encoder, decoder, model = ae.build_report_autoencoder(**SMALL)
    assert (encoder.count_params(), decoder.count_params()) == by_hand_parameters(
        SMALL["input_shape"], SMALL["latent_dim"], SMALL["layer_filters"]
    )
    assert model.predict(np.zeros((1, 32, 32, 3), "float32"), verbose=0).shape == (1, 32, 32, 3)


@pytest.mark.parametrize(
    "kwargs",
    [{"input_shape": (30, 32, 3)}, {"input_shape": (32, 32)}, {"latent_dim": 0}, {"layer_filters": ()}, {"kernel_size": 2.5}],
)
def test_build_refuses_bad_arguments(kwargs):
    with pytest.raises((ValueError, TypeError)):
        ae.build_report_autoencoder(**{**SMALL, **kwargs})


def test_keras_acc_is_keras_categorical_accuracy_for_images():
    rng = np.random.default_rng(1)
    y_true = rng.random((4, 32, 32, 3)).astype("float32")
    y_pred = rng.random((4, 32, 32, 3)).astype("float32")
    _, _, model = ae.build_report_autoencoder(**SMALL)
    ae.compile_report_style(model)
    keras_value = model.evaluate(y_true, y_true, verbose=0, return_dict=True)["acc"]
    assert keras_value == pytest.approx(ae.keras_acc(y_true, model.predict(y_true, verbose=0)), abs=1e-6)
    # by hand: brightest channel agrees
    expected = np.mean(np.argmax(y_true, -1) == np.argmax(y_pred, -1))
    assert ae.keras_acc(y_true, y_pred) == pytest.approx(expected)
    assert ae.keras_acc(y_true, y_true) == 1.0


def test_keras_acc_refuses_mismatched_or_single_channel():
    with pytest.raises(ValueError, match="one shape"):
        ae.keras_acc(np.zeros((2, 4, 4, 3)), np.zeros((2, 4, 4, 2)))
    with pytest.raises(ValueError, match="two values"):
        ae.keras_acc(np.zeros((2, 4, 4, 1)), np.zeros((2, 4, 4, 1)))


def test_report_lr_reducer_has_the_report_settings():
    cb = ae.report_lr_reducer()
    assert cb.monitor == "val_loss" and cb.patience == 5 and cb.min_lr == 0.5e-6
    assert cb.factor == pytest.approx(np.sqrt(0.1))


def test_camera_view_is_blurred_in_the_image_domain_with_scene_beyond_the_frame():
    img = data.bundled_image("astronaut")
    sharp, blurred = data.camera_defocus_view(img, 3.0, 0, size=64, noise_sigma=0.0)
    assert sharp.shape == blurred.shape == (64, 64, 3) and sharp.dtype == np.float32
    k = psf.disk_psf(3.0)
    r = k.shape[0] // 2
    inner = (slice(r, -r), slice(r, -r))
    # away from the border, any boundary gives the same blur: the convolution of the sharp view
    np.testing.assert_allclose(blurred[inner], blur.blur(sharp, k, mode="reflect")[inner], atol=1e-5)
    # at the border the camera sees scene outside the frame: not the circular blur a filter assumes
    assert np.abs(blurred - blur.blur(sharp, k, mode="wrap")).max() > 0.02


def test_defocus_pairs_are_seeded_and_in_range():
    s1, b1, r1 = data.defocus_pairs(["camera", "coffee"], 3, 5, size=32)
    _, b2, r2 = data.defocus_pairs(["camera", "coffee"], 3, 5, size=32)
    assert s1.shape == b1.shape == (3, 32, 32, 3) and r1.shape == (3,)
    assert np.array_equal(b1, b2) and np.array_equal(r1, r2)
    assert b1.min() >= 0 and b1.max() <= 1 and np.all((r1 >= 1.5) & (r1 <= 4.0))
    with pytest.raises(ValueError, match="names"):
        data.defocus_pairs([], 3, 0)
    with pytest.raises(ValueError, match="radius_range"):
        data.defocus_pairs(["camera"], 1, 0, radius_range=(4, 1))


def test_mirrored_restore_keeps_shape_and_range():
    _, blurred = data.camera_defocus_view(data.bundled_image("coffee"), 2.5, 0, size=48, noise_sigma=0.0)
    kernel = psf.disk_psf(2.5)
    out = restore.mirrored_restore(restore.wiener_filter, blurred, kernel, nsr=1e-3)
    # independent reference: mirror by the kernel's reach with numpy, filter, crop, clip
    r = kernel.shape[0] // 2
    padded = np.pad(blurred, [(r, r), (r, r), (0, 0)], mode="symmetric")
    by_hand = np.clip(restore.wiener_filter(padded, kernel, nsr=1e-3)[r:-r, r:-r], 0, 1)
    assert out.shape == blurred.shape and np.allclose(out, by_hand)
    assert not np.allclose(out, np.clip(restore.wiener_filter(blurred, kernel, nsr=1e-3), 0, 1))  # the mirror matters


def test_deblur_image_tiles_any_size():
    _, _, model = ae.build_report_autoencoder(**SMALL)
    img = np.random.default_rng(2).random((45, 70))
    out = ae.deblur_image(model, img)
    assert out.shape == (45, 70, 3)
    tile = model.predict(np.repeat(img[:32, :32, None], 3, -1)[None].astype("float32"), verbose=0)[0]
    np.testing.assert_allclose(out[:32, :32], tile, atol=1e-5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ae.deblur_image(model, img * 2)


def test_load_kaggle_pairs_reads_the_folder_layout(tmp_path):
    from skimage import io

    for kind, suffix in (("sharp", "S"), ("defocused_blurred", "F")):
        (tmp_path / kind).mkdir()
        for i in range(3):
            io.imsave(tmp_path / kind / f"{i}_PHONE_{suffix}.png", np.full((40, 50, 3), 10 * i, np.uint8), check_contrast=False)
    sharp, blurred = data.load_kaggle_pairs(tmp_path, count=2, size=16)
    assert sharp.shape == blurred.shape == (2, 16, 16, 3)
    assert sharp.max() <= 1 and np.allclose(sharp[1], 10 / 255, atol=1e-6)


def test_linear_code_reproduces_images_in_its_span_and_loses_the_rest():
    rng = np.random.default_rng(3)
    basis = rng.random((3, 8, 8, 3))
    train = np.clip(0.5 + 0.1 * np.einsum("nk,k...->n...", rng.standard_normal((20, 3)), basis - 0.5), 0, 1)
    inside = train[:2]
    np.testing.assert_allclose(ae.linear_code_reconstruction(train, inside, n_components=3), inside, atol=1e-5)
    outside = rng.random((2, 8, 8, 3))
    assert np.abs(ae.linear_code_reconstruction(train, outside, n_components=3) - outside).max() > 0.1
    with pytest.raises(ValueError, match="one image shape"):
        ae.linear_code_reconstruction(train, np.zeros((1, 4, 4, 3)))
