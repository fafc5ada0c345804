"""The book runner's execution cache: what a chapter's execution depends on, and the pages.

A chapter is re-executed only when its *cache key* changed: a SHA-256 over the contents (never
the modification times) of its source notebook, the library's source files (``lib/``), the
pinned environment (``constraints.txt``), the profile, the seed, its parameters (a file such as
the reader's photo by its content), the checkpoints and verdict records it reads (declared in
:mod:`deblurkit.book.chapters`), and a size listing of the external data sets it uses when
present. The key and everything that went into it are written beside the executed notebook
(``<stem>.cache.json``), with the hashes of the files the chapter wrote: when those changed on
disk since (the chapter was run by other means), the page no longer describes them and the
chapter is re-executed too.

Executed copies are kept per profile in ``_build/execution/<profile>/`` (a smoke run does not
evict the cpu book's pages) and published to ``book/notebooks/`` for Jupyter Book: with the
provenance block moved to the page's foot, stamped "from the cache" when reused, and a warning
at the top when the chapter failed, was not executed because an upstream chapter failed, or is
out of date.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

#: Bumped when the key's recipe changes, so that old records no longer match.
CACHE_FORMAT = 1
#: Folders and suffixes under ``lib/`` that are not the library's source.
_SKIP_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}


def now_utc() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def file_digest(path: Path) -> str | None:
    """SHA-256 of a file's bytes, or None when it does not exist."""
    path = Path(path)
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_digest(folder: Path) -> str | None:
    """SHA-256 over the relative paths and contents of every file under ``folder`` (caches and
    compiled files left out, ``*.egg-info`` too); None when the folder does not exist."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or path.suffix in _SKIP_SUFFIXES:
            continue
        if any(p in _SKIP_PARTS or p.endswith(".egg-info") for p in rel.parts):
            continue
        digest.update(f"{rel.as_posix()}\0{file_digest(path)}\n".encode())
    return digest.hexdigest()


def size_listing(path: Path) -> str | None:
    """SHA-256 over the relative paths and sizes under ``path`` (a file or a folder): a cheap
    fingerprint of an external data set (tens of gigabytes are not hashed); None if absent."""
    path = Path(path)
    if not path.exists():
        return None
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for f in files:
        digest.update(f"{f.relative_to(path.parent).as_posix()}\0{f.stat().st_size}\n".encode())
    return digest.hexdigest()


def checkpoint_files(checkpoint, profile: str) -> list[Path]:
    """A declared checkpoint's model file and its metadata record, in ``profile``."""
    from deblurkit.book.checkpoints import checkpoint_path, metadata_path

    model = checkpoint_path(checkpoint.chapter, profile, checkpoint.name, ext=checkpoint.ext)
    return [model, metadata_path(model)]


def written_files(chapter, profile: str) -> list[Path]:
    """The checkpoints (with their records) and the verdict record a chapter writes in ``profile``."""
    from deblurkit.book.chapters import verdict_record_path

    files = [f for c in chapter.saves for f in checkpoint_files(c, profile)]
    return files + ([verdict_record_path(chapter.stem, profile)] if chapter.files_verdicts else [])


def read_files(chapter, profile: str) -> list[Path]:
    """The checkpoints (with their records) and the verdict records a chapter reads in ``profile``."""
    from deblurkit.book.chapters import verdict_record_path

    files = [f for c in chapter.reads for f in checkpoint_files(c, profile)]
    return files + [verdict_record_path(s, profile) for s in chapter.reads_verdicts_of]


def relative(path: Path, root: Path) -> str:
    path = Path(path)
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def common_inputs(root: Path) -> dict:
    """The inputs every chapter shares: library source, pinned environment, Python version."""
    return {
        "format": CACHE_FORMAT,
        "library": tree_digest(Path(root) / "lib"),
        "constraints": file_digest(Path(root) / "constraints.txt"),
        "python": ".".join(map(str, sys.version_info[:2])),
    }


def parameter_inputs(parameters: dict) -> dict:
    """The parameters a chapter is executed with, a path to a file replaced by its content's hash
    (the photo: the same file under another name is the same input, an edited one is not)."""
    out = {}
    for name, value in sorted(parameters.items()):
        if isinstance(value, str) and value and Path(value).is_file():
            out[name] = {"file": Path(value).name, "sha256": file_digest(Path(value))}
        else:
            out[name] = value
    return out


def external_root() -> Path:
    """Where external data sets live: ``$DEBLURKIT_DATA``, else ``data/external``."""
    from deblurkit.runtime.files import artifact_path

    return Path(os.environ["DEBLURKIT_DATA"]) if os.environ.get("DEBLURKIT_DATA") else artifact_path("external")


