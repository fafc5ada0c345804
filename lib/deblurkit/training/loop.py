"""The one training-loop skeleton of the torch chapters (adaptive basis, DeblurGAN).

A trainer supplies what is its own — one optimisation step, one validation score, what to
record — and :func:`run_loop` does what both share:

- the step size as a function of the step: before step ``s`` every optimiser's step size is set
  to its initial value times ``schedule(s)``, so a resumed run follows the same schedule;
- batches from a data loader built to start at a given batch (:class:`BatchStream` counts the
  batches taken, so a resumed run continues with the very batch the interrupted one would have
  taken next, and measures how long each step waited for its data);
- a validation check every ``validate_every`` steps and at the end, on the main process (its
  score is sent to every process), with the weights of the best check kept (early stopping on
  validation: a copy on the CPU, on every process);
- a resumable checkpoint every ``checkpoint_every`` steps and at the end (weights, optimiser
  moments, the random state of every process, the loop's state under the key ``"loop"``), and
  resuming from it;
- a tqdm bar on the main process.

This module imports torch; ``import deblurkit`` does not import it.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..models.torch_ops import unwrap
from ..runtime import validate as _validate
from ..runtime.progress import progress as progress_bar
from . import torchtrain

#: The key of the loop's state in a checkpoint's ``extra`` (both trainers use it).
LOOP_KEY = "loop"


@dataclass
class LoopState:
    """Where a run stands: what a checkpoint's ``extra["loop"]`` holds.

    Attributes
    ----------
    step : int
        Optimiser steps done.
    batches : int
        Batches taken from the data loader (where a resumed run's data continue).
    seconds : float
        Time spent in training steps, validation and checkpoints excluded, in seconds.
    data_seconds : float
        Of ``seconds``, the time the steps waited for their next batch.
    history : dict
        The trainer's records (lists), saved and restored with the run.
    best_step, best_score, best_state
        The validation check with the best score so far, and a CPU copy of the kept model's
        weights at that check (``None`` before the first check).
    """

    step: int = 0
    batches: int = 0
    seconds: float = 0.0
    data_seconds: float = 0.0
    history: dict = field(default_factory=dict)
    best_step: int = 0
    best_score: float | None = None
    best_state: dict | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, state: dict) -> LoopState:
        return cls(**state)


class BatchStream:
    """Batches from ``make_loader(start)``, counted, with the time spent waiting for each.

    Parameters
    ----------
    make_loader : callable
        ``make_loader(start) -> iterable`` of batches beginning with batch number ``start``
        of the run (``start`` batches were taken before).
    start : int
        Batches already taken (0 for a fresh run).
    """

    def __init__(self, make_loader: Callable[[int], Iterable], start: int = 0) -> None:
        self.taken = _validate.integer(start, "start", minimum=0)
        self.wait_seconds = 0.0
        self._iterator = iter(make_loader(self.taken))

    def __call__(self):
        """The next batch."""
        begin = time.perf_counter()
        batch = next(self._iterator)
        self.wait_seconds += time.perf_counter() - begin
        self.taken += 1
        return batch

    def close(self) -> None:
        """Stop the loader's worker processes (a persistent loader keeps them otherwise)."""
        self._iterator = None


def set_step_size(optimisers: Iterable[torch.optim.Optimizer], factor: float) -> None:
    """Set every parameter group's step size to its initial one times ``factor``."""
    for opt in optimisers:
        for group in opt.param_groups:
            group.setdefault("initial_lr", group["lr"])
            group["lr"] = group["initial_lr"] * factor


def _cpu_copy(module: torch.nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in unwrap(module).state_dict().items()}


def run_loop(
    *,
    dist,
    steps: int,
    step_fn: Callable,
    make_loader: Callable[[int], Iterable],
    validate_fn: Callable[[], float],
    record_fn: Callable[[LoopState, float], None],
    keep: torch.nn.Module,
    models: dict,
    optimisers: dict,
    higher_is_better: bool,
    validate_every: int,
    schedule: Callable[[int], float] | None = None,
    checkpoint=None,
    checkpoint_every: int | None = None,
    metadata_fn: Callable[[LoopState], dict] | None = None,
    resume: bool = False,
    history: dict | None = None,
    desc: str = "training",
    show_progress: bool = True,
    on_checkpoint: Callable[[LoopState], None] | None = None,
) -> LoopState:
    """Run ``steps`` optimisation steps with validation, best weights kept and checkpoints.

    Parameters
    ----------
    dist : deblurkit.training.torchtrain.Distributed
        This process's place in the run.
    steps : int
        Total optimiser steps of the run, >= 1 (a resumed run continues to this number).
    step_fn : callable
        ``step_fn(step, next_batch) -> dict`` does optimisation step ``step`` (0-based), taking
        its batches with ``next_batch()``, and returns what the progress bar shows (``{name:
        text}``). It records its own losses in ``state.history`` through closures if it wants.
    make_loader : callable
        ``make_loader(start) -> iterable of batches``, beginning at batch ``start``.
    validate_fn : callable
        ``validate_fn() -> float``: the validation score of the current weights; called on the
        main process only, every ``validate_every`` steps and after the last one.
    record_fn : callable
        ``record_fn(state, score)``, on every process after each check (it may use
        collectives such as :func:`~deblurkit.training.torchtrain.mean_across_processes`).
    keep : torch.nn.Module
        The model whose best weights are kept.
    models, optimisers : dict
        ``{name: object}`` saved in, and restored from, the checkpoint.
    higher_is_better : bool
        Whether a larger validation score is better (PSNR) or a smaller one (an error).
    validate_every : int
        Steps between validation checks, >= 1.
    schedule : callable, optional
        ``schedule(step) -> factor`` of the initial step size (default: constant 1).
    checkpoint : str or Path, optional
        Where the resumable state is written (by the main process; all processes take part,
        since each contributes its random state).
    checkpoint_every : int, optional
        Steps between checkpoints (default ``validate_every``); one is always written at the end.
    metadata_fn : callable, optional
        ``metadata_fn(state) -> dict``: the checkpoint's metadata record; required with
        ``checkpoint``.
    resume : bool
        Continue from ``checkpoint`` when it exists: weights, optimiser moments, step,
        schedule, batches, random state of this process, history and best weights.
    history : dict, optional
        The empty records of a fresh run (``{name: []}``); a resumed run refills this very
        dict with the saved records, so that closures appending to it keep working.
    desc : str
        The progress bar's label.
    show_progress : bool
        Show a tqdm bar on the main process.
    on_checkpoint : callable, optional
        ``on_checkpoint(state)`` on every process right after each checkpoint is written.

    Returns
    -------
    LoopState
        The state after the last step; ``best_state`` holds the kept weights.
    """
    steps = _validate.integer(steps, "steps", minimum=1)
    validate_every = _validate.integer(validate_every, "validate_every", minimum=1)
    checkpoint_every = validate_every if checkpoint_every is None else _validate.integer(checkpoint_every, "checkpoint_every", minimum=1)
    if checkpoint is not None and metadata_fn is None:
        raise ValueError("metadata_fn is required when a checkpoint is written")
    schedule = schedule or (lambda step: 1.0)
    set_step_size(optimisers.values(), schedule(0))  # records each group's initial step size
    state = LoopState(history=history if history is not None else {})
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if resume and ckpt is not None and ckpt.is_file():
        got = torchtrain.load_checkpoint(ckpt, models=models, optimisers=optimisers, restore_rng=True, map_location=dist.device, dist=dist)
        saved = LoopState.from_dict(got["extra"][LOOP_KEY])
        state.history.clear()  # in place: a step function's closures keep appending to it
        state.history.update(saved.history)
        saved.history = state.history
        state = saved

    def save() -> None:
        if ckpt is None:
            return
        meta = metadata_fn(state) if dist.is_main else None
        torchtrain.save_checkpoint(ckpt, models=models, optimisers=optimisers, metadata=meta, extra={LOOP_KEY: state.as_dict()}, dist=dist)
        if on_checkpoint is not None:
            on_checkpoint(state)

    better = (lambda a, b: a > b) if higher_is_better else (lambda a, b: a < b)
    stream = BatchStream(make_loader, state.batches)
    quiet = not (show_progress and dist.is_main) or bool(os.environ.get("DEBLURKIT_QUIET"))
    bar = progress_bar(total=steps, initial=state.step, desc=desc, disable=quiet)
    for model in models.values():
        model.train()
    try:
        while state.step < steps:
            set_step_size(optimisers.values(), schedule(state.step))
            start, waited = time.perf_counter(), stream.wait_seconds
            shown = step_fn(state.step, stream)
            state.step += 1
            state.batches = stream.taken
            state.seconds += time.perf_counter() - start
            state.data_seconds += stream.wait_seconds - waited
            if state.step % validate_every == 0 or state.step == steps:
                score = validate_fn() if dist.is_main else math.nan
                score = torchtrain.broadcast_value(score, dist)
                record_fn(state, score)
                if state.best_score is None or better(score, state.best_score):
                    state.best_step, state.best_score, state.best_state = state.step, score, _cpu_copy(keep)
                shown = {**shown, "val": f"{score:.4g}"}
            if dist.is_main:
                bar.set_postfix(shown, refresh=False)
                bar.update(1)
            if state.step % checkpoint_every == 0 or state.step == steps:
                save()
    finally:
        bar.close()
        stream.close()
    return state
