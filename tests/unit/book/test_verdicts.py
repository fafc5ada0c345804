import json

import pytest
from deblurkit import data, evaluation
from deblurkit.book import checkpoints, glue, verdicts
from deblurkit.data import bundled
from deblurkit.runtime import files


@pytest.fixture(autouse=True)
def test_split_unread(monkeypatch):
    """Every test starts as a chapter does: the test split not read yet in this process."""
    monkeypatch.setattr(bundled, "_FIRST_TEST_READ", [])


def test_the_split_is_disjoint_and_covers_every_bundled_image():
    parts = {s: set(data.split_names(s)) for s in data.SPLITS}
    assert not (parts["train"] & parts["validation"] or parts["train"] & parts["test"] or parts["validation"] & parts["test"])
    assert set().union(*parts.values()) == set(data.bundled_image_names())
    assert data.split_names("train", kind="texture") == ["brick"]
    for held_out in ("validation", "test"):  # each kind of image is represented
        assert {k for k in data.IMAGE_KINDS if data.split_names(held_out, kind=k)} == set(data.IMAGE_KINDS)
    with pytest.raises(ValueError, match="split"):
        data.split_names("holdout")


REPEATED = verdicts.protocol(data=verdicts.own("the seed's 150/50 protocol"), model=verdicts.own(), budget=verdicts.own(), metric=verdicts.own())
SUBSTITUTED = verdicts.protocol(
    data=verdicts.substitute("bundled textures instead of Brodatz"), model=verdicts.own(), budget=verdicts.substitute("4 epochs on a CPU"), metric=verdicts.own()
)


def spec(protocol=REPEATED, **kw):
    fields = {"claim": "x", "seed": "001", "chapter": "04_x", "quantity": "q", "claimed": 0.5, "tolerance": 0.1, "protocol": protocol}
    return verdicts.specification("k", **(fields | kw))


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
def test_a_repeated_protocol_is_reproduced_or_refuted_by_the_stated_tolerance(comparison, measured, expected):
    v = verdicts.judge_claim(spec(comparison=comparison), measured=measured)
    assert v.verdict == expected and v["basis"] == "same protocol" and v["protocol_repeated"]
    assert ("is not" in v.reason) == (expected == "refuted")


@pytest.mark.parametrize(
    "comparison, measured, expected",
    [
        ("at_least", 0.0 - 0.345, "inconclusive"),  # chapter 3's sign, inside a noise of 1 point
        ("at_least", 1.5, "reproduced"),
        ("at_least", -1.5, "refuted"),
        ("at_most", 0.9, "inconclusive"),
        ("at_most", -1.2, "reproduced"),
        ("at_most", 1.2, "refuted"),
        ("equal", 0.9, "inconclusive"),  # agreement inside the noise cannot reproduce an equality
        ("equal", -1.01, "refuted"),
    ],
)
def test_inside_a_measured_noise_the_verdict_is_inconclusive_and_outside_it_decided(comparison, measured, expected):
    s = spec(claimed=0.0, comparison=comparison, tolerance=verdicts.measured_noise("spread of the gap over 3 seeds"))
    v = verdicts.judge_claim(s, measured=measured, noise=1.0)
    assert v.verdict == expected and v["noise"] == v["tolerance"] == 1.0 and v["tolerance_kind"] == "noise"
    assert "spread of the gap over 3 seeds" in v.reason
    with pytest.raises(ValueError, match="noise="):
        verdicts.judge_claim(s, measured=measured)


def test_a_substitute_protocol_is_not_refuted_unless_the_measured_bound_is_exceeded():
    # the seed's 0.2350 px against the book's 0.416 px on substitute data and budget
    s = spec(SUBSTITUTED, claimed=0.2350, tolerance=0.05, comparison="at_most", unit="px")
    v = verdicts.judge_claim(s, measured=0.416)
    assert v.verdict == "not reproducible offline" and v["basis"] == "substitute"
    assert "0.416 px" in v.reason and "bundled textures instead of Brodatz" in v.reason and "is not at most" in v.reason and "would read: refuted" in v.reason
    close = verdicts.judge_claim(s, measured=0.25)  # a match on substitutes reproduces nothing either
    assert close.verdict == "not reproducible offline" and "would read: reproduced" in close.reason
    bounded = spec(SUBSTITUTED, claimed=0.2350, tolerance=0.05, comparison="at_most", unit="px", bound="spread over the test textures")
    shortfall = 0.416 - 0.2350 - 0.05
    assert verdicts.judge_claim(bounded, measured=0.416, bound=shortfall + 0.01).verdict == "not reproducible offline"
    v = verdicts.judge_claim(bounded, measured=0.416, bound=shortfall - 0.01)
    assert v.verdict == "refuted" and v["basis"] == "bound" and v["bound_value"] == pytest.approx(shortfall - 0.01)
    with pytest.raises(ValueError, match="bound="):
        verdicts.judge_claim(bounded, measured=0.416)
    noisy = spec(SUBSTITUTED, claimed=0.0, comparison="at_least", tolerance=verdicts.measured_noise("median epoch-to-epoch change"))
    v = verdicts.judge_claim(noisy, measured=0.05, noise=0.9)  # chapter 3: synthetic pairs, 14 of 100 epochs
    assert v.verdict == "not reproducible offline" and "would read: inconclusive" in v.reason and v["tolerance"] == 0.9
    with pytest.raises(ValueError, match="declares none"):
        verdicts.judge_claim(s, measured=0.416, bound=0.0)
    with pytest.raises(ValueError, match="substitute protocol only"):
        spec(REPEATED, bound="a bound")


