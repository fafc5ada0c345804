"""Chapter 5's settings table and the library's agree (the GPU check projects from the library's)."""

import ast
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")

from deblurkit.training import adaptive_basis

NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "05_adaptive_basis.ipynb"


def notebook_table() -> dict:
    """The chapter's ``PROFILE_TABLE`` (``{profile: dict(...)}``), read from its code without running it."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    source = next("".join(c["source"]) for c in cells if c["cell_type"] == "code" and "PROFILE_TABLE = {" in "".join(c["source"]))
    node = next(n for n in ast.parse(source).body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "PROFILE_TABLE")
    return {ast.literal_eval(k): {kw.arg: ast.literal_eval(kw.value) for kw in v.keywords} for k, v in zip(node.value.keys, node.value.values)}


def test_library_profiles_match_the_chapters_table():
    table = notebook_table()
    for profile, settings in adaptive_basis.PROFILE_DEFAULTS.items():
        for key, value in settings.items():
            assert table[profile][key] == value, (profile, key)
