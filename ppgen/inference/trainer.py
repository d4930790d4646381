"""``fit``: the one training loop for every model/guide pair and every objective.

The loop knows nothing model-specific: it draws minibatches, evaluates a loss callable (a Pyro
ELBO's ``differentiable_loss`` or a custom loss), steps a PyTorch optimizer and a learning-rate
schedule, and logs. A loss with an adversary (a GAN's discriminator) gets a second optimizer:
before each model step, ``adversary_steps`` discriminator steps on fresh batches. Per step the
loss stays on the device; values are brought to the host only every ``log_every`` steps, which is
also where divergence is detected and checkpoints are written.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyro
import torch
from tqdm.auto import tqdm

from ..data import Dataset
from ..models.base import GenerativeModel, split_pair
from ..validation import check_name
from .batches import BatchOrder, DataSpec
from .compiled import is_traceable
from .history import History, TrainingDivergedError, Validator, due, run_callback
from .minibatch import SubsampleIndices, plan_minibatches
from .objective import resolve_objective
from .param_scope import pair_params
from .program import (
    PROGRAM_FAILURES,
    ProgramError,
    first_line,
    inspect_program,
    run_named,
    sets_up_on_first_call,
    trial_params,
)
from .random_state import forked_random_state
from .requirements import check_estimator
from .step import (
    OPTIMIZERS,
    SCHEDULES,
    Stepper,
    check_finite_parameters,
    discover_parameters,
    owned_modules,
)
from .training_state import TrainingState

DEFAULT_STEPS = 1000
DEFAULT_BATCH_SIZE = 128
COMPILE_CHOICES = ("auto", True, False)

__all__ = ["FitResult", "TrainingDivergedError", "fit", "resolve_device"]


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes:
        model: the trained model (a :class:`GenerativeModel`, or the ``(model, guide)`` pair).
        history: one row per logged step: ``step``, ``epoch`` (data passes so far), ``loss``
            (mean over the steps since the previous row, per data point), ``lr``, ``wall_time``
            (seconds spent in training steps), and ``val_loss`` / ``val_log_lik`` where validated.
            A composed loss adds one ``loss/<term>`` column per term; an adversarial loss adds
            ``adversary_loss`` (the discriminator's, per data point).
        objective: the name of the estimator or loss that was optimized.
        device: where training ran.
        params: for plain Pyro functions, the learned ``pyro.param`` values by name.
        compiled: whether every training step ran from a checked TorchScript trace (see
            ``fit(compile=)``); ``False`` where any ran eagerly.
    """

    model: object
    history: pd.DataFrame
    objective: str
    device: torch.device
    params: dict = field(default_factory=dict)
    compiled: bool = False

    @property
    def final_loss(self) -> float:
        return float(self.history["loss"].iloc[-1])

    def plot(self, ax=None):
        """The loss curve (and validation curves), see :func:`ppgen.plots.plot_history`."""
        from ..plots import plot_history

        return plot_history(self.history, ax=ax)


def resolve_device(device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else must name a usable device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}"
        ) from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device} was requested but CUDA is not available here")
    return device


