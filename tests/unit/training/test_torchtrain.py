import pytest

torch = pytest.importorskip("torch")

from deblurkit.book import checkpoints  # noqa: E402
from deblurkit.models import torch_ops
from deblurkit.training import torchtrain


def _meta(**kw):
    base = dict(chapter="06_x", profile="smoke", seed=0, steps=3, wall_seconds=1.0, device="cpu", architecture={"width": 4})
    return checkpoints.checkpoint_metadata(**{**base, **kw})


def test_checkpoint_restores_weights_optimiser_and_random_state(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    path = torchtrain.save_checkpoint(tmp_path / "m.pt", models={"m": model}, optimisers={"o": opt}, metadata=_meta(), extra={"curve": [1.0]})
    after_save = torch.rand(3)
    other = torch.nn.Linear(3, 2)
    other_opt = torch.optim.Adam(other.parameters(), lr=1e-2)
    got = torchtrain.load_checkpoint(path, models={"m": other}, optimisers={"o": other_opt}, restore_rng=True)
    assert torch.equal(other.weight, model.weight) and got["extra"] == {"curve": [1.0]}
    assert other_opt.state_dict()["state"][0]["step"] == 1
    assert torch.equal(torch.rand(3), after_save)  # the resumed run draws the same numbers


def test_wrong_architecture_and_missing_checkpoints_are_named(tmp_path):
    path = torchtrain.save_checkpoint(tmp_path / "m.pt", models={"m": torch.nn.Linear(3, 2)}, metadata=_meta())
    with pytest.raises(ValueError, match="another architecture"):
        torchtrain.load_checkpoint(path, models={"m": torch.nn.Linear(4, 2)})
    with pytest.raises(ValueError, match="no model 'g'"):
        torchtrain.load_checkpoint(path, models={"g": torch.nn.Linear(3, 2)})
    with pytest.raises(FileNotFoundError, match=r"run notebooks/06_x.ipynb in the 'cpu' profile"):
        checkpoints.require_checkpoint(tmp_path / "none.pt", chapter="06_x", profile="cpu")
    with pytest.raises(ValueError, match="trained in the 'smoke' profile"):
        checkpoints.require_checkpoint(path, chapter="06_x", profile="cpu")
    with pytest.raises(ValueError, match="architecture"):
        checkpoints.require_checkpoint(path, chapter="06_x", profile="smoke", architecture={"width": 8})
    assert checkpoints.require_checkpoint(path, chapter="06_x", profile="smoke", architecture={"width": 4})["steps"] == 3


def test_metadata_must_be_serialisable_and_of_a_known_profile():
    with pytest.raises(TypeError):
        _meta(architecture={"f": object()})
    with pytest.raises(ValueError, match="profile"):
        _meta(profile="laptop")


def test_linear_decay_is_constant_then_falls_to_zero():
    f = torchtrain.linear_decay_lambda(100, 0.5)
    assert f(0) == f(49) == 1.0 and f(75) == pytest.approx(0.5) and f(100) == 0.0


def test_one_process_run_needs_no_process_group():
    dist = torchtrain.setup_distributed("cpu")
    assert (dist.rank, dist.world_size, dist.is_main, dist.enabled) == (0, 1, True, False)
    model = torchtrain.prepare_model(torch.nn.Linear(2, 2), dist)
    assert torch_ops.unwrap(model) is model
    assert torchtrain.mean_across_processes(2.5, dist) == 2.5


def test_random_state_comes_back_whatever_device_the_checkpoint_is_loaded_onto(tmp_path):
    """torch.set_rng_state takes only a CPU ByteTensor: loading with map_location="cuda" (here
    the meta device, which every machine has) must still restore the random state."""
    torch.manual_seed(5)
    path = torchtrain.save_checkpoint(tmp_path / "m.pt", models={}, metadata=_meta())
    after_save = torch.rand(3)
    torch.manual_seed(6)
    torchtrain.load_checkpoint(path, models={}, restore_rng=True, map_location="meta")
    assert torch.equal(torch.rand(3), after_save)


def test_a_checkpoint_holds_one_random_state_per_process_and_older_files_still_load(tmp_path):
    path = torchtrain.save_checkpoint(tmp_path / "m.pt", models={}, metadata=_meta())
    state = torch.load(path, weights_only=False)
    assert isinstance(state["rng"], list) and len(state["rng"]) == 1
    # a checkpoint of the previous format: one state dict, torch's state as a tensor
    state["rng"] = {**state["rng"][0], "torch": torch.from_numpy(state["rng"][0]["torch"])}
    torch.save(state, tmp_path / "old.pt")
    after = torch.rand(2)
    torchtrain.load_checkpoint(tmp_path / "old.pt", models={}, restore_rng=True)
    assert torch.equal(torch.rand(2), after)
    two = torchtrain.Distributed(rank=1, world_size=2, local_rank=1, device=torch.device("cpu"))
    with pytest.warns(UserWarning, match="random state of 1 process"):
        torchtrain.load_checkpoint(path, models={}, restore_rng=True, dist=two)


def test_batch_norm_is_synchronised_on_cuda_and_refused_on_several_cpu_processes():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    cpu2 = torchtrain.Distributed(rank=0, world_size=2, local_rank=0, device=torch.device("cpu"))
    with pytest.raises(ValueError, match=r"norm='batch'.*2 CPU processes.*SyncBatchNorm runs on CUDA only"):
        torchtrain.prepare_model(net, cpu2)
    cuda2 = torchtrain.Distributed(rank=0, world_size=2, local_rank=0, device=torch.device("cuda", 0))
    converted = torchtrain.sync_batch_norm(net, cuda2)  # the conversion itself needs no GPU
    assert isinstance(converted[1], torch.nn.SyncBatchNorm)
    one = torchtrain.Distributed(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    assert torchtrain.sync_batch_norm(net, one) is net
    plain = torch.nn.Conv2d(1, 2, 3)
    assert torchtrain.sync_batch_norm(plain, cpu2) is plain


def test_channels_last_is_asked_for_or_follows_the_device():
    one = torchtrain.setup_distributed("cpu")
    conv = torchtrain.prepare_model(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3)), one, channels_last=True)
    assert torchtrain.uses_channels_last(conv)
    assert not torchtrain.uses_channels_last(torchtrain.prepare_model(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3)), one))


