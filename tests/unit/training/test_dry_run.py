"""Paper-size dry runs of the torch chapters' ``gpu`` configurations on the CPU (issue 20).

Every line of the ``gpu`` profile's training that does not need CUDA runs here: the paper's
networks (DeblurGAN generator 11,378,179 and critic 2,764,737 parameters; the adaptive-basis
network with B 25, K 33, about 80 M), the profile's batch sizes, its data pipeline (a
``DataLoader`` with 2 worker processes per rank), bf16 autocast over the whole step (the CPU
code path of CUDA's), channels-last, two processes under ``torchrun`` (gloo), two optimiser
steps, a checkpoint after the first, a run stopped right after that checkpoint (the
adaptive basis by an exception, DeblurGAN by SIGKILL of both ranks) and resumed in fresh
processes. The resumed run must end with the uninterrupted run's weights, optimiser
moments and per-rank losses, bitwise, and each rank must draw its own random numbers after the
resume.

Departure from the profile, for the test's time budget: crops of 32 px (the profile trains on
256-px DeblurGAN crops and 128-px adaptive-basis crops), 16 training crops per rank for the
adaptive basis (the profile precomputes 6000), 2 validation crops.
"""

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys
    from pathlib import Path

    import numpy as np
    import torch

    from deblurkit.data import bundled
    from deblurkit.data.synthetic import nonuniform_blur_dataset
    from deblurkit.models.adaptive_basis import AdaptiveBasisNet
    from deblurkit.models import torch_ops
    from deblurkit.training import adaptive_basis as ab, deblurgan as dg, torchtrain
    from deblurkit.book import checkpoints

    torch.set_num_threads(1)
    mode, folder = sys.argv[1], Path(sys.argv[2])
    rank = int(os.environ["RANK"])
    report = {"rank": rank}


    class Stop(Exception):
        pass


    def stop_after_step_one(how):
        def hook(state):
            if mode == "stop" and state.step == 1:
                torch.distributed.barrier()  # the main process has written the checkpoint
                if how == "kill":
                    os.kill(os.getpid(), signal.SIGKILL)
                raise Stop
        return hook


    # the adaptive-basis network at paper size (one grey channel, as chapter 5 trains it)
    dist = torchtrain.setup_distributed("cpu")
    gpu = ab.PROFILE_DEFAULTS["gpu"]
    arch = {"in_channels": 1, "basis": gpu["basis"], "kernel_size": gpu["kernel_size"], "base": gpu["base"]}
    k = arch["kernel_size"]
    pictures = {s: [bundled.bundled_square(n, 160) for n in bundled.split_names(s)[:3]] for s in ("train", "validation")}
    train_set = nonuniform_blur_dataset(pictures["train"], 16, crop_size=32, kernel_size=k, rng=np.random.default_rng([0, rank]))
    val_set = nonuniform_blur_dataset(pictures["validation"], 2, crop_size=32, kernel_size=k, rng=np.random.default_rng([0, 10**6]))
    torch.manual_seed(0)
    model = torchtrain.prepare_model(AdaptiveBasisNet(**arch), dist, channels_last=True)
    meta = {"chapter": "05_adaptive_basis", "profile": "gpu", "seed": 0, "architecture": arch}
    try:
        r = ab.train_adaptive_basis(model, train_set, val_set, steps=2, batch_size=gpu["batch"], dist=dist, learning_rate=1e-4,
                                    eval_every=1, checkpoint=folder / "ab.pt", metadata=meta, resume=mode == "resume",
                                    show_progress=False, workers=2, precision="bf16", on_checkpoint=stop_after_step_one("raise"))
        report["ab"] = {"local": r["local_history"], "history": r["history"], "parameters": torch_ops.count_parameters(model)}
    except Stop:
        pass

    # one random state per rank: what each rank draws after a checkpoint, and after loading it
    probe = torch.nn.Linear(2, 2)
    record = checkpoints.checkpoint_metadata(chapter="05_adaptive_basis", profile="gpu", seed=0, steps=0, wall_seconds=0.0,
                                             device="cpu", architecture={})
    if mode == "full":
        torch.manual_seed(100 + rank)  # each rank in a state of its own
        torchtrain.save_checkpoint(folder / "rng.pt", models={"probe": probe}, metadata=record, dist=dist)
    elif mode == "resume":
        torchtrain.load_checkpoint(folder / "rng.pt", models={"probe": probe}, restore_rng=True, dist=dist)
    report["draws"] = torch.rand(4).tolist()
    # DeblurGAN, the gpu profile's settings at 32-px crops
    settings = {**dg.PROFILE_DEFAULTS["gpu"], "steps": 2, "crop": 32, "workers": 2}
    config = dg.TrainConfig(profile="gpu", seed=0, device="cpu", precision="bf16", channels_last=True, validate_every=1,
                            validation_count=2, checkpoint=str(folder / "dg.pt"), checkpoint_every=1, **settings)
    r = dg.train(config, resume=mode == "resume", progress=False, on_checkpoint=stop_after_step_one("kill"))  # tears the group down
    report["dg"] = {"local": r["local_history"], "history": r["history"], "steps": r["steps"], "workers": r["workers"],
                    "parameters": [torch_ops.count_parameters(r["last_generator"]), torch_ops.count_parameters(r["critic"])]}

    (folder / f"report_{mode}_{rank}.json").write_text(json.dumps(report))
    """
)


def torchrun(script: Path, mode: str, folder: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DEBLURKIT_QUIET": "1", "DEBLURKIT_HOME": str(folder)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script), mode, str(folder)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def assert_same_tensors(a, b, where: str) -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same_tensors(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_tensors(x, y, f"{where}[{i}]")
    else:
        assert a == b or (math.isnan(a) and math.isnan(b)), where  # NaN equals NaN here


def test_paper_size_gpu_configurations_run_killed_and_resumed_on_two_cpu_processes(tmp_path):
    script = tmp_path / "dry_run.py"
    script.write_text(SCRIPT)
    full, run = tmp_path / "full", tmp_path / "run"
    full.mkdir()
    run.mkdir()
    done = torchrun(script, "full", full)
    assert done.returncode == 0, done.stderr[-3000:]
    stopped = torchrun(script, "stop", run)
    assert stopped.returncode != 0  # adaptive basis stopped after its step-1 checkpoint, DeblurGAN killed after its own
    for name in ("dg", "ab"):
        assert load(run / f"{name}.pt")["metadata"]["steps"] == 1
    (run / "rng.pt").write_bytes((full / "rng.pt").read_bytes())
    resumed = torchrun(script, "resume", run)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    for rank in (0, 1):
        a = json.loads((full / f"report_full_{rank}.json").read_text())
        b = json.loads((run / f"report_resume_{rank}.json").read_text())
        assert a["dg"]["parameters"] == [11_378_179, 2_764_737] and a["dg"]["workers"] == 2
        assert 79_000_000 < a["ab"]["parameters"] < 81_000_000
        # the resumed run's second step: this rank's own losses, bitwise
        for name in ("dg", "ab"):
            for key, values in a[name]["local"].items():
                assert b[name]["local"][key] == values[1:], (rank, name, key)
            assert b[name]["history"] == a[name]["history"], (rank, name)
        assert b["draws"] == a["draws"], rank  # this rank's random state came back
    draws = [json.loads((full / f"report_full_{r}.json").read_text())["draws"] for r in (0, 1)]
    assert draws[0] != draws[1]  # one state per rank, not rank 0's everywhere
    for name in ("dg", "ab"):
        a, b = load(full / f"{name}.pt"), load(run / f"{name}.pt")
        assert a["metadata"]["steps"] == b["metadata"]["steps"] == 2
        assert_same_tensors(a["models"], b["models"], f"{name} weights")
        assert_same_tensors(a["optimisers"], b["optimisers"], f"{name} optimiser")
        assert_same_tensors(a["extra"]["loop"]["best_state"], b["extra"]["loop"]["best_state"], f"{name} best weights")
