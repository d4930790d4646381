"""``fit``: the one training loop for every model/guide pair and every objective.

The loop knows nothing model-specific: it draws minibatches, evaluates a loss callable (a Pyro
ELBO's ``differentiable_loss`` or a custom loss), steps a PyTorch optimizer and a learning-rate
schedule, and logs. A loss with an adversary (a GAN's discriminator) gets a second optimizer:
before each model step, ``adversary_steps`` discriminator steps on fresh batches. This module
checks everything and prepares the run before the first step; the loop itself is
:class:`~ppgen.training.loop.TrainingLoop`.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyro
import torch

from ..data import Dataset
from ..inference.objective import resolve_objective
from ..inference.requirements import check_estimator
from ..models.base import GenerativeModel
from ..program.data_spec import DataSpec
from ..program.errors import PROGRAM_FAILURES, ProgramError, first_line, run_named
from ..program.inspection import inspect_program, sets_up_on_first_call, trial_params
from ..program.pair import split_pair
from ..program.param_scope import pair_params
from ..program.random_state import forked_random_state
from .architecture import describe_architecture
from .batch_order import BatchOrder
from .checkpoint import check_writable
from .compiled import is_traceable
from .convergence import DEFAULT_TOLERANCE, warn_if_not_converged
from .distributed.noise import GlobalBatchNoise
from .distributed.ranks import Ranks, current_ranks, local_device
from .history import TrainingDivergedError, Validator
from .loop import TrainingLoop
from .minibatch import SubsampleIndices, plan_minibatches
from .settings import check_options
from .step import Stepper, check_finite_parameters, discover_parameters, owned_modules
from .streaming import StreamedSpec, is_streamed
from .training_state import TrainingState

DEFAULT_STEPS = 1000
DEFAULT_LR = 1e-3
#: The cap of ``steps="converged"`` unless ``max_steps`` is given.
DEFAULT_MAX_STEPS = 20_000
#: Default validation cadence floor: a 20-step run validates twice, not 20 times.
MIN_VAL_EVERY = 10
DEFAULT_BATCH_SIZE = 128

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


def resolve_device(device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else must name a usable CPU or CUDA
    device (ppgen trains on those two: ``meta`` holds no values, and Pyro's distributions are
    not supported on ``mps``)."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}"
        ) from error
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device.type!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device} was requested but CUDA is not available here")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"device {device} does not exist: {torch.cuda.device_count()} GPU(s)")
    return device


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
    options = dict(locals())
    settings = _with_defaults(check_options(options), model)
    ranks = current_ranks()
    if devices is not None and devices > 1 and not ranks.active:
        from .distributed.processes import fit_on_processes

        return fit_on_processes(model, data, options)
    if devices is not None and ranks.active and devices != ranks.world_size:
        raise ValueError(
            f"devices={devices}, but this process is one of {ranks.world_size} in a "
            "torch.distributed group; leave devices=None under torchrun"
        )
    model_fn, guide_fn, declared_plate, nesting = split_pair(model)
    device = local_device(resolve_device(device)) if ranks.active else resolve_device(device)
    if checkpoint is not None and ranks.is_main:  # only rank 0 writes
        check_writable(checkpoint)
    modules = owned_modules(model_fn, guide_fn)
    for module in modules:
        module.to(device)
    check_finite_parameters(modules)
    spec, val_spec, exact_log_prob = _data_specs(
        model, data, val_data, model_args, model_kwargs, device
    )
    if early_stopping is not None and val_spec is None:
        raise ValueError(
            "early_stopping needs validation data: pass val_data= (a ppgen Dataset brings its "
            "val split)"
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
            ranks,
        )


def _with_defaults(settings: dict, model) -> dict:
    """``lr`` and the budget a ppgen model declares (``default_lr``, ``default_steps``: ones
    with which it converges on its bundled data, ``benchmarks/fit_defaults.py``), else
    ppgen's."""
    generative = isinstance(model, GenerativeModel)
    if settings["lr"] is None:
        settings["lr"] = model.default_lr if generative else DEFAULT_LR
    if settings["steps"] is None and settings["epochs"] is None:
        settings["steps"] = model.default_steps if generative else DEFAULT_STEPS
    return settings


def _data_specs(model, data, val_data, model_args, model_kwargs, device):
    """``(train spec, validation spec or None, exact log-prob function or None)``."""
    if isinstance(model, GenerativeModel):
        if model_args or model_kwargs:
            raise ValueError(f"{type(model).__name__} takes no model_args or model_kwargs")
        if data is None:
            raise ValueError(f"{type(model).__name__} needs data: a Dataset or a tensor")
        if is_streamed(data):
            return _streamed_specs(model, data, val_data, device)
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
    elif is_streamed(data):
        spec = StreamedSpec(data, model_args, model_kwargs).to(device)
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


