"""Every notebook runs top to bottom in the smoke profile, and the book builds from the results.

Tests run in definition order: the notebooks first, the book build last (it needs them).
"""

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import bookrunner  # noqa: E402
from deblurkit.book import chapters  # noqa: E402
from deblurkit.evaluation import BLUR_KINDS  # noqa: E402

pytestmark = pytest.mark.book

# Values each chapter must glue, so that prose numbers come from computed cells.
REQUIRED_GLUE = {
    "00_blur_models.ipynb": {
        "shake_centroid_offset_max",
        "n_bundled_images",
        "min_gain_motion",
        "min_gain_acceleration",
        "boundary_max_diff",
        "psnr_inverse_motion_noisy",
        "psnr_inverse_acceleration_noisy",
        "inverse_vs_blurred_motion",
        "inverse_vs_blurred_acceleration",
        "profile_used",
        "chapter_seconds",
    },
    "01_acceleration_otf.ipynb": {
        "seed_cases_share_text",
        "seed_cases_critical",
        "offline_rows_phrase",
        "otf_max_abs_err",
        "psnr_wiener_known_noisy",
        "psnr_inverse_known_noiseless",
        "psnr_product_cost_diagonal_db",
        "psnr_sensitivity_exact",
        "psnr_sensitivity_01_05",
        "psnr_inverse_camera_noiseless",
        "inverse_vs_blurred_noisy",
        "regularised_ranking",
        "verdict_h_form",
        "verdict_product_form",
        "verdict_known_restores",
        "verdict_accuracy_critical",
        "otf_tolerance",
        "tolerance_h_form",
        "tolerance_product_form",
        "profile_used",
        "chapter_seconds",
    },
    "02_estimating_acceleration.ipynb": {
        "critical_error_lo",
        "critical_error_hi",
        "critical_phrase",
        "max_reach_diag_px",
        "remedy_l2_gap_word",
        "bars_phrase",
        "verdict_learnable_150",
        "mae_best_ax",
        "mae_best_ay",
        "psnr_gap_estimated_db",
        "mae_approach1_large",
        "mae_approach2_large",
        "mae_approach3_large",
        "mae_approach4_large",
        "mae_classical",
        "mae_training_mean",
        "profile_used",
        "chapter_seconds",
    },
    "03_autoencoder.ipynb": {
        "acc_gap_count_phrase",
        "params_total",
        "acc_keras",
        "acc_by_hand",
        "psnr_blurred_heldout",
        "psnr_autoencoder_heldout",
        "psnr_wiener_heldout",
        "ssim_autoencoder_heldout",
        "acc_vs_psnr",
        "mode_phrase",
        "acc_sign_phrase",
        "tolerance_generalises",
        "tolerance_val_above_train",
        "validation_images",
        "n_code_components",
        "profile_used",
        "chapter_seconds",
    },
    "04_sigma_map_cnn.ipynb": {
        "n_relu_layers",
        "rmse_10_classes",
        "rmse_30_classes",
        "rmse_ramp_map",
        "rmse_ramp_10_classes",
        "rmse_ramp_30_classes",
        "rmse_sin_smoothing_0",
        "rmse_sin_smoothing_1",
        "rmse_sin_smoothing_many",
        "rmse_sin_map",
        "rmse_fcn_map",
        "params_sigma_cnn",
        "fcn_vs_classifier",
        "fcn_tie_px",
        "verdict_tolerance_px",
        "large_errors_phrase",
        "setting_side_30",
        "smoothing_iterations_chosen",
        "verdict_sin_12000",
        "fcn_dilations",
        "profile_used",
        "chapter_seconds",
    },
    "05_adaptive_basis.ipynb": {
        "params_adaptive_basis",
        "adjoint_rel_error",
        "kernel_error_network",
        "kernel_error_single_kernel",
        "kernel_error_untrained",
        "psnr_blurred_nonuniform",
        "psnr_rl_estimated",
        "psnr_rl_true_kernels",
        "psnr_rl_single_kernel",
        "ssim_rl_estimated",
        "kernel_source",
        "norm_used",
        "norm_probe_sentence",
        "field_reading",
        "fresh_trajectory_sentence",
        "n_departures_adaptive_basis",
        "single_kernel_rl_choice",
        "test_draw_seed",
        "grid_edge_note",
        "kernel_goal",
        "profile_used",
        "chapter_seconds",
    },
    "06_deblurgan.ipynb": {
        "params_generator",
        "params_critic",
        "params_generator_trained",
        "content_loss_used",
        "psnr_blurred_gan",
        "psnr_deblurgan",
        "ssim_deblurgan",
        "psnr_gain_deblurgan_db",
        "psnr_content_only",
        "psnr_wiener_oracle_gan",
        "seconds_per_720p_cpu",
        "psnr_one_sixth_data",
        "training_data_used",
        "test_data_used",
        "gan_label",
        "n_departures_deblurgan",
        "psnr_deblurgan_dropout_on",
        "psnr_deblurgan_dropout_off",
        "sharpness_deblurgan",
        "sharpness_content_only",
        "sharpness_sharp",
        "one_sixth_seeds",
        "psnr_one_sixth_spread_db",
        "psnr_one_sixth_data_effect_db",
        "one_sixth_control_reading",
        "n_validation_checks_experiment",
        "grid_edge_note",
        "profile_used",
        "chapter_seconds",
    },
    "07_blind_deconvolution.ipynb": {
        "psnr_blind_l0_heldout",
        "psnr_blurred_blind_heldout",
        "psnr_true_kernel_heldout",
        "kernel_error_blind_l0",
        "seconds_blind_l0_256",
        "profile_used",
        "chapter_seconds",
    },
}

