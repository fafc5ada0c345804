import os
import stat
import subprocess
import sys

import numpy as np
import pytest
from deblurkit.runtime import files, profiles, seeding, timing

TABLE = {"smoke": {"n": 1}, "cpu": {"n": 10}, "gpu": {"n": 100}}


def test_profile_settings_pick_one_profile_and_copy_it():
    s = profiles.profile_settings("cpu", TABLE)
    s["n"] = -1
    assert profiles.profile_settings("cpu", TABLE) == {"n": 10}


@pytest.mark.parametrize(
    "profile, table, name",
    [
        ("fast", TABLE, "profile"),
        ("cpu", {"smoke": {}, "cpu": {}}, "table"),
        ("cpu", {"smoke": {"n": 1}, "cpu": {"n": 1, "m": 2}, "gpu": {"n": 1}}, "same settings"),
    ],
)
def test_profile_settings_reject_bad_tables(profile, table, name):
    with pytest.raises(ValueError, match=name):
        profiles.profile_settings(profile, table)


@pytest.mark.parametrize(
    "table, name",
    [({"smoke": 1, "cpu": 10, "gpu": 100}, r"table\['smoke'\] must be a dict"), ([("cpu", {})], "table must be a dict")],
)
def test_profile_settings_reject_tables_that_are_not_dicts_of_dicts(table, name):
    with pytest.raises(TypeError, match=name):
        profiles.profile_settings("cpu", table)


def test_atomic_write_gives_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        target = files.atomic_write(tmp_path / "m.bin", lambda p: p.write_bytes(b"x"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_seed_everything_returns_a_seeded_generator():
    a = seeding.seed_everything(5).standard_normal(3)
    b = seeding.seed_everything(5).standard_normal(3)
    assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="seed"):
        seeding.seed_everything(-1)


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "sub" / "a.bin"
    files.atomic_write(target, lambda p: p.write_bytes(b"ok"))
    assert target.read_bytes() == b"ok"

    def broken(p):
        p.write_bytes(b"half")
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        files.atomic_write(target, broken)
    assert target.read_bytes() == b"ok"
    assert [p.name for p in target.parent.iterdir()] == ["a.bin"]


def test_timer_measures_elapsed_time():
    import time

    before = time.perf_counter()
    with timing.Timer() as t:
        time.sleep(0.05)
    outer = time.perf_counter() - before
    assert 0.05 <= t.elapsed <= outer


def test_importing_deblurkit_imports_no_deep_learning_framework():
    code = "import sys, deblurkit; print([m for m in ('torch', 'tensorflow', 'keras', 'jax') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
