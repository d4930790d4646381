"""The training loop: steps, log rows, validation, checkpoints, divergence, stopping rules.

Per step the loss stays on the device; it reaches the host once per log window
(:class:`~ppgen.training.history.History`). On a log step the loop

- reports a divergence at the *first* step whose loss was not finite (the window keeps every
  step's loss) and puts the model back to the last good state (:class:`TrainingState`);
- validates and runs the callback where due, writes a checkpoint where due;
- on the checkpoint cadence, keeps the state in memory as the new last good one (whether or not
  a checkpoint file is written);
- applies the stopping rules: early stopping on the validation score (the best state is
  restored) and ``steps="converged"`` (:mod:`ppgen.training.convergence`).

In a data-parallel run every rank walks the same global batches and takes its own part
(:mod:`ppgen.training.distributed.ranks`), with its loss weighted by its share of the batch. A
log row is built from losses summed over ranks and then taken from rank 0, so every rank makes
the same decisions (divergence, validation, stopping, checkpoints); only rank 0 shows progress.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext

import pandas as pd
import torch
from tqdm.auto import tqdm

from .convergence import (
    DEFAULT_TOLERANCE,
    convergence_check,
    early_stopping_update,
    monitored_curve,
)
from .distributed.noise import GlobalBatchNoise
from .distributed.ranks import ONE_PROCESS
from .distributed.sync import broadcast_object
from .history import History, TrainingDivergedError, due, run_callback


class TrainingLoop:
    """Runs :class:`~ppgen.training.step.Stepper` over the data until the budget or a stopping
    rule ends the run. ``cadence`` is ``(total, log_every, val_every, checkpoint_every,
    rows_per_batch, epoch_rows)``; ``indices`` the :class:`SubsampleIndices` of a program that
    subsamples its own plate."""

    def __init__(
        self,
        model,
        data,
        stepper,
        state,
        validator,
        settings,
        name,
        cadence,
        indices,
        ranks=ONE_PROCESS,
    ):
        self.model, self.name = model, name
        self.spec, self.plan, self.info, self.call = (
            data  # call(spec, plan, index, generator, part)
        )
        self.stepper, self.state, self.validator = stepper, state, validator
        self.settings, self.cadence, self.indices = settings, cadence, indices
        self.ranks = ranks
        self.history = History(state.rows, ranks)

    # ----- one step ---------------------------------------------------------------------------
    def draw(self):
        """``(args, kwargs, normalizer)`` for this rank's part of the next step's global batch;
        ``args is None`` where the part is empty. The normalizer divides by the rank's share of
        the batch, so that the ranks' losses add up to one process's loss on the whole batch."""
        index = self.state.order.next_index()  # the global batch
        offset, length = self.ranks.part(len(index))
        share = length / len(index)
        if self.plan.kind == "unbatched":  # each rank estimates the whole objective
            offset, length, share = 0, len(index), 1 / self.ranks.world_size
        self.stepper.noise = self.noise(offset, length, len(index))
        if length == 0:
            return None, None, 1.0
        part = slice(offset, offset + length)
        normalizer = self.plan.normalizer(length, self.spec.num_rows, self.info) / share
        if self.indices is not None:  # the program subsamples: all rows, the plate gets these
            self.indices.current = index[part]
            index, part = torch.arange(self.spec.num_rows, device=index.device), None
        args, kwargs = self.call(self.spec, self.plan, index, self.state.generator, part)
        return args, kwargs, normalizer

    def noise(self, offset: int, length: int, total: int):
        """The exact-equivalence test mode's noise for this part (:mod:`.distributed.noise`)."""
        if self.settings["distributed_noise"] != "global_batch" or self.plan.kind == "unbatched":
            return nullcontext()
        return GlobalBatchNoise(self.info.data_plate, offset, length, total)

    def diverged(self, reason: str, step: int):
        restored = self.state.restore_last_good()
        raise TrainingDivergedError(
            f"training diverged at step {step} with {self.name}: {reason}. Try a smaller lr "
            f"(now {self.settings['lr']:g}), clip_norm=, more particles, or another "
            f"estimator.{restored}",
            step,
            pd.DataFrame(self.state.rows if restored else self.history.rows),
        )

    def model_step(self):
        args, kwargs, normalizer = self.draw()
        try:
            value = self.stepper.model_step(args, kwargs, normalizer)
        except (ValueError, RuntimeError) as error:
            # Non-finite parameters surface here when sampling refuses them (Bernoulli,
            # Categorical) or under validation; otherwise as a non-finite loss on a log step.
            if all(torch.isfinite(p).all() for p in self.stepper.parameters):
                raise
            reason = f"parameters became non-finite ({str(error).splitlines()[0]})"
            self.diverged(reason, self.state.step + 1)
        parts = self.stepper.objective.last_parts
        if args is None:  # no rows here this step: zero terms, as many as the other ranks sum
            parts = {name: torch.zeros_like(part) for name, part in parts.items()}
        self.history.record(value, parts, normalizer)
        self.state.step += 1

    # ----- the run ----------------------------------------------------------------------------
    def run(self) -> pd.DataFrame:
        total, log_every = self.cadence[:2]
        state, stepper = self.state, self.stepper
        shown = self.settings["progress"] and self.ranks.is_main
        bar = tqdm(total=total, initial=state.step, disable=not shown, desc=self.name)
        if state.last_good is None:
            state.keep_last_good(self.history.rows)
        tick = time.perf_counter()
        while state.step < total and state.stopped is None:
            for _ in range(stepper.objective.adversary_steps):
                args, kwargs, normalizer = self.draw()
                self.history.record_adversary(stepper.adversary_step(args, kwargs, normalizer))
            if stepper.adversary_schedule is not None:
                stepper.adversary_schedule.step()
            self.model_step()
            if state.step % log_every and state.step != total:
                continue
            state.train_time += time.perf_counter() - tick
            self.log_step()
            bar.update(state.step - bar.n)
            bar.set_postfix(loss=f"{self.history.rows[-1]['loss']:.4g}")
            tick = time.perf_counter()
        bar.close()
        return self.history.frame()

    def epoch(self) -> float:
        total, log_every, _, _, rows, epoch_rows = self.cadence
        steps_taken = self.state.step * (1 + self.stepper.objective.adversary_steps)
        if self.plan.kind in ("program", "unbatched"):
            return steps_taken * rows / epoch_rows
        batches_per_epoch = math.ceil(epoch_rows / rows)
        return (steps_taken - 1) // batches_per_epoch + self.state.order.position / epoch_rows

    def log_step(self) -> None:
        """One history row: window means, validation and callback where due, stopping rules,
        checkpoint, and the new last good state."""
        total, log_every, val_every, checkpoint_every = self.cadence[:4]
        state = self.state
        window = len(self.history.window)
        row, problem = self.history.close_window()
        if problem is not None:
            offset, reason = problem  # the first non-finite value's place in the window
            self.diverged(reason, state.step - window + 1 + offset)
        row = {
            "step": state.step,
            "epoch": self.epoch(),
            "loss": row.pop("loss"),
            "lr": self.stepper.optimizer.param_groups[0]["lr"],
            "wall_time": state.train_time,
            **row,
        }
        last = state.step == total
        validated = self.validator is not None and (due(state.step, val_every, log_every) or last)
        if validated:
            row.update(self.validator())
        if self.settings["callback"] is not None:  # on every rank: it may evaluate collectively
            row.update(run_callback(self.settings["callback"], state.step, self.model))
        row = broadcast_object(self.ranks, row)  # rank 0's wall time and callback values
        self.history.rows.append(row)
        state.rows = self.history.rows
        if validated and self.settings["early_stopping"] is not None:
            self.early_stopping(row)
        if self.settings["steps"] == "converged" and state.stopped is None and not last:
            self.stop_if_converged(total)
        on_cadence = state.stopped is not None or due(state.step, checkpoint_every, log_every)
        if state.path is not None and (on_cadence or last):
            state.save(self.history.rows)
        if on_cadence:  # in memory, with or without a checkpoint file (~1 ms for a small VAE)
            state.keep_last_good(self.history.rows)

    def early_stopping(self, row: dict) -> None:
        state = self.state
        state.best = early_stopping_update(state.best, row, state.step, state.weights)
        if state.best["waited"] >= self.settings["early_stopping"]:
            state.load_weights(state.best["weights"])
            state.stopped = "early_stopping"

    def stop_if_converged(self, cap: int) -> None:
        """``steps="converged"``: stop once the test passes, judged from a quarter of the cap on
        (earlier, a noisy curve's steep start can pass for a plateau)."""
        if self.state.step < cap // 4:
            return
        rows = self.history.rows
        converged, _ = convergence_check(rows, monitored_curve(rows), DEFAULT_TOLERANCE)
        if converged:
            self.state.stopped = "converged"