def test_the_protocol_match_is_structured_and_required():
    p = verdicts.protocol(data=verdicts.not_applicable(), model="own", budget="not applicable", metric=verdicts.own("parameter count"))
    assert p["model"] == {"match": "own", "detail": ""} and verdicts.protocol_repeated(p)
    assert not verdicts.protocol_repeated(SUBSTITUTED)
    assert verdicts.protocol_text(SUBSTITUTED).startswith("data: substitute (bundled textures instead of Brodatz); model: own")
    with pytest.raises(ValueError, match="how far"):
        verdicts.substitute("")
    with pytest.raises(ValueError, match="protocol field data"):
        verdicts.protocol(data="substitute", model="own", budget="own", metric="own")
    with pytest.raises(TypeError):
        verdicts.specification("k", claim="x", seed="0", chapter="c", quantity="q", claimed=1, tolerance=0)
    with pytest.raises(ValueError, match="protocol must come from"):
        verdicts.specification("k", claim="x", seed="0", chapter="c", quantity="q", claimed=1, tolerance=0, protocol=None)


def test_a_record_without_a_protocol_match_is_refused(tmp_path):
    record = verdicts.Verdict(seed="0", claim="x", chapter="04_x", verdict="refuted", reason="r", specified_before_test=True)
    with pytest.raises(ValueError, match="no protocol match"):
        verdicts.save_verdicts([record], "04_x", folder=tmp_path)
    record["protocol"] = REPEATED
    assert verdicts.save_verdicts([record], "04_x", folder=tmp_path).is_file()


def test_a_specification_registered_after_the_first_test_read_cannot_be_judged(tmp_path):
    before = spec()
    assert bundled.first_test_read() is None and before["specified_before_test"]
    bundled.split_names("train")
    bundled.split_names("validation")
    assert bundled.first_test_read() is None  # only the test split counts
    bundled.split_names("test")
    first = bundled.first_test_read()
    assert first is not None
    bundled.split_names("test")
    assert bundled.first_test_read() == first  # the first read is kept
    after = spec()
    assert after["specified_before_test"] is False
    assert verdicts.judge_claim(before, measured=0.5).verdict == "reproduced"
    with pytest.raises(RuntimeError, match="after the chapter first read its test split"):
        verdicts.judge_claim(after, measured=0.5)
    forged = verdicts.Verdict(verdicts.judge_claim(before, measured=0.5), specified_before_test=False)
    with pytest.raises(ValueError, match="not specified before"):
        verdicts.save_verdicts([forged], "04_x", folder=tmp_path)


def test_reading_a_test_image_by_name_counts_as_reading_the_test_split(monkeypatch):
    monkeypatch.setattr(bundled, "_bundled_path", lambda name: (_ for _ in ()).throw(FileNotFoundError(name)))
    with pytest.raises(FileNotFoundError):
        bundled.bundled_image("brick")  # a training image: not the test split
    assert bundled.first_test_read() is None
    with pytest.raises(FileNotFoundError):
        bundled.bundled_image("camera")
    assert bundled.first_test_read() is not None