# Chapter 7: the PSNR of every method on every blur kind it applies to, named systematically.
_CH7_KINDS = BLUR_KINDS  # the kinds the library defines, not a copy
_CH7_METHODS = {
    "blurred": _CH7_KINDS,
    "inverse": _CH7_KINDS[:4],
    "pseudo_inverse": _CH7_KINDS[:4],
    "wiener": _CH7_KINDS[:4],
    "cls": _CH7_KINDS[:4],
    "unsupervised_wiener": _CH7_KINDS[:4],
    "richardson_lucy": _CH7_KINDS,
    "estimator": ("acceleration",),
    "autoencoder": _CH7_KINDS,
    "sigma_map": ("defocus", "gaussian"),
    "adaptive_basis": _CH7_KINDS,
    "deblurgan": _CH7_KINDS,
    "blind_l0": _CH7_KINDS,  # chapter 7's blind deconvolution, no learning
}
REQUIRED_GLUE["08_side_by_side.ipynb"] = {
    "n_eval_images",
    "n_claims_checked",
    "photo_description",
    "ab_training_note",
    "profile_used",
    "chapter_seconds",
    "gamma",
    "verdict_records_stale",
    "n_reproduced",
    "n_refuted",
    "n_refuted_same_protocol",
    "n_refuted_by_bound",
    "n_inconclusive",
    "n_offline",
    *(f"best_oracle_method_{k}" for k in _CH7_KINDS),
    *(f"best_blind_method_{k}" for k in _CH7_KINDS),
    *(f"blind_l0_vs_learned_{k}" for k in _CH7_KINDS),
    *(f"psnr_{m}_{k}" for m, kinds in _CH7_METHODS.items() for k in kinds),
}

NOTEBOOKS = bookrunner.source_notebooks()


def test_every_notebook_has_its_glue_listed():
    assert {p.name for p in NOTEBOOKS} == set(REQUIRED_GLUE)


