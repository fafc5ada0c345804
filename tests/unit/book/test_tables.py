"""The departures table: rows built from settings, only the differing ones kept, shown as HTML."""

import pytest

from deblurkit.book.tables import departure, departures, departures_html, html_table


def test_only_rows_that_differ_are_departures():
    rows = [
        departure("batch size", 1, 4, "a short run"),
        departure("critic's first layer", "no normalisation", "no normalisation", "the code"),
        departure("crop", "256 px", "64 px", "budget", effect="none measured"),
    ]
    kept = departures(rows)
    assert [r["aspect"] for r in kept] == ["batch size", "crop"]
    assert kept[0]["effect"] == "not measured" and kept[1]["effect"] == "none measured"
    html = departures_html(kept)
    assert html.count("<tr>") == 3 and "this page" in html and "256 px" in html


def test_a_departure_needs_its_reason_and_rows_come_from_departure():
    with pytest.raises(ValueError, match="why"):
        departure("batch size", 1, 4, "")
    with pytest.raises(ValueError, match="lacks"):
        departures([{"aspect": "x", "paper": "1", "here": "2"}])


def test_html_table_escapes_but_keeps_marked_markup():
    html = html_table(["a", "b"], [["<x>", ("html", "<b>y</b>")]])
    assert "&lt;x&gt;" in html and "<b>y</b>" in html
