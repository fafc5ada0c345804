"""tools/gpu_check.py on the CPU in its quick sizes: every key of its JSON, with only what a lent
GPU machine has importable (no TensorFlow, Keras, Jupyter, papermill, ipywidgets, myst-nb)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[3]
#: What the GPU machine lacks: importing any of them must fail during the check.
ABSENT = ("tensorflow", "keras", "papermill", "ipywidgets", "myst_nb", "jupyter_book", "IPython", "ipykernel", "nbformat", "jupyter_core")

RUN = (
    "import runpy, sys\n"
    f"sys.modules.update(dict.fromkeys({ABSENT!r}))  # None in sys.modules: 'import x' raises ImportError\n"
    "sys.argv = ['gpu_check.py', *sys.argv[1:]]\n"
    "runpy.run_path({tool!r}, run_name='__main__')\n"
)


def test_quick_cpu_check_reports_every_measurement(tmp_path):
    out = tmp_path / "check.json"
    code = RUN.format(tool=str(ROOT / "tools" / "gpu_check.py"))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib"), "OMP_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-c", code, "--device", "cpu", "--quick", "--out", str(out)], capture_output=True, text=True,
                          env=env, timeout=600, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(out.read_text())
    assert json.loads(done.stdout) == got  # the same object on stdout
    assert set(got) == {"device", "device_kind", "torch", "cuda", "python", "quick", "inference", "training", "resume", "projection", "seconds"}
    assert got["device_kind"] == "cpu" and got["quick"] is True and got["torch"] and got["python"]
    inf = got["inference"]
    assert set(inf) == {"frame", "repeat", "ms", "labels", "cpu_fp32_ms", "cpu_threads", "fastest", "cpu_fp32_over_fastest", "item"}
    assert set(inf["ms"]) == {"fp32", "fp32-cl", "bf16", "bf16-cl"} == set(inf["labels"])  # no TF32 on a CPU
    assert all(v > 0 for v in inf["ms"].values()) and inf["cpu_fp32_ms"] == inf["ms"]["fp32"]
    assert inf["fastest"] in inf["ms"] and inf["cpu_fp32_over_fastest"] >= 1
    assert set(inf["item"]) == {"side", "deblurgan_ms", "adaptive_basis_ms"} and min(inf["item"]["deblurgan_ms"], inf["item"]["adaptive_basis_ms"]) > 0
    for name, params in (("deblurgan", {"generator": 11_378_179, "critic": 2_764_737}), ("adaptive_basis", None)):
        t = got["training"][name]
        assert set(t) == {"steps_per_s", "images_per_s", "measured_steps", "data_wait_fraction", "peak_memory_bytes", "crop", "batch", "workers", "parameters"}
        assert t["steps_per_s"] > 0 and t["images_per_s"] >= t["steps_per_s"] and 0 <= t["data_wait_fraction"] < 1
        assert t["peak_memory_bytes"] is None and t["workers"] == 2 and t["measured_steps"] == 2
        if params:
            assert t["parameters"] == params
        else:
            assert 79_000_000 < t["parameters"] < 81_000_000
        r = got["resume"][name]
        assert set(r) == {"bitwise_equal", "max_abs_difference", "tolerance", "ok", "from_step", "to_step", "steps_after_resume"}
        assert r["bitwise_equal"] and r["ok"] and r["max_abs_difference"] == 0 and r["tolerance"] == 0
        assert r["steps_after_resume"] == r["to_step"] - r["from_step"] == 1  # the resumed run did train
    p = got["projection"]
    assert set(p) == {"seconds", "total_seconds", "adaptive_basis_steps", "deblurgan_generator_steps", "evaluation_items", "note"}
    assert set(p["seconds"]) == {"05_adaptive_basis", "06_deblurgan", "08_side_by_side_torch_inference"}
    assert p["total_seconds"] == pytest.approx(sum(p["seconds"].values())) and p["evaluation_items"] == 180
