import json

import pytest

from deblurkit.book import checkpoints
from deblurkit.book import glue
from deblurkit.book import verdicts
from deblurkit import data
from deblurkit import evaluation
from deblurkit.runtime import files


def test_the_split_is_disjoint_and_covers_every_bundled_image():
    parts = {s: set(data.split_names(s)) for s in data.SPLITS}
    assert not (parts["train"] & parts["validation"] or parts["train"] & parts["test"] or parts["validation"] & parts["test"])
    assert set().union(*parts.values()) == set(data.bundled_image_names())
    assert data.split_names("train", kind="texture") == ["brick"]
    for held_out in ("validation", "test"):  # each kind of image is represented
        assert {k for k in data.IMAGE_KINDS if data.split_names(held_out, kind=k)} == set(data.IMAGE_KINDS)
    with pytest.raises(ValueError, match="split"):
        data.split_names("holdout")


@pytest.mark.parametrize(
    "comparison, measured, expected",
    [
        ("equal", 0.50, "reproduced"),
        ("equal", 0.62, "refuted"),
        ("equal", 0.38, "refuted"),
        ("at_most", 0.10, "reproduced"),  # better than claimed: the claim (an error bound) holds
        ("at_most", 0.58, "reproduced"),
        ("at_most", 0.62, "refuted"),
        ("at_least", 0.90, "reproduced"),
        ("at_least", 0.38, "refuted"),
    ],
)
def test_judge_claim_follows_the_numbers(comparison, measured, expected):
    v = verdicts.judge_claim("x", seed="000", chapter="01_x", claimed=0.5, measured=measured, tolerance=0.1, comparison=comparison)
    assert v.verdict == expected
    assert ("is not" in v.reason) == (expected == "refuted")


def test_judge_claim_offline_and_bad_input():
    v = verdicts.judge_claim("Koehler 28.39 dB", seed="003", chapter="05_x", claimed=28.39, offline_reason="the data set is not on disk")
    assert v.verdict == "not reproducible offline" and v["claimed"] == 28.39 and v["measured"] is None
    with pytest.raises(ValueError, match="missing: measured"):
        verdicts.judge_claim("x", seed="0", chapter="c", claimed=1.0, tolerance=0.1)
    with pytest.raises(ValueError, match="comparison"):
        verdicts.judge_claim("x", seed="0", chapter="c", claimed=1, measured=1, tolerance=0, comparison="about")
    with pytest.raises(ValueError, match="tolerance"):
        verdicts.judge_claim("x", seed="0", chapter="c", claimed=1, measured=1, tolerance=-1)
    with pytest.raises(ValueError, match="measured must be finite"):
        verdicts.judge_claim("x", seed="0", chapter="c", claimed=1, measured=float("nan"), tolerance=1)


def test_verdicts_round_trip_through_json(tmp_path):
    vs = [
        verdicts.judge_claim("a", seed="004", chapter="06_x", claimed=1.0, measured=2.0, tolerance=0.5),
        verdicts.judge_claim("b", seed="004", chapter="06_x", offline_reason="no GoPro"),
    ]
    path = verdicts.save_verdicts(vs, "06_x", folder=tmp_path)
    assert json.loads(path.read_text())[0]["verdict"] == "refuted"
    assert [v.verdict for v in verdicts.load_verdicts(tmp_path)] == ["refuted", "not reproducible offline"]
    with pytest.raises(ValueError, match="belongs to chapter"):
        verdicts.save_verdicts(vs, "07_y", folder=tmp_path)


def test_compare_methods_names_the_winner_or_a_tie():
    assert verdicts.compare_methods({"A": 20.0, "B": 25.0}, tolerance=0.1).startswith("B is best (25.00 dB), 5.00 dB ahead of A")
    assert verdicts.compare_methods({"A": 0.3, "B": 0.2}, tolerance=0.0, unit="px", higher_is_better=False).startswith("B is best")
    assert "tie within 0.5 dB" in verdicts.compare_methods({"A": 20.0, "B": 20.3}, tolerance=0.5)
    with pytest.raises(ValueError, match="at least two"):
        verdicts.compare_methods({"A": 1.0}, tolerance=0.1)


