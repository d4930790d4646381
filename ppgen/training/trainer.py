"""``fit``: the one training loop for every model/guide pair and every objective.

The loop knows nothing model-specific: it draws minibatches, evaluates a loss callable (a Pyro
ELBO's ``differentiable_loss`` or a custom loss), steps a PyTorch optimizer and a learning-rate
schedule, and logs. A loss with an adversary (a GAN's discriminator) gets a second optimizer:
before each model step, ``adversary_steps`` discriminator steps on fresh batches.

This module checks everything and prepares the run before the first step, in this order: the
settings (:class:`~ppgen.training.settings.FitSettings`), the data (:mod:`.fit_data`), the
objective, the program traced on its first batch (:mod:`.probe`) and checked against the
estimator (:mod:`ppgen.inference.requirements`), the plan (:class:`~ppgen.training.plan.RunPlan`),
the parameters and the optimizers (:class:`~ppgen.training.step.Stepper`), the resumable state
(:class:`~ppgen.training.training_state.TrainingState`); then the loop runs
(:class:`~ppgen.training.loop.TrainingLoop`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyro
import torch

from ..inference.objective import resolve_objective
from ..inference.requirements import check_estimator
from ..models.base import GenerativeModel
from ..program.errors import run_named
from ..program.program import Program
from .architecture import describe_architecture
from .batch_order import BatchOrder
from .checkpoint import check_writable
from .compiled import is_traceable
from .convergence import DEFAULT_TOLERANCE, warn_if_not_converged
from .device import resolve_device
from .distributed.ranks import current_ranks, local_device
from .fit_data import FitData, prepare_data
from .history import TrainingDivergedError, Validator
from .loop import TrainingLoop
from .minibatch import SubsampleIndices
from .parameters import check_finite_parameters, discover_parameters
from .plan import RunPlan, check_splittable, make_plan
from .probe import probe_program
from .settings import FitSettings
from .step import Stepper
from .step_batches import StepBatches
from .training_state import TrainingState

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
        converged: whether the run converged (:mod:`ppgen.training.convergence`); ``None``
            where that cannot be told (too few log rows, an adversarial loss). A run that has
            not converged also warns with :class:`ConvergenceWarning`.
        stopped: why the run ended before its budget: ``"early_stopping"`` or ``"converged"``
            (``steps="converged"``); ``None`` when the budget ran out.
        best_step: with ``early_stopping``, the step of the best validation score, whose state
            the model holds.
    """

    model: object
    history: pd.DataFrame
    objective: str
    device: torch.device
    params: dict = field(default_factory=dict)
    compiled: bool = False
    converged: bool | None = None
    stopped: str | None = None
    best_step: int | None = None

    @property
    def final_loss(self) -> float:
        return float(self.history["loss"].iloc[-1])

    def plot(self, ax=None):
        """The loss curve (and validation curves), see :func:`ppgen.plots.plot_history`."""
        from ..plots import plot_history

        return plot_history(self.history, ax=ax)


