import numpy as np
import pytest

from deblurkit.book import plotting
from deblurkit import data
from deblurkit.imaging import blur
from deblurkit.imaging import metrics
from deblurkit.imaging import nonuniform
from deblurkit.imaging import psf


def _random_operator(rng, mode, *, basis=3, size=9, shape=(30, 41)):
    k = rng.uniform(size=(basis, size, size))
    k /= k.sum(axis=(1, 2), keepdims=True)
    m = rng.uniform(size=(basis, *shape))
    m /= m.sum(axis=0)
    return nonuniform.NonUniformBlur(k, m, mode=mode)


@pytest.mark.parametrize("mode", nonuniform.MODES)
def test_adjoint_passes_the_dot_product_test(rng, mode):
    op = _random_operator(rng, mode)
    assert nonuniform.adjoint_error(op, 1) < 1e-10


def test_the_authors_approximate_adjoint_fails_the_dot_product_test(rng):
    op = _random_operator(rng, "same")
    assert nonuniform.adjoint_error(op, 1, approximate=True) > 1e-4


def test_shapes_of_the_two_modes(rng):
    op = _random_operator(rng, "valid", size=9, shape=(20, 25))
    assert op.shape_in == (28, 33) and op.forward(np.ones((28, 33))).shape == (20, 25)
    assert op.adjoint(np.ones((20, 25))).shape == (28, 33)
    same = _random_operator(rng, "same", size=9, shape=(20, 25))
    assert same.forward(np.ones((20, 25))).shape == (20, 25)
    # normalised kernels and weights keep a flat image flat
    assert np.allclose(same.forward(np.full((20, 25), 0.3)), 0.3)


def test_one_kernel_with_unit_weights_is_the_ordinary_blur(camera64):
    k = psf.linear_motion_psf(7, 30, size=9)
    ours = nonuniform.blur_nonuniform(camera64, k[None], np.ones((1, 64, 64)), mode="same")
    assert np.abs(ours - blur.blur(camera64, k, mode="reflect")).max() < 1e-12
    valid = nonuniform.blur_nonuniform(camera64, k[None], np.ones((1, 56, 56)), mode="valid")
    assert np.abs(valid - blur.blur(camera64, k, mode="reflect")[4:-4, 4:-4]).max() < 1e-12


def test_one_hot_weights_blur_each_region_with_its_own_kernel(camera64):
    k1, k2 = psf.linear_motion_psf(7, 0, size=9), psf.linear_motion_psf(7, 90, size=9)
    left = np.zeros((64, 64))
    left[:, :32] = 1
    out = nonuniform.blur_nonuniform(camera64, np.stack([k1, k2]), np.stack([left, 1 - left]), mode="same")
    assert np.allclose(out[:, :32], blur.blur(camera64, k1, mode="reflect")[:, :32])
    assert np.allclose(out[:, 32:], blur.blur(camera64, k2, mode="reflect")[:, 32:])


def test_richardson_lucy_with_the_true_kernels_beats_the_blurred_input():
    sharp = data.bundled_square("camera", 96 + 16)
    example = data.nonuniform_blur_example(sharp, kernel_size=17, rng=3, objects=1, noise_sigma=0.0, min_length=8)
    restored = nonuniform.richardson_lucy_nonuniform(example["blurred"], example["kernels"], example["weights"], num_iter=30)
    gain = metrics.psnr(example["sharp"], restored) - metrics.psnr(example["sharp"], example["blurred"])
    # measured: 23.4 dB blurred, 30.4 dB restored, a gain of 7.0 dB (noiseless; RL assumes a
    # reflected border where the blur saw the true surround)
    assert gain > 5.0


def test_richardson_lucy_records_several_iteration_counts_and_accepts_tv(camera64):
    k = psf.linear_motion_psf(5, 45, size=9)[None]
    g = nonuniform.gamma_encode(nonuniform.blur_nonuniform(nonuniform.gamma_decode(camera64), k, np.ones((1, 64, 64))))
    kept = nonuniform.richardson_lucy_nonuniform(g, k, np.ones((1, 64, 64)), record=[2, 5], tv_weight=1e-3)
    assert sorted(kept) == [2, 5] and all(0 <= v.min() and v.max() <= 1 for v in kept.values())


def test_data_generator_returns_consistent_ground_truth():
    images = [data.bundled_square(n, 96) for n in data.split_names("train")[:2]]
    ds = data.nonuniform_blur_dataset(images, 4, crop_size=32, kernel_size=9, rng=0, noise_sigma=0.0)
    assert ds["sharp_padded"].shape == (4, 40, 40) and ds["blurred"].shape == (4, 32, 32)
    assert ds["kernels"].shape == (4, 3, 9, 9) and ds["weights"].shape == (4, 3, 32, 32)
    assert np.allclose(ds["kernels"].sum(axis=(2, 3)), 1, atol=1e-5)
    assert np.allclose(ds["weights"].sum(axis=1), 1, atol=1e-5) and ds["weights"].min() >= 0
    # noiseless: the blurred crop is exactly the forward model of its sharp crop and truth
    i = 0
    linear = nonuniform.gamma_decode(ds["sharp_padded"][i].astype(float))
    again = nonuniform.blur_nonuniform(linear, ds["kernels"][i].astype(float), ds["weights"][i].astype(float), mode="valid")
    assert np.abs(nonuniform.gamma_encode(again) - ds["blurred"][i]).max() < 1e-4


def test_region_masks_partition_the_image():
    masks = data.random_region_masks((40, 50), 2, 0)
    assert masks.shape == (3, 40, 50) and np.array_equal(masks.sum(axis=0), np.ones((40, 50)))