def test_autocast_precisions():
    assert not torch.is_autocast_enabled("cpu")
    with torch_ops.autocast("cpu", "bf16"):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    with torch_ops.autocast("cpu"):  # "auto": float32 on the CPU
        assert not torch.is_autocast_enabled("cpu")
    with pytest.raises(ValueError, match="precision"):
        torch_ops.autocast("cpu", "fp16")


def test_pick_device_takes_cuda_only_where_torch_sees_one(monkeypatch):
    """The library's one choice between CPU and CUDA. With CUDA reported visible it names CUDA
    without touching it (no context is made), so the choice is tested on any machine."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert torchtrain.pick_device() == torch.device("cpu") == torchtrain.pick_device("cpu")
    with pytest.raises(ValueError, match=r"device 'cuda' asked for, but no CUDA device is available"):
        torchtrain.pick_device("cuda")
    with pytest.raises(ValueError, match="no CUDA device"):
        torchtrain.setup_distributed("cuda")  # refused at once, not at the first tensor moved
    with pytest.raises(ValueError, match="device must be one of"):
        torchtrain.pick_device("tpu")
    assert torchtrain.setup_distributed().device == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert torchtrain.pick_device() == torch.device("cuda")
    assert torchtrain.pick_device(torch.device("cuda", 1)) == torch.device("cuda", 1)


def test_configure_device_sets_tf32_as_asked_on_cuda_and_leaves_the_cpu_alone():
    """The switches are flags: setting them needs no GPU."""
    flags = (torch.backends.cudnn, "benchmark"), (torch.backends.cuda.matmul, "allow_tf32"), (torch.backends.cudnn, "allow_tf32")
    saved = [getattr(o, n) for o, n in flags]
    try:
        for o, n in flags:
            setattr(o, n, False)
        torchtrain.configure_device(torch.device("cpu"))
        assert [getattr(o, n) for o, n in flags] == [False, False, False]
        torchtrain.configure_device(torch.device("cuda"), tf32=False)  # chapter 8: float32 on a GPU
        assert [getattr(o, n) for o, n in flags] == [True, False, False]
        torchtrain.configure_device("cuda")  # training: TF32
        assert [getattr(o, n) for o, n in flags] == [True, True, True]
    finally:
        for (o, n), v in zip(flags, saved):
            setattr(o, n, v)