def cache_inputs(chapter, *, root: Path, profile: str, seed: int, parameters: dict, common: dict) -> dict:
    """Everything chapter ``chapter`` (a :class:`deblurkit.book.chapters.Chapter`) depends on."""
    root = Path(root)
    return {
        **common,
        "chapter": chapter.stem,
        "source": file_digest(root / chapter.source),
        "profile": profile,
        "seed": seed,
        "parameters": parameter_inputs(parameters),
        "reads": {relative(p, root): file_digest(p) for p in read_files(chapter, profile)},
        "external": {name: size_listing(external_root() / name) for name in chapter.external},
    }


def cache_key(inputs: dict) -> str:
    """SHA-256 of the inputs, written as sorted JSON."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def changed_inputs(old: dict, new: dict) -> list[str]:
    """Which inputs differ, named for the run summary (``reads: data/...`` for a read file)."""
    changed = []
    for name in sorted(set(old) | set(new)):
        if isinstance(new.get(name), dict) and isinstance(old.get(name), dict) and name in ("reads", "external"):
            changed += [f"{name}: {k}" for k in sorted(set(old[name]) | set(new[name])) if old[name].get(k) != new[name].get(k)]
        elif old.get(name) != new.get(name):
            changed.append(name)
    return changed


def output_digests(chapter, *, root: Path, profile: str) -> dict:
    """Hashes of the files the chapter writes (checkpoints, their records, its verdict record)."""
    return {relative(p, root): file_digest(p) for p in written_files(chapter, profile)}


class Store:
    """The executed copies of one profile: ``<folder>/<stem>.ipynb`` and ``<stem>.cache.json``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def notebook(self, stem: str) -> Path:
        return self.folder / f"{stem}.ipynb"

    def record_path(self, stem: str) -> Path:
        return self.folder / f"{stem}.cache.json"

    def record(self, stem: str) -> dict | None:
        path = self.record_path(stem)
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def failure(self, stem: str) -> dict | None:
        """The last failure of a chapter whose good copy was not replaced: ``key``, ``at``, ``reason``."""
        try:
            return json.loads((self.folder / f"{stem}.failed.json").read_text())
        except (OSError, ValueError):
            return None

    def save_failure(self, stem: str, *, key: str, reason: str) -> None:
        """Record that executing ``stem`` with ``key`` failed (a later run with the same key does
        not execute it again, unless forced)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        record = {"key": key, "at": now_utc(), "reason": reason}
        (self.folder / f"{stem}.failed.json").write_text(json.dumps(record, indent=1) + "\n")

    def why_stale(self, chapter, inputs: dict, *, root: Path, profile: str) -> str | None:
        """None when the stored page is valid for ``inputs``; else why the chapter must run."""
        record = self.record(chapter.stem)
        if record is None:
            return "never executed"
        if record.get("key") != cache_key(inputs):
            return "changed: " + ", ".join(changed_inputs(record.get("inputs", {}), inputs) or ["cache format"])
        if file_digest(self.notebook(chapter.stem)) != record.get("executed_sha256"):
            return "executed copy missing or altered"
        now = output_digests(chapter, root=root, profile=profile)
        altered = [k for k, v in record.get("outputs", {}).items() if now.get(k) != v]
        if altered:
            return "its outputs changed on disk since: " + ", ".join(altered)
        return None

    def save(self, chapter, executed: Path, *, inputs: dict, seconds: float, root: Path, profile: str) -> dict:
        """Move a successful execution into the store and write its record beside it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.notebook(chapter.stem)
        os.replace(executed, target)
        record = {
            "chapter": chapter.stem,
            "key": cache_key(inputs),
            "inputs": inputs,
            "executed_at": now_utc(),
            "seconds": round(seconds, 1),
            "outputs": output_digests(chapter, root=root, profile=profile),
            "executed_sha256": file_digest(target),
        }
        tmp = self.record_path(chapter.stem).with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, self.record_path(chapter.stem))
        (self.folder / f"{chapter.stem}.failed.json").unlink(missing_ok=True)
        return record


# ---------------------------------------------------------------------------------------------
# Publishing a page: provenance at the foot, "cached" stamp, warnings


def _provenance_outputs(nb: dict):
    from deblurkit.book.glue import PROVENANCE_KEY

    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if PROVENANCE_KEY in out.get("metadata", {}):
                yield cell, out


