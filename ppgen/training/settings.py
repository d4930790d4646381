"""``FitSettings``: ``fit``'s options as one validated, frozen object.

``fit`` builds it from its keyword arguments before any work; every check names the option and
the problem (the checks of single values are :mod:`ppgen.validation`'s). The run's parts read
its fields, never a dict of strings. A field marked ``resume`` in its metadata is one that a
resumed run must share with the run that wrote the checkpoint (:mod:`ppgen.training.checkpoint`);
the command line's ``config.json`` is written from the same fields (:mod:`ppgen.runs.config`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from ..validation import (
    check_flag,
    check_name,
    check_positive_int,
    check_positive_number,
    check_seed,
)
from .optimizers import OPTIMIZERS, SCHEDULES

COMPILE_CHOICES = ("auto", True, False)
DISTRIBUTED_NOISE = ("per_rank", "global_batch")
#: ``fit``'s defaults for plain pairs (a ppgen model brings its own ``default_lr`` and
#: ``default_steps``, with which it converges on its bundled data).
DEFAULT_STEPS = 1000
DEFAULT_LR = 1e-3
#: The cap of ``steps="converged"`` unless ``max_steps`` is given.
DEFAULT_MAX_STEPS = 20_000


def _resumed(default):
    """A field that a resumed run must share with the checkpoint it resumes."""
    return field(default=default, metadata={"resume": True})


@dataclass(frozen=True)
class FitSettings:
    """What ``fit`` was asked to do, checked (see :func:`ppgen.fit` for each field)."""

    estimator: object = "trace"
    num_particles: int | None = _resumed(None)
    loss: object = None
    steps: int | str | None = _resumed(None)
    max_steps: int | None = None
    epochs: int | None = None
    batch_size: int | str | None = _resumed("auto")
    lr: float | None = _resumed(None)
    seed: int = _resumed(0)
    progress: bool = True
    checkpoint: str | Path | None = None
    log_every: int | None = None
    val_every: int | None = None
    checkpoint_every: int | None = None
    optimizer: str = _resumed("adam")
    lr_schedule: str = _resumed("cosine")
    clip_norm: float | None = None
    callback: Callable | None = None
    compile: str | bool = "auto"
    early_stopping: int | None = _resumed(None)
    devices: int | None = None
    distributed_noise: str = "per_rank"

    def __post_init__(self):
        self._check_budget()
        check_positive_number(self.lr, "lr")
        check_positive_number(self.clip_norm, "clip_norm")
        if self.compile not in COMPILE_CHOICES or not isinstance(self.compile, (str, bool)):
            raise ValueError(f"compile must be 'auto', True or False, got {self.compile!r}")
        check_name(self.lr_schedule, SCHEDULES, "lr_schedule")
        check_name(self.optimizer, OPTIMIZERS, "optimizer")
        if self.callback is not None and not callable(self.callback):
            raise TypeError(
                f"callback must be callable as callback(step, model), got {self.callback!r}"
            )
        check_seed(self.seed)
        check_positive_int(self.devices, "devices")
        check_name(self.distributed_noise, DISTRIBUTED_NOISE, "distributed_noise")
        check_flag(self.progress, "progress")
        if self.checkpoint is not None and not isinstance(self.checkpoint, (str, Path)):
            raise TypeError(f"checkpoint must be a file path or None, got {self.checkpoint!r}")
        if self.checkpoint == "":
            raise ValueError("checkpoint must be a file path or None, got ''")

    def _check_budget(self) -> None:
        if self.steps is not None and self.epochs is not None:
            raise ValueError("give steps or epochs, not both")
        if self.steps != "converged":
            check_positive_int(self.steps, "steps")
            if self.max_steps is not None:
                raise ValueError("max_steps caps steps='converged'; with a fixed budget give steps")
        check_positive_int(self.max_steps, "max_steps")
        check_positive_int(self.epochs, "epochs")
        for name in ("log_every", "val_every", "checkpoint_every", "early_stopping"):
            check_positive_int(getattr(self, name), name)
        if self.batch_size != "auto":
            check_positive_int(self.batch_size, "batch_size")

    # ----- derived ---------------------------------------------------------------------------
    def with_defaults(self, default_lr: float | None, default_steps: int | None) -> FitSettings:
        """``lr`` and the budget filled in: the model's own (``default_lr``, ``default_steps``),
        else ppgen's."""
        lr = self.lr if self.lr is not None else (default_lr or DEFAULT_LR)
        steps = self.steps
        if steps is None and self.epochs is None:
            steps = default_steps or DEFAULT_STEPS
        return replace(self, lr=lr, steps=steps)

    @property
    def exact_noise(self) -> bool:
        """The distributed exact-equivalence test mode (:mod:`.distributed.noise`)."""
        return self.distributed_noise == "global_batch"

    @property
    def until_converged(self) -> bool:
        return self.steps == "converged"

    @property
    def named_estimator(self) -> bool:
        """Whether the objective is an estimator given by its registered name."""
        return isinstance(self.estimator, str) and self.loss is None

    def options(self) -> dict:
        """The fields as ``fit``'s keyword arguments (to call ``fit`` again, on each process of a
        data-parallel run)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def resumed_fields(cls) -> tuple[str, ...]:
        """The fields a resumed run must share with its checkpoint."""
        return tuple(f.name for f in fields(cls) if f.metadata.get("resume"))
