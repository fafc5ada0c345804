"""Chapter 8's evaluation set, method evaluation, σ-map mixtures, photo input and ledger."""

import json

import numpy as np
import pytest
from scipy.signal import fftconvolve

from deblurkit.book import verdicts
from deblurkit import data
from deblurkit.data import bundled
from deblurkit import evaluation as sb
from deblurkit.evaluation import keras_worker
from deblurkit.imaging import blur
from deblurkit.imaging import nonuniform
from deblurkit.imaging import psf


@pytest.fixture(scope="module")
def smoke_sets():
    return sb.evaluation_set("smoke", 0, split="validation"), sb.evaluation_set("smoke", 0, split="test")


def test_evaluation_set_is_deterministic_held_out_and_complete(smoke_sets):
    validation, test = smoke_sets
    again = sb.evaluation_set("smoke", 0, split="test")
    assert [it["key"] for it in test] == [it["key"] for it in again]
    assert all(np.array_equal(a["blurred"], b["blurred"]) for a, b in zip(test, again))
    other_seed = sb.evaluation_set("smoke", 1, split="test")
    assert not np.array_equal(test[0]["blurred"], other_seed[0]["blurred"])
    assert {it["image"] for it in test} <= set(data.split_names("test"))
    assert {it["image"] for it in validation} <= set(data.split_names("validation"))
    settings = sb.evaluation_settings("smoke")
    assert len(test) == settings["test_images"] * len(sb.BLUR_KINDS) * settings["draws"]
    cpu = sb.evaluation_settings("cpu")
    assert cpu["draws"] > 1 and cpu["test_images"] == len(data.split_names("test"))
    for it in test + validation:
        size = settings["size"]
        assert it["sharp"].shape == it["blurred"].shape == (size, size)
        assert 0 <= it["blurred"].min() and it["blurred"].max() <= 1
        if it["kind"] == "nonuniform":
            assert it["psf"] is None and it["gamma"] == nonuniform.GAMMA
            assert np.allclose(it["weights"].sum(axis=0), 1.0)
            assert np.allclose(it["kernels"].sum(axis=(1, 2)), 1.0)
        else:
            assert it["kernels"] is None and it["gamma"] == sb.GAMMA  # one convention for every kind
            assert it["psf"].sum() == pytest.approx(1.0)
        # blurred, not a copy of the sharp image
        assert np.abs(it["blurred"] - it["sharp"]).mean() > 1e-3


def test_evaluation_set_refuses_bad_arguments():
    with pytest.raises(ValueError, match="profile"):
        sb.evaluation_set("fast")
    with pytest.raises(ValueError, match="split"):
        sb.evaluation_set("smoke", split="train")


def test_camera_blur_is_the_image_domain_convolution_of_the_scene():
    rng = np.random.default_rng(0)
    scene = rng.random((40, 40))
    kernel = np.zeros((5, 7))
    kernel[1, 2], kernel[3, 6], kernel[2, 3] = 0.5, 0.3, 0.2  # asymmetric: a flip would show
    crop = blur.camera_blur(scene, kernel, 20)
    assert np.allclose(crop, fftconvolve(scene, kernel, mode="same")[10:30, 10:30])
    # the circular model of the crop differs: that is the inverse crime the set avoids
    assert not np.allclose(crop, blur.blur(scene[10:30, 10:30], kernel, mode="wrap"), atol=1e-3)
    with pytest.raises(ValueError, match="margin"):
        blur.camera_blur(scene, psf.gaussian_psf(5.0), 36)


def test_gaussian_mixture_interpolates_between_levels():
    levels = np.array([0.5, 1.0, 2.0])
    smap = np.array([[0.5, 0.75], [1.5, 3.0]])
    kernels, weights = nonuniform.gaussian_mixture(smap, levels)
    assert kernels.shape[0] == 3 and kernels.shape[1] == kernels.shape[2] == psf.gaussian_psf(2.0).shape[0]
    assert np.allclose(weights.sum(axis=0), 1.0) and weights.min() >= 0
    assert np.allclose(weights[:, 0, 0], [1, 0, 0])
    assert np.allclose(weights[:, 0, 1], [0.5, 0.5, 0])
    assert np.allclose(weights[:, 1, 0], [0, 0.5, 0.5])
    assert np.allclose(weights[:, 1, 1], [0, 0, 1])  # beyond the last level: the last level


def test_gaussian_mixture_of_a_constant_map_is_the_uniform_blur():
    rng = np.random.default_rng(1)
    image = rng.random((48, 48))
    kernels, weights = nonuniform.gaussian_mixture(np.full((48, 48), 1.0), [0.5, 1.0, 2.0])
    mixed = nonuniform.blur_nonuniform(image, kernels, weights, mode="same")
    uniform = blur.blur(image, psf.gaussian_psf(1.0, size=kernels.shape[1]), mode="reflect")
    assert np.allclose(mixed, uniform, atol=1e-10)
    with pytest.raises(ValueError, match="levels"):
        nonuniform.gaussian_mixture(np.ones((4, 4)), [1.0, 0.5])
    with pytest.raises(ValueError, match="sigma_map"):
        nonuniform.gaussian_mixture(-np.ones((4, 4)), [0.5, 1.0])


