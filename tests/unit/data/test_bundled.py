import numpy as np
import pytest

from deblurkit import data


@pytest.mark.parametrize("name", data.bundled_image_names())
def test_every_bundled_image_loads_in_unit_range(name):
    img = data.bundled_image(name)
    assert img.dtype == np.float64 and img.ndim in (2, 3)
    assert 0.0 <= img.min() and img.max() <= 1.0 and img.max() > img.min()
    grey = data.bundled_image(name, gray=True)
    assert grey.ndim == 2 and grey.shape == img.shape[:2]


def test_kinds_partition_the_collection():
    kinds = [set(data.bundled_image_names(k)) for k in data.IMAGE_KINDS]
    assert set().union(*kinds) == set(data.bundled_image_names())
    assert sum(len(k) for k in kinds) == len(data.bundled_image_names())
    assert "clock" not in data.bundled_image_names()  # skimage's clock is already motion blurred


def test_random_crops_are_deterministic_for_a_seed():
    img = data.bundled_image("astronaut")
    a = data.random_crops(img, 32, 5, 11)
    assert a.shape == (5, 32, 32, 3)
    assert np.array_equal(a, data.random_crops(img, 32, 5, 11))
    assert not np.array_equal(a, data.random_crops(img, 32, 5, 12))


def test_patches_tile_the_image_in_row_major_order():
    img = np.arange(7 * 9, dtype=float).reshape(7, 9)
    p = data.patches(img, 3)
    assert p.shape == (6, 3, 3)
    assert np.array_equal(p[1], img[0:3, 3:6]) and np.array_equal(p[3], img[3:6, 0:3])


def test_center_crop_and_resize():
    img = data.bundled_image("coffee")
    c = data.center_crop(img, 100)
    assert c.shape == (100, 100, 3)
    assert data.resize(c, (40, 50)).shape == (40, 50, 3)


def test_paired_image_files_follow_the_kaggle_layout(tmp_path):
    (tmp_path / "sharp").mkdir()
    (tmp_path / "defocused_blurred").mkdir()
    for i in (0, 1, 10):
        (tmp_path / "sharp" / f"{i}_PHONE_S.jpg").write_bytes(b"")
        (tmp_path / "defocused_blurred" / f"{i}_PHONE_F.jpg").write_bytes(b"")
    pairs = data.paired_image_files(tmp_path)
    assert [p[0].name for p in pairs] == ["0_PHONE_S.jpg", "1_PHONE_S.jpg", "10_PHONE_S.jpg"]
    assert [p[1].name for p in pairs] == ["0_PHONE_F.jpg", "1_PHONE_F.jpg", "10_PHONE_F.jpg"]


def test_a_file_without_partner_is_an_error_unless_allowed(tmp_path):
    for sub in ("sharp", "defocused_blurred"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "0_PHONE_X.jpg").write_bytes(b"")
    (tmp_path / "sharp" / "2_PHONE_S.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match="2_PHONE_S.jpg"):
        data.paired_image_files(tmp_path)
    assert len(data.paired_image_files(tmp_path, allow_unpaired=True)) == 1


def test_two_files_sharing_a_pairing_key_are_an_error(tmp_path):
    for sub in ("sharp", "defocused_blurred"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "0_A.jpg").write_bytes(b"")
    (tmp_path / "sharp" / "0_B.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match="0_A.jpg, 0_B.jpg"):
        data.paired_image_files(tmp_path, allow_unpaired=True)


def test_missing_dataset_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="sharp folder not found"):
        data.paired_image_files(tmp_path / "nowhere")


def test_dataset_root_prefers_the_argument_then_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DEBLURKIT_DATA", str(tmp_path))
    assert data.dataset_root() == tmp_path
    assert data.dataset_root("elsewhere").name == "elsewhere"


def test_dataset_root_defaults_to_the_books_data_folder_from_a_chapter(monkeypatch, tmp_path):
    (tmp_path / "_toc.yml").write_text("root: x\n")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.delenv("DEBLURKIT_DATA", raising=False)
    monkeypatch.delenv("DEBLURKIT_HOME", raising=False)
    monkeypatch.chdir(tmp_path / "notebooks")  # where the chapters run
    assert data.dataset_root() == tmp_path.resolve() / "data" / "external"


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: data.bundled_image("lena"), "name"),
        (lambda: data.bundled_image_names("animals"), "kind"),
        (lambda: data.center_crop(np.ones((10, 10)), 11), "size"),
        (lambda: data.random_crops(np.ones((10, 10)), 4, 0), "count"),
        (lambda: data.random_crops(np.ones((10, 10)), -4, 2), "size"),
        (lambda: data.patches(np.ones((10, 10)), 11), "size"),
        (lambda: data.patches(np.ones((10,)), 2), "image"),
        (lambda: data.resize(np.ones((10, 10)), (0, 5)), r"shape\[0\]"),
        (lambda: data.resize(np.ones((10, 10)), 8), r"shape must be a pair \(rows, cols\), got 8"),
        (lambda: data.bundled_image(["camera"]), r"name must be one of .*got \['camera'\]"),
    ],
)
def test_bad_input_raises_value_error_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_bundled_square_is_a_resized_centre_crop():
    sq = data.bundled_square("coffee", 48)
    assert sq.shape == (48, 48) and 0 <= sq.min() and sq.max() <= 1
    assert data.bundled_square("coffee", 48, gray=False).shape == (48, 48, 3)
    with pytest.raises(ValueError, match="shape"):
        data.bundled_square("coffee", 0)


def test_standardise_gives_zero_mean_unit_variance_per_image():
    x = np.random.default_rng(0).uniform(size=(3, 8, 8)) * np.array([1, 5, 0.1])[:, None, None]
    out = data.standardise(x)
    assert out.dtype == np.float32
    assert np.allclose(out.mean(axis=(1, 2)), 0, atol=1e-6) and np.allclose(out.std(axis=(1, 2)), 1, atol=1e-3)
    assert np.all(data.standardise(np.ones((1, 4, 4))) == 0)
    with pytest.raises(ValueError, match="images"):
        data.standardise(np.ones((4, 4)))
