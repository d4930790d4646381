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

import time

import pandas as pd
import torch

from ..progress import progress_bar
from .convergence import (
    DEFAULT_TOLERANCE,
    convergence_check,
    early_stopping_update,
    monitored_curve,
)
from .distributed.ranks import ONE_PROCESS
from .distributed.sync import broadcast_object
from .history import History, TrainingDivergedError, due, estimator_values, run_callback
from .plan import RunPlan
from .settings import FitSettings
from .step_batches import StepBatches, StepCall


class TrainingLoop:
    """Runs :class:`~ppgen.training.step.Stepper` over the batches of :class:`StepBatches` until
    the plan's budget or a stopping rule ends the run."""

    def __init__(
        self,
        model,
        batches: StepBatches,
        stepper,
        state,
        validator,
        settings: FitSettings,
        plan: RunPlan,
        name: str,
        ranks=ONE_PROCESS,
    ):
        self.model, self.name = model, name
        self.batches, self.stepper, self.state, self.validator = batches, stepper, state, validator
        self.settings, self.plan, self.ranks = settings, plan, ranks
        self.history = History(state.rows, ranks)

    # ----- one step ---------------------------------------------------------------------------
    def draw(self) -> StepCall:
        call = self.batches.next()
        self.stepper.noise = call.noise
        return call

    def diverged(self, reason: str, step: int):
        restored = self.state.restore_last_good()
        raise TrainingDivergedError(
            f"training diverged at step {step} with {self.name}: {reason}. Try a smaller lr "
            f"(now {self.settings.lr:g}), clip_norm=, more particles, or another "
            f"estimator.{restored}",
            step,
            pd.DataFrame(self.state.rows if restored else self.history.rows),
        )

    def model_step(self):
        call = self.draw()
        try:
            value = self.stepper.model_step(call.args, call.kwargs, call.normalizer)
        except (ValueError, RuntimeError) as error:
            # Non-finite parameters surface here when sampling refuses them (Bernoulli,
            # Categorical) or under validation; otherwise as a non-finite loss on a log step.
            if all(torch.isfinite(p).all() for p in self.stepper.parameters):
                raise
            reason = f"parameters became non-finite ({str(error).splitlines()[0]})"
            self.diverged(reason, self.state.step + 1)
        parts = self.stepper.objective.last_parts
        if call.args is None:  # no rows here this step: zero terms, as many as the others sum
            parts = {name: torch.zeros_like(part) for name, part in parts.items()}
        self.history.record(value, parts, call.normalizer)
        self.state.step += 1

    # ----- the run ----------------------------------------------------------------------------
    def run(self) -> pd.DataFrame:
        total, log_every = self.plan.total_steps, self.plan.log_every
        state, stepper = self.state, self.stepper
        shown = self.settings.progress and self.ranks.is_main
        bar = progress_bar(total, state.step, self.name, shown)
        if state.last_good is None:
            state.keep_last_good(self.history.rows)
        tick = time.perf_counter()
        while state.step < total and state.stopped is None:
            for _ in range(self.plan.adversary_steps):
                call = self.draw()
                self.history.record_adversary(
                    stepper.adversary_step(call.args, call.kwargs, call.normalizer)
                )
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
        return self.plan.epoch(self.state.step, self.state.order.position)

    def log_step(self) -> None:
        """One history row: window means, validation and callback where due, stopping rules,
        checkpoint, and the new last good state."""
        plan, state = self.plan, self.state
        total, log_every = plan.total_steps, plan.log_every
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
        validated = self.validator is not None and (
            due(state.step, plan.val_every, log_every) or last
        )
        if validated:
            row.update(self.validator())
        row.update(estimator_values(self.stepper.objective))
        if self.settings.callback is not None:  # on every rank: it may evaluate collectively
            row.update(run_callback(self.settings.callback, state.step, self.model))
        row = broadcast_object(self.ranks, row)  # rank 0's wall time and callback values
        self.history.rows.append(row)
        state.rows = self.history.rows
        if validated and self.settings.early_stopping is not None:
            self.early_stopping(row)
        if self.settings.until_converged and state.stopped is None and not last:
            self.stop_if_converged(total)
        on_cadence = state.stopped is not None or due(state.step, plan.checkpoint_every, log_every)
        if state.path is not None and (on_cadence or last):
            state.save(self.history.rows)
        if on_cadence:  # in memory, with or without a checkpoint file (~1 ms for a small VAE)
            state.keep_last_good(self.history.rows)

    def early_stopping(self, row: dict) -> None:
        state = self.state
        state.best = early_stopping_update(state.best, row, state.step, state.weights)
        if state.best["waited"] >= self.settings.early_stopping:
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
