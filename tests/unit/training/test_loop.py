"""The shared training-loop skeleton: schedule per step, validation, best weights, resume."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from deblurkit.book import checkpoints
from deblurkit.training import loop, torchtrain


def tiny_run(tmp_path, *, steps, resume=False, scores=None, stop_at=None, checkpoint_every=1):
    """A 2-parameter model fitted to fixed batches; returns the state, the model and the step sizes used."""
    dist = torchtrain.setup_distributed("cpu")
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    data = torch.linspace(-1, 1, 40).reshape(20, 2, 1)  # 20 batches of 2 samples
    seen = {"lr": [], "rows": [], "scores": list(scores or [])}

    def make_loader(start):
        return (data[i % 20] for i in range(start, 10_000))

    def step_fn(step, next_batch):
        x = next_batch()
        seen["rows"].append(float(x[0, 0]))
        seen["lr"].append(opt.param_groups[0]["lr"])
        noisy = x + 0.01 * torch.randn(2, 1)  # draws from the random state a resume restores
        loss = ((model(noisy) - 3 * x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": f"{loss.item():.3f}"}

    @torch.no_grad()
    def validate():
        return seen["scores"].pop(0) if seen["scores"] else float(((model(torch.ones(1, 1)) - 3) ** 2).sum())

    def record(state, score):
        state.history.setdefault("val", []).append(score)

    def stop(state):
        if state.step == stop_at:
            raise KeyboardInterrupt

    state = loop.run_loop(
        dist=dist, steps=steps, step_fn=step_fn, make_loader=make_loader, validate_fn=validate, record_fn=record, keep=model,
        models={"m": model}, optimisers={"o": opt}, higher_is_better=False, validate_every=1, schedule=lambda s: 1.0 / (1 + s),
        checkpoint=tmp_path / "c.pt", checkpoint_every=checkpoint_every, resume=resume, show_progress=False,
        metadata_fn=lambda s: checkpoints.checkpoint_metadata(chapter="05_x", profile="smoke", seed=0, steps=s.step, wall_seconds=s.seconds, device="cpu", architecture={}),
        on_checkpoint=stop if stop_at else None,
    )
    return state, model, seen


def test_step_size_is_a_function_of_the_step(tmp_path):
    _, _, seen = tiny_run(tmp_path, steps=4)
    assert seen["lr"] == pytest.approx([0.1, 0.05, 0.1 / 3, 0.025])


def test_the_best_check_is_kept_by_the_direction_of_the_score(tmp_path):
    state, model, _ = tiny_run(tmp_path, steps=3, scores=[3.0, 1.0, 2.0])
    assert (state.best_step, state.best_score) == (2, 1.0) and state.history["val"] == [3.0, 1.0, 2.0]
    saved = torch.load(tmp_path / "c.pt", weights_only=False)
    # the kept weights are step 2's, not the last ones
    assert not torch.equal(state.best_state["weight"], model.weight.detach())
    assert torch.equal(saved["extra"][loop.LOOP_KEY]["best_state"]["weight"], state.best_state["weight"])


def test_an_interrupted_run_resumes_with_the_same_batches_step_sizes_and_numbers(tmp_path):
    straight, model, seen = tiny_run(tmp_path / "a", steps=5)
    with pytest.raises(KeyboardInterrupt):
        tiny_run(tmp_path / "b", steps=5, stop_at=2)
    resumed, again, seen_b = tiny_run(tmp_path / "b", steps=5, resume=True)
    assert seen_b["rows"] == seen["rows"][2:] and seen_b["lr"] == seen["lr"][2:]
    assert resumed.step == 5 and resumed.batches == straight.batches == 5
    assert resumed.history == straight.history and resumed.best_step == straight.best_step
    assert torch.equal(again.weight, model.weight) and torch.equal(again.bias, model.bias)


def test_batch_stream_counts_batches_and_waiting_time():
    stream = loop.BatchStream(lambda start: iter(range(start, start + 3)), start=4)
    assert [stream(), stream()] == [4, 5] and stream.taken == 6 and stream.wait_seconds >= 0


def test_loop_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="metadata_fn"):
        loop.run_loop(dist=torchtrain.setup_distributed("cpu"), steps=1, step_fn=None, make_loader=None, validate_fn=None, record_fn=None,
                      keep=None, models={}, optimisers={}, higher_is_better=True, validate_every=1, checkpoint=tmp_path / "x.pt")
    with pytest.raises(ValueError, match="steps"):
        tiny_run(tmp_path, steps=0)


def test_a_resumed_checkpoint_holds_the_loop_state_under_one_key(tmp_path):
    tiny_run(tmp_path, steps=2)
    extra = torch.load(tmp_path / "c.pt", weights_only=False)["extra"]
    assert set(extra) == {loop.LOOP_KEY}
    assert set(extra[loop.LOOP_KEY]) == {"step", "batches", "seconds", "data_seconds", "history", "best_step", "best_score", "best_state"}
    assert np.isfinite(extra[loop.LOOP_KEY]["seconds"])