def fit(
    model,
    data=None,
    *,
    estimator="trace",
    num_particles: int | None = None,
    loss=None,
    steps: int | str | None = None,
    max_steps: int | None = None,
    epochs: int | None = None,
    batch_size: int | str | None = "auto",
    lr: float | None = None,
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
    early_stopping: int | None = None,
    model_args: tuple = (),
    model_kwargs: dict | None = None,
    data_plate: str | None = None,
    devices: int | None = None,
    distributed_noise: str = "per_rank",
) -> FitResult:
    """Train a model/guide pair by stochastic optimization of an ELBO or a custom loss.

    Args:
        model: a :class:`~ppgen.models.GenerativeModel`, or a ``(model, guide)`` pair of Pyro
            callables (functions, ``PyroModule`` s, autoguides), written as for Pyro's SVI.
        data: what the programs take, batched along dim 0 (see :mod:`ppgen.program.data_spec`):
            a tensor of any shape (``model(x)``); a tuple of tensors (positional arguments) or
            a dict (keyword arguments); a torch ``Dataset`` (collated into memory) or
            ``DataLoader``; ``None`` for a program without data. A ``DataLoader`` over anything
            but a ``TensorDataset``, and :class:`~ppgen.data.NpyRows`, are streamed batch by
            batch, for data larger than memory (:mod:`ppgen.training.streaming`). A ppgen
            model takes a :class:`~ppgen.data.Dataset` (its ``train`` split is fitted, ``val``
            validates, per-batch binarization is redrawn), a ``(num_points, num_features)``
            tensor, or a streamed ``DataLoader`` of such rows.
        estimator: a registered estimator name (``ppgen.inference.available_estimators()``), an
            estimator object (``get_estimator("tracegraph", baseline="nvil")``) or a Pyro
            ``ELBO`` object. Checked against the program before the first step
            (:mod:`ppgen.inference.requirements`).
        num_particles: samples per data point for a named estimator (vectorized); ``None``
            for the estimator's own default (1, but 5 for ``vimco`` and ``rws``).
        loss: a custom loss ``loss(model, guide, *args, **kwargs) -> tensor``, a composed one
            (``elbo("trace") + 10 * MMDLoss(site="z", target="prior")``) or a registered loss
            name (``"mmd"``, ``"gan"``...), instead of ``estimator``.
        steps, epochs: the budget, in model steps or passes over the data (not both; a pass
            counts the adversary's batches too); the default is the model's ``default_steps``
            (1000 for plain pairs). ``steps="converged"`` trains until the curve stops
            improving (:mod:`ppgen.training.convergence`), at most ``max_steps`` (20000).
        batch_size: rows per minibatch; ``None`` for all rows every step (in their own order);
            ``"auto"``: a DataLoader's own batch size, else 128. A program that subsamples its
            own data plate gets all rows every step (see :mod:`ppgen.training.minibatch`).
        lr: the initial learning rate; default: the model's ``default_lr`` (1e-3 for plain
            pairs).
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``...; modules and data move
            there.
        seed: seeds Pyro/PyTorch sampling, the shuffle and per-batch redraws.
        progress: show a progress bar.
        checkpoint: a file path. If it exists the run resumes from it (the architecture and
            settings must match); it is rewritten atomically every ``checkpoint_every`` steps
            and at the end (:mod:`ppgen.training.checkpoint`: checksummed, read without
            running code). Checked writable before training.
        val_data: validation data in the same form as ``data``; default ``data.val`` for a
            ppgen ``Dataset``.
        log_every, val_every, checkpoint_every: cadences in steps (defaults: ~200 log rows, ~20
            validations and checkpoints per run, but at most one validation per 10 steps).
            Validation and checkpoints happen on log steps, and both at the last step.
        optimizer: ``"adam"`` (default), ``"adamw"`` or ``"sgd"``.
        lr_schedule: ``"cosine"`` (anneal to lr/100 over the run, default) or ``"constant"``.
        clip_norm: clip the gradient's global norm to this value.
        callback: called on every log step as ``callback(step, model)``; a dict it returns is
            added to that history row. Runs under ``no_grad`` with the random state forked, so
            it never changes the training trajectory.
        compile: run the training step from a checked TorchScript trace of the objective
            (:mod:`ppgen.training.compiled`). ``"auto"`` (default): for ppgen models that
            declare ``traceable`` with an ELBO that keeps no state between steps. ``True``: also
            for plain Pyro pairs (whose Python control flow must not depend on the data).
            ``False``: always eager.
        early_stopping: a patience: stop once the validation score (``val_log_lik``, else
            ``-val_loss``) has not improved for this many validations, and restore the best
            state (also at the end of the budget). Needs validation data.
        model_args, model_kwargs: unbatched arguments passed to model and guide on every call,
            after the batched ones.
        data_plate: the name of the plate over data points, where the program's own trace does
            not make it clear (the plate all observed sites share).
        devices: train data-parallel on this many processes (one GPU each on a CUDA machine,
            else CPU processes on gloo), started here by PyTorch's launcher
            (:mod:`ppgen.training.distributed`); ``batch_size`` is per process. Under
            ``torchrun`` (or any initialised ``torch.distributed`` group) ``fit`` is data-parallel
            over the group without it. The model, guide, data and callback must be picklable.
        distributed_noise: ``"per_rank"`` (default): each rank draws its own noise.
            ``"global_batch"``: a test mode in which every rank draws the noise of the whole
            global batch and keeps its rows, so that a W-process run follows a one-process run
            with ``W * batch_size`` rows step for step (:mod:`ppgen.training.distributed.noise`).

    Returns:
        A :class:`FitResult`; the model is trained in place. A plain pair's ``pyro.param``
        values live in the pair's own store (:mod:`ppgen.program.param_scope`).

    Raises:
        ProgramError: the program cannot be trained as asked (named site and reason), before
            any step.
        TrainingDivergedError: the loss or parameters became non-finite; the message names the
            first such step. The model is put back to the last good state, kept in memory on the
            ``checkpoint_every`` cadence (with or without a file), which is also saved to
            ``checkpoint`` where one is given.
        CheckpointWriteError: a checkpoint could not be written (the previous one is kept).

    Warns:
        ConvergenceWarning: the run ended while still clearly improving (``result.converged``).
    """
    settings = FitSettings(
        estimator=estimator,
        num_particles=num_particles,
        loss=loss,
        steps=steps,
        max_steps=max_steps,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        progress=progress,
        checkpoint=checkpoint,
        log_every=log_every,
        val_every=val_every,
        checkpoint_every=checkpoint_every,
        optimizer=optimizer,
        lr_schedule=lr_schedule,
        clip_norm=clip_norm,
        callback=callback,
        compile=compile,
        early_stopping=early_stopping,
        devices=devices,
        distributed_noise=distributed_noise,
    )
    program_options = dict(
        val_data=val_data,
        device=device,
        model_args=model_args,
        model_kwargs=model_kwargs,
        data_plate=data_plate,
    )
    ranks = current_ranks()
    if devices is not None and devices > 1 and not ranks.active:
        from .distributed.processes import fit_on_processes

        trained = fit_on_processes(fit, model, data, settings, program_options)
        return FitResult(model, params=trained["params"], **trained["result"])
    if devices is not None and ranks.active and devices != ranks.world_size:
        raise ValueError(
            f"devices={devices}, but this process is one of {ranks.world_size} in a "
            "torch.distributed group; leave devices=None under torchrun"
        )
    return _fit_here(model, data, settings, ranks, **program_options)


