"""Chapter 8's summaries: the best methods per blur kind (ties kept) and the claims ledger, whose
rows show the deciding numbers and the reason, the protocol match, the run that wrote each
record, and whether the record is stale.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from ..book.tables import html_table
from ..book.verdicts import protocol_text
from ..runtime import validate as _validate

__all__ = ["best_methods", "best_phrase", "record_is_stale", "git_changed_since", "ledger_rows", "ledger_html", "html_table"]


def best_methods(scores: dict, *, tolerance: float) -> list[str]:
    """The methods whose score is within ``tolerance`` of the best one, best first (ties kept).

    Parameters
    ----------
    scores : dict
        ``{method name: score}`` (higher is better), at least one finite score.
    tolerance : float
        Differences at or below this (>= 0, same unit) count as ties.
    """
    if not isinstance(scores, dict) or not scores:
        raise ValueError(f"scores must be a non-empty dict, got {scores!r}")
    values = {str(k): _validate.real_scalar(v, f"scores[{k!r}]") for k, v in scores.items()}
    tolerance = _validate.positive_scalar(tolerance, "tolerance", allow_zero=True)
    top = max(values.values())
    return sorted((k for k, v in values.items() if v >= top - tolerance), key=values.get, reverse=True)


def best_phrase(names: Sequence[str], *, tolerance: float, unit: str = "dB") -> str:
    """``names`` from :func:`best_methods` as a phrase: the one name, or the tied names joined
    with "and" and the tie stated (e.g. ``"Wiener and CLS (tied within 0.1 dB)"``)."""
    names = list(names)
    if not names:
        raise ValueError("names must hold at least one method")
    if len(names) == 1:
        return names[0]
    joined = ", ".join(names[:-1]) + " and " + names[-1]
    return f"{joined} (tied within {tolerance:g} {unit})".replace(" )", ")")


def _numbers(v: dict) -> str:
    """The claimed, measured and tolerance numbers of a record, with enough digits that a
    claimed and a measured number never print alike."""
    unit = f" {v['unit']}" if v.get("unit") else ""
    claimed, measured = v.get("claimed"), v.get("measured")
    digits = 4
    while digits < 12 and None not in (claimed, measured) and claimed != measured and f"{claimed:.{digits}g}" == f"{measured:.{digits}g}":
        digits += 1
    parts = []
    if claimed is not None:
        parts.append(f"claimed {claimed:.{digits}g}{unit}")
    if measured is not None:
        parts.append(f"measured {measured:.{digits}g}{unit}")
    if v.get("tolerance") is not None:
        parts.append(f"tolerance {v['tolerance']:.3g}{unit}")
    return "; ".join(parts)


def _protocol(v: dict) -> str:
    """The record's protocol match as one line ("not stated" for a record without one)."""
    return protocol_text(v.get("protocol"))


def record_is_stale(v: dict, *, current_key: str | None = None, changed_since=None) -> bool:
    """Whether a verdict record is older than the chapter that should have written it.

    The rule (BOOK.md section 7): a record is stale when its cache key differs from its
    chapter's current one. Where no key is known (``current_key`` None or the record has no
    ``cache_key``), the record's commit stands in: ``changed_since(commit, chapter)`` tells
    whether the chapter's sources changed after it. A record with neither is stale, since
    nothing shows which run wrote it.
    """
    if current_key is not None and v.get("cache_key"):
        return v["cache_key"] != current_key
    if v.get("commit") and changed_since is not None:
        return bool(changed_since(v["commit"], v["chapter"]))
    return True


def current_chapter_keys() -> dict | None:
    """The execution-cache key of every chapter as its sources stand now, ``{stem: key}``, when
    the book runner executes this kernel (it passes them in ``$DEBLURKIT_CHAPTER_KEYS``); ``None``
    when the notebook runs by hand, where :func:`record_is_stale` falls back to the commit."""
    import json
    import os

    text = os.environ.get("DEBLURKIT_CHAPTER_KEYS")
    if not text:
        return None
    keys = json.loads(text)
    if not isinstance(keys, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in keys.items()):
        raise ValueError(f"$DEBLURKIT_CHAPTER_KEYS must be a JSON object {{chapter: key}}, got {text[:80]!r}")
    return keys


def git_changed_since(root):
    """A ``changed_since(commit, chapter)`` for :func:`record_is_stale`: true when
    ``notebooks/<chapter>.ipynb`` or ``lib/`` differ between ``commit`` and the working tree of
    the git checkout at ``root`` (a dirty tree counts as changed), or when git cannot tell."""
    import subprocess

    def changed(commit: str, chapter: str) -> bool:
        commit = commit.removesuffix("+dirty")
        paths = [f"notebooks/{chapter}.ipynb", "lib"]
        try:
            done = subprocess.run(["git", "-C", str(root), "diff", "--quiet", commit, "--", *paths], capture_output=True, check=False)
        except OSError:
            return True
        return done.returncode != 0

    return changed


def ledger_rows(verdicts: Sequence[dict], *, current_keys: dict | None = None, changed_since=None) -> list[dict]:
    """One row per claim: source, claim, verdict, the deciding numbers AND the reason, the
    protocol match, the run that wrote it (commit, profile, seed, time), whether it is stale
    (:func:`record_is_stale`) and the chapter; sorted by source, then chapter."""
    rows = []
    for v in verdicts:
        key = (current_keys or {}).get(v["chapter"])
        run = ", ".join(str(v[k])[:19] if k == "time" else str(v[k])[:12] for k in ("commit", "profile", "run_seed", "time") if v.get(k) is not None)
        rows.append({
            "seed": v["seed"], "claim": v["claim"], "verdict": v["verdict"], "numbers": _numbers(v),
            "reason": v.get("reason", ""), "protocol": _protocol(v), "run": run or "no run identity recorded",
            "stale": record_is_stale(v, current_key=key, changed_since=changed_since), "chapter": v["chapter"],
        })
    return sorted(rows, key=lambda r: (r["seed"], r["chapter"]))


def ledger_html(rows: Sequence[dict]) -> str:
    """The ledger as an HTML table; each chapter links to its page (``<chapter>.html``), and a
    stale record is marked in its run column."""
    cells = []
    for r in rows:
        number = r["chapter"].split("_")[0].lstrip("0") or "0"
        link = ("html", f'<a href="{html.escape(r["chapter"])}.html">chapter {number}</a>')
        verdict = ("html", f"<strong>{html.escape(r['verdict'])}</strong>")
        evidence = "; ".join(x for x in (r["numbers"], r["reason"]) if x)
        run = ("html", html.escape(r["run"]) + (" <strong>(stale)</strong>" if r["stale"] else ""))
        cells.append([r["seed"], r["claim"], verdict, evidence, r["protocol"], run, link])
    return html_table(["source", "claim", "verdict", "numbers and reason", "protocol match", "run", "chapter"], cells)
