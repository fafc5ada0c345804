"""nbval re-executes the chapters whose cells carry the check tag and compares those cells'
outputs (parameter counts, closed-form checks, seeded smoke-profile numbers) with the reference
outputs in ``tests/reference_outputs/``: a change that alters a published number fails here.

After a change that is *meant* to alter such an output, re-record the references with
``.venv/bin/python tools/bookrunner.py --update-references`` and commit them with the change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import bookrunner

pytestmark = pytest.mark.book

SANITIZE = bookrunner.REFERENCE_DIR / "sanitize.cfg"
CHECKED = [p for p in bookrunner.source_notebooks() if bookrunner.checked_cells(json.loads(p.read_text()))]


def run_nbval(notebook: Path) -> subprocess.CompletedProcess:
    """``pytest --nbval-lax notebook`` in a fresh process: only the tagged cells are compared."""
    env = {**os.environ, "DEBLURKIT_HOME": str(ROOT), "DEBLURKIT_QUIET": "1"}
    env.pop("MPLBACKEND", None)
    cmd = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
        f"--nbval-sanitize-with={SANITIZE}", "--rootdir", str(notebook.parent), str(notebook),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=notebook.parent, check=False)


def test_some_chapters_carry_checked_cells_with_references():
    assert len(CHECKED) >= 2
    for source in CHECKED:
        stored = json.loads((bookrunner.REFERENCE_DIR / f"{source.stem}.json").read_text())
        ids = {c["id"] for c in bookrunner.checked_cells(json.loads(source.read_text()))}
        assert ids == set(stored), f"{source.name}: checked cells and references differ; run --update-references"


@pytest.mark.parametrize("source", CHECKED, ids=[p.stem for p in CHECKED])
def test_checked_outputs_reproduce(source, tmp_path):
    # next to the sources, so that the kernel starts where the chapters run
    target = bookrunner.nbval_notebook(source, tmp_path / source.name)
    result = run_nbval(target)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_a_changed_output_fails(tmp_path):
    """The check can fail: a tagged cell whose reference disagrees with what it computes."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    params = new_code_cell('profile = "cpu"\nseed = 0\ninteractive = True', metadata={"tags": ["parameters"]})
    checked = new_code_cell("print(6 * 7)", metadata={"tags": [bookrunner.NBVAL_TAG]})
    nb = new_notebook(cells=[params, checked])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = tmp_path / "answer.ipynb"
    nbformat.write(nb, source)
    outputs = {}
    for name, printed in (("right", "42\n"), ("wrong", "41\n")):
        reference = tmp_path / f"{name}.json"
        reference.write_text(json.dumps({checked.id: [new_output("stream", name="stdout", text=printed)]}))
        target = bookrunner.nbval_notebook(source, tmp_path / name / "answer.ipynb", reference=reference)
        outputs[name] = run_nbval(target)
    assert outputs["right"].returncode == 0, outputs["right"].stdout[-2000:]
    assert outputs["wrong"].returncode != 0 and "41" in outputs["wrong"].stdout