def _fit_here(
    model, data, settings, ranks, *, val_data, device, model_args, model_kwargs, data_plate
):
    """``fit`` in this process (one of a data-parallel group where ``ranks`` is active)."""
    generative = isinstance(model, GenerativeModel)
    settings = settings.with_defaults(
        model.default_lr if generative else None, model.default_steps if generative else None
    )
    program = Program.of(model, data_plate)
    device = local_device(resolve_device(device)) if ranks.active else resolve_device(device)
    if settings.checkpoint is not None and ranks.is_main:  # only rank 0 writes
        check_writable(settings.checkpoint)
    modules = program.modules()
    for module in modules:
        module.to(device)
    check_finite_parameters(modules)
    fit_data = prepare_data(model, data, val_data, model_args, model_kwargs, device)
    if settings.early_stopping is not None and fit_data.val is None:
        raise ValueError(
            "early_stopping needs validation data: pass val_data= (a ppgen Dataset brings its "
            "val split)"
        )
    with program.scope(training=True):
        return _Run(program, modules, fit_data, settings, device, ranks).prepare().train()


def _objective_for(model, settings: FitSettings, nesting):
    objective, name = resolve_objective(
        settings.estimator, settings.loss, settings.num_particles, nesting
    )
    if isinstance(model, GenerativeModel) and model.likelihood == "implicit":
        if objective.needs_likelihood:
            raise ValueError(
                f"{type(model).__name__} is an implicit model with no likelihood, so the ELBO "
                f"({name}) does not apply; train it with a two-sample loss, e.g. "
                "loss='mmd' or loss='gan' (see ppgen.inference.losses.available_losses())"
            )
    if settings.compile is True and not is_traceable(objective):
        raise ValueError(
            f"compile=True needs an ELBO estimator without state between steps, and "
            f"{name} is not one (a composed or custom loss, or a running baseline); "
            "use compile=False"
        )
    return objective, name