def test_full_resolution_map_keeps_the_centres():
    centres = np.arange(12, dtype=float).reshape(3, 4)
    full = sb.full_resolution_map(centres, (40, 50), stride=8, offset=16)
    for i in range(3):
        for j in range(4):
            assert full[16 + 8 * i, 16 + 8 * j] == pytest.approx(centres[i, j])
    assert full[0, 0] == centres[0, 0] and full[-1, -1] == centres[-1, -1]
    assert full[16, 20] == pytest.approx(0.5)  # half-way between two centres


def _fake(kinds=sb.BLUR_KINDS, per_kind=False, elsewhere=None):
    """A method whose setting 'good' returns the sharp image and 'bad' the blurred one."""

    def run(it, settings):
        return {s: it["sharp"] if s == "good" else it["blurred"] for s in settings}

    return sb.Method("fake", "fake", tuple(kinds), run, ("bad", "good"), per_kind=per_kind, elsewhere_seconds=elsewhere)


def test_evaluate_chooses_on_validation_and_scores_only_where_it_applies(smoke_sets):
    validation, test = smoke_sets
    got = sb.evaluate(_fake(kinds=("defocus", "gaussian"), elsewhere=lambda it: 2.5), validation, test)
    assert set(got) == {"defocus", "gaussian"}
    for r in got.values():
        assert r["setting"] == "good"
        assert np.isinf(r["psnr"][0]) or r["psnr"][0] > 60  # the sharp image itself
        assert all(t >= 2.5 for t in r["seconds"])
        settings = sb.evaluation_settings("smoke")
        assert len(r["images"]) == len(r["keys"]) == settings["test_images"] * settings["draws"]


def test_choose_setting_per_kind_or_once(smoke_sets):
    validation, _ = smoke_sets

    def run(it, settings):  # 'good' only helps on defocus; 'bad' is the input elsewhere
        return {s: it["sharp"] if (s == "good") == (it["kind"] == "defocus") else it["blurred"] * 0.5 for s in settings}

    per_kind = sb.Method("k", "k", sb.BLUR_KINDS, run, ("bad", "good"), per_kind=True)
    chosen = sb.choose_setting(per_kind, validation)
    assert chosen["defocus"] == "good" and chosen["gaussian"] == "bad"
    once = sb.Method("o", "o", sb.BLUR_KINDS, run, ("bad", "good"))
    assert len(set(sb.choose_setting(once, validation).values())) == 1
    with pytest.raises(ValueError, match="no item"):
        sb.choose_setting(sb.Method("x", "x", ("blur-free",), run, ("a", "b")), validation)


def test_oracle_filters_beat_the_blurred_input_with_the_true_kernel(smoke_sets):
    validation, test = smoke_sets
    by_name = {m.key: m for m in sb.oracle_methods()}
    blurred = sb.evaluate(sb.blurred_input(), validation, test)
    for key in ("wiener", "richardson_lucy"):
        got = sb.evaluate(by_name[key], validation, test)
        for kind in ("defocus", "gaussian", "trajectory"):
            assert np.mean(got[kind]["psnr"]) > np.mean(blurred[kind]["psnr"]) + 0.5, (key, kind)
    rl = sb.evaluate(by_name["richardson_lucy"], validation, test)
    assert np.mean(rl["nonuniform"]["psnr"]) > np.mean(blurred["nonuniform"]["psnr"]) + 0.5
    assert "nonuniform" not in sb.evaluate(by_name["wiener"], validation, test)


def test_best_methods_read_the_table_by_the_mean():
    scores = {"a": np.mean([20.0, 24.0]), "b": np.mean([23.0, 22.0])}
    assert sb.best_methods(scores, tolerance=0.0) == ["b"]  # by the mean (22.5 > 22), not the maximum
    assert sb.best_methods(scores, tolerance=0.5) == ["b", "a"]
    with pytest.raises(ValueError, match="non-empty"):
        sb.best_methods({}, tolerance=0.1)