def fit(
    model,
    data=None,
    *,
    estimator="trace",
    num_particles: int = 1,
    loss=None,
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int | str | None = "auto",
    lr: float = 1e-3,
    device="auto",
    seed: int = 0,
    progress: bool = True,
    checkpoint: str | Path | None = None,
    val_data=None,
    log_every: int | None = None,
    val_every: int | None = None,
    checkpoint_every: int | None = None,
    optimizer: str = "adam",
    lr_schedule: str = "cosine",
    clip_norm: float | None = None,
    callback=None,
    compile="auto",
    model_args: tuple = (),
    model_kwargs: dict | None = None,
    data_plate: str | None = None,
) -> FitResult:
    """Train a model/guide pair by stochastic optimization of an ELBO or a custom loss.

    Args:
        model: a :class:`~ppgen.models.GenerativeModel`, or a ``(model, guide)`` pair of Pyro
            callables (functions, ``PyroModule`` s, autoguides), written as for Pyro's SVI.
        data: what the programs take, batched along dim 0 (see :mod:`ppgen.inference.batches`):
            a tensor of any shape (``model(x)``); a tuple of tensors (positional arguments) or
            a dict (keyword arguments); a torch ``Dataset`` or ``DataLoader``; ``None`` for a
            program without data. A ppgen model takes a :class:`~ppgen.data.Dataset` (its
            ``train`` split is fitted, ``val`` validates, per-batch binarization is redrawn) or
            a ``(num_points, num_features)`` tensor.
        estimator: a registered estimator name (``ppgen.inference.available_estimators()``), an
            estimator object (``get_estimator("tracegraph", baseline="nvil")``) or a Pyro
            ``ELBO`` object. Checked against the program before the first step
            (:mod:`ppgen.inference.requirements`).
        num_particles: samples per data point for a named estimator (vectorized).
        loss: a custom loss ``loss(model, guide, *args, **kwargs) -> tensor``, a composed one
            (``elbo("trace") + 10 * MMDLoss(site="z", target="prior")``) or a registered loss
            name (``"mmd"``, ``"gan"``...), instead of ``estimator``.
        steps, epochs: the budget, in model steps or passes over the data (not both; a pass
            counts the adversary's batches too); the default is 1000 steps.
        batch_size: rows per minibatch; ``None`` for all rows every step (in their own order);
            ``"auto"``: a DataLoader's own batch size, else 128. A program that subsamples its
            own data plate gets all rows every step (see :mod:`ppgen.inference.minibatch`).
        lr: the initial learning rate.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``...; modules and data move
            there.
        seed: seeds Pyro/PyTorch sampling, the shuffle and per-batch redraws.
        progress: show a progress bar.
        checkpoint: a file path. If it exists the run resumes from it (settings must match);
            it is rewritten atomically every ``checkpoint_every`` steps and at the end.
        val_data: validation data in the same form as ``data``; default ``data.val`` for a
            ppgen ``Dataset``.
        log_every, val_every, checkpoint_every: cadences in steps (defaults: ~200 log rows, ~20
            validations and checkpoints per run). Validation and checkpoints happen on log steps.
        optimizer: ``"adam"`` (default), ``"adamw"`` or ``"sgd"``.
        lr_schedule: ``"cosine"`` (anneal to lr/100 over the run, default) or ``"constant"``.
        clip_norm: clip the gradient's global norm to this value.
        callback: called on every log step as ``callback(step, model)``; a dict it returns is
            added to that history row. Runs under ``no_grad`` with the random state forked, so
            it never changes the training trajectory.
        compile: run the training step from a checked TorchScript trace of the objective
            (:mod:`ppgen.inference.compiled`). ``"auto"`` (default): for ppgen models that
            declare ``traceable`` with an ELBO that keeps no state between steps. ``True``: also
            for plain Pyro pairs (whose Python control flow must not depend on the data).
            ``False``: always eager.
        model_args, model_kwargs: unbatched arguments passed to model and guide on every call,
            after the batched ones.
        data_plate: the name of the plate over data points, where the program's own trace does
            not make it clear (the plate all observed sites share).

    Returns:
        A :class:`FitResult`; the model is trained in place. A plain pair's ``pyro.param``
        values live in the pair's own store (:mod:`ppgen.inference.param_scope`).

    Raises:
        ProgramError: the program cannot be trained as asked (named site and reason), before
            any step.
        TrainingDivergedError: the loss or parameters became non-finite. A checkpoint written
            before that (the last good one) is left in place.
    """
    settings = _check_options(locals())
    model_fn, guide_fn, declared_plate, nesting = split_pair(model)
    device = resolve_device(device)
    modules = owned_modules(model_fn, guide_fn)
    for module in modules:
        module.to(device)
    check_finite_parameters(modules)
    spec, val_spec, exact_log_prob = _data_specs(
        model, data, val_data, model_args, model_kwargs, device
    )
    with pair_params(model_fn, guide_fn, training=True):
        return _train(
            model,
            (model_fn, guide_fn),
            modules,
            spec,
            val_spec,
            exact_log_prob,
            settings,
            device,
            data_plate or declared_plate,
            nesting,
        )


