"""The training state that a checkpoint holds, in memory and on disk, and resuming from it.

Everything needed to continue a run as if it had never stopped: module parameters, ``pyro.param``
values, the optimizers' and schedules' state (:class:`~ppgen.training.step.Stepper`), every
random-number generator, the step, the position in the epoch's order, the training time, the
history, and early stopping's best state. Files are written by
:mod:`ppgen.training.checkpoint` (atomic, checksummed, read without running code) and carry the
architecture they belong to (:mod:`ppgen.training.architecture`).

In a data-parallel run the state is the same on every rank but for the random state of each
rank's programs: a checkpoint holds all of them (``rank_rng``), only rank 0 writes it, and every
rank resumes from it with its own, so that a resumed run at the same world size is bit-identical
to one that never stopped.

The same state is kept in memory as the *last good state* (taken on the checkpoint cadence, on log
steps whose losses were finite): when training diverges, the model is put back to it, and it is
what a checkpoint then holds.
"""

from __future__ import annotations

from pathlib import Path

import pyro
import torch

from ..program.random_state import get_random_state, set_random_state
from .architecture import check_same_architecture
from .checkpoint import check_same_settings, load_checkpoint, save_checkpoint
from .distributed.ranks import ONE_PROCESS
from .distributed.sync import gather_objects

FORMAT = "ppgen-training-state-1"


def cloned(value, into=None):
    """``value`` with every tensor in it copied (dicts, lists and tuples are rebuilt). ``into``, an
    earlier copy of the same structure, lends its tensors as buffers: the last good state is
    taken on every log step, and copying into place costs no allocation."""
    if isinstance(value, torch.Tensor):
        if (
            isinstance(into, torch.Tensor)
            and into.shape == value.shape
            and into.dtype == value.dtype
            and into.device == value.device
        ):
            return into.copy_(value.detach())  # detached: no autograd history in the copy
        return value.detach().clone()
    if isinstance(value, dict):
        into = into if isinstance(into, dict) else {}
        return {key: cloned(item, into.get(key)) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        if not isinstance(into, (list, tuple)) or len(into) != len(value):
            into = [None] * len(value)
        return type(value)(cloned(item, old) for item, old in zip(value, into))
    return value


#: Parts of a captured state that are new objects on every capture, never changed in place.
FRESH = ("rng", "generator", "best")


class TrainingState:
    """Where a run stands: ``step``, ``train_time``, the history ``rows`` and early stopping's
    ``best`` (``{"score", "step", "weights", "waited"}`` or ``None``)."""

    def __init__(
        self,
        path,
        settings,
        architecture,
        modules,
        param_names,
        stepper,
        order,
        generator,
        ranks=ONE_PROCESS,
    ):
        self.path = None if path is None else Path(path)
        self.ranks = ranks
        self.settings, self.architecture = settings, architecture
        self.modules, self.param_names = modules, param_names
        self.stepper, self.order, self.generator = stepper, order, generator
        self.step, self.train_time, self.rows = 0, 0.0, []
        self.best = None
        self.stopped = None  # why a stopping rule ended the run: "early_stopping", "converged"
        self.last_good = None  # capture() of the last log step with finite losses

    # ----- weights only (early stopping's best state) ----------------------------------------
    def weights(self) -> dict:
        return cloned(
            {
                "modules": [m.state_dict() for m in self.modules],
                "params": {n: pyro.param(n).unconstrained() for n in self.param_names},
            }
        )

    def load_weights(self, weights: dict) -> None:
        for module, module_state in zip(self.modules, weights["modules"]):
            module.load_state_dict(module_state)
        for name, value in weights["params"].items():
            # In place, so that the optimizer keeps pointing at the same tensors.
            pyro.param(name).unconstrained().data.copy_(value)

    # ----- the whole state -------------------------------------------------------------------
    def capture(self, rows: list, copy: bool = False, into: dict | None = None) -> dict:
        """The whole state as a dict. With ``copy`` (kept in memory), tensors are copied (into
        the buffers of ``into``, an earlier copy, where they fit) and the history is kept as its
        length (rows are only ever appended)."""
        state = {
            "format": FORMAT,
            "settings": self.settings,
            "architecture": self.architecture,
            "modules": [m.state_dict() for m in self.modules],
            "params": {n: pyro.param(n).unconstrained().detach() for n in self.param_names},
            **self.stepper.state(),
            "rng": get_random_state(),
            "generator": self.generator.get_state(),
            "step": self.step,
            **self.order.state(),
            "train_time": self.train_time,
            "history": None if copy else list(rows),
            "history_length": len(rows),
            "stopped": self.stopped,
            "best": self.best,  # early stopping's best weights are copies already
        }
        if not copy:
            return state
        changing = {key: value for key, value in state.items() if key not in FRESH}
        fresh = {key: state[key] for key in FRESH}
        return {**cloned(changing, into), **fresh}

    def apply(self, state: dict) -> None:
        """Put the run back to a captured state."""
        self.load_weights(state)
        self.stepper.load(state)
        set_random_state(state["rng"])
        self.generator.set_state(state["generator"])
        self.order.load(state)
        self.step, self.train_time = state["step"], state["train_time"]
        rows = state["history"]
        self.rows = self.rows[: state["history_length"]] if rows is None else list(rows)
        self.best, self.stopped = state["best"], state["stopped"]

    def resume(self) -> bool:
        """Load the checkpoint if it exists (its architecture and settings must match); whether
        it did."""
        if self.path is None or not self.path.exists():
            return False
        # Loaded on the CPU: RNG states must stay there; parameters and optimizer state are
        # copied onto their own devices by load_state_dict.
        state = load_checkpoint(self.path, map_location="cpu")
        if state.get("format") != FORMAT:
            raise ValueError(f"{self.path} is not a ppgen training checkpoint ({FORMAT})")
        check_same_architecture(state["architecture"], self.architecture, self.path)
        # Checkpoints from before data-parallel training came from one process.
        saved_settings = {"world_size": 1, **state["settings"]}
        check_same_settings(saved_settings, self.settings, self.path)
        if self.ranks.active:
            state["rng"] = state["rank_rng"][self.ranks.rank]
        self.apply(state)
        return True

    def save(self, rows: list) -> None:
        self.write(self.capture(rows))

    def write(self, state: dict) -> None:
        """Write ``state`` to the checkpoint file: from rank 0, with every rank's random state.
        Every rank must call it (the random states are gathered)."""
        if self.ranks.active:
            state = {**state, "rank_rng": gather_objects(self.ranks, state["rng"])}
        if self.ranks.is_main:
            save_checkpoint(self.path, state)

    def keep_last_good(self, rows: list) -> None:
        self.last_good = self.capture(rows, copy=True, into=self.last_good)

    def restore_last_good(self) -> str:
        """After a divergence: the model back to the last good state (saved to the checkpoint
        where there is one); returns a sentence saying what happened, for the error message."""
        if self.last_good is None:
            return ""
        self.apply(self.last_good)
        saved = ""
        if self.path is not None:
            self.write({**self.last_good, "history": list(self.rows)})
            saved = f", and saved to {self.path}"
        return (
            f" The model is restored to step {self.step}, the last state kept (on the "
            f"checkpoint cadence) before the losses turned non-finite{saved}."
        )
