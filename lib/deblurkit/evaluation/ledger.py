"""Chapter 8's summaries: the best method per blur kind and the claims ledger (HTML tables).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

# --------------------------------------------------------------------------------------------
# Tables and the claims ledger


def best_method(results: dict, kind: str) -> str:
    """Name of the method with the highest mean test PSNR on ``kind`` (``results[name][kind]``)."""
    scores = {name: float(np.mean(r[kind]["psnr"])) for name, r in results.items() if kind in r}
    if not scores:
        raise ValueError(f"no method has results on {kind!r}")
    return max(scores, key=scores.get)


def ledger_rows(verdicts: Sequence[dict]) -> list[dict]:
    """One row per seed claim: seed, claim, verdict, the deciding numbers and the chapter."""
    rows = []
    for v in verdicts:
        numbers = []
        unit = f" {v['unit']}" if v.get("unit") else ""
        digits = 4  # enough digits that a claimed and a measured number never print alike
        while digits < 12 and None not in (v.get("claimed"), v.get("measured")) and v["claimed"] != v["measured"] and f"{v['claimed']:.{digits}g}" == f"{v['measured']:.{digits}g}":
            digits += 1
        if v.get("claimed") is not None:
            numbers.append(f"claimed {v['claimed']:.{digits}g}{unit}")
        if v.get("measured") is not None:
            numbers.append(f"measured {v['measured']:.{digits}g}{unit}")
        if v.get("tolerance") is not None:
            numbers.append(f"tolerance {v['tolerance']:.3g}{unit}")
        rows.append({"seed": v["seed"], "claim": v["claim"], "verdict": v["verdict"], "numbers": "; ".join(numbers), "reason": v["reason"], "chapter": v["chapter"]})
    return sorted(rows, key=lambda r: (r["seed"], r["chapter"]))


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An HTML table (the book renders a code cell's HTML output as it is; a Markdown output
    would lose its table). Cells are escaped, except those given as ``("html", markup)``."""
    def cell(value, tag):
        markup = value[1] if isinstance(value, tuple) and value[0] == "html" else html.escape(str(value))
        return f"<{tag}>{markup}</{tag}>"

    head = "".join(cell(h, "th") for h in header)
    body = "".join("<tr>" + "".join(cell(v, "td") for v in r) + "</tr>" for r in rows)
    return f'<table class="table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def ledger_html(rows: Sequence[dict]) -> str:
    """The ledger as an HTML table; each chapter links to its page (``<chapter>.html``)."""
    cells = []
    for r in rows:
        number = r["chapter"].split("_")[0].lstrip("0") or "0"
        link = ("html", f'<a href="{html.escape(r["chapter"])}.html">chapter {number}</a>')
        verdict = ("html", f"<strong>{html.escape(r['verdict'])}</strong>")
        cells.append([r["seed"], r["claim"], verdict, r["numbers"] or r["reason"], link])
    return html_table(["seed", "claim", "verdict", "deciding numbers", "chapter"], cells)