def _positive_int(value, name: str, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _check_options(options: dict) -> dict:
    """Check ``fit``'s options before any work; returns the settings the run needs."""
    if options["steps"] is not None and options["epochs"] is not None:
        raise ValueError("give steps or epochs, not both")
    for name in ("steps", "epochs", "log_every", "val_every", "checkpoint_every"):
        _positive_int(options[name], name)
    batch_size = options["batch_size"]
    if batch_size != "auto":
        _positive_int(batch_size, "batch_size")
    lr = options["lr"]
    if isinstance(lr, bool) or not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    clip = options["clip_norm"]
    if clip is not None and (
        isinstance(clip, bool) or not isinstance(clip, (int, float)) or not 0 < clip < math.inf
    ):
        raise ValueError(f"clip_norm must be a positive finite number or None, got {clip!r}")
    compile_ = options["compile"]
    if compile_ not in COMPILE_CHOICES or not isinstance(compile_, (str, bool)):
        raise ValueError(f"compile must be 'auto', True or False, got {compile_!r}")
    check_name(options["lr_schedule"], SCHEDULES, "learning-rate schedule")
    check_name(options["optimizer"], OPTIMIZERS, "optimizer")
    if options["callback"] is not None and not callable(options["callback"]):
        raise TypeError(
            f"callback must be callable as callback(step, model), got {options['callback']!r}"
        )
    if isinstance(options["seed"], bool) or not isinstance(options["seed"], int):
        raise ValueError(f"seed must be an int, got {options['seed']!r}")
    keys = (
        "estimator",
        "num_particles",
        "loss",
        "steps",
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
    )
    return {key: options[key] for key in keys}


def _data_specs(model, data, val_data, model_args, model_kwargs, device):
    """``(train spec, validation spec or None, exact log-prob function or None)``."""
    if isinstance(model, GenerativeModel):
        if model_args or model_kwargs:
            raise ValueError(f"{type(model).__name__} takes no model_args or model_kwargs")
        if data is None:
            raise ValueError(f"{type(model).__name__} needs data: a Dataset or a tensor")
        data = data.to(device) if isinstance(data, (Dataset, torch.Tensor)) else data
        val_data = val_data.to(device) if isinstance(val_data, torch.Tensor) else val_data
        parts = model.fit_data(data, val_data)
        spec = DataSpec((parts["train"],), parts["train_kwargs"], dataset=parts["dataset"])
        val_spec = None
        if parts["val"] is not None:
            val_spec = DataSpec((parts["val"],), parts["val_kwargs"])
        exact = model.log_prob if model.has_exact_log_prob else None
        return spec, val_spec, exact
    if isinstance(data, Dataset):  # a ppgen Dataset for a plain pair: its train rows, redrawn
        if val_data is None:
            val_data = data.val
        data = data.to(device)
        spec = DataSpec((data.train,), {}, model_args, model_kwargs, dataset=data)
    else:
        spec = DataSpec.from_data(data, model_args, model_kwargs).to(device)
    val_spec = None
    if val_data is not None:
        val_spec = DataSpec.from_data(val_data, model_args, model_kwargs, name="val_data")
        val_spec = val_spec.to(device)
        if len(val_spec.batched_args) != len(spec.batched_args) or set(
            val_spec.batched_kwargs
        ) != set(spec.batched_kwargs):
            raise ValueError("val_data must have the same form as data (tensors and names)")
    return spec, val_spec, None


def _batch_size(setting, spec: DataSpec) -> int | None:
    if spec.num_rows is None:
        return None
    if setting == "auto":
        setting = spec.loader_batch_size or DEFAULT_BATCH_SIZE
    return None if setting is None else min(setting, spec.num_rows)


def _probe(model_fn, guide_fn, spec: DataSpec, batch_size, data_plate, scales_itself: bool):
    """``(info, plan)``: the program traced on its first batch (all rows where it needs them),
    and how it meets minibatches. Runs with the random state forked: it draws nothing that
    training would."""
    if spec.num_rows is None:
        with forked_random_state():
            info = inspect_program(model_fn, guide_fn, *spec.call(), data_plate=data_plate)
        return info, plan_minibatches(info, None, None, scales_itself=scales_itself)
    rows = batch_size or spec.num_rows
    if sets_up_on_first_call(guide_fn):  # an autoguide sizes itself on its first call
        rows = spec.num_rows
    device = spec.first.device

    def inspect(count):
        index = torch.arange(count, device=device)
        with forked_random_state():
            args, kwargs = spec.call(index)
            if count == spec.num_rows:
                return inspect_program(
                    model_fn, guide_fn, args, kwargs, data_plate=data_plate, num_rows=count
                )
            # On part of the rows: parameters sized by this first call must not stay.
            with trial_params():
                return inspect_program(
                    model_fn, guide_fn, args, kwargs, data_plate=data_plate, num_rows=count
                )

    try:
        info = inspect(rows)
        needs_all = info.subsamples and rows < spec.num_rows
        failure = None
    except PROGRAM_FAILURES as error:
        if rows == spec.num_rows:
            raise ProgramError(f"the program fails on its data: {first_line(error)}") from error
        needs_all, failure = True, error
    if needs_all:  # it subsamples itself, or its plates are sized for all rows
        info = run_named(lambda: inspect(spec.num_rows), "the program, on all rows,")
        if not info.subsamples:
            raise ProgramError(
                f"the program fails on a minibatch of {rows} rows ({first_line(failure)}) "
                f"but runs on all {spec.num_rows}: its plates are sized for all rows. Pass "
                "batch_size=None, or size the data plate by its data: pyro.plate(name, len(x))"
            ) from failure
        rows = spec.num_rows
    plan = plan_minibatches(
        info, spec.num_rows, batch_size, scales_itself=scales_itself, traced_rows=rows
    )
    return info, plan


def _budget(settings: dict, rows_per_batch: int, num_rows: int, adversary_steps: int):
    """``(total_steps, log_every, val_every, checkpoint_every)``."""
    if settings["epochs"] is not None:
        batches_per_epoch = math.ceil(num_rows / rows_per_batch)
        total = math.ceil(settings["epochs"] * batches_per_epoch / (1 + adversary_steps))
    else:
        total = settings["steps"] or DEFAULT_STEPS
    log_every = settings["log_every"] or max(1, total // 200)
    val_every = settings["val_every"] or max(log_every, total // 20)
    return total, log_every, val_every, settings["checkpoint_every"] or val_every


def _objective_for(model, settings: dict, nesting):
    objective, name = resolve_objective(
        settings["estimator"], settings["loss"], settings["num_particles"], nesting
    )
    if getattr(model, "likelihood", None) == "implicit" and objective.needs_likelihood:
        raise ValueError(
            f"{type(model).__name__} is an implicit model with no likelihood, so the ELBO "
            f"({name}) does not apply; train it with a two-sample loss, e.g. "
            "loss='mmd' or loss='gan' (see ppgen.inference.losses.available_losses())"
        )
    if settings["compile"] is True and not is_traceable(objective):
        raise ValueError(
            f"compile=True needs an ELBO estimator without state between steps, and "
            f"{name} is not one (a composed or custom loss, or a running baseline); "
            "use compile=False"
        )
    return objective, name


def _prepare_program(model, pair, spec, settings, device, plate, nesting):
    """``(objective, name, info, plan)``: the objective, checked against the program's trace,
    and how the program meets minibatches. Everything here runs before any training step."""
    model_fn, guide_fn = pair
    objective, name = _objective_for(model, settings, nesting)
    objective.to(device)
    batch_size = _batch_size(settings["batch_size"], spec)
    generative = isinstance(model, GenerativeModel)
    info, plan = _probe(model_fn, guide_fn, spec, batch_size, plate, scales_itself=generative)
    named = settings["estimator"] if settings["loss"] is None else None
    check_estimator(named if isinstance(named, str) else None, info)
    objective.set_max_plate_nesting(info.nesting if nesting is None else nesting)
    objective.set_data_plate(info.data_plate)
    return objective, name, info, plan


def _use_compile(model, objective, plan, setting) -> bool:
    """``compile="auto"``: a checked trace for an ELBO without state between steps, for every
    ppgen model that declares itself ``traceable`` and every user's pair (whose traces are
    checked for data-dependent control flow, :mod:`ppgen.inference.compiled`), except a program
    that subsamples its own plate (the plate's random rows would be frozen in a trace)."""
    if setting is True:
        return True
    if isinstance(model, GenerativeModel) and not model.traceable:
        return False
    return setting == "auto" and is_traceable(objective) and plan.kind != "program"


def _train(model, pair, modules, spec, val_spec, exact_log_prob, settings, device, plate, nesting):
    model_fn, guide_fn = pair
    objective, name, info, plan = _prepare_program(
        model, pair, spec, settings, device, plate, nesting
    )
    num_rows = spec.num_rows or 1
    run_model, run_guide = plan.wrap(model_fn, num_rows), plan.wrap(guide_fn, num_rows)
    pyro.set_rng_seed(settings["seed"])
    generator = torch.Generator(device=device).manual_seed(settings["seed"])
    order = BatchOrder(num_rows, plan.batch_size or num_rows, generator, device)
    indices = None
    if plan.kind == "program":  # ppgen's order of the plate's rows (minibatch.py)
        indices = SubsampleIndices(info.data_plate)
        run_model, run_guide = indices(run_model), indices(run_guide)
        order = BatchOrder(info.full_size, info.num_points, generator, device)
    first_rows = num_rows if indices is not None else order.batch_size
    args, kwargs = _call(spec, plan, torch.arange(first_rows, device=device), generator)
    param_names, parameters = run_named(
        lambda: discover_parameters(objective, run_model, run_guide, modules, args, kwargs),
        f"the first run of {name} on the program",
    )
    rows_per_batch = plan.batch_size or (info.num_points if plan.kind == "program" else num_rows)
    epoch_rows = info.full_size if plan.kind == "program" else num_rows
    cadence = _budget(settings, rows_per_batch, epoch_rows, objective.adversary_steps)
    step_settings = {k: settings[k] for k in ("optimizer", "lr", "lr_schedule", "clip_norm")}
    stepper = Stepper(
        objective, run_model, run_guide, parameters, {**step_settings, "total_steps": cadence[0]},
        _use_compile(model, objective, plan, settings["compile"]),
    )  # fmt: skip
    checkpoint_settings = {
        "objective": name, "num_particles": settings["num_particles"],
        "total_steps": cadence[0], "batch_size": rows_per_batch, "num_data": num_rows,
        **{k: settings[k] for k in ("lr", "seed", "optimizer", "lr_schedule")},
    }  # fmt: skip
    state = TrainingState(
        settings["checkpoint"], checkpoint_settings, modules, param_names, stepper, order,
        generator,
    )  # fmt: skip
    state.resume()
    validator = None
    if val_spec is not None:
        validator = Validator(objective, model_fn, guide_fn, val_spec, exact_log_prob)
    loop = _Loop(model, spec, plan, info, stepper, state, validator, settings, name)
    loop.indices = indices
    loop.cadence = (*cadence, rows_per_batch, epoch_rows)
    history = loop.run()
    params = {n: pyro.param(n).detach() for n in param_names}
    return FitResult(model, history, name, device, params, compiled=stepper.compiled)


def _call(spec: DataSpec, plan, index, generator):
    """The arguments of one step: the rows ``index`` (all rows for a program that subsamples
    itself or for full batches), or the unbatched arguments."""
    if plan.kind == "unbatched":
        return spec.call()
    return spec.call(index, generator)


class _Loop:
    """The training loop over :class:`Stepper`, :class:`History` and :class:`TrainingState`."""

    def __init__(self, model, spec, plan, info, stepper, state, validator, settings, name):
        self.model, self.spec, self.plan, self.info = model, spec, plan, info
        self.stepper, self.state, self.validator = stepper, state, validator
        self.settings, self.name = settings, name
        self.history = History(state.rows)
        self.indices = None  # SubsampleIndices of a program that subsamples its own plate
        self.cadence = None  # (total, log_every, val_every, checkpoint_every, rows, epoch_rows)

    def draw(self):
        """``(args, kwargs, normalizer)`` for the next step's call."""
        index = self.state.order.next_index()
        if self.indices is not None:  # the program subsamples: all rows, the plate gets these
            self.indices.current = index
            index = torch.arange(self.spec.num_rows, device=index.device)
        args, kwargs = _call(self.spec, self.plan, index, self.state.generator)
        normalizer = self.plan.normalizer(len(index), self.spec.num_rows, self.info)
        return args, kwargs, normalizer

    def diverged(self, reason: str):
        state = self.state
        raise TrainingDivergedError(
            f"training diverged at step {state.step} with {self.name}: {reason}. Try a smaller lr "
            f"(now {self.settings['lr']:g}), clip_norm=, more particles, or another "
            f"estimator.{state.last_good()}",
            state.step,
            self.history.frame(),
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
            self.state.step += 1  # report the step being computed
            self.diverged(f"parameters became non-finite ({str(error).splitlines()[0]})")
        self.history.record(value, self.stepper.objective.last_parts, normalizer)
        self.state.step += 1

    def run(self) -> pd.DataFrame:
        total, log_every = self.cadence[:2]
        state, stepper = self.state, self.stepper
        bar = tqdm(
            total=total, initial=state.step, disable=not self.settings["progress"], desc=self.name
        )
        tick = time.perf_counter()
        while state.step < total:
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
        """One history row: window means, validation and callback where due, checkpoint."""
        total, log_every, val_every, checkpoint_every = self.cadence[:4]
        state = self.state
        row, problem = self.history.close_window()
        if problem:
            self.diverged(problem)
        row = {
            "step": state.step,
            "epoch": self.epoch(),
            "loss": row.pop("loss"),
            "lr": self.stepper.optimizer.param_groups[0]["lr"],
            "wall_time": state.train_time,
            **row,
        }
        last = state.step == total
        if self.validator is not None and (due(state.step, val_every, log_every) or last):
            row.update(self.validator())
        if self.settings["callback"] is not None:
            row.update(run_callback(self.settings["callback"], state.step, self.model))
        self.history.rows.append(row)
        if state.path is not None and (due(state.step, checkpoint_every, log_every) or last):
            state.save(self.history.rows)