def test_shake_kernel_fits_its_array_and_sums_to_one():
    k = psf.random_shake_kernel(17, 0, min_length=10, max_length=40)
    assert k.shape == (17, 17) and abs(k.sum() - 1) < 1e-12
    assert np.allclose(psf.psf_centroid(k), (0, 0), atol=1e-9)


def test_kernel_error_and_best_single_kernel(rng):
    op = _random_operator(rng, "same", shape=(16, 16))
    k, m = op.kernels, op.weights
    assert nonuniform.kernel_error(k, m, k, m) < 1e-12
    single = nonuniform.best_single_kernel(k, m)
    ones = np.ones((1, 16, 16))
    err_single = nonuniform.kernel_error(single[None], ones, k, m)
    # brute force over pixels gives the same number, and any other kernel does worse
    fields = nonuniform.per_pixel_kernels(k, m)
    assert np.isclose(err_single, np.mean(np.sum((fields - single) ** 2, axis=(-2, -1))))
    assert nonuniform.kernel_error(k[:1], ones, k, m) > err_single


def test_kernel_field_draws_an_rgb_image(rng):
    op = _random_operator(rng, "same", shape=(48, 48))
    out = plotting.kernel_field(np.full((48, 48), 0.5), op.kernels, op.weights, step=12)
    assert out.shape == (48, 48, 3) and 0 <= out.min() and out.max() <= 1


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: nonuniform.NonUniformBlur(np.ones((2, 4, 4)), np.full((2, 8, 8), 0.5)), "kernels"),
        (lambda: nonuniform.NonUniformBlur(np.ones((2, 3, 3)), np.full((2, 8, 8), 0.4)), "weights"),
        (lambda: nonuniform.NonUniformBlur(np.ones((2, 3, 3)), np.full((3, 8, 8), 1 / 3)), "weights"),
        (lambda: nonuniform.NonUniformBlur(np.ones((1, 3, 3)), np.ones((1, 8, 8)), mode="circular"), "mode"),
        (lambda: nonuniform.richardson_lucy_nonuniform(np.full((8, 8), 2.0), np.ones((1, 3, 3)), np.ones((1, 8, 8))), "blurred"),
        (lambda: nonuniform.richardson_lucy_nonuniform(np.full((8, 8), 0.5), np.ones((1, 3, 3)), np.ones((1, 8, 8)), tv_weight=0.5), "tv_weight"),
        (lambda: psf.random_shake_kernel(16), "size"),
        (lambda: data.nonuniform_blur_example(np.zeros((20, 20)), kernel_size=17), "sharp"),
        (lambda: data.random_region_masks((10, 10), 1, 0, area=(0.5, 0.2)), "area"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises((ValueError, TypeError), match=name):
        call()


def test_kohler_reader_pairs_blurred_images_with_their_frames(tmp_path):
    from skimage.io import imsave

    img = np.zeros((4, 4), np.uint8)
    for name in ["Blurry1_1.png", "GroundTruth1_1_2.png", "GroundTruth1_1_1.png", "Blurry2_3.png"]:
        imsave(tmp_path / name, img, check_contrast=False)
    pairs = data.kohler_pairs(tmp_path)
    assert len(pairs) == 1 and pairs[0][0].name == "Blurry1_1.png"
    assert [p.name for p in pairs[0][1]] == ["GroundTruth1_1_1.png", "GroundTruth1_1_2.png"]
    with pytest.raises(FileNotFoundError, match="Koehler"):
        data.kohler_pairs(tmp_path / "missing")


def test_importing_nonuniform_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, deblurkit.imaging.nonuniform; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_kernels_can_come_from_a_fixed_bank():
    bank = psf.shake_kernel_bank(4, 9, 0, min_length=5)
    assert bank.shape == (4, 9, 9) and np.allclose(bank.sum(axis=(1, 2)), 1)
    assert np.array_equal(bank, psf.shake_kernel_bank(4, 9, 0, min_length=5))
    assert len({k.tobytes() for k in bank}) == 4
    with pytest.raises(ValueError, match="count"):
        psf.shake_kernel_bank(1, 9, 0)
    sample = data.nonuniform_blur_example(np.full((40, 40), 0.5), kernel_size=9, rng=0, objects=2, kernel_bank=bank)
    used = sample["kernels"][:3]
    assert all(any(np.array_equal(k, b) for b in bank) for k in used)
    with pytest.raises(ValueError, match="kernel_bank"):
        data.nonuniform_blur_example(np.full((40, 40), 0.5), kernel_size=9, rng=0, objects=2, kernel_bank=bank[:2])


def test_uniform_kernel_error_scores_one_kernel_everywhere():
    rng = np.random.default_rng(0)
    kernels = rng.uniform(size=(2, 5, 5))
    kernels /= kernels.sum(axis=(1, 2), keepdims=True)
    weights = np.zeros((2, 6, 4))
    weights[0, :3], weights[1, 3:] = 1.0, 1.0  # top half kernel 0, bottom half kernel 1
    # kernel 0 is exact on half the pixels and off by ||k0 - k1||^2 on the other half
    expected = 0.5 * np.sum((kernels[0] - kernels[1]) ** 2)
    assert np.isclose(nonuniform.uniform_kernel_error(kernels[0], kernels, weights), expected)
    # the best single kernel (the average) does better than either kernel alone
    best = nonuniform.best_single_kernel(kernels, weights)
    assert nonuniform.uniform_kernel_error(best, kernels, weights) < expected
    with pytest.raises(ValueError, match="kernel"):
        nonuniform.uniform_kernel_error(kernels, kernels, weights)
