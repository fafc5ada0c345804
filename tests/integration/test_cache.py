"""The book runner's execution cache (tools/bookcache.py) on the book's real chapter declaration.

Fast tests (no kernel): the dependency graph of ``deblurkit.book.chapters``, and the runner's
``--plan`` on a copy of the project whose every chapter has a stored page: touching one chapter's
source re-executes exactly it and its readers, a library file every chapter, ``README.md`` none.
One end-to-end sequence (marked ``book``, run under the lock): a copy of the project in which
chapter 0 is the real one and chapters 1-8 tiny stand-ins that write the files their declaration
says (so the real graph is exercised in seconds), executed and built for real.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import bookcache
import bookrunner
from deblurkit.book import chapters
from deblurkit.book.glue import (
    PROVENANCE_KEY,
    provenance,
    provenance_html,
    provenance_text,
)

SIDE_BY_SIDE = "08_side_by_side"
COPIED = ("notebooks", "lib", "tools", "book", "_toc.yml", "_config.yml", "constraints.txt", "README.md")


# ---------------------------------------------------------------------------------------------
# The declaration and its graph


def test_every_notebook_is_declared_with_its_title():
    declared = {c.stem: c for c in chapters.CHAPTERS}
    on_disk = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert set(on_disk) <= set(declared), "declare new chapters in lib/deblurkit/book/chapters.py"
    for stem in on_disk:
        nb = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text())
        first = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
        assert "".join(first["source"]).splitlines()[0] == f"# {declared[stem].title}"


def test_what_a_chapter_reads_is_what_another_declares_it_writes():
    by_stem = {c.stem: c for c in chapters.CHAPTERS}
    for c in chapters.CHAPTERS:
        for checkpoint in c.reads:
            assert checkpoint in by_stem[checkpoint.chapter].saves, (c.stem, checkpoint)
        for stem in c.reads_verdicts_of:
            assert by_stem[stem].files_verdicts, (c.stem, stem)
        assert all(chapters.STEMS.index(s) < chapters.STEMS.index(c.stem) for s in c.upstream())  # not itself


def test_the_side_by_side_chapter_reads_chapters_2_to_6_and_every_verdict_record():
    side = chapters.chapter(SIDE_BY_SIDE)
    assert {c.chapter for c in side.reads} == {c.stem for c in chapters.CHAPTERS if c.number in ("02", "03", "04", "05", "06")}
    assert set(side.reads_verdicts_of) == {c.stem for c in chapters.CHAPTERS if c.files_verdicts} - {SIDE_BY_SIDE}
    assert chapters.chapter("07_blind_deconvolution").saves == ()


def test_the_keras_models_chapter_8_loads_are_declared_as_its_reads():
    from deblurkit.evaluation.keras_worker import KERAS_CHECKPOINTS

    declared = {(c.chapter, c.name) for c in chapters.chapter(SIDE_BY_SIDE).reads}
    assert {(chapter, name) for chapter, name, _ in KERAS_CHECKPOINTS.values()} <= declared


@pytest.mark.parametrize(
    ("stem", "readers"),
    [("00_blur_models", ()), ("01_acceleration_otf", (SIDE_BY_SIDE,)), ("03_autoencoder", (SIDE_BY_SIDE,)),
     ("07_blind_deconvolution", ()), (SIDE_BY_SIDE, ())],  # chapter 7 files nothing chapter 8 reads
)
def test_readers_on_the_real_graph(stem, readers):
    assert chapters.readers(stem) == readers


def test_a_missing_checkpoint_names_the_chapter_to_run(tmp_path, monkeypatch):
    from deblurkit.book.checkpoints import checkpoint_path, require_checkpoint

    monkeypatch.setenv("DEBLURKIT_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"chapter 5, .*\(notebooks/05_adaptive_basis\.ipynb\).*--only 05"):
        require_checkpoint(checkpoint_path("05_adaptive_basis", "smoke", ext="pt"), chapter="05_adaptive_basis", profile="smoke")


# ---------------------------------------------------------------------------------------------
# Keys and plans on a copy of the project (no kernel)


def _copy_project(target: Path) -> Path:
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "notebooks" if name == "book" else "-"))
        else:
            shutil.copy2(src, target / name)
    return target


def _edit_markdown(source: Path, text: str) -> None:
    nb = json.loads(source.read_text())
    cell = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    cell["source"] = "".join(cell["source"]) + text
    source.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of the project with the runner pointed at it, every declared output present and
    every chapter with a stored page valid for the current sources (smoke profile, seed 0)."""
    root = _copy_project(tmp_path / "book-copy")
    for stem in chapters.STEMS:  # a chapter not written yet gets an empty stand-in
        if not (root / "notebooks" / f"{stem}.ipynb").is_file():
            shutil.copy2(root / "notebooks" / "00_blur_models.ipynb", root / "notebooks" / f"{stem}.ipynb")
    monkeypatch.setenv("DEBLURKIT_HOME", str(root))
    monkeypatch.setenv("DEBLURKIT_DATA", str(root / "data" / "external"))
    for name, value in (("ROOT", root), ("SOURCE_DIR", root / "notebooks"), ("STORE_DIR", root / "_build" / "execution"),
                        ("EXECUTED_DIR", root / "book" / "notebooks"), ("SUMMARY_PATH", root / "_build" / "run-summary.json")):
        monkeypatch.setattr(bookrunner, name, value)
    for c in chapters.CHAPTERS:
        for path in bookcache.written_files(c, "smoke"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{path.name} as first written")
    photo = root / "photo.png"
    photo.write_bytes(b"first photo")
    _seed_store(root, {"photo": str(photo)})
    return root


def _seed_store(root: Path, extra: dict) -> None:
    store = bookcache.Store(root / "_build" / "execution" / "smoke")
    common = bookcache.common_inputs(root)
    for c in chapters.CHAPTERS:
        source = root / c.source
        params = {"interactive": False, **{k: v for k, v in extra.items() if k in bookrunner.declared_parameters(source)}}
        inputs = bookcache.cache_inputs(c, root=root, profile="smoke", seed=0, parameters=params, common=common)
        fake = root / f"{c.stem}.executed.ipynb"
        fake.write_text(json.dumps(_executed_page(provenance("smoke", seed=0, seconds=1.0))))
        store.save(c, fake, inputs=inputs, seconds=1.0, root=root, profile="smoke")


def _plan(root: Path, *, profile="smoke", seed=0, only=None) -> dict[str, str]:
    rows = bookrunner.run_book(profile=profile, seed=seed, only=only, plan=True, extra={"photo": str(root / "photo.png")})
    return {r["chapter"]: r["status"] for r in rows}


def _executing(plan: dict[str, str]) -> set[str]:
    return {stem for stem, status in plan.items() if status == "would execute"}


def test_nothing_changed_executes_nothing(project):
    assert set(_plan(project).values()) == {"cached"}


@pytest.mark.parametrize("stem", chapters.STEMS)
def test_touching_one_chapter_re_executes_it_and_its_readers(project, stem):
    _edit_markdown(project / "notebooks" / f"{stem}.ipynb", "\nOne more sentence.")
    assert _executing(_plan(project)) == {stem, *chapters.readers(stem)}


def test_a_changed_library_file_re_executes_every_chapter(project):
    module = project / "lib" / "deblurkit" / "runtime" / "validate.py"
    module.write_text(module.read_text() + "\n# a comment\n")
    assert _executing(_plan(project)) == set(chapters.STEMS)


def test_a_changed_readme_or_a_compiled_file_re_executes_nothing(project):
    (project / "README.md").write_text((project / "README.md").read_text() + "\nOne more line.\n")
    (project / "lib" / "deblurkit" / "__pycache__").mkdir(exist_ok=True)
    (project / "lib" / "deblurkit" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"compiled")
    assert set(_plan(project).values()) == {"cached"}


def test_a_retrained_checkpoint_re_executes_its_chapter_and_the_side_by_side_one(project):
    bookcache.checkpoint_files(chapters.ADAPTIVE_BASIS, "smoke")[0].write_text("re-trained elsewhere")
    assert _executing(_plan(project)) == {"05_adaptive_basis", SIDE_BY_SIDE}


def test_the_photo_is_keyed_by_its_content_and_only_for_the_chapter_that_takes_it(project):
    os.utime(project / "photo.png", (0, 0))  # an older modification time changes nothing
    assert set(_plan(project).values()) == {"cached"}
    (project / "photo.png").write_bytes(b"another photo")
    assert _executing(_plan(project)) == {SIDE_BY_SIDE}


def test_profile_seed_and_constraints_are_in_the_key(project):
    assert _executing(_plan(project, seed=1)) == set(chapters.STEMS)
    assert set(_plan(project, profile="cpu").values()) == {"would execute"}
    (project / "constraints.txt").write_text((project / "constraints.txt").read_text() + "\n")
    assert _executing(_plan(project)) == set(chapters.STEMS)


def test_only_leaves_the_others_and_reports_them_stale(project):
    _edit_markdown(project / "notebooks" / "03_autoencoder.ipynb", "\nEdited.")
    plan = _plan(project, only="00,01")
    assert plan["00_blur_models"] == plan["01_acceleration_otf"] == "cached"
    assert plan["03_autoencoder"] == "stale" and plan[SIDE_BY_SIDE] == "cached"


def test_only_publishes_the_others_from_the_cache_and_keeps_a_page_it_has_no_copy_of(project):
    (project / "_build" / "execution" / "smoke" / "03_autoencoder.cache.json").unlink()
    published = project / "book" / "notebooks"
    published.mkdir(parents=True)
    (published / "03_autoencoder.ipynb").write_text("another profile's page")
    rows = bookrunner.run_book(profile="smoke", only="00", extra={"photo": str(project / "photo.png")})
    assert {r["chapter"]: r["status"] for r in rows}["03_autoencoder"] == "missing"
    assert {r["status"] for r in rows} == {"cached", "missing"}  # nothing executed
    assert (published / "03_autoencoder.ipynb").read_text() == "another profile's page"
    page = json.loads((published / "05_adaptive_basis.ipynb").read_text())
    assert "from the cache" in page["cells"][-1]["outputs"][0]["data"]["text/plain"]


def test_a_chapter_that_failed_is_not_executed_again_until_its_inputs_change(project):
    _edit_markdown(project / "notebooks" / "03_autoencoder.ipynb", "\nEdited.")
    key = next(r["key"] for r in bookrunner.run_book(profile="smoke", plan=True) if r["chapter"] == "03_autoencoder")
    bookcache.Store(project / "_build" / "execution" / "smoke").save_failure("03_autoencoder", key=key, reason="cell 3 raised")
    plan = _plan(project)
    assert plan["03_autoencoder"] == "failed" and plan[SIDE_BY_SIDE] == "blocked"
    assert _executing(plan) == set()
    assert _executing(_plan(project, seed=1)) == set(chapters.STEMS)  # another key: tried again
    rows = bookrunner.run_book(profile="smoke", force=True, plan=True)
    assert {r["status"] for r in rows} == {"would execute"}


def test_the_key_and_its_inputs_are_written_beside_the_executed_copy(project):
    record = json.loads((project / "_build" / "execution" / "smoke" / "03_autoencoder.cache.json").read_text())
    assert record["key"] == bookcache.cache_key(record["inputs"])
    assert {"source", "library", "constraints", "profile", "seed", "parameters", "reads"} <= set(record["inputs"])
    assert "data/checkpoints/03_autoencoder_smoke.keras" in record["outputs"]
    side = json.loads((project / "_build" / "execution" / "smoke" / f"{SIDE_BY_SIDE}.cache.json").read_text())
    assert side["inputs"]["parameters"]["photo"]["sha256"] == bookcache.file_digest(project / "photo.png")
    assert "data/verdicts/smoke/01_acceleration_otf.json" in side["inputs"]["reads"]


# ---------------------------------------------------------------------------------------------
# Pages: the provenance block, the cached stamp, the warnings


def _executed_page(record: dict) -> dict:
    out = {"output_type": "display_data", "metadata": {PROVENANCE_KEY: record},
           "data": {"text/html": provenance_html(record), "text/plain": provenance_text(record)}}
    cells = [
        {"cell_type": "markdown", "id": "a", "metadata": {}, "source": "# Title"},
        {"cell_type": "code", "id": "b", "metadata": {}, "source": "clock.finish()", "execution_count": 1, "outputs": [out]},
        {"cell_type": "markdown", "id": "c", "metadata": {}, "source": "Built in ..."},
    ]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_provenance_record_names_what_built_the_page(monkeypatch):
    monkeypatch.setenv("DEBLURKIT_CACHE_KEY", "ab" * 32)
    record = provenance("smoke", seed=3, seconds=12.34)
    assert (record["profile"], record["seed"], record["seconds"], record["cached"]) == ("smoke", 3, 12.3, None)
    assert record["threads"] >= 1 and record["processor"] and record["versions"]["numpy"]
    assert set(record["versions"]) >= {"python", "torch", "tensorflow", "keras"}
    assert record["commit"] is None or (len(record["commit"]) == 12 and record["dirty"] in (True, False))
    assert record["cache_key"] == "ab" * 32
    text = provenance_text(record)
    assert "smoke, 3" in text and "executed in this run" in text and "in 12 s" in text


def test_publish_moves_the_block_to_the_foot_and_stamps_a_cached_page(tmp_path):
    record = provenance("smoke", seed=0, seconds=5.0)
    store = bookcache.Store(tmp_path / "store")
    chapter = chapters.chapter("00_blur_models")
    executed = tmp_path / "x.ipynb"
    executed.write_text(json.dumps(_executed_page(record)))
    store.save(chapter, executed, inputs={"x": 1}, seconds=5.0, root=tmp_path, profile="smoke")
    page = json.loads(bookcache.publish(chapter, store, tmp_path / "pub", status="executed", profile="smoke").read_text())
    assert page["cells"][-1]["metadata"]["tags"] == ["remove-input", "provenance"]
    assert page["cells"][1]["outputs"] == [] and "executed in this run" in page["cells"][-1]["outputs"][0]["data"]["text/plain"]
    assert (tmp_path / "pub" / "00_blur_models.cache.json").read_text() == store.record_path("00_blur_models").read_text()
    page = json.loads(bookcache.publish(chapter, store, tmp_path / "pub", status="cached", profile="smoke").read_text())
    html = page["cells"][-1]["outputs"][0]["data"]["text/html"]
    assert 'data-state="cached"' in html and "from the cache (reused 20" in html


def test_a_failed_chapter_keeps_its_last_good_page_with_a_warning(tmp_path):
    store = bookcache.Store(tmp_path / "store")
    chapter = chapters.chapter("03_autoencoder")
    executed = tmp_path / "x.ipynb"
    executed.write_text(json.dumps(_executed_page(provenance("smoke", seed=0, seconds=5.0))))
    store.save(chapter, executed, inputs={"x": 1}, seconds=5.0, root=tmp_path, profile="smoke")
    page = bookcache.publish(chapter, store, tmp_path / "pub", status="failed", profile="smoke", reason="cell 3 raised ZeroDivisionError")
    cells = json.loads(page.read_text())["cells"]
    assert cells[0]["source"] == "# Title" and "bookrunner-failed" in cells[1]["metadata"]["tags"]
    assert "``cell 3 raised ZeroDivisionError``" in cells[1]["source"] and "last good run" in cells[1]["source"]
    missing = bookcache.publish(chapters.chapter("05_adaptive_basis"), store, tmp_path / "pub", status="blocked",
                                profile="smoke", reason="chapter 03_autoencoder failed or was not executed")
    cells = json.loads(missing.read_text())["cells"]
    assert cells[0]["source"].startswith("# Adaptive basis") and "no earlier executed copy" in cells[1]["source"]


def test_summary_table_says_cached_and_totals(tmp_path):
    rows = [{"chapter": "00_blur_models", "status": "cached", "seconds": None, "reason": ""},
            {"chapter": "01_acceleration_otf", "status": "executed", "seconds": 12.5, "reason": "changed: source"},
            {"chapter": "03_autoencoder", "status": "failed", "seconds": None, "reason": "cell 3 raised"}]
    table = bookrunner.summary_table(rows, build_seconds=20.0).splitlines()
    assert table[2].split() == ["00_blur_models", "cached", "cached"]
    assert table[3].split() == ["01_acceleration_otf", "12.5", "executed"]
    assert "failed (cell 3 raised)" in table[4]
    assert table[-1].split()[:2] == ["total", "32.5"]


# ---------------------------------------------------------------------------------------------
# End to end: real kernels, real build (run under the lock)

STAND_IN = '''import time
from deblurkit.book.glue import ChapterClock
from deblurkit.runtime.files import project_dir
clock = ChapterClock(profile)
for name in {files!r}:
    path = project_dir() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"written at {{time.time()}}")
{fail}clock.finish()'''


def _stand_in(root: Path, stem: str, *, fail: bool = False) -> None:
    """A tiny chapter that writes what ``stem`` declares it writes in smoke (new contents every run)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    params = new_code_cell('profile = "cpu"\nseed = 0\ninteractive = True\nphoto = ""', metadata={"tags": ["parameters"]})
    from deblurkit.runtime.files import project_dir

    files = [bookcache.relative(p, project_dir()) for p in bookcache.written_files(chapters.chapter(stem), "smoke")]
    code = STAND_IN.format(files=files, fail="1 / 0\n" if fail else "")
    nb = new_notebook(cells=[new_markdown_cell(f"# {chapters.chapter(stem).title}\n\nA stand-in."), params, new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "notebooks" / f"{stem}.ipynb")


def _run(root: Path, *args: str) -> tuple[subprocess.CompletedProcess, float, dict]:
    env = {**os.environ, "PYTHONPATH": str(root / "lib"), "DEBLURKIT_HOME": str(root)}
    env.pop("DEBLURKIT_DATA", None)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(root / "tools" / "bookrunner.py"), "--profile", "smoke", *args],
                          cwd=root, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    summary = root / "_build" / "run-summary.json"
    statuses = {r["chapter"]: r["status"] for r in json.loads(summary.read_text())["chapters"]} if summary.is_file() else {}
    return done, seconds, statuses


@pytest.mark.book
def test_end_to_end_cache_on_the_real_graph(tmp_path):
    root = _copy_project(tmp_path / "book-copy")
    for stem in chapters.STEMS[1:]:
        _stand_in(root, stem)
    done, first, statuses = _run(root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(statuses.values()) == {"executed"}

    done, second, statuses = _run(root)  # nothing changed: nothing executes, the HTML is rebuilt
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(statuses.values()) == {"cached"}, done.stdout
    assert second < 60, f"a run with nothing to execute took {second:.0f} s"
    print(f"first run {first:.0f} s, no-change run {second:.0f} s (HTML build included)")
    page = (root / "_build" / "html" / "book" / "notebooks" / "00_blur_models.html").read_text()
    assert 'class="deblurkit-provenance" data-state="cached"' in page and "from the cache" in page
    assert "executed in this run" not in page and "profile, seed</th><td>smoke, 0" in page
    assert (root / "book" / "notebooks" / "00_blur_models.cache.json").is_file()
    assert "cached" in done.stdout and "total" in done.stdout

    _stand_in(root, "03_autoencoder")  # a new source (the same code): 03 and the chapter reading it
    (root / "README.md").write_text("changed\n")
    done, _, statuses = _run(root, "--no-build")
    assert {s for s, v in statuses.items() if v == "executed"} == {"03_autoencoder", SIDE_BY_SIDE}, done.stdout
    _edit_markdown(root / "notebooks" / "01_acceleration_otf.ipynb", "\nA sentence more.")
    done, _, statuses = _run(root, "--only", "01", "--no-build")
    assert statuses["01_acceleration_otf"] == "executed" and statuses["00_blur_models"] == "cached", done.stdout
    assert statuses[SIDE_BY_SIDE] == "stale", done.stdout  # not selected; chapter 1 wrote a new verdict record

    _stand_in(root, "04_sigma_map_cnn", fail=True)  # a failing chapter keeps its page; 08 is not run
    done, _, statuses = _run(root, "--no-build")
    assert done.returncode == 1
    assert statuses["04_sigma_map_cnn"] == "failed" and statuses[SIDE_BY_SIDE] == "blocked", done.stdout
    assert statuses["01_acceleration_otf"] == statuses["00_blur_models"] == "cached"
    for stem, tag in (("04_sigma_map_cnn", "bookrunner-failed"), (SIDE_BY_SIDE, "bookrunner-blocked")):
        cells = json.loads((root / "book" / "notebooks" / f"{stem}.ipynb").read_text())["cells"]
        assert tag in cells[1]["metadata"]["tags"] and cells[-1]["metadata"]["tags"] == ["remove-input", "provenance"]
