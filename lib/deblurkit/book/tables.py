"""Tables for the book's pages: HTML tables that a code cell displays (a Markdown output would
lose its table in the built book), and the computed table of departures from a paper.

A chapter that re-implements a paper lists, in one table, what the paper (or its authors'
code, where the paper is silent) does beside what this page's profile does, why, and the
measured effect where a cheap measurement exists. The candidate rows are built from the
settings the code actually used, and a row whose two values agree is no departure and is left
out (:func:`departures`), so the table cannot go stale.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

#: The columns of a departures row, in order.
DEPARTURE_COLUMNS = ("aspect", "paper", "here", "why", "effect")


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An HTML table. Cells are escaped, except those given as ``("html", markup)``."""

    def cell(value, tag):
        markup = value[1] if isinstance(value, tuple) and value[0] == "html" else html.escape(str(value))
        return f"<{tag}>{markup}</{tag}>"

    head = "".join(cell(h, "th") for h in header)
    body = "".join("<tr>" + "".join(cell(v, "td") for v in r) + "</tr>" for r in rows)
    return f'<table class="table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def departure(aspect: str, paper, here, why: str, effect: str = "") -> dict:
    """One candidate row of a departures table.

    Parameters
    ----------
    aspect : str
        What is compared (e.g. ``"batch size"``).
    paper, here
        What the paper (or its code) does and what this profile does: values or short phrases,
        compared as text by :func:`departures`.
    why : str
        The reason for a difference.
    effect : str
        Its measured effect; empty when there is no cheap measurement (shown as "not measured").
    """
    for name, value in (("aspect", aspect), ("why", why)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    if not isinstance(effect, str):
        raise TypeError(f"effect must be a string, got {type(effect).__name__}")
    return {"aspect": aspect, "paper": str(paper), "here": str(here), "why": why, "effect": effect or "not measured"}


def departures(rows: Sequence[dict]) -> list[dict]:
    """The rows of ``rows`` (from :func:`departure`) where this page departs from the paper:
    those whose ``paper`` and ``here`` differ."""
    kept = []
    for i, row in enumerate(rows):
        missing = [c for c in DEPARTURE_COLUMNS if c not in row]
        if missing:
            raise ValueError(f"rows[{i}] lacks {', '.join(missing)}: build rows with departure()")
        if row["paper"] != row["here"]:
            kept.append(dict(row))
    return kept


def departures_html(rows: Sequence[dict]) -> str:
    """The departures as an HTML table: the paper, this page, why, the measured effect."""
    header = ["aspect", "the paper", "this page", "why", "measured effect"]
    return html_table(header, [[r[c] for c in DEPARTURE_COLUMNS] for r in rows])