def test_a_claim_book_specifies_shows_judges_stamps_and_saves(tmp_path):
    params = verdicts.protocol(data=verdicts.not_applicable(), model=verdicts.own(), budget=verdicts.not_applicable(), metric=verdicts.own())
    book = verdicts.ClaimBook("03_x", profile="smoke", seed=7, source="002")
    book.specify("params", claim="34,951,683 parameters", quantity="parameters", claimed=34_951_683, tolerance=0, protocol=params)
    book.specify("val", claim="val above train", quantity="gap, points", claimed=0.0, comparison="at_least",
                 tolerance=verdicts.measured_noise("sd of the epoch-to-epoch change of training acc"), unit="points", protocol=REPEATED)
    book.specify("test_acc", claim="78.50 %", quantity="acc, %", claimed=78.5, tolerance=2.0, protocol=SUBSTITUTED,
                 offline="needs the Kaggle blur-dataset and 100 epochs")
    table = book.table()
    assert "before the test split was read" in table.caption and len(table.rows) == 3
    assert "measured noise: sd of the epoch-to-epoch change" in table._repr_html_()
    with pytest.raises(KeyError, match="never specified"):
        book.judge("clarity", measured=1.0)
    with pytest.raises(ValueError, match="already specified"):
        book.specify("val", claim="x", quantity="q", claimed=0, tolerance=0, protocol=REPEATED)
    book.judge("params", measured=34_951_683)
    with pytest.raises(ValueError, match="not judged in 03_x: val, test_acc"):
        book.save(folder=tmp_path)
    book.judge("val", measured=-0.345, noise=13.67)
    v = book.judge("test_acc", measured=61.2)
    assert v.reason.startswith("needs the Kaggle blur-dataset and 100 epochs; with substitutes") and "61.2" in v.reason
    with pytest.raises(ValueError, match="judged once"):
        book.judge("val", measured=1.0, noise=0.1)
    saved = json.loads(book.save(folder=tmp_path).read_text())
    assert [r["verdict"] for r in saved] == ["reproduced", "inconclusive", "not reproducible offline"]
    for r in saved:
        assert r["seed"] == "002" and r["profile"] == "smoke" and r["run_seed"] == 7 and r["specified_before_test"] is True
        assert r["commit"] and r["time"] and set(r["protocol"]) == set(verdicts.PROTOCOL_FIELDS)
    assert [v.verdict for v in verdicts.load_verdicts(tmp_path)] == [r["verdict"] for r in saved]
    assert saved[1]["tolerance"] == 13.67 and saved[2]["tolerance"] == 2.0  # numbers, as the ledger reads them
    assert "tolerance 13.7 points" in evaluation.ledger_rows(verdicts.load_verdicts(tmp_path))[1]["numbers"]
    with pytest.raises(ValueError, match="belongs to chapter"):
        verdicts.save_verdicts(list(book.verdicts.values()), "07_y", folder=tmp_path)


def test_the_ledger_counts_split_refuted_into_same_protocol_and_by_bound():
    s_same = spec()
    s_bound = spec(SUBSTITUTED, bound="b")
    records = [
        verdicts.judge_claim(s_same, measured=0.5),
        verdicts.judge_claim(s_same, measured=0.9),
        verdicts.judge_claim(s_bound, measured=0.9, bound=0.1),
        verdicts.judge_claim(s_bound, measured=0.9, bound=0.5),
        verdicts.judge_claim(spec(claimed=0.0, tolerance=verdicts.measured_noise("n")), measured=0.1, noise=1.0),
    ]
    counts = verdicts.count_verdicts(records)
    assert counts == {
        "n_claims": 5,
        "n_reproduced": 1,
        "n_refuted": 2,
        "n_refuted_same_protocol": 1,
        "n_refuted_by_bound": 1,
        "n_inconclusive": 1,
        "n_offline": 1,
    }


def test_nothing_measured_needs_a_reason_and_bad_input_is_refused():
    s = spec(SUBSTITUTED, claimed=1.1621e-04, offline="under-specified: no image or classes named")
    v = verdicts.judge_claim(s)
    assert v.verdict == "not reproducible offline" and v["basis"] == "not measured" and v.reason.startswith("under-specified")
    with pytest.raises(ValueError, match="say why nothing could be measured"):
        verdicts.judge_claim(spec())
    with pytest.raises(ValueError, match="measured must be finite"):
        verdicts.judge_claim(spec(), measured=float("nan"))
    with pytest.raises(ValueError, match="comparison"):
        spec(comparison="about")
    with pytest.raises(ValueError, match="tolerance"):
        spec(tolerance=-1)
    with pytest.raises(ValueError, match="tolerance must be"):
        spec(tolerance=None)


def test_a_claim_without_a_specification_or_a_record_without_a_protocol_match_is_refused(tmp_path):
    with pytest.raises(TypeError, match="Specification from ClaimBook.specify"):
        verdicts.judge_claim("x", measured=2.0)
    record = verdicts.judge_claim(spec(), measured=0.5)
    bare = verdicts.Verdict({k: v for k, v in record.items() if k != "protocol"})
    with pytest.raises(ValueError, match="no protocol match"):
        verdicts.save_verdicts([bare], "04_x", folder=tmp_path)
    assert verdicts.save_verdicts([record], "04_x", folder=tmp_path).is_file()


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


def test_grid_edge_note_names_the_settings_chosen_at_an_end_of_their_grid():
    note = verdicts.grid_edge_note(
        {"NSR": (0.03, [1e-4, 1e-3, 0.03]), "iterations": (20, [5, 20, 80]), "step": (1e-3, [1e-3, 3e-3])}
    )
    assert note.startswith("Chosen at an end of the grid tried")
    assert "NSR (0.03, the largest of 0.0001 to 0.03)" in note and "step (0.001, the smallest" in note
    assert "iterations" not in note
    # an end at 0 is the option switched off: no edge
    assert verdicts.grid_edge_note({"TV": (0.0, [0.0, 1e-3])}) == "No setting was chosen at an end of the grid tried"
    for bad in ({}, {"a": (2.0, [1.0, 3.0])}, {"a": (1.0, [1.0])}, {"a": 1.0}):
        with pytest.raises(ValueError):
            verdicts.grid_edge_note(bad)
