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
