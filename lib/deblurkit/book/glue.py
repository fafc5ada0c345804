"""Values glued into the prose (myst-nb), as plain text a reader can check, the chapter clock
that glues the profile used and the chapter's seconds, and the provenance block it shows at the
foot of every page (profile, seed, commit, machine, versions, when and how long).
"""

from __future__ import annotations

import math
import numbers
import os
import time
from pathlib import Path

import numpy as np

from ..runtime import validate as _validate
from ..runtime.profiles import PROFILES
from .verdicts import run_commit


def plain_value(value):
    """``value`` as a plain Python ``int``, ``float``, ``bool`` or ``str``; numbers must be finite."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (numbers.Integral, np.integer)):
        return int(value)
    if isinstance(value, (numbers.Real, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"value must be finite to be glued into the text, got {value}")
        return value
    if isinstance(value, str):
        return value
    raise TypeError(f"value must be a number or a string, got {type(value).__name__}")


def glue(name: str, value) -> None:
    """Store ``value`` under ``name`` for ``{glue:text}`name:.2f``` in the notebook's markdown.

    Nothing is displayed in the cell; the book renders the value where the prose refers to it.
    """
    from myst_nb import (
        glue as _glue,  # local: myst-nb is a book dependency, absent where only the library runs (a GPU machine)
    )

    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an identifier-like string, got {name!r}")
    _glue(name, plain_value(value), display=False)


class ChapterClock:
    """Times a chapter from its first code cell to its last and says how the page was built.

    ``clock = ChapterClock(profile)`` at the top glues ``profile_used``; ``clock.finish()`` at the
    bottom glues ``chapter_seconds`` (wall-clock seconds), shows the provenance block
    (:func:`provenance`) and returns the seconds. ``seed``: the run's seed; by default the
    ``seed`` of the notebook's parameters cell (every chapter has one) when run in a kernel.
    """

    def __init__(self, profile: str, *, seed: int | None = None) -> None:
        _validate.choice(profile, "profile", set(PROFILES))
        self.profile = profile
        self.seed = None if seed is None else _validate.integer(seed, "seed", minimum=0)
        self._start = time.perf_counter()
        self.seconds = float("nan")
        self.provenance: dict | None = None
        glue("profile_used", profile)

    def finish(self) -> float:
        """Stop the clock, glue ``chapter_seconds``, show the provenance block, return the seconds."""
        self.seconds = time.perf_counter() - self._start
        glue("chapter_seconds", self.seconds)
        seed = self.seed if self.seed is not None else _kernel_seed()
        self.provenance = provenance(self.profile, seed=seed, seconds=self.seconds)
        show_provenance(self.provenance)
        return self.seconds

    def __str__(self) -> str:
        return f"chapter ran in {self.seconds:.0f} s ({self.profile} profile)"


# --------------------------------------------------------------------------------------------
# Provenance: what built a page, shown at its foot by ChapterClock.finish.

#: Key of the provenance record in the metadata of the output that shows it (the book runner
#: finds the block by it, moves it to the page's foot and stamps a page reused from its cache).
PROVENANCE_KEY = "deblurkit_provenance"
#: Distributions whose versions the record lists (read from the installed metadata: a Keras page
#: never imports torch to learn its version, nor the reverse).
PROVENANCE_PACKAGES = ("numpy", "torch", "tensorflow", "keras")
_DISTRIBUTION_NAMES = {"tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow_cpu")}


def _version(package: str) -> str | None:
    from importlib import metadata

    for name in _DISTRIBUTION_NAMES.get(package, (package,)):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _processor() -> str:
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def provenance(profile: str, *, seed: int | None = None, seconds: float | None = None) -> dict:
    """What built a page: profile, seed, commit, machine, library versions, when and how long.

    Parameters
    ----------
    profile : {"smoke", "cpu", "gpu"}
        The profile of the run.
    seed : int, optional
        The run's seed, >= 0 (None: not known).
    seconds : float, optional
        How long the chapter ran, in seconds.

    Returns
    -------
    dict
        JSON-ready: ``profile``, ``seed``, ``commit`` and ``dirty`` (None outside a git
        checkout; ``dirty``: tracked files differ from the commit), ``processor``, ``threads``
        (CPUs this process may use) and ``cpus`` (of the machine), ``versions`` (Python and
        :data:`PROVENANCE_PACKAGES`, None where not installed), ``executed_at`` (UTC, ISO 8601),
        ``seconds``, ``cache_key`` (the book runner's key for this execution, from
        ``$DEBLURKIT_CACHE_KEY``; None when run by hand) and ``cached`` (None: executed now; the
        runner sets it when it reuses the page).
    """
    import datetime
    import platform

    _validate.choice(profile, "profile", set(PROFILES))
    if seed is not None:
        seed = _validate.integer(seed, "seed", minimum=0)
    stamp = run_commit()  # the same stamp as the verdict records: 12 hex digits, "+dirty" or "unknown"
    commit = None if stamp == "unknown" else stamp.removesuffix("+dirty")
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "profile": profile,
        "seed": seed,
        "commit": commit,
        "dirty": None if commit is None else stamp.endswith("+dirty"),
        "processor": _processor(),
        "threads": threads,
        "cpus": os.cpu_count(),
        "versions": {"python": platform.python_version(), **{p: _version(p) for p in PROVENANCE_PACKAGES}},
        "executed_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "seconds": None if seconds is None else round(float(seconds), 1),
        "cache_key": os.environ.get("DEBLURKIT_CACHE_KEY") or None,
        "cached": None,
    }


def provenance_rows(record: dict) -> list[tuple[str, str]]:
    """The block's rows, ``(label, text)``, from a :func:`provenance` record."""
    commit = record.get("commit")
    if commit:
        commit += " (with uncommitted changes)" if record.get("dirty") else ""
    versions = ", ".join(f"{k} {v}" for k, v in record.get("versions", {}).items() if v)
    seconds = record.get("seconds")
    executed = _when(record.get("executed_at")) + (f", in {seconds:.0f} s" if seconds is not None else "")
    cached = record.get("cached")
    cached = _when(cached) if cached else None
    rows = [
        ("profile, seed", f"{record.get('profile')}, {'not given' if record.get('seed') is None else record['seed']}"),
        ("commit", commit or "not a git checkout"),
        ("machine", f"{record.get('processor')}, {record.get('threads')} threads of {record.get('cpus')}"),
        ("versions", versions),
        ("executed", executed),
        ("this page", f"from the cache (reused {cached})" if cached else "executed in this run"),
    ]
    if record.get("cache_key"):
        rows.append(("cache key", record["cache_key"][:16]))
    return rows