@pytest.mark.parametrize("source", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_source_notebook_is_clean(source):
    nb = json.loads(source.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert not any(c.get("outputs") or c.get("execution_count") for c in code), "commit notebooks without outputs"
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1 and "profile" in "".join(params[0]["source"]) and "seed" in "".join(params[0]["source"])
    sources = "".join("".join(c["source"]) for c in code)
    assert not ("import torch" in sources and ("import tensorflow" in sources or "import keras" in sources)), "one framework per notebook"


@pytest.mark.parametrize("source", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_smoke_profile(source):
    started = time.time()
    executed, _ = bookrunner.execute_notebook(source, profile="smoke", seed=0)
    if chapters.chapter(source.stem).files_verdicts:  # every verdict was specified before the test split was read
        record = chapters.verdict_record_path(source.stem, "smoke")
        assert record.is_file() and record.stat().st_mtime >= started, f"{source.stem} wrote no verdict record this run"
        for r in json.loads(record.read_text()):
            assert r["specified_before_test"] is True and set(r["protocol"]) == {"data", "model", "budget", "metric"}, r["claim"]
    glued = bookrunner.glued_values(executed)
    missing = REQUIRED_GLUE[source.name] - set(glued)
    assert not missing, f"{source.name} does not glue {sorted(missing)}"
    for name, text in glued.items():
        assert text, f"{source.name}: glued {name} has no text value"
        if text[0] in "'\"":
            continue  # a glued string
        assert math.isfinite(float(text)), f"{source.name}: glued {name} = {text}"


def _fake_gopro(root, sequences, frames=2, side=64):
    """A GoPro tree of ``side``-px PNG pairs: smooth random scenes, blurred by a horizontal shake."""
    import numpy as np
    from scipy.ndimage import gaussian_filter, uniform_filter1d
    from skimage import io

    rng = np.random.default_rng(0)
    for split, names in sequences.items():
        for seq in names:
            for f in range(frames):
                sharp = gaussian_filter(rng.uniform(size=(side + 16, side + 16, 3)), (2, 2, 0))
                sharp = (sharp - sharp.min()) / np.ptp(sharp)
                blur = uniform_filter1d(sharp, 9, axis=1)
                for kind, img in (("sharp", sharp), ("blur", blur)):
                    folder = root / split / seq / kind
                    folder.mkdir(parents=True, exist_ok=True)
                    pixels = (img[8:-8, 8:-8] * 255).round().astype(np.uint8)
                    io.imsave(folder / f"{f:06d}.png", pixels, check_contrast=False)
    return root


def test_deblurgan_chapter_uses_gopro_when_it_is_given_and_says_so(tmp_path, monkeypatch):
    """Chapter 6's GoPro branch on a tiny fake tree: trains on GoPro's training sequences,
    validates on a sequence carved from them, scores GoPro's test pairs, and the page says so."""
    sequences = {"train": ["GOPR0001", "GOPR0002", "GOPR0003"], "test": ["GOPR0100", "GOPR0101"]}
    gopro = _fake_gopro(tmp_path / "GoPro", sequences)
    monkeypatch.setenv("DEBLURKIT_HOME", str(tmp_path / "book"))  # checkpoint and verdicts go here
    source = ROOT / "notebooks" / "06_deblurgan.ipynb"
    assert "gopro_root" in bookrunner.declared_parameters(source)
    executed, _ = bookrunner.execute_notebook(
        source, profile="smoke", output_dir=tmp_path / "out", extra={"gopro_root": str(gopro)}
    )
    glued = bookrunner.glued_values(executed)
    assert not REQUIRED_GLUE[source.name] - set(glued)
    assert glued["training_data_used"] == "'GoPro training pairs (2 sequences; 1 more held out for validation)'"
    assert glued["test_data_used"] == "'GoPro test pairs (2 sequences)'"
    # 2 training sequences x 2 frames; 1/6 of them is one pair
    assert (glued["n_train_images"], glued["n_sixth_images"]) == ("4", "1")
    assert "GoPro" in glued["train_unit"] and "synthetic" in glued["oracle_set"]
    assert "GOPR0100" in glued["large_image_used"]
    for name in ("psnr_deblurgan", "psnr_blurred_gan", "psnr_wiener_oracle_gan", "psnr_deblurgan_oracle_set"):
        assert math.isfinite(float(glued[name]))
    # the headline numbers are not the synthetic crops' numbers
    assert glued["psnr_blurred_gan"] != glued["psnr_deblurgan_oracle_set"]
    meta = json.loads((tmp_path / "book" / "data" / "checkpoints" / "06_deblurgan_smoke.json").read_text())
    assert meta["config"]["gopro_root"] == str(gopro)
    verdicts = json.loads((tmp_path / "book" / "data" / "verdicts" / "smoke" / "06_deblurgan.json").read_text())
    # a GoPro-only run is held against the paper's GoPro-only row (DeblurGAN-WILD), cited
    on_gopro = next(v for v in verdicts if v["key"] == "table_row")
    assert "WILD" in on_gopro["claim"] and on_gopro["seed"] == "kupyn2018" and on_gopro["measured"] is not None
    assert on_gopro["protocol"]["data"]["match"] == "own" and "GoPro test pairs" in on_gopro["reason"]


def test_photo_parameter_reaches_only_the_chapter_that_declares_it():
    declaring = [p.stem for p in NOTEBOOKS if "photo" in bookrunner.declared_parameters(p)]
    assert declaring == ["08_side_by_side"]
    assert {"profile", "seed", "interactive"} <= bookrunner.declared_parameters(NOTEBOOKS[-1])


def test_a_failing_cell_names_the_notebook_and_the_cell(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell('profile = "cpu"\nseed = 0', metadata={"tags": ["parameters"]}), new_code_cell("1 / 0")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = tmp_path / "broken.ipynb"
    nbformat.write(nb, source)
    with pytest.raises(bookrunner.NotebookFailed, match=r"broken\.ipynb: cell \d+ .*ZeroDivisionError"):
        bookrunner.execute_notebook(source, profile="smoke", output_dir=tmp_path / "out")


def _notebook(path, *cells):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    params = new_code_cell('profile = "cpu"\nseed = 0', metadata={"tags": ["parameters"]})
    nb = new_notebook(cells=[params, *(new_code_cell(c) for c in cells)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_kernel_chatter_stays_off_the_console_unless_a_notebook_fails(tmp_path, capfd):
    chatter = 'import os\nos.write(2, b"kernel chatter on stderr\\n")'
    quiet = _notebook(tmp_path / "quiet.ipynb", chatter, "x = 1")
    bookrunner.execute_all([quiet], profile="smoke", seed=0, output_dir=tmp_path / "out")
    err = capfd.readouterr().err
    assert "kernel chatter" not in err and "quiet" in err  # the progress bar names the notebook
    executed = json.loads((tmp_path / "out" / "quiet.ipynb").read_text())
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and all("remove-cell" in c["metadata"]["tags"] for c in injected)

    broken = _notebook(tmp_path / "broken2.ipynb", chatter, "1 / 0")
    with pytest.raises(bookrunner.NotebookFailed, match="ZeroDivisionError"):
        bookrunner.execute_all([broken], profile="smoke", seed=0, output_dir=tmp_path / "out")
    assert "kernel chatter" in capfd.readouterr().err


def test_book_builds_with_warnings_as_errors():
    for source in NOTEBOOKS:
        if not (bookrunner.EXECUTED_DIR / source.name).exists():
            bookrunner.execute_notebook(source, profile="smoke", seed=0)
    # -W turns a missing glue key or a broken reference into a failure.
    bookrunner.build_book()
    for source in NOTEBOOKS:
        page = bookrunner.HTML_DIR / "book" / "notebooks" / f"{source.stem}.html"
        html = page.read_text()
        assert html.count("<img") >= 3, f"{page.name} shows fewer than 3 figures"
        assert "Traceback" not in html, f"{page.name} shows a traceback"
        assert "interactive(children" not in html, f"{page.name} shows a dead widget"
        # math must render offline: MathJax from the local copy, never from a CDN
        assert "_static/mathjax/tex-chtml.js" in html and "cdn.jsdelivr" not in html, f"{page.name} loads MathJax from the network"
    assert (bookrunner.HTML_DIR / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


# The book's code column shows about 90 characters; longer lines scroll sideways.
NOTEBOOK_LINE_LENGTH = 92


def test_notebook_code_is_formatted_to_the_book_column():
    ruff = Path(sys.executable).with_name("ruff")
    cmd = [str(ruff), "format", "--check", "--no-cache", f"--line-length={NOTEBOOK_LINE_LENGTH}", *map(str, NOTEBOOKS)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, (
        f"run: ruff format --line-length={NOTEBOOK_LINE_LENGTH} notebooks/*.ipynb\n{result.stdout}{result.stderr}"
    )


def test_table_of_contents_lists_the_chapters_in_order():
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = [c["file"].rsplit("/", 1)[-1] for part in toc["parts"] for c in part["chapters"] if "notebooks/" in c["file"]]
    assert listed == [p.stem for p in NOTEBOOKS]


# Longer code cells are split or moved into a named, documented function (BOOK.md §5, style).
MAX_CODE_CELL_LINES = 40


@pytest.mark.parametrize("source", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_code_cells_are_short(source):
    nb = json.loads(source.read_text())
    long_cells = {c["id"]: len("".join(c["source"]).splitlines()) for c in nb["cells"] if c["cell_type"] == "code"}
    long_cells = {k: n for k, n in long_cells.items() if n > MAX_CODE_CELL_LINES}
    assert not long_cells, f"{source.name}: cells over {MAX_CODE_CELL_LINES} lines: {long_cells}"