def move_provenance_to_foot(nb: dict) -> dict | None:
    """Move the provenance block that ChapterClock.finish displayed into a last cell of its own
    (input removed), so it sits at the foot of the page; return its record (None if absent)."""
    from deblurkit.book.glue import PROVENANCE_KEY

    found = list(_provenance_outputs(nb))
    if not found:
        return None
    cell, out = found[-1]
    cell["outputs"].remove(out)
    if nb["cells"][-1].get("metadata", {}).get("tags") != ["remove-input", "provenance"]:
        nb["cells"].append(
            {"cell_type": "code", "execution_count": None, "id": "deblurkit-provenance",
             "metadata": {"tags": ["remove-input", "provenance"]}, "outputs": [], "source": "# provenance"}
        )
    nb["cells"][-1]["outputs"] = [out]
    return out["metadata"][PROVENANCE_KEY]


def stamp_cached(nb: dict, reused_at: str) -> bool:
    """Rewrite the provenance block of a page reused from the cache to say so; False if none."""
    from deblurkit.book.glue import PROVENANCE_KEY, provenance_html, provenance_text

    stamped = False
    for _, out in _provenance_outputs(nb):
        record = dict(out["metadata"][PROVENANCE_KEY], cached=reused_at)
        out["metadata"][PROVENANCE_KEY] = record
        out["data"] = {"text/html": provenance_html(record), "text/plain": provenance_text(record)}
        stamped = True
    return stamped


def _literal(text: str) -> str:
    return "``" + " ".join(str(text).replace("`", "'").split()) + "``"


def warning_cell(kind: str, message: str) -> dict:
    """A markdown cell with a MyST warning box (``kind``: failed, blocked, stale, missing)."""
    return {
        "cell_type": "markdown", "id": f"deblurkit-{kind}", "metadata": {"tags": [f"bookrunner-{kind}"]},
        "source": f"```{{warning}}\n{message}\n```",
    }


def insert_after_title(nb: dict, cell: dict) -> None:
    """Insert ``cell`` after the cell holding the page's first heading (the page keeps its title)."""
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] == "markdown" and "".join(c["source"]).lstrip().startswith("# "):
            nb["cells"].insert(i + 1, cell)
            return
    nb["cells"].insert(0, cell)


def placeholder(chapter, message: str) -> dict:
    """A page for a chapter with no executed copy: its title and why it is empty."""
    nb = {
        "cells": [{"cell_type": "markdown", "id": "title", "metadata": {}, "source": f"# {chapter.title}"}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    insert_after_title(nb, warning_cell("missing", message))
    return nb


def warning_text(status: str, *, chapter, profile: str, reason: str = "", record: dict | None = None) -> str:
    """The sentence at the top of a page that is not a fresh, successful execution."""
    shown = (
        f"The page below is from the last good run, executed {record['executed_at']}."
        if record else "There is no earlier executed copy, so the page is empty."
    )
    command = f"make book PROFILE={profile}"
    if status == "failed":
        return f"Executing this chapter failed in this run: {_literal(reason)}. {shown} The run exited with an error."
    if status == "blocked":
        return f"This chapter was not executed in this run: {reason}. {shown}"
    if status == "stale":
        return f"This page is out of date ({_literal(reason)}); it was not re-executed in this run. {shown} Run `{command}`."
    return f"This chapter has not been executed in the {profile!r} profile yet: run `{command}`."


def publish(chapter, store: Store, target_dir: Path, *, status: str, profile: str, reason: str = "") -> Path:
    """Write the page Jupyter Book renders for ``chapter`` into ``target_dir`` (``status``:
    executed, cached, failed, blocked, stale, missing), with the cache record beside it."""
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    record = store.record(chapter.stem)
    stored = store.notebook(chapter.stem)
    have_copy = record is not None and stored.is_file()
    nb = json.loads(stored.read_text()) if have_copy else placeholder(
        chapter, warning_text(status, chapter=chapter, profile=profile, reason=reason)
    )
    if have_copy:
        move_provenance_to_foot(nb)
        if status != "executed":
            stamp_cached(nb, now_utc())
        if status in ("failed", "blocked", "stale"):
            insert_after_title(nb, warning_cell(status, warning_text(status, chapter=chapter, profile=profile, reason=reason, record=record)))
    page = target_dir / f"{chapter.stem}.ipynb"
    page.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    beside = target_dir / f"{chapter.stem}.cache.json"
    if have_copy:
        shutil.copyfile(store.record_path(chapter.stem), beside)
    else:
        beside.unlink(missing_ok=True)
    return page