class _Run:
    """One run being prepared (:meth:`prepare`, before any step) and trained (:meth:`train`)."""

    def __init__(self, program: Program, modules, fit_data: FitData, settings, device, ranks):
        self.program, self.model, self.pair = program, program.model, program.pair
        self.modules, self.data = modules, fit_data
        self.settings, self.device, self.ranks = settings, device, ranks

    def prepare(self) -> _Run:
        """The objective checked against the program's trace, the plan, the parameters, the
        optimizers and the (resumed) training state."""
        settings, spec, ranks = self.settings, self.data.train, self.ranks
        nesting = self.program.declared_nesting
        self.objective, self.name = _objective_for(self.model, settings, nesting)
        self.objective.to(self.device)
        generative = isinstance(self.model, GenerativeModel)
        info, minibatches = probe_program(
            self.program, spec, self.data.rows_per_step(settings.batch_size), generative
        )
        check_estimator(self.objective, info)
        self.objective.set_max_plate_nesting(self.program.nesting(info))
        self.objective.set_data_plate(info.data_plate)
        check_splittable(
            minibatches, spec.num_rows if self.data.streamed else None, settings, ranks
        )
        plan = make_plan(
            self.model, self.objective, minibatches, info, spec.num_rows, settings, ranks
        )
        self.plan, self.info = plan, info
        self.batches = self._batches()
        self._prepare_steps()
        return self

    def _batches(self) -> StepBatches:
        """The row order and the programs as the plan runs them (the minibatch scale, the
        plate told its rows), seeded."""
        settings, plan, info, ranks = self.settings, self.plan, self.info, self.ranks
        num_rows = self.data.train.num_rows or 1
        model_fn, guide_fn = (plan.minibatches.wrap(fn, num_rows) for fn in self.pair)
        pyro.set_rng_seed(settings.seed if plan.exact_noise else ranks.seed(settings.seed))
        # The order of rows is the same on every rank: each takes its part of every global batch.
        generator = torch.Generator(device=self.device).manual_seed(settings.seed)
        order = BatchOrder(plan.order_rows, plan.rows_per_batch, generator, self.device)
        indices = None
        if plan.kind == "program":  # ppgen's order of the plate's rows (minibatch.py)
            indices = SubsampleIndices(info.data_plate)
            model_fn, guide_fn = indices(model_fn), indices(guide_fn)
        self.run_pair = (model_fn, guide_fn)
        return StepBatches(self.data.train, plan, info, order, generator, indices, ranks)

    def _prepare_steps(self) -> None:
        """Parameters (created by a first call), optimizers, and the state a checkpoint holds."""
        plan, settings, ranks = self.plan, self.settings, self.ranks
        run_model, run_guide = self.run_pair
        first = self.batches.first_call()
        with first.noise:
            self.param_names, parameters = run_named(
                lambda: discover_parameters(
                    self.objective, run_model, run_guide, self.modules, first.args, first.kwargs
                ),
                f"the first run of {self.name} on the program",
            )
        self.stepper = Stepper(
            self.objective, run_model, run_guide, parameters, settings, plan.total_steps,
            plan.compiled, ranks,
        )  # fmt: skip
        resumable = {
            **checkpoint_settings(settings, self.objective, self.name, plan),
            "num_data": self.data.train.num_rows or 1,
            "world_size": ranks.world_size,
        }
        self.state = TrainingState(
            settings.checkpoint, resumable, describe_architecture(self.modules, self.param_names),
            self.modules, self.param_names, self.stepper, self.batches.order,
            self.batches.generator, ranks,
        )  # fmt: skip
        self.state.resume()

    def train(self) -> FitResult:
        spec, model_fn, guide_fn = self.data.train, *self.pair
        if self.data.streamed:
            spec.bind(self.batches.order, self.ranks)  # the loader looks ahead along the order
        validator = None
        if self.data.val is not None:
            validator = Validator(
                self.objective, model_fn, guide_fn, self.data.val, self.data.exact_log_prob,
                self.ranks,
            )  # fmt: skip
        loop = TrainingLoop(
            self.model, self.batches, self.stepper, self.state, validator, self.settings,
            self.plan, self.name, self.ranks,
        )  # fmt: skip
        try:
            history = loop.run()
        finally:
            if self.data.streamed:
                spec.close()  # the loader's workers stop
        return self._finish(history)

    def _finish(self, history) -> FitResult:
        """The result: the best state restored under early stopping, and the convergence
        verdict."""
        state = self.state
        if state.best is not None:
            state.load_weights(state.best["weights"])
        if state.stopped is not None:
            converged = True
        elif self.plan.adversary_steps:  # a two-player game's losses need not settle
            converged = None
        else:
            converged = warn_if_not_converged(
                state.rows,
                DEFAULT_TOLERANCE,
                "Train longer (steps=), raise lr, or pass steps='converged' (see "
                "FitResult.converged)",
            )
        return FitResult(
            self.model,
            history,
            self.name,
            self.device,
            {n: pyro.param(n).detach() for n in self.param_names},
            compiled=self.stepper.compiled,
            converged=converged,
            stopped=state.stopped,
            best_step=None if state.best is None else state.best["step"],
        )


def checkpoint_settings(settings: FitSettings, objective, name: str, plan: RunPlan) -> dict:
    """What a resumed run must share with the run that wrote the checkpoint: the settings'
    ``resume`` fields, with the particles and the rows per batch as resolved, the objective's
    name and the budget in steps."""
    shared = {key: getattr(settings, key) for key in FitSettings.resumed_fields()}
    # A named estimator's particles as resolved (None means its default); an estimator object
    # owns its particles, so only what fit was told is compared.
    particles = (
        getattr(objective.estimator, "num_particles", None) if settings.named_estimator else None
    )
    return {
        **shared,
        "objective": name,
        "num_particles": particles or settings.num_particles,
        "total_steps": plan.total_steps,
        "batch_size": plan.rows_per_batch,
    }