def test_photo_input_default_and_errors(tmp_path):
    default = sb.photo_input("", "smoke", 0)
    side = sb.evaluation_settings("smoke")["photo_side"]
    assert sb.evaluation_settings("cpu")["photo_side"] >= 1024
    # the default photo keeps its own resolution under the cap (cpu), and is shrunk to it above (smoke)
    own = sb.photo_input("", "cpu", 0)
    assert own["sharp"].shape == own["blurred"].shape == data.bundled_image("chelsea").shape and not own["resized"]
    assert default["sharp"].shape == default["blurred"].shape and max(default["blurred"].shape[:2]) == side
    assert "chelsea" in default["description"] and default["resized"] and default["gamma"] == sb.GAMMA
    with pytest.raises(FileNotFoundError, match="photo"):
        sb.photo_input(tmp_path / "missing.jpg", "smoke")
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    with pytest.raises(ValueError, match="photo"):
        sb.photo_input(broken, "smoke")
    from skimage import io

    mine = tmp_path / "mine.png"
    io.imsave(mine, (np.random.default_rng(0).random((150, 300)) * 255).astype(np.uint8))
    got = sb.photo_input(mine, "smoke")
    assert got["sharp"] is None and got["resized"] and got["blurred"].shape == (side // 2, side, 3)
    assert "shrunk from 300x150" in got["description"]
    small = sb.photo_input(mine, "cpu")  # under the cpu cap: its own resolution
    assert small["blurred"].shape == (150, 300, 3) and not small["resized"]
    assert 0 <= got["blurred"].min() and got["blurred"].max() <= 1


def test_per_channel_and_luminance():
    rgb = np.random.default_rng(0).random((8, 9, 3))
    assert np.allclose(sb.per_channel(lambda c: 1 - c, rgb), 1 - rgb)
    grey = sb.luminance(rgb)
    assert grey.shape == (8, 9) and np.allclose(sb.luminance(grey), grey)


def test_keras_outputs_read_back_what_was_written(tmp_path):
    key = "test:camera:acceleration:0"
    arrays = {keras_worker._npz_key(key, "a_hat"): np.array([1.0, 0.5]), keras_worker._npz_key(key, "a_hat__seconds"): np.array(0.25)}
    arrays["photo__autoencoder"] = np.zeros((4, 4, 3))
    arrays["meta"] = np.array(json.dumps({"sigma_grid": [0.1, 0.2]}))
    np.savez(tmp_path / "k.npz", **arrays)
    out = sb.KerasOutputs(tmp_path / "k.npz")
    assert np.allclose(out[key, "a_hat"], [1.0, 0.5]) and out.seconds(key, "a_hat") == 0.25
    assert out["photo", "autoencoder"].shape == (4, 4, 3) and out.meta["sigma_grid"] == [0.1, 0.2]


def test_keras_subprocess_names_the_chapter_to_run_when_a_model_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("DEBLURKIT_HOME", str(tmp_path))
    with pytest.raises(RuntimeError, match="02_estimating_acceleration"):
        sb.run_keras_subprocess("smoke", 0, tmp_path / "out.npz")


def judged(claim, *, seed, chapter, measured=None, offline=None, **fields):
    """A verdict on a claim whose protocol repeats the seed's, specified before any test read."""
    repeated = verdicts.protocol(data=verdicts.own(), model=verdicts.own(), budget=verdicts.own(), metric=verdicts.own())
    spec = verdicts.specification("k", claim=claim, seed=seed, chapter=chapter, quantity="q", protocol=repeated, offline=offline, **fields)
    return verdicts.judge_claim(spec, measured=measured)


def test_ledger_rows_markdown_and_profiles(tmp_path, monkeypatch):
    monkeypatch.setattr(bundled, "_FIRST_TEST_READ", [])
    measured = judged("a | claim", seed="001", chapter="04_sigma_map_cnn", claimed=0.2, measured=0.25, tolerance=0.1)
    offline = judged("an offline claim", seed="000", chapter="02_estimating_acceleration", offline="needs a data set")
    verdicts.save_verdicts([measured], "04_sigma_map_cnn", profile="smoke", folder=tmp_path)
    verdicts.save_verdicts([offline], "02_estimating_acceleration", folder=tmp_path)
    loaded = verdicts.load_verdicts(tmp_path)
    assert [v.get("profile") for v in loaded] == [None, "smoke"]
    rows = sb.ledger_rows(loaded)
    assert [r["seed"] for r in rows] == ["000", "001"]
    assert rows[1]["numbers"].startswith("claimed 0.2") and rows[1]["verdict"] == "reproduced"
    table = sb.ledger_html(rows)
    assert '<a href="04_sigma_map_cnn.html">chapter 4</a>' in table and table.count("<tr>") == 3
    assert "a | claim" in table and "<strong>reproduced</strong>" in table
    assert "&lt;b&gt;" in sb.html_table(["h"], [["<b>"]])  # text is escaped
    assert "needs a data set" in table  # no numbers: the reason decides
    close = judged("c", seed="000", chapter="02_x", claimed=1.0, measured=1.00004, tolerance=0.0, comparison="at_most")
    assert "measured 1.00004" in sb.ledger_rows([close])[0]["numbers"]
    with pytest.raises(ValueError, match="profile"):
        verdicts.save_verdicts([offline], "02_estimating_acceleration", profile="fast", folder=tmp_path)


def test_verdicts_of_each_profile_live_apart(tmp_path, monkeypatch):
    monkeypatch.setenv("DEBLURKIT_HOME", str(tmp_path))
    monkeypatch.setattr(bundled, "_FIRST_TEST_READ", [])
    for profile, measured in (("smoke", 0.9), ("cpu", 0.21)):
        v = judged("c", seed="001", chapter="04_sigma_map_cnn", claimed=0.2, measured=measured, tolerance=0.05)
        verdicts.save_verdicts([v], "04_sigma_map_cnn", profile=profile)
    assert (tmp_path / "data" / "verdicts" / "cpu" / "04_sigma_map_cnn.json").is_file()
    assert [v.verdict for v in verdicts.load_verdicts(profile="cpu")] == ["reproduced"]
    assert [v.verdict for v in verdicts.load_verdicts(profile="smoke")] == ["refuted"]