def test_project_dir_is_found_from_a_subfolder(tmp_path, monkeypatch):
    (tmp_path / "_toc.yml").write_text("root: x\n")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.delenv("DEBLURKIT_HOME", raising=False)
    monkeypatch.chdir(tmp_path / "notebooks")
    assert files.artifact_path("checkpoints", "m.pt") == tmp_path.resolve() / "data" / "checkpoints" / "m.pt"


def _record_glue(monkeypatch):
    """Capture what :func:`glue.glue` hands to the notebook (name -> plain value)."""
    import myst_nb.ext.glue

    glued = {}

    def display(bundle, raw, metadata):
        assert raw and metadata["scrapbook"]["mime_prefix"]  # display=False: nothing shown
        glued[metadata["scrapbook"]["name"]] = next(iter(bundle.values()))

    monkeypatch.setattr(myst_nb.ext.glue, "ipy_display", display)
    return glued


def test_chapter_clock_glues_the_profile_and_the_seconds_it_measured(monkeypatch):
    import time

    glued = _record_glue(monkeypatch)
    ticks = iter([100.0, 107.25])
    monkeypatch.setattr(time, "perf_counter", lambda: next(ticks))
    clock = glue.ChapterClock("cpu")
    assert glued == {"profile_used": "'cpu'"} and clock.profile == "cpu"
    assert clock.seconds != clock.seconds  # NaN until finish: no time is claimed before the end
    assert clock.finish() == 7.25 == clock.seconds
    assert glued["chapter_seconds"] == "7.25"
    assert str(clock) == "chapter ran in 7 s (cpu profile)"


def test_chapter_clock_measures_real_time_and_refuses_an_unknown_profile(monkeypatch):
    import time

    glued = _record_glue(monkeypatch)
    clock = glue.ChapterClock("smoke")
    time.sleep(0.05)
    seconds = clock.finish()
    assert 0.05 <= seconds < 5 and float(glued["chapter_seconds"]) == seconds
    with pytest.raises(ValueError, match="profile"):
        glue.ChapterClock("fast")
    with pytest.raises(ValueError, match="profile"):
        glue.ChapterClock(None)


def test_checkpoint_paths_are_one_definition_with_the_chapters_file_names(tmp_path, monkeypatch):

    monkeypatch.setenv("DEBLURKIT_HOME", str(tmp_path))
    folder = tmp_path / "data" / "checkpoints"
    assert checkpoints.checkpoint_path("03_autoencoder", "cpu") == folder / "03_autoencoder_cpu.keras"
    assert checkpoints.checkpoint_path("04_sigma_map_cnn", "smoke", "fcn") == folder / "04_sigma_map_cnn_fcn_smoke.keras"
    assert checkpoints.checkpoint_path("05_adaptive_basis", "gpu", ext="pt").name == "05_adaptive_basis_gpu.pt"
    # the names the chapters saved before the helper existed, so that their checkpoints still load
    assert {k: evaluation.keras_checkpoint(k, "cpu").name for k in evaluation.KERAS_CHECKPOINTS} == {
        "estimator": "02_estimating_acceleration_estimator_cpu.keras",
        "autoencoder": "03_autoencoder_cpu.keras",
        "sigma_classifier": "04_sigma_map_cnn_classifier30_cpu.keras",
    }
    assert checkpoints.checkpoint_path("02_estimating_acceleration", "cpu", "estimator") == evaluation.keras_checkpoint("estimator", "cpu")
    assert checkpoints.metadata_path(checkpoints.checkpoint_path("03_autoencoder", "cpu")).name == "03_autoencoder_cpu.json"
    for bad in [("autoencoder", "cpu"), ("03_autoencoder", "fast"), ("03_autoencoder", "cpu", "../x"), ("03_autoencoder", "cpu", "")]:
        with pytest.raises(ValueError):
            checkpoints.checkpoint_path(*bad)
    with pytest.raises(ValueError, match="ext"):
        checkpoints.checkpoint_path("03_autoencoder", "cpu", ext=".keras")
    with pytest.raises(ValueError, match="model"):
        evaluation.keras_checkpoint("deblurgan", "cpu")
