"""Verdicts on the seeds' claims, specified before the test split is read and judged by one
rule; and sentences that compare methods, computed from numbers.

The rule (stated once in the book's introduction, applied only here):

* Each claim a chapter checks has a **specification**, registered with :meth:`ClaimBook.specify`
  *before the chapter first reads its test split*: the claim, the quantity measured, the
  comparison with the claimed value, the tolerance (:func:`stated` in advance, or
  :func:`measured_noise`: how a noise of the run is measured), and the **protocol match**
  (:func:`protocol`): for each of data, model, training budget and metric, the claim's
  :func:`own`, a :func:`substitute` (saying what, and how far from the claim's), or
  :func:`not_applicable`. The split records when a chapter first reads its test images
  (:func:`deblurkit.data.bundled.first_test_read`); :func:`judge_claim` refuses a claim whose
  specification was registered after that.
* With the claim's protocol repeated (no substitute) the verdict is *reproduced* or *refuted*
  by the comparison; when the tolerance is a measured noise and the difference lies inside it,
  *inconclusive*.
* With a substitute the verdict is *not reproducible offline*, and the reason carries the
  substitute's measurement; unless a bound measured on the page (declared in the specification,
  its value glued) shows that the substitution cannot explain the difference: then *refuted*,
  counted as refuted-by-bound (``basis == "bound"``).

A record carries its specification, the protocol match, ``specified_before_test`` and the
commit, profile, run seed (``run_seed``; ``seed`` names the seed *document*, e.g. ``"000"``)
and time of the run; :func:`save_verdicts` refuses a record without a protocol match.
:func:`count_verdicts` gives the claims ledger's counts.
"""

from __future__ import annotations

import html
import json
import os
import subprocess
import time
from pathlib import Path

from ..data import bundled
from ..runtime import validate as _validate
from ..runtime.files import artifact_path, atomic_write, project_dir
from ..runtime.profiles import PROFILES

#: The four verdicts the book gives a seed's claim.
VERDICTS = ("reproduced", "refuted", "inconclusive", "not reproducible offline")
REPRODUCED, REFUTED, INCONCLUSIVE, OFFLINE = VERDICTS
#: The parts of a claim's protocol that a check repeats or substitutes, and how each matches.
PROTOCOL_FIELDS = ("data", "model", "budget", "metric")
OWN, SUBSTITUTE, NOT_APPLICABLE = "own", "substitute", "not applicable"
#: What decided a verdict (a record's ``basis``).
BASES = ("same protocol", "bound", "substitute", "not measured")
#: How a measured value is held against a claimed one.
COMPARISONS = {"equal": "within {tol} of", "at_least": "at least (to within {tol})", "at_most": "at most (to within {tol})"}
_SYMBOL = {"equal": "=", "at_least": "≥", "at_most": "≤"}


