"""Chapter 5 takes its network and training rows from the library (the GPU check projects from them)."""

import ast
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")

from deblurkit.training import adaptive_basis

NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "05_adaptive_basis.ipynb"


def chapter_code() -> str:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def page_rows() -> dict:
    """The chapter's ``PAGE_ROWS`` (``{profile: dict(...)}``), read from its code without running it."""
    tree = ast.parse(chapter_code())
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "PAGE_ROWS")
    return {ast.literal_eval(k): {kw.arg: ast.literal_eval(kw.value) for kw in v.keywords} for k, v in zip(node.value.keys, node.value.values)}


def test_the_chapter_adds_rows_but_never_overrides_the_librarys():
    rows = page_rows()
    assert set(rows) == set(adaptive_basis.PROFILE_DEFAULTS)
    for profile, settings in rows.items():
        assert not set(settings) & set(adaptive_basis.PROFILE_DEFAULTS[profile]), profile
    assert "PROFILE_TABLE = {p: PROFILE_DEFAULTS[p] | PAGE_ROWS[p] for p in PAGE_ROWS}" in chapter_code()


def test_every_profile_of_the_library_has_the_same_rows():
    names = {frozenset(s) for s in adaptive_basis.PROFILE_DEFAULTS.values()}
    assert len(names) == 1