def _streamed_specs(model, data, val_data, device):
    """A ppgen model's specs for streamed training data (:mod:`ppgen.training.streaming`): each
    batch checked by the model as it arrives; validation data is a tensor (or ``None``)."""
    spec = StreamedSpec(data, check=model.check_data).to(device)
    val_spec = None
    if val_data is not None:
        val_spec = DataSpec((model.check_data(val_data, "validation data").to(device),))
    return spec, val_spec, model.log_prob if model.has_exact_log_prob else None


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
    streamed = isinstance(spec, StreamedSpec)
    if sets_up_on_first_call(guide_fn) and not streamed:  # an autoguide sizes itself
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
    if needs_all and streamed:
        raise ProgramError(
            f"the data is streamed, but the program needs all {spec.num_rows} rows at once (it "
            "subsamples its own plate, or its plates are sized for all rows); stream only to "
            "programs whose data plate is sized by the batch: pyro.plate(name, len(x))"
        ) from failure
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
    """``(total_steps, log_every, val_every, checkpoint_every)``; ``steps="converged"`` counts
    its cap."""
    if settings["epochs"] is not None:
        batches_per_epoch = math.ceil(num_rows / rows_per_batch)
        total = math.ceil(settings["epochs"] * batches_per_epoch / (1 + adversary_steps))
    elif settings["steps"] == "converged":
        total = settings["max_steps"] or DEFAULT_MAX_STEPS
    else:
        total = settings["steps"]
    log_every = settings["log_every"] or max(1, total // 200)
    if settings["steps"] == "converged":  # it judges the validation curve on every log step
        sparse = val_sparse = log_every
    else:
        sparse = max(log_every, total // 20)
        # A validation is a pass over the validation data, often dearer than a training step:
        # short runs validate at most once per MIN_VAL_EVERY steps (and at the end).
        val_sparse = max(sparse, min(total, MIN_VAL_EVERY))
    val_every = settings["val_every"] or val_sparse
    checkpoint_every = settings["checkpoint_every"] or settings["val_every"] or sparse
    return total, log_every, val_every, checkpoint_every


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
    check_estimator(objective, info)
    objective.set_max_plate_nesting(info.nesting if nesting is None else nesting)
    objective.set_data_plate(info.data_plate)
    return objective, name, info, plan


def _use_compile(model, objective, plan, settings) -> bool:
    """``compile="auto"``: a checked trace for an ELBO without state between steps, for every
    ppgen model that declares itself ``traceable`` and every user's pair (whose traces are
    checked for data-dependent control flow, :mod:`ppgen.training.compiled`), except a program
    that subsamples its own plate (the plate's random rows would be frozen in a trace) and the
    distributed test mode (its noise is drawn outside the program)."""
    setting = settings["compile"]
    if settings["distributed_noise"] == "global_batch":
        return False
    if setting is True:
        return True
    if isinstance(model, GenerativeModel) and not model.traceable:
        return False
    return setting == "auto" and is_traceable(objective) and plan.kind != "program"


def _train(model, pair, modules, spec, val_spec, exact, settings, device, plate, nesting, ranks):
    model_fn, guide_fn = pair
    objective, name, info, plan = _prepare_program(
        model, pair, spec, settings, device, plate, nesting
    )
    _check_splittable(plan, spec, settings, ranks)
    num_rows = spec.num_rows or 1
    run_model, run_guide = plan.wrap(model_fn, num_rows), plan.wrap(guide_fn, num_rows)
    exact_noise = settings["distributed_noise"] == "global_batch"
    pyro.set_rng_seed(settings["seed"] if exact_noise else ranks.seed(settings["seed"]))
    # The order of rows is the same on every rank: each takes its part of every global batch.
    generator = torch.Generator(device=device).manual_seed(settings["seed"])
    order = BatchOrder(
        num_rows, (plan.batch_size or num_rows) * ranks.world_size, generator, device
    )
    indices = None
    if plan.kind == "program":  # ppgen's order of the plate's rows (minibatch.py)
        indices = SubsampleIndices(info.data_plate)
        run_model, run_guide = indices(run_model), indices(run_guide)
        order = BatchOrder(info.full_size, info.num_points * ranks.world_size, generator, device)
    first_rows = num_rows if indices is not None else order.batch_size
    args, kwargs, noise = _first_call(spec, plan, info, first_rows, generator, settings, ranks)
    with noise:
        param_names, parameters = run_named(
            lambda: discover_parameters(objective, run_model, run_guide, modules, args, kwargs),
            f"the first run of {name} on the program",
        )
    rows_per_batch = order.batch_size if plan.kind in ("sliced", "program") else num_rows
    epoch_rows = info.full_size if plan.kind == "program" else num_rows
    cadence = _budget(settings, rows_per_batch, epoch_rows, objective.adversary_steps)
    step_settings = {k: settings[k] for k in ("optimizer", "lr", "lr_schedule", "clip_norm")}
    stepper = Stepper(
        objective, run_model, run_guide, parameters, {**step_settings, "total_steps": cadence[0]},
        _use_compile(model, objective, plan, settings), ranks,
    )  # fmt: skip
    resumable = _checkpoint_settings(settings, objective, name, cadence[0], rows_per_batch)
    state = TrainingState(
        settings["checkpoint"], {**resumable, "num_data": num_rows, "world_size": ranks.world_size},
        describe_architecture(modules, param_names), modules, param_names, stepper, order,
        generator, ranks,
    )  # fmt: skip
    state.resume()
    if isinstance(spec, StreamedSpec):
        spec.bind(order, ranks)  # the loader looks ahead along the (resumed) order
    validator = None
    if val_spec is not None:
        validator = Validator(objective, model_fn, guide_fn, val_spec, exact, ranks)
    loop = TrainingLoop(
        model, (spec, plan, info, _call), stepper, state, validator, settings, name,
        (*cadence, rows_per_batch, epoch_rows), indices, ranks,
    )  # fmt: skip
    try:
        history = loop.run()
    finally:
        if isinstance(spec, StreamedSpec):
            spec.close()  # the loader's workers stop
    return _finish(model, history, state, objective, name, device, param_names, stepper)


def _check_splittable(plan, spec, settings: dict, ranks: Ranks) -> None:
    """A data-parallel run splits each step's rows over the ranks, and streamed data comes a
    minibatch at a time; refuse what cannot be split."""
    if isinstance(spec, StreamedSpec) and plan.kind != "sliced":
        raise ValueError(
            f"the data is streamed ({spec.num_rows} rows read batch by batch), so training needs "
            "minibatches: pass batch_size=B"
        )
    if settings["distributed_noise"] == "global_batch" and settings["compile"] is True:
        raise ValueError("distributed_noise='global_batch' runs eagerly; use compile=False")
    if ranks.active and plan.kind == "full":
        raise ValueError(
            f"data-parallel training on {ranks.world_size} processes splits each step's rows "
            "between them, but this run takes every row every step (batch_size=None, or a "
            "program whose plates are sized for all rows). Pass batch_size=B (rows per process "
            "per step), or let the program subsample its data plate "
            "(pyro.plate(name, len(x), subsample_size=B))"
        )


def _first_call(spec, plan, info, first_rows: int, generator, settings, ranks: Ranks):
    """``(args, kwargs, noise)`` of the call that creates lazy parameters: this rank's part of
    the first global batch (all rows for a program that subsamples itself)."""
    index = torch.arange(first_rows, device=spec.first.device if spec.first is not None else None)
    part, noise = None, nullcontext()
    if plan.kind == "sliced":
        offset, length = ranks.part(first_rows)
        part = slice(offset, offset + max(length, 1))  # at least one row, to create parameters
        if settings["distributed_noise"] == "global_batch":
            noise = GlobalBatchNoise(info.data_plate, offset, length, first_rows)
    args, kwargs = _call(spec, plan, index, generator, part)
    return args, kwargs, noise


def _checkpoint_settings(settings, objective, name, total_steps, rows_per_batch) -> dict:
    """What a resumed run must share with the run that wrote the checkpoint."""
    named = isinstance(settings["estimator"], str) and settings["loss"] is None
    # A named estimator's particles as resolved (None means its default); an estimator object
    # owns its particles, so only what fit was told is compared.
    particles = getattr(objective.estimator, "num_particles", None) if named else None
    return {
        "objective": name,
        "num_particles": particles or settings["num_particles"],
        "total_steps": total_steps,
        "batch_size": rows_per_batch,
        **{
            k: settings[k]
            for k in ("lr", "seed", "optimizer", "lr_schedule", "steps", "early_stopping")
        },
    }


def _finish(model, history, state, objective, name, device, param_names, stepper) -> FitResult:
    """The result: the best state restored under early stopping, and the convergence verdict."""
    if state.best is not None:
        state.load_weights(state.best["weights"])
    if state.stopped is not None:
        converged = True
    elif objective.adversary_steps:  # a two-player game's losses need not settle
        converged = None
    else:
        converged = warn_if_not_converged(
            state.rows,
            DEFAULT_TOLERANCE,
            "Train longer (steps=), raise lr, or pass steps='converged' (see FitResult.converged)",
        )
    return FitResult(
        model,
        history,
        name,
        device,
        {n: pyro.param(n).detach() for n in param_names},
        compiled=stepper.compiled,
        converged=converged,
        stopped=state.stopped,
        best_step=None if state.best is None else state.best["step"],
    )


def _call(spec: DataSpec, plan, index, generator, part: slice | None = None):
    """The arguments of one step: the rows ``index`` (all rows for a program that subsamples
    itself or for full batches; ``part`` of them on one rank), or the unbatched arguments."""
    if plan.kind == "unbatched":
        return spec.call()
    return spec.call(index, generator, part)
