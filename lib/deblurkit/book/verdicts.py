"""Verdicts on the seeds' claims, computed from measured numbers and stated tolerances, saved per
profile for the claims ledger; and computed sentences on which method is better.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..runtime import validate as _validate
from ..runtime.files import artifact_path, atomic_write
from ..runtime.profiles import PROFILES

# --------------------------------------------------------------------------------------------
# Verdicts on the seeds' claims, and sentences that compare methods, computed from numbers.

#: The only three verdicts the book gives a seed's claim (see the introduction).
VERDICTS = ("reproduced", "refuted", "not reproducible offline")


#: How a measured value is held against a claimed one.
COMPARISONS = {
    "equal": "within {tol} of",
    "at_least": "at least (to within {tol})",
    "at_most": "at most (to within {tol})",
}


class Verdict(dict):
    """One seed claim and what the book found: a plain ``dict`` (JSON-ready) with the keys
    ``seed``, ``claim``, ``verdict`` (one of :data:`VERDICTS`), ``reason``, ``claimed``,
    ``measured``, ``tolerance``, ``comparison`` and ``chapter``.
    """

    @property
    def verdict(self) -> str:
        return self["verdict"]

    @property
    def reason(self) -> str:
        return self["reason"]

    def __str__(self) -> str:
        return f"{self['verdict']}: {self['reason']}"


def _format(value, digits: int) -> str:
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def judge_claim(
    claim: str,
    *,
    seed: str,
    chapter: str,
    claimed: float | None = None,
    measured: float | None = None,
    tolerance: float | None = None,
    comparison: str = "equal",
    unit: str = "",
    offline_reason: str | None = None,
    digits: int = 4,
) -> Verdict:
    """Turn a seed's claim and the book's measurement into a :class:`Verdict`.

    Either the claim is measurable here (``claimed``, ``measured`` and ``tolerance`` given) and
    the verdict is *reproduced* when ``measured`` satisfies ``comparison`` against ``claimed``
    within ``tolerance`` and *refuted* otherwise; or it is not (``offline_reason`` given, the
    numbers optional) and the verdict is *not reproducible offline*.

    Parameters
    ----------
    claim : str
        The claim in a few words, as the seed makes it.
    seed : str
        The seed document, e.g. ``"003"``.
    chapter : str
        The chapter that checks it, e.g. ``"05_adaptive_basis"`` (the notebook's stem).
    claimed, measured : float
        The seed's number and the book's, in the same unit.
    tolerance : float
        Allowed difference, >= 0, in that unit; stated on the page next to the verdict.
    comparison : {"equal", "at_least", "at_most"}
        ``"equal"``: ``|measured - claimed| <= tolerance``; ``"at_least"``:
        ``measured >= claimed - tolerance``; ``"at_most"``: ``measured <= claimed + tolerance``.
    unit : str
        Unit shown in the reason (e.g. ``"dB"``).
    offline_reason : str, optional
        Why the claim cannot be checked on this machine (e.g. a data set that cannot be
        downloaded). Gives the verdict *not reproducible offline*.
    digits : int
        Significant digits of the numbers in the reason.

    Returns
    -------
    Verdict
    """
    for name, value in (("claim", claim), ("seed", seed), ("chapter", chapter)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    _validate.choice(comparison, "comparison", set(COMPARISONS))
    record = Verdict(seed=seed, claim=claim, chapter=chapter, comparison=comparison, unit=unit)
    for name, value in (("claimed", claimed), ("measured", measured), ("tolerance", tolerance)):
        record[name] = None if value is None else _validate.real_scalar(value, name)
    if offline_reason is not None:
        if not isinstance(offline_reason, str) or not offline_reason.strip():
            raise ValueError(f"offline_reason must be a non-empty string, got {offline_reason!r}")
        record.update(verdict=VERDICTS[2], reason=offline_reason.strip())
        return record
    missing = [n for n in ("claimed", "measured", "tolerance") if record[n] is None]
    if missing:
        raise ValueError(f"give claimed, measured and tolerance (missing: {', '.join(missing)}), or offline_reason")
    c, m, tol = record["claimed"], record["measured"], _validate.positive_scalar(tolerance, "tolerance", allow_zero=True)
    holds = {"equal": abs(m - c) <= tol, "at_least": m >= c - tol, "at_most": m <= c + tol}[comparison]
    u = f" {unit}" if unit else ""
    relation = COMPARISONS[comparison].format(tol=f"{_format(tol, digits)}{u}")
    record.update(
        verdict=VERDICTS[0] if holds else VERDICTS[1],
        reason=(
            f"measured {_format(m, digits)}{u} {'is' if holds else 'is not'} {relation} "
            f"the claimed {_format(c, digits)}{u}"
        ),
    )
    return record


def save_verdicts(verdicts, chapter: str, *, profile: str | None = None, folder=None) -> Path:
    """Write a chapter's verdicts as JSON to ``data/verdicts/<chapter>.json`` (atomically), for
    the claims ledger of the side-by-side chapter.

    Parameters
    ----------
    verdicts : sequence of Verdict
        From :func:`judge_claim`; each must name ``chapter``.
    chapter : str
        The notebook's stem, e.g. ``"06_deblurgan"``.
    profile : {"smoke", "cpu", "gpu"}, optional
        The profile of the run, recorded in every verdict; the file then goes to
        ``data/verdicts/<profile>/``, so that a smoke run (CI) never overwrites the verdicts a
        cpu book's ledger shows.
    folder : str or Path, optional
        Where to write; default :func:`artifact_path` ``("verdicts"[, profile])``.
    """

    if profile is not None:
        _validate.choice(profile, "profile", set(PROFILES))
    records = list(verdicts)
    for i, v in enumerate(records):
        if not isinstance(v, Verdict):
            raise TypeError(f"verdicts[{i}] must be a Verdict from judge_claim, got {type(v).__name__}")
        if v["chapter"] != chapter:
            raise ValueError(f"verdicts[{i}] belongs to chapter {v['chapter']!r}, not {chapter!r}")
    default = artifact_path("verdicts", profile) if profile else artifact_path("verdicts")
    path = Path(folder if folder is not None else default) / f"{chapter}.json"
    text = json.dumps([dict(v) | ({"profile": profile} if profile else {}) for v in records], indent=1)
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def load_verdicts(folder=None, *, profile: str | None = None) -> list[Verdict]:
    """Every verdict saved by :func:`save_verdicts`, in chapter order: those of ``profile``
    (``data/verdicts/<profile>/``) when it is given, else those saved without one."""
    if folder is None:
        folder = artifact_path("verdicts", profile) if profile else artifact_path("verdicts")
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no verdicts folder at {folder}: run the chapters first (make book)")
    return [Verdict(r) for p in sorted(folder.glob("*.json")) for r in json.loads(p.read_text())]


def compare_methods(
    scores: dict,
    *,
    tolerance: float,
    unit: str = "dB",
    higher_is_better: bool = True,
    digits: int = 2,
) -> str:
    """A sentence saying which of several methods scored best, computed from ``scores``.

    Parameters
    ----------
    scores : dict
        ``{method name: score}`` with at least two finite scores.
    tolerance : float
        Differences at or below this (>= 0, in ``unit``) are called a tie.
    unit : str
        Unit of the scores, shown in the sentence.
    higher_is_better : bool
        ``True`` for PSNR or SSIM, ``False`` for errors and seconds.

    Returns
    -------
    str
        E.g. ``"Wiener is best (27.10 dB), 1.32 dB ahead of RL (25.78 dB)"`` or
        ``"Wiener (27.10 dB) and RL (27.05 dB) tie within 0.1 dB"``.
    """
    if not isinstance(scores, dict) or len(scores) < 2:
        raise ValueError(f"scores must be a dict of at least two methods, got {scores!r}")
    values = {str(k): _validate.real_scalar(v, f"scores[{k!r}]") for k, v in scores.items()}
    tolerance = _validate.positive_scalar(tolerance, "tolerance", allow_zero=True)
    ranked = sorted(values, key=values.get, reverse=higher_is_better)
    best, second = ranked[0], ranked[1]
    u = f" {unit}" if unit else ""
    shown = {k: f"{values[k]:.{digits}f}{u}" for k in ranked}
    gap = abs(values[best] - values[second])
    if gap <= tolerance:
        return f"{best} ({shown[best]}) and {second} ({shown[second]}) tie within {tolerance:g}{u}"
    return f"{best} is best ({shown[best]}), {gap:.{digits}f}{u} ahead of {second} ({shown[second]})"
