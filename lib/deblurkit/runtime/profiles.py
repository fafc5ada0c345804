"""The execution profiles (``smoke``, ``cpu``, ``gpu``): the one definition, used by the notebooks,
the trainers and ``tools/bookrunner.py``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..runtime import validate as _validate

#: The execution profiles every notebook accepts (see the book's setup page).
PROFILES = ("smoke", "cpu", "gpu")


def profile_settings(profile: str, table: dict) -> dict:
    """Pick the settings of one execution ``profile`` from a per-profile ``table``.

    Parameters
    ----------
    profile : {"smoke", "cpu", "gpu"}
        ``smoke``: seconds, proves every cell runs (CI). ``cpu``: minutes on a 2-core
        laptop, results that mean something. ``gpu``: full scale on one CUDA GPU.
    table : dict
        ``{profile: {setting: value}}`` with the same settings for every profile.

    Returns
    -------
    dict
        A copy of ``table[profile]``.
    """
    _validate.choice(profile, "profile", set(PROFILES))
    if not isinstance(table, Mapping):
        raise TypeError(f"table must be a dict {{profile: {{setting: value}}}}, got {type(table).__name__}")
    if set(table) != set(PROFILES):
        raise ValueError(f"table must have exactly the keys {list(PROFILES)}, got {sorted(table)}")
    for p in PROFILES:
        if not isinstance(table[p], Mapping):
            raise TypeError(f"table[{p!r}] must be a dict of settings, got {type(table[p]).__name__} {table[p]!r}")
    keys = {p: set(table[p]) for p in PROFILES}
    if len({frozenset(k) for k in keys.values()}) != 1:
        raise ValueError(f"table must give the same settings for every profile, got {keys}")
    return dict(table[profile])