def _text(value, name: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or not (allow_empty or value.strip()):
        raise ValueError(f"{name} must be a {'' if allow_empty else 'non-empty '}string, got {value!r}")
    return value.strip()


# --------------------------------------------------------------------------------------------
# Protocol match and tolerance


def own(detail: str = "") -> dict:
    """A protocol field that repeats the claim's own (``detail`` optional, e.g. ``"Adam, MSE"``)."""
    return {"match": OWN, "detail": _text(detail, "detail", allow_empty=True)}


def substitute(detail: str) -> dict:
    """A protocol field that replaces the claim's; ``detail`` says what and how far
    (``"bundled textures instead of Brodatz"``, ``"training 14 of 100 epochs"``)."""
    return {"match": SUBSTITUTE, "detail": _text(detail, "detail (what is substituted, and how far)")}


def not_applicable(detail: str = "") -> dict:
    """A protocol field that does not apply to the claim (a parameter count has no data)."""
    return {"match": NOT_APPLICABLE, "detail": _text(detail, "detail", allow_empty=True)}


def protocol(*, data, model, budget, metric) -> dict:
    """The protocol match of a check: each field :func:`own`, :func:`substitute` or
    :func:`not_applicable` (the strings ``"own"`` and ``"not applicable"`` also do)."""
    fields = {}
    for name, value in zip(PROTOCOL_FIELDS, (data, model, budget, metric)):
        if value in (OWN, NOT_APPLICABLE):
            value = {"match": value, "detail": ""}
        ok = isinstance(value, dict) and value.get("match") in (OWN, SUBSTITUTE, NOT_APPLICABLE)
        if not ok or not isinstance(value.get("detail"), str):
            raise ValueError(f"protocol field {name} must be own(...), substitute('what and how far') or not_applicable(), got {value!r}")
        if value["match"] == SUBSTITUTE and not value["detail"].strip():
            raise ValueError(f"protocol field {name}: a substitute must say what it is and how far from the claim's")
        fields[name] = {"match": value["match"], "detail": value["detail"].strip()}
    return fields


def protocol_repeated(match: dict) -> bool:
    """``True`` when no field of the protocol ``match`` is a substitute."""
    return all(match[f]["match"] != SUBSTITUTE for f in PROTOCOL_FIELDS)


def protocol_text(match: dict | None) -> str:
    """The match in one line, for tables: ``"data: substitute (bundled textures); model: own; ..."``."""
    if not match:
        return "not stated"
    return "; ".join(f"{f}: {match[f]['match']}" + (f" ({match[f]['detail']})" if match[f]["detail"] else "") for f in PROTOCOL_FIELDS)


def stated(value: float, why: str = "") -> dict:
    """A tolerance stated in advance (>= 0, in the claim's unit): the claim's precision or a threshold."""
    return {"kind": "stated", "value": _validate.positive_scalar(value, "tolerance", allow_zero=True), "how": _text(why, "why", allow_empty=True)}


def measured_noise(how: str) -> dict:
    """A tolerance measured in the run (``how``: e.g. ``"sd over 3 seeds of the gap"``); its value is
    passed to :func:`judge_claim` as ``noise``. Inside it, a repeated protocol is *inconclusive*."""
    return {"kind": "noise", "value": None, "how": _text(how, "how (the noise is measured)")}


# --------------------------------------------------------------------------------------------
# Specifications, registered before the test split is read


class Specification(dict):
    """What a chapter will judge, and how: ``key``, ``seed`` (the seed document), ``chapter``,
    ``claim``, ``quantity``, ``unit``, ``comparison``, ``claimed``, ``tolerance``, ``protocol``,
    ``bound``, ``offline``, ``specified_at`` and ``specified_before_test`` (see :func:`specification`)."""


def specification(key: str, *, claim: str, seed: str, chapter: str, quantity: str, protocol: dict, claimed=None,
                  comparison: str = "equal", tolerance=None, unit: str = "", bound: str | None = None,
                  offline: str | None = None) -> Specification:
    """A :class:`Specification`, stamped with whether the test split has been read yet.

    Parameters
    ----------
    key : str
        Identifier, unique in the chapter (it names glue, e.g. ``"ramp_10"``).
    claim : str
        The claim as the seed makes it, quoted where possible.
    seed, chapter : str
        The seed document (``"001"``) and the notebook's stem (``"04_sigma_map_cnn"``).
    quantity : str
        What is measured, with its unit and the conditions it is measured under.
    protocol : dict
        From :func:`protocol`; required.
    claimed : float, optional
        The seed's number, or the threshold the claim is made measurable with.
    comparison : {"equal", "at_least", "at_most"}
        ``measured`` against ``claimed``: ``|m - c| <= tol``, ``m >= c - tol``, ``m <= c + tol``.
    tolerance : float or dict
        A number or :func:`stated`, or :func:`measured_noise`; required with ``claimed``.
    unit : str
        Unit of claimed, measured, tolerance and bound.
    bound : str, optional
        How the page measures the largest difference the substitution could explain (value given
        to :func:`judge_claim` and glued); only with a substitute.
    offline : str, optional
        What repeating the claim's protocol needs that this machine lacks; starts an offline reason.
    """
    for name, value in (("key", key), ("claim", claim), ("seed", seed), ("chapter", chapter), ("quantity", quantity)):
        _text(value, name)
    if not key.isidentifier():
        raise ValueError(f"key must be identifier-like (it names glue), got {key!r}")
    if not isinstance(protocol, dict) or set(protocol) != set(PROTOCOL_FIELDS):
        raise ValueError(f"protocol must come from verdicts.protocol(data=, model=, budget=, metric=), got {protocol!r}")
    match = globals()["protocol"](**protocol)
    _validate.choice(comparison, "comparison", set(COMPARISONS))
    claimed = None if claimed is None else _validate.real_scalar(claimed, "claimed")
    if isinstance(tolerance, dict) and tolerance.get("kind") in ("stated", "noise"):
        tolerance = dict(tolerance)
    elif tolerance is not None:
        tolerance = stated(tolerance)
    elif claimed is not None:
        raise ValueError("tolerance must be stated(value, why), measured_noise(how) or a number >= 0 when a number is claimed")
    if bound is not None and protocol_repeated(match):
        raise ValueError("bound applies to a substitute protocol only; this protocol repeats the claim's")
    return Specification(
        key=key, seed=seed.strip(), chapter=chapter.strip(), claim=claim.strip(), quantity=quantity.strip(), unit=unit,
        comparison=comparison, claimed=claimed, tolerance=tolerance, protocol=match,
        bound=None if bound is None else _text(bound, "bound (how it is measured)"),
        offline=None if offline is None else _text(offline, "offline"),
        specified_at=time.time(), specified_before_test=bundled.first_test_read() is None,
    )


# --------------------------------------------------------------------------------------------
# The rule


class Verdict(dict):
    """A judged claim, JSON-ready: its specification's fields plus ``verdict`` (one of
    :data:`VERDICTS`), ``reason``, ``measured``, ``noise``, ``bound_value``, ``basis`` (one of
    :data:`BASES`), ``protocol_repeated`` and, from :class:`ClaimBook`, the run's ``commit``,
    ``profile``, ``run_seed`` and ``time``. ``tolerance`` is the number used (the stated value,
    or the measured noise), ``tolerance_kind`` ``"stated"`` or ``"noise"``, ``tolerance_how`` why
    or how it was measured."""

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


def _shortfall(measured: float, claimed: float, comparison: str) -> float:
    """How far ``measured`` lies on the wrong side of ``claimed`` (negative: on the claim's side)."""
    return {"equal": abs(measured - claimed), "at_least": claimed - measured, "at_most": measured - claimed}[comparison]


def judge_claim(spec, *, measured=None, noise=None, bound=None, note: str | None = None, digits: int = 4) -> Verdict:
    """Judge a registered :class:`Specification` by the book's one rule (module docstring).

    Parameters
    ----------
    spec : Specification
        Registered before the test split was first read; otherwise ``RuntimeError``.
    measured : float, optional
        The book's number in the specification's unit; ``None`` only when nothing could be
        measured (``note`` or the specification's ``offline`` says why): *not reproducible offline*.
    noise : float, optional
        The measured noise (>= 0); required when the tolerance is :func:`measured_noise`.
    bound : float, optional
        The measured bound (>= 0, glued on the page); required when the specification declares one.
    note : str, optional
        Appended to the reason (what the substitute's number suggests, what would narrow the gap).
    digits : int
        Significant digits of the numbers in the reason.
    """
    if not isinstance(spec, Specification):
        raise TypeError(
            f"spec must be a Specification from ClaimBook.specify (a record without a protocol match is refused), "
            f"got {type(spec).__name__}"
        )
    key = spec["key"]
    if not spec["specified_before_test"]:
        raise RuntimeError(
            f"the specification of {key!r} ({spec['chapter']}) was registered after the chapter first read its test "
            "split: declare every verdict's specification before the first test access"
        )
    note = None if note is None else _text(note, "note")
    tol = spec["tolerance"]  # flattened in the record: tolerance (number), tolerance_kind, tolerance_how
    record = Verdict(spec, measured=None, noise=None, bound_value=None, protocol_repeated=protocol_repeated(spec["protocol"]),
                     tolerance=None if tol is None else tol["value"], tolerance_kind=tol and tol["kind"], tolerance_how=tol and tol["how"])
    unit = f" {spec['unit']}" if spec["unit"] else ""
    fmt = lambda v: f"{_format(v, digits)}{unit}"
    if measured is None:
        why = "; ".join(t for t in (spec["offline"], note) if t)
        if not why:
            raise ValueError(f"{key}: give measured, or say why nothing could be measured (note= or the specification's offline=)")
        record.update(verdict=OFFLINE, basis="not measured", reason=why)
        return record
    m = record["measured"] = _validate.real_scalar(measured, "measured")
    c = spec["claimed"]
    if c is None:
        raise ValueError(f"{key}: the specification claims no number to compare measured with")
    if tol["kind"] == "noise":
        if noise is None:
            raise ValueError(f"{key}: the tolerance is a measured noise ({tol['how']}): pass noise=")
        margin = record["noise"] = record["tolerance"] = _validate.positive_scalar(noise, "noise", allow_zero=True)
    elif noise is not None:
        raise ValueError(f"{key}: noise= given, but the specification states its tolerance ({tol['value']:g})")
    else:
        margin = tol["value"]
    if (spec["bound"] is None) != (bound is None):
        raise ValueError(f"{key}: pass bound= exactly when the specification declares a bound (it declares {spec['bound'] or 'none'})")
    if bound is not None:
        record["bound_value"] = _validate.positive_scalar(bound, "bound", allow_zero=True)
    short = _shortfall(m, c, spec["comparison"])
    # what the comparison says, as it would decide with the claim's own protocol
    if tol["kind"] == "stated":
        holds = short <= margin
        relation = COMPARISONS[spec["comparison"]].format(tol=fmt(margin))
        verdict, how = (REPRODUCED if holds else REFUTED), f"{'is' if holds else 'is not'} {relation} the claimed {fmt(c)}"
    else:
        noise_text = f"the run's measured noise {fmt(margin)} ({tol['how']})"
        if abs(short) <= margin:
            verdict, how = INCONCLUSIVE, f"differs from the claimed {fmt(c)} by {fmt(abs(m - c))}, inside {noise_text}"
        elif short < 0:
            verdict, how = REPRODUCED, f"is {_SYMBOL[spec['comparison']]} the claimed {fmt(c)} by more than {noise_text}"
        else:
            verdict, how = REFUTED, f"misses the claimed {fmt(c)} by {fmt(short)}, more than {noise_text}"
    if record["protocol_repeated"]:
        record.update(verdict=verdict, basis="same protocol", reason=f"measured {fmt(m)} {how}")
    else:
        subs = "; ".join(f"{f}: {spec['protocol'][f]['detail']}" for f in PROTOCOL_FIELDS if spec["protocol"][f]["match"] == SUBSTITUTE)
        b = record["bound_value"]
        if b is not None and short - margin > b:
            record.update(verdict=REFUTED, basis="bound", reason=(
                f"measured {fmt(m)} misses the claimed {fmt(c)} by {fmt(short - margin)} beyond the tolerance, more than "
                f"the {fmt(b)} that the substitution ({subs}) can explain ({spec['bound']})"))
        else:
            start = f"{spec['offline']}; " if spec["offline"] else ""
            reason = (f"{start}with substitutes ({subs}) this run measures {fmt(m)}, which {how} "
                      f"(with the claim's own protocol that would read: {verdict})")
            if b is not None:
                reason += f"; the substitution can explain up to {fmt(b)} ({spec['bound']})"
            record.update(verdict=OFFLINE, basis="substitute", reason=reason)
    if note:
        record["reason"] += f"; {note}"
    return record


# --------------------------------------------------------------------------------------------
# A chapter's claims: specified, shown, judged, stamped, saved


def run_commit() -> str:
    """The commit of the working tree (``"+dirty"`` with uncommitted changes), or ``"unknown"``."""
    try:
        git = lambda *a: subprocess.run(["git", *a], check=False, cwd=project_dir(), capture_output=True, text=True, timeout=10)
        head = git("rev-parse", "--short=12", "HEAD")
        if head.returncode:
            return "unknown"
        return head.stdout.strip() + ("+dirty" if git("status", "--porcelain", "--untracked-files=no").stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class ClaimBook:
    """A chapter's verdicts: specifications registered before the test split is read, shown as
    one table (:meth:`table`), judged (:meth:`judge`), stamped with the run and saved (:meth:`save`).

    Parameters
    ----------
    chapter : str
        The notebook's stem, e.g. ``"03_autoencoder"``.
    profile : {"smoke", "cpu", "gpu"}
        The run's profile (records go to ``data/verdicts/<profile>/``).
    seed : int
        The run's random seed (recorded as ``run_seed``).
    source : str, optional
        The seed document of most claims (``"002"``): the default of ``specify(seed=)``.
    """

    def __init__(self, chapter: str, *, profile: str, seed: int, source: str | None = None) -> None:
        self.chapter = _text(chapter, "chapter")
        self.profile = _validate.choice(profile, "profile", set(PROFILES))
        self.seed = _validate.integer(seed, "seed")
        self.source = None if source is None else _text(source, "source")
        self.specs: dict[str, Specification] = {}
        self.verdicts: dict[str, Verdict] = {}

    def specify(self, key: str, *, seed: str | None = None, **fields) -> Specification:
        """Register one claim's specification (keywords of :func:`specification`)."""
        if key in self.specs:
            raise ValueError(f"claim {key!r} is already specified in {self.chapter}")
        seed = self.source if seed is None else seed
        if seed is None:
            raise ValueError("seed (the seed document, e.g. '000') must be given, or ClaimBook(source=...)")
        self.specs[key] = specification(key, seed=seed, chapter=self.chapter, **fields)
        return self.specs[key]

    def judge(self, key: str, **kwargs) -> Verdict:
        """Judge a specified claim once (keywords of :func:`judge_claim`) and stamp it with the run."""
        if key not in self.specs:
            raise KeyError(f"claim {key!r} was never specified in {self.chapter}; specified: {sorted(self.specs)}")
        if key in self.verdicts:
            raise ValueError(f"claim {key!r} is already judged; a claim is judged once")
        record = judge_claim(self.specs[key], **kwargs)
        record.update(commit=run_commit(), profile=self.profile, run_seed=self.seed, time=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                      cache_key=os.environ.get("DEBLURKIT_CACHE_KEY"))  # the book runner's key of this execution (None by hand)
        self.verdicts[key] = record
        return record

    def table(self) -> Table:
        """The specifications as one table for the page, shown before the test section."""
        rows = []
        for key, s in self.specs.items():
            unit, t = f" {s['unit']}" if s["unit"] else "", s["tolerance"]
            test = "—" if s["claimed"] is None else f"{_SYMBOL[s['comparison']]} {s['claimed']:g}{unit}"
            if t is None or t["kind"] == "noise":
                tol = "—" if t is None else f"measured noise: {t['how']}"
            else:
                tol = f"{t['value']:g}{unit}" + (f" ({t['how']})" if t["how"] else "")
            other = "; ".join([f"bound: {s['bound']}"] * bool(s["bound"]) + [f"offline: {s['offline']}"] * bool(s["offline"]))
            rows.append([key, f"seed {s['seed']}: {s['claim']}", s["quantity"], test, tol, protocol_text(s["protocol"]), other or "—"])
        late = [k for k, s in self.specs.items() if not s["specified_before_test"]]
        caption = f"{len(rows)} verdict specifications of {self.chapter}, registered before the test split was read"
        if late:
            caption += f", except {', '.join(late)} (registered after it: cannot be judged)"
        return Table(["claim", "as the seed makes it", "quantity", "comparison", "tolerance", "protocol match", "bound / offline"], rows, caption)

    def save(self, folder=None) -> Path:
        """Save every verdict (``data/verdicts/<profile>/<chapter>.json``); refuses an unjudged claim."""
        unjudged = [k for k in self.specs if k not in self.verdicts]
        if unjudged:
            raise ValueError(f"specified but not judged in {self.chapter}: {', '.join(unjudged)}")
        return save_verdicts(list(self.verdicts.values()), self.chapter, profile=self.profile, folder=folder)


class Table:
    """A small table: HTML in a notebook, text elsewhere."""

    def __init__(self, header, rows, caption: str = "") -> None:
        self.header, self.rows, self.caption = list(header), [[str(c) for c in r] for r in rows], caption

    def _repr_html_(self) -> str:
        cells = lambda tag, row: "".join(f"<{tag} style='text-align:left'>{html.escape(c)}</{tag}>" for c in row)
        body = "".join(f"<tr>{cells('td', r)}</tr>" for r in self.rows)
        return f"<table><caption>{html.escape(self.caption)}</caption><thead><tr>{cells('th', self.header)}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        return "\n".join([self.caption, " | ".join(self.header), *(" | ".join(r) for r in self.rows)])


# --------------------------------------------------------------------------------------------
# Saving, loading, counting


def _check_record(i: int, v, chapter: str) -> None:
    if not isinstance(v, Verdict):
        raise TypeError(f"verdicts[{i}] must be a Verdict from judge_claim, got {type(v).__name__}")
    if v.get("chapter") != chapter:
        raise ValueError(f"verdicts[{i}] belongs to chapter {v.get('chapter')!r}, not {chapter!r}")
    if v.get("verdict") not in VERDICTS:
        raise ValueError(f"verdicts[{i}] has no verdict among {VERDICTS}: {v.get('verdict')!r}")
    if not isinstance(v.get("protocol"), dict) or set(v["protocol"]) != set(PROTOCOL_FIELDS):
        raise ValueError(f"verdicts[{i}] ({v.get('claim')!r}) has no protocol match: a record without one is refused")
    if v.get("specified_before_test") is not True:
        raise ValueError(f"verdicts[{i}] ({v.get('claim')!r}) was not specified before the test split was read")


def save_verdicts(verdicts, chapter: str, *, profile: str | None = None, folder=None) -> Path:
    """Write a chapter's verdicts to ``data/verdicts/[<profile>/]<chapter>.json`` (atomically) for the
    claims ledger. Each must name ``chapter`` and carry a protocol match and ``specified_before_test``.

    Parameters
    ----------
    verdicts : sequence of Verdict
        From :meth:`ClaimBook.judge` (or :func:`judge_claim`).
    chapter : str
        The notebook's stem, e.g. ``"06_deblurgan"``.
    profile : {"smoke", "cpu", "gpu"}, optional
        Recorded in every verdict; the file goes to ``data/verdicts/<profile>/``, so that a smoke
        run never overwrites the verdicts a cpu book's ledger shows.
    folder : str or Path, optional
        Where to write instead.
    """
    if profile is not None:
        _validate.choice(profile, "profile", set(PROFILES))
    records = list(verdicts)
    for i, v in enumerate(records):
        _check_record(i, v, chapter)
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


def count_verdicts(records) -> dict:
    """The claims ledger's counts: ``n_claims``, ``n_reproduced``, ``n_refuted`` (=
    ``n_refuted_same_protocol`` + ``n_refuted_by_bound``), ``n_inconclusive`` and ``n_offline``."""
    records = list(records)
    n = {v: sum(r["verdict"] == v for r in records) for v in VERDICTS}
    by_bound = sum(r["verdict"] == REFUTED and r.get("basis") == "bound" for r in records)
    return {
        "n_claims": len(records), "n_reproduced": n[REPRODUCED], "n_refuted": n[REFUTED],
        "n_refuted_same_protocol": n[REFUTED] - by_bound, "n_refuted_by_bound": by_bound,
        "n_inconclusive": n[INCONCLUSIVE], "n_offline": n[OFFLINE],
    }


# --------------------------------------------------------------------------------------------
# Sentences that compare methods


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


def grid_edge_note(choices: dict, *, digits: int = 3) -> str:
    """A sentence naming the settings chosen at an end of the grid they were chosen from: a value
    beyond that end might have done better, which the grid cannot tell.

    Parameters
    ----------
    choices : dict
        ``{name: (chosen value, grid)}``: each grid at least two finite numbers, holding its
        chosen value. An end at 0 (the option switched off, e.g. no TV term) is no edge.
    digits : int
        Significant digits of the values in the sentence.

    Returns
    -------
    str
        E.g. ``"Chosen at an end of the grid tried (a value beyond it might do better): Wiener
        NSR (0.03, the largest of 0.0001 to 0.03)"``, or ``"No setting was chosen at an end of
        the grid tried"``.
    """
    if not isinstance(choices, dict) or not choices:
        raise ValueError(f"choices must be a non-empty dict {{name: (value, grid)}}, got {choices!r}")
    edges = []
    for name, pair in choices.items():
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise ValueError(f"choices[{name!r}] must be (chosen value, grid), got {pair!r}")
        value = _validate.real_scalar(pair[0], f"choices[{name!r}] value")
        grid = [_validate.real_scalar(g, f"choices[{name!r}] grid value") for g in pair[1]]
        if len(set(grid)) < 2 or value not in grid:
            raise ValueError(f"choices[{name!r}]: the grid must hold two values or more and the chosen {value:g}, got {grid}")
        low, high = min(grid), max(grid)
        end = "largest" if value == high else "smallest" if value == low and low != 0 else None
        if end:
            edges.append(f"{name} ({value:.{digits}g}, the {end} of {low:.{digits}g} to {high:.{digits}g})")
    if not edges:
        return "No setting was chosen at an end of the grid tried"
    return "Chosen at an end of the grid tried (a value beyond it might do better): " + "; ".join(edges)