def _when(iso: str | None) -> str:
    """``2026-12-06T19:57:29+00:00`` as ``2026-12-06 19:57 UTC``."""
    if not iso:
        return "?"
    return iso[:16].replace("T", " ") + " UTC" if iso.endswith("+00:00") else iso


def provenance_html(record: dict) -> str:
    """The provenance block as HTML: a small table of class ``deblurkit-provenance``."""
    import html

    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in provenance_rows(record))
    state = "cached" if record.get("cached") else "executed"
    return (
        f'<details class="deblurkit-provenance" data-state="{state}" open><summary>How this page was built</summary>'
        f'<table class="deblurkit-provenance">{cells}</table></details>'
    )


def provenance_text(record: dict) -> str:
    """The provenance block as plain text, one ``label: text`` line per row."""
    return "\n".join(f"{k}: {v}" for k, v in provenance_rows(record))


def show_provenance(record: dict) -> None:
    """Display the block (HTML, with the record in the output's metadata) in a running kernel;
    outside IPython nothing is shown."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import display

    if InteractiveShell.initialized():
        bundle = {"text/html": provenance_html(record), "text/plain": provenance_text(record)}
        display(bundle, raw=True, metadata={PROVENANCE_KEY: record})


def _kernel_seed():
    """The ``seed`` of the notebook's parameters cell, when this runs in a kernel that has one."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    seed = shell.user_ns.get("seed") if shell is not None else None
    return seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else None
