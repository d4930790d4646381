"""Checking ``fit``'s options before any work, each refusal naming the option and the problem
(the checks of single values are :mod:`ppgen.validation`'s)."""

from __future__ import annotations

from pathlib import Path

from ..validation import (
    check_flag,
    check_name,
    check_positive_int,
    check_positive_number,
    check_seed,
)
from .step import OPTIMIZERS, SCHEDULES

COMPILE_CHOICES = ("auto", True, False)
DISTRIBUTED_NOISE = ("per_rank", "global_batch")

#: What ``fit`` passes on to the run, once checked.
SETTINGS = (
    "estimator",
    "num_particles",
    "loss",
    "steps",
    "max_steps",
    "epochs",
    "batch_size",
    "lr",
    "seed",
    "progress",
    "checkpoint",
    "log_every",
    "val_every",
    "checkpoint_every",
    "optimizer",
    "lr_schedule",
    "clip_norm",
    "callback",
    "compile",
    "early_stopping",
    "devices",
    "distributed_noise",
)


def _check_budget(options: dict) -> None:
    steps, epochs = options["steps"], options["epochs"]
    if steps is not None and epochs is not None:
        raise ValueError("give steps or epochs, not both")
    if steps != "converged":
        check_positive_int(steps, "steps")
        if options["max_steps"] is not None:
            raise ValueError("max_steps caps steps='converged'; with a fixed budget give steps")
    check_positive_int(options["max_steps"], "max_steps")
    check_positive_int(epochs, "epochs")
    for name in ("log_every", "val_every", "checkpoint_every", "early_stopping"):
        check_positive_int(options[name], name)
    batch_size = options["batch_size"]
    if batch_size != "auto":
        check_positive_int(batch_size, "batch_size")


def check_options(options: dict) -> dict:
    """Check ``fit``'s options (its ``locals()``); returns the settings the run needs."""
    _check_budget(options)
    check_positive_number(options["lr"], "lr")
    check_positive_number(options["clip_norm"], "clip_norm")
    compile_ = options["compile"]
    if compile_ not in COMPILE_CHOICES or not isinstance(compile_, (str, bool)):
        raise ValueError(f"compile must be 'auto', True or False, got {compile_!r}")
    check_name(options["lr_schedule"], SCHEDULES, "lr_schedule")
    check_name(options["optimizer"], OPTIMIZERS, "optimizer")
    if options["callback"] is not None and not callable(options["callback"]):
        raise TypeError(
            f"callback must be callable as callback(step, model), got {options['callback']!r}"
        )
    check_seed(options["seed"])
    check_positive_int(options["devices"], "devices")
    check_name(options["distributed_noise"], DISTRIBUTED_NOISE, "distributed_noise")
    check_flag(options["progress"], "progress")
    checkpoint = options["checkpoint"]
    if checkpoint is not None and not isinstance(checkpoint, (str, Path)):
        raise TypeError(f"checkpoint must be a file path or None, got {checkpoint!r}")
    if checkpoint == "":
        raise ValueError("checkpoint must be a file path or None, got ''")
    return {key: options[key] for key in SETTINGS}
