"""Every notebook runs top to bottom in the smoke profile, and the book builds from the results.

Tests run in definition order: the notebooks first, the book build last (it needs them).
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import bookrunner  # noqa: E402

pytestmark = pytest.mark.book

# Values each chapter must glue, so that prose numbers come from computed cells.
REQUIRED_GLUE = {
    "00_blur_models.ipynb": {
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
        "profile_used",
        "chapter_seconds",
    },
    "02_estimating_acceleration.ipynb": {
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
        "params_total",
        "acc_keras",
        "acc_by_hand",
        "psnr_blurred_heldout",
        "psnr_autoencoder_heldout",
        "psnr_wiener_heldout",
        "ssim_autoencoder_heldout",
        "profile_used",
        "chapter_seconds",
    },
    "04_sigma_map_cnn.ipynb": {
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
        "profile_used",
        "chapter_seconds",
    },
}

# Chapter 7: the PSNR of every method on every blur kind it applies to, named systematically.
_CH7_KINDS = ("acceleration", "defocus", "gaussian", "trajectory", "nonuniform")
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
}
REQUIRED_GLUE["07_side_by_side.ipynb"] = {
    "n_eval_images",
    "n_claims_checked",
    "photo_description",
    "profile_used",
    "chapter_seconds",
    *(f"best_method_{k}" for k in _CH7_KINDS),
    *(f"best_blind_{k}" for k in _CH7_KINDS),
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
    executed, _ = bookrunner.execute_notebook(source, profile="smoke", seed=0)
    glued = bookrunner.glued_values(executed)
    missing = REQUIRED_GLUE[source.name] - set(glued)
    assert not missing, f"{source.name} does not glue {sorted(missing)}"
    for name, text in glued.items():
        assert text, f"{source.name}: glued {name} has no text value"
        if text[0] in "'\"":
            continue  # a glued string
        assert math.isfinite(float(text)), f"{source.name}: glued {name} = {text}"


def test_photo_parameter_reaches_only_the_chapter_that_declares_it():
    declaring = [p.stem for p in NOTEBOOKS if "photo" in bookrunner.declared_parameters(p)]
    assert declaring == ["07_side_by_side"]
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
