"""Execute the source notebooks with papermill and build the book with Jupyter Book 1.x.

    python tools/bookrunner.py --profile cpu              # execute what changed, then build
    python tools/bookrunner.py --profile cpu --force      # execute every chapter
    python tools/bookrunner.py --profile smoke --only 01  # only chapters whose name starts with 01
    python tools/bookrunner.py --profile smoke --plan     # say what would be executed, and why
    python tools/bookrunner.py --no-build                 # execute only

A chapter is executed only when something it depends on changed (its notebook, the library,
``constraints.txt``, profile, seed, parameters, or a checkpoint or verdict record it reads:
see ``tools/bookcache.py`` and ``deblurkit.book.chapters``). Executed copies are kept per
profile in ``_build/execution/<profile>/`` and published to ``book/notebooks/`` (git-ignored);
the sources in ``notebooks/`` stay without outputs. A failing chapter keeps its last good page
(marked), the chapters reading its outputs are not executed (marked), and the run exits 1. The
run ends with a summary table, also written to ``_build/run-summary.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from deblurkit.runtime.profiles import PROFILES

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIR = ROOT / "notebooks"
EXECUTED_DIR = ROOT / "book" / "notebooks"
HTML_DIR = ROOT / "_build" / "html"
# The executed copies of each profile and their cache records (published to EXECUTED_DIR).
STORE_DIR = ROOT / "_build" / "execution"
SUMMARY_PATH = ROOT / "_build" / "run-summary.json"
# ``_config.yml`` lists ``_mathjax`` in ``html_static_path`` and points ``mathjax_path`` at the
# copy placed there, so the pages render math without a network. (Not ``_static``: Jupyter Book
# would add every .js file found there to every page.)
MATHJAX_DIR = ROOT / "_mathjax" / "mathjax"
# The parts of MathJax 3 that TeX input with HTML-CSS output loads (fonts and extensions on demand).
MATHJAX_PARTS = ("tex-chtml.js", "input", "output", "ui", "a11y")
# Cells whose outputs must reproduce exactly in the smoke profile (parameter counts, closed-form
# checks, seeded numbers) carry this nbval tag; their reference outputs live in REFERENCE_DIR.
NBVAL_TAG = "nbval-check-output"
REFERENCE_DIR = ROOT / "tests" / "reference_outputs"
# Longest a single cell may run before the run fails, per profile (None: no limit).
CELL_TIMEOUT_S = {"smoke": 300, "cpu": 1800, "gpu": None}


class NotebookFailed(RuntimeError):
    """A cell raised while a notebook was executed."""


def source_notebooks(only: str | None = None) -> list[Path]:
    """The source notebooks in book order (their names start with the chapter number)."""
    found = sorted(p for p in SOURCE_DIR.glob("*.ipynb"))
    if only:
        found = [p for p in found if p.name.startswith(only)]
    if not found:
        raise FileNotFoundError(f"no notebooks in {SOURCE_DIR} match {only!r}")
    return found


def declared_parameters(source: Path) -> set[str]:
    """The names the notebook's ``parameters`` cell assigns (papermill may override these)."""
    import ast

    nb = json.loads(Path(source).read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            tree = ast.parse("".join(cell["source"]))
            return {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    return set()


def execute_notebook(
    source: Path,
    *,
    profile: str,
    seed: int = 0,
    output_dir: Path = EXECUTED_DIR,
    progress: dict | None = None,
    extra: dict | None = None,
) -> tuple[Path, float]:
    """Run one notebook top to bottom in a fresh ``python3`` kernel; return the output path and seconds.

    ``progress``: keyword arguments of a tqdm bar counting executed cells (``desc``, ``file``,
    ...), or None for no bar. ``extra``: more parameters (e.g. ``{"photo": path}``), passed
    only to a notebook whose parameters cell declares them.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / source.name
    # A backend set for the test process (Agg) would reach the kernel and hide every figure.
    os.environ.pop("MPLBACKEND", None)
    # No progress bars inside the pages: in a kernel they are widgets, which a built page can
    # only show by loading the widget manager from a CDN (this runner shows its own bars).
    os.environ["DEBLURKIT_QUIET"] = "1"
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(source),
            str(target),
            # No frontend here: the notebooks skip building their slider explorers.
            parameters={
                "profile": profile,
                "seed": seed,
                "interactive": False,
                **{k: v for k, v in (extra or {}).items() if k in declared_parameters(source)},
            },
            kernel_name="python3",
            execution_timeout=CELL_TIMEOUT_S[profile],
            cwd=str(SOURCE_DIR),
            progress_bar=progress or False,
        )
    except PapermillExecutionError as exc:
        shown = source.relative_to(ROOT) if source.is_relative_to(ROOT) else source
        raise NotebookFailed(
            f"{shown}: cell {exc.cell_index} (execution count {exc.exec_count}) "
            f"raised {exc.ename}: {exc.evalue}"
        ) from None
    hide_injected_parameters(target)
    provenance_to_foot(target)
    return target, time.perf_counter() - start


def provenance_to_foot(executed: Path) -> None:
    """Move the provenance block (shown by ``ChapterClock.finish``) to a last cell of its own,
    input removed, so that it sits at the foot of the page."""
    import bookcache

    nb = json.loads(executed.read_text())
    if bookcache.move_provenance_to_foot(nb) is not None:
        executed.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def hide_injected_parameters(executed: Path) -> None:
    """Tag the cell papermill injects (the run's parameters) ``remove-cell``: the page shows the
    chapter's own parameters cell once, and says which profile built it from a glued value."""
    nb = json.loads(executed.read_text())
    for cell in nb["cells"]:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    executed.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def checked_cells(nb: dict) -> list[dict]:
    """The code cells of a notebook (as JSON) that carry the nbval check tag."""
    return [c for c in nb["cells"] if c["cell_type"] == "code" and NBVAL_TAG in c.get("metadata", {}).get("tags", [])]


def update_reference_outputs(source: Path, *, seed: int = 0) -> Path | None:
    """Execute ``source`` in the smoke profile and store the outputs of its checked cells.

    Returns the reference file (``tests/reference_outputs/<stem>.json``), or None when the
    notebook has no checked cell. Run it after a change that is meant to alter such an output.
    """
    if not checked_cells(json.loads(source.read_text())):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        executed, _ = execute_notebook(source, profile="smoke", seed=seed, output_dir=Path(tmp))
        nb = json.loads(executed.read_text())
    outputs = {c["id"]: c["outputs"] for c in checked_cells(nb)}
    for cell_outputs in outputs.values():  # nbval does not compare images; do not store them
        for out in cell_outputs:
            for key in [k for k in out.get("data", {}) if k.startswith("image/")]:
                del out["data"][key]
    REFERENCE_DIR.mkdir(parents=True, exist_ok=True)
    target = REFERENCE_DIR / f"{source.stem}.json"
    target.write_text(json.dumps(outputs, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    return target


def nbval_notebook(source: Path, target: Path, *, reference: Path | None = None, seed: int = 0) -> Path:
    """Write ``source`` with the smoke profile's parameters and, in every checked cell, the
    reference outputs, so that ``pytest --nbval-lax target`` re-executes it and compares them."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    reference = reference or REFERENCE_DIR / f"{source.stem}.json"
    if not reference.is_file():
        raise FileNotFoundError(f"no reference outputs for {source.name} at {reference}: run tools/bookrunner.py --update-references")
    stored = json.loads(reference.read_text())
    nb = parameterize_notebook(load_notebook_node(str(source)), {"profile": "smoke", "seed": seed, "interactive": False})
    for cell in nb.cells:
        if cell.cell_type == "code" and NBVAL_TAG in cell.metadata.get("tags", []):
            if cell.id not in stored:
                raise KeyError(f"{source.name}: checked cell {cell.id} has no reference output: run tools/bookrunner.py --update-references")
            cell.outputs = nbformat.from_dict(stored[cell.id])
            cell.execution_count = 1  # nbval ignores the outputs of a cell it thinks never ran
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


def glued_values(executed: Path) -> dict[str, str]:
    """The ``myst_nb.glue`` values of an executed notebook, as their plain-text representation."""
    nb = json.loads(executed.read_text())
    values = {}
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            record = out.get("metadata", {}).get("scrapbook", {})
            if "name" in record:
                key = record.get("mime_prefix", "") + "text/plain"
                values[record["name"]] = "".join(out.get("data", {}).get(key, ""))
    return values


def vendor_mathjax(target: Path = MATHJAX_DIR) -> Path:
    """Copy MathJax 3 from the installed ``django-static-mathjax`` package into ``target``; return it.

    The default Sphinx set-up loads MathJax from a CDN, so a reader without a network
    sees raw TeX. The package ships the MathJax 3 ``es5`` bundle as plain files.
    """
    import shutil
    from importlib import resources

    try:
        bundle = resources.files("mathjax") / "static" / "mathjax" / "es5"
    except ModuleNotFoundError as exc:
        raise RuntimeError("MathJax is not installed: pip install -e '.[book]' (package django-static-mathjax)") from exc
    if not (bundle / "tex-chtml.js").is_file():
        raise RuntimeError(f"no tex-chtml.js in {bundle}: the django-static-mathjax package is not the expected MathJax 3 bundle")
    target.mkdir(parents=True, exist_ok=True)
    for part in MATHJAX_PARTS:
        source = Path(str(bundle / part))
        if source.is_dir():
            shutil.copytree(source, target / part, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target / part)
    return target


def build_book() -> None:
    """Build the HTML from scratch (``--all``: an incremental build hides old warnings) with warnings as errors."""
    vendor_mathjax()
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(ROOT), "--all", "--warningiserror", "--keep-going"]
    result = subprocess.run(cmd, cwd=ROOT, text=True, capture_output=True, check=False)
    if result.returncode != 0:
        log = result.stdout + result.stderr
        warnings = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
        raise RuntimeError("jupyter-book build failed:\n" + "\n".join(warnings[:40] or log.splitlines()[-40:]))


@contextlib.contextmanager
def quiet_stderr():
    """Send what is written to file descriptor 2 (the kernels' start-up and transport warnings,
    TensorFlow's chatter) to a temporary log; yield ``(console, log_path)``, ``console`` being
    the terminal's stderr, for the progress bars. The log is kept for a failure report."""
    sys.stderr.flush()
    saved = os.dup(2)
    log = tempfile.NamedTemporaryFile("w", prefix="bookrunner-", suffix=".log", delete=False)  # noqa: SIM115 (closed in finally)
    os.dup2(log.fileno(), 2)
    console = os.fdopen(os.dup(saved), "w", buffering=1)
    try:
        yield console, Path(log.name)
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        console.close()
        log.close()


def execute_all(
    sources: list[Path],
    *,
    profile: str,
    seed: int,
    verbose: bool = False,
    output_dir: Path = EXECUTED_DIR,
    extra: dict | None = None,
) -> float:
    """Execute ``sources`` in order with one progress bar per notebook; return the total seconds.

    Unless ``verbose``, kernel and framework chatter on stderr is kept out of the console; if a
    notebook fails, the last lines of it are printed before the error (notebook, cell, message).
    """
    total = 0.0
    context = contextlib.nullcontext((sys.stderr, None)) if verbose else quiet_stderr()
    with context as (console, log_path):
        for k, source in enumerate(sources, 1):
            bar = {"desc": f"[{k}/{len(sources)}] {source.stem} [{profile}]", "file": console, "mininterval": 1.0}
            try:
                _, seconds = execute_notebook(
                    source, profile=profile, seed=seed, output_dir=output_dir, progress=bar, extra=extra
                )
            except NotebookFailed:
                if log_path is not None:
                    tail = log_path.read_text(errors="replace").splitlines()[-30:]
                    print("\n".join(["--- last lines on stderr ---", *tail, "---"]), file=console)
                raise
            total += seconds
            print(f"executed {source.name} [{profile}] in {seconds:.1f} s", file=console, flush=True)
    if log_path is not None:
        log_path.unlink(missing_ok=True)
    return total


def select(only: str | None):
    """The declared chapters whose stem starts with one of the comma-separated prefixes of
    ``only`` (all when None). Every notebook in ``notebooks/`` must be declared."""
    from deblurkit.book.chapters import CHAPTERS

    undeclared = sorted(p.stem for p in SOURCE_DIR.glob("*.ipynb") if p.stem not in {c.stem for c in CHAPTERS})
    if undeclared:
        raise ValueError(f"notebooks {undeclared} are not declared in lib/deblurkit/book/chapters.py")
    prefixes = [p.strip() for p in only.split(",") if p.strip()] if only else [""]
    chosen = [c for c in CHAPTERS if any(c.stem.startswith(p) for p in prefixes)]
    if not chosen:
        raise ValueError(f"--only {only!r} matches no chapter of {[c.stem for c in CHAPTERS]}")
    return chosen


def run_book(
    *,
    profile: str,
    seed: int = 0,
    only: str | None = None,
    force: bool = False,
    plan: bool = False,
    verbose: bool = False,
    extra: dict | None = None,
    console=None,
) -> list[dict]:
    """Execute the chapters whose cache key changed (all with ``force``), publish every page.

    Returns one row per declared chapter: ``chapter``, ``title``, ``status`` (executed, cached,
    failed, blocked: an upstream chapter failed, stale: out of date but not selected by
    ``only``, missing: never executed, no source: not written yet; with ``plan``: would
    execute), ``seconds`` (of an execution), ``reason`` and ``key``. With ``plan`` nothing is
    executed or published: a chapter that reads the outputs of one that would execute is
    counted as executing too.
    """
    import bookcache
    from deblurkit.book.chapters import CHAPTERS

    os.environ.setdefault("DEBLURKIT_HOME", str(ROOT))  # the kernels and this process agree on data/
    selected = {c.stem for c in select(only)}
    store = bookcache.Store(STORE_DIR / profile)
    common = bookcache.common_inputs(ROOT)
    rows, failed = [], {}  # chapter -> failed, blocked (or, with plan, would execute) in this run
    current_keys = {}  # chapter -> its key now; a kernel reads them to tell a stale verdict record
    context = contextlib.nullcontext((console or sys.stderr, None)) if verbose or plan else quiet_stderr()
    with context as (out, log_path):
        todo = [c for c in CHAPTERS if c.stem in selected and (SOURCE_DIR / f"{c.stem}.ipynb").is_file()]
        for chapter in CHAPTERS:
            source = SOURCE_DIR / f"{chapter.stem}.ipynb"
            row = {"chapter": chapter.stem, "title": chapter.title, "seconds": None, "reason": "", "key": None}
            rows.append(row)
            if not source.is_file():
                row["status"] = "no source"
                continue
            params = {"interactive": False, **{k: v for k, v in (extra or {}).items() if k in declared_parameters(source)}}
            inputs = bookcache.cache_inputs(chapter, root=ROOT, profile=profile, seed=seed, parameters=params, common=common)
            row["key"] = current_keys[chapter.stem] = bookcache.cache_key(inputs)
            why = store.why_stale(chapter, inputs, root=ROOT, profile=profile)
            upstream_failed = [s for s in chapter.upstream() if s in failed]
            upstream_broken = [s for s in upstream_failed if failed[s] != "would execute"]
            last_failure = store.failure(chapter.stem)
            if chapter.stem not in selected:
                row["status"] = "missing" if store.record(chapter.stem) is None else ("stale" if why else "cached")
                row["reason"] = why or ""
            elif upstream_broken or (upstream_failed and not plan):
                row["status"] = "blocked"
                row["reason"] = f"it reads the outputs of {', '.join(upstream_broken or upstream_failed)}, which failed or was not executed"
            elif upstream_failed:
                row["status"] = "would execute"
                row["reason"] = f"it reads the outputs of {', '.join(upstream_failed)}, which will be re-executed"
            elif not force and why is None:
                row["status"] = "cached"
            elif not force and last_failure is not None and last_failure.get("key") == row["key"]:
                # it would fail again: inputs unchanged since it failed (FORCE=1 tries anyway)
                row["status"], row["reason"] = "failed", f"unchanged since it failed {last_failure['at']}: {last_failure['reason']}"
            elif plan:
                row["status"], row["reason"] = "would execute", "--force" if force else why
            else:
                row["reason"] = "--force" if force else why
                k = todo.index(chapter) + 1
                bar = {"desc": f"[{k}/{len(todo)}] {chapter.stem} [{profile}]", "file": out, "mininterval": 1.0}
                try:
                    with tempfile.TemporaryDirectory(dir=_mkdir(STORE_DIR)) as tmp:
                        os.environ["DEBLURKIT_CACHE_KEY"] = row["key"]
                        os.environ["DEBLURKIT_CHAPTER_KEYS"] = json.dumps(current_keys)
                        try:
                            executed, seconds = execute_notebook(
                                source, profile=profile, seed=seed, output_dir=Path(tmp), progress=bar, extra=extra
                            )
                        finally:
                            os.environ.pop("DEBLURKIT_CACHE_KEY", None)
                            os.environ.pop("DEBLURKIT_CHAPTER_KEYS", None)
                        store.save(chapter, executed, inputs=inputs, seconds=seconds, root=ROOT, profile=profile)
                    row["status"], row["seconds"] = "executed", round(seconds, 1)
                    print(f"executed {chapter.stem} [{profile}] in {seconds:.1f} s", file=out, flush=True)
                except Exception as exc:  # noqa: BLE001 (a failing cell, a dead kernel, a cell timeout: the run goes on)
                    message = str(exc) if isinstance(exc, NotebookFailed) else f"{source.name}: {type(exc).__name__}: {exc}"
                    row["status"], row["reason"] = "failed", message.splitlines()[0] if message else type(exc).__name__
                    store.save_failure(chapter.stem, key=row["key"], reason=row["reason"])
                    print(f"FAILED {row['reason']}", file=out, flush=True)
                    if log_path is not None:
                        tail = log_path.read_text(errors="replace").splitlines()[-30:]
                        print("\n".join(["--- last lines on stderr ---", *tail, "---"]), file=out, flush=True)
            if row["status"] in ("failed", "blocked", "would execute"):
                failed[chapter.stem] = row["status"]
            # A chapter left out by --only with no copy in this profile keeps whatever page it has
            # (e.g. another profile's, which says so at its foot); a placeholder only if none.
            keep = row["status"] == "missing" and (EXECUTED_DIR / f"{chapter.stem}.ipynb").is_file()
            if not plan and row["status"] != "no source" and not keep:
                bookcache.publish(chapter, store, EXECUTED_DIR, status=row["status"], profile=profile, reason=row["reason"])
    if log_path is not None:
        log_path.unlink(missing_ok=True)
    return rows


def _mkdir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def summary_table(rows: list[dict], *, build_seconds: float | None = None) -> str:
    """The run summary: each chapter's seconds (or "cached"), its status, and the total."""
    lines = [f"{'chapter':<28} {'seconds':>9}  status", "-" * 60]
    for r in rows:
        took = f"{r['seconds']:.1f}" if r["seconds"] is not None else ("cached" if r["status"] == "cached" else "-")
        note = f" ({r['reason']})" if r["reason"] and r["status"] not in ("cached", "executed") else ""
        note = note if len(note) < 120 else note[:117] + "...)"
        lines.append(f"{r['chapter']:<28} {took:>9}  {r['status']}{note}")
    executed = sum(r["seconds"] or 0.0 for r in rows)
    lines.append("-" * 60)
    if build_seconds is not None:
        lines.append(f"{'HTML build':<28} {build_seconds:>9.1f}")
    total = executed + (build_seconds or 0.0)
    lines.append(f"{'total':<28} {total:>9.1f}  {sum(r['status'] == 'executed' for r in rows)} executed, "
                 f"{sum(r['status'] == 'cached' for r in rows)} cached")
    return "\n".join(lines)


def write_summary(rows: list[dict], *, profile: str, seed: int, build_seconds: float | None, wall_seconds: float) -> Path:
    """``_build/run-summary.json``: the summary table for scripts."""
    import bookcache

    SUMMARY_PATH.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "profile": profile,
        "seed": seed,
        "finished_at": bookcache.now_utc(),
        "chapters": rows,
        "executed_seconds": round(sum(r["seconds"] or 0.0 for r in rows), 1),
        "build_seconds": None if build_seconds is None else round(build_seconds, 1),
        "wall_seconds": round(wall_seconds, 1),
        "ok": not any(r["status"] in ("failed", "blocked") for r in rows),
    }
    SUMMARY_PATH.write_text(json.dumps(summary, indent=1) + "\n")
    return SUMMARY_PATH


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default=os.environ.get("PROFILE", "cpu"), choices=PROFILES)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("SEED", "0")))
    parser.add_argument("--only", default=None, help="only chapters whose file name starts with this (comma-separated prefixes); the others keep their pages")
    parser.add_argument("--force", action="store_true", help="execute the chosen chapters even when their cache is valid")
    parser.add_argument("--plan", action="store_true", help="say which chapters would be executed and why; execute nothing")
    parser.add_argument("--no-build", action="store_true", help="execute the notebooks but do not build the HTML")
    parser.add_argument("--verbose", action="store_true", help="show the kernels' and frameworks' stderr as it comes")
    parser.add_argument(
        "--photo",
        default=os.environ.get("PHOTO") or None,
        help="an image of yours for chapter 8's blind methods (default: $PHOTO, else a bundled one)",
    )
    parser.add_argument(
        "--update-references", action="store_true", help="re-record the smoke outputs of the nbval-checked cells, then stop"
    )
    args = parser.parse_args(argv)

    if args.update_references:
        for source in source_notebooks(args.only):
            written = update_reference_outputs(source, seed=args.seed)
            print(f"{source.name}: {written.relative_to(ROOT) if written else 'no checked cells'}")
        return 0

    if args.photo and not Path(args.photo).expanduser().is_file():
        parser.error(f"--photo: no such file: {args.photo}")
    extra = {"photo": str(Path(args.photo).expanduser().resolve())} if args.photo else None
    start = time.perf_counter()
    try:
        rows = run_book(
            profile=args.profile, seed=args.seed, only=args.only, force=args.force, plan=args.plan,
            verbose=args.verbose, extra=extra,
        )
    except ValueError as exc:
        parser.error(str(exc))
    build_seconds, build_failed = None, False
    if not (args.no_build or args.plan):
        build_start = time.perf_counter()
        try:
            build_book()
        except RuntimeError as exc:
            print(f"FAILED {exc}", file=sys.stderr)
            build_failed = True
        build_seconds = time.perf_counter() - build_start
    print(summary_table(rows, build_seconds=build_seconds))
    if not args.plan:
        written = write_summary(rows, profile=args.profile, seed=args.seed, build_seconds=build_seconds,
                                wall_seconds=time.perf_counter() - start)
        print(f"summary: {written.relative_to(ROOT)}" + (f"; book: {HTML_DIR / 'index.html'}" if build_seconds is not None else ""))
    return 1 if build_failed or any(r["status"] in ("failed", "blocked") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
