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
import pyro.poutine as poutine
import torch
from tqdm.auto import tqdm

from ..data import Dataset
from ..models.base import GenerativeModel, split_pair
from ..validation import check_data, check_name
from .checkpoint import check_same_settings, load_checkpoint, save_checkpoint
from .compiled import CompiledObjective, is_traceable
from .objective import resolve_objective
from .random_state import forked_random_state, get_random_state, set_random_state

DEFAULT_STEPS = 1000
SCHEDULES = ("cosine", "constant")
COMPILE_CHOICES = ("auto", True, False)
OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
# Validation data is scored in chunks of this many rows so that memory stays bounded.
VALIDATION_CHUNK = 4096


class TrainingDivergedError(RuntimeError):
    """The loss or the parameters became NaN or infinite; ``history`` has the rows logged so far."""

    def __init__(self, message: str, step: int, history: pd.DataFrame):
        super().__init__(message)
        self.step = step
        self.history = history


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


def _modules(*fns) -> list[torch.nn.Module]:
    """The ``nn.Module`` objects behind a model and guide (modules, or their bound methods)."""
    found = []
    for fn in fns:
        owner = fn if isinstance(fn, torch.nn.Module) else getattr(fn, "__self__", None)
        if isinstance(owner, torch.nn.Module) and all(owner is not m for m in found):
            found.append(owner)
    return found


def fit(
    model,
    data,
    *,
    estimator="trace",
    num_particles: int = 1,
    loss=None,
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int | None = 128,
    lr: float = 1e-3,
    device="auto",
    seed: int = 0,
    progress: bool = True,
    checkpoint: str | Path | None = None,
    val_data: torch.Tensor | None = None,
    log_every: int | None = None,
    val_every: int | None = None,
    checkpoint_every: int | None = None,
    optimizer: str = "adam",
    lr_schedule: str = "cosine",
    clip_norm: float | None = None,
    callback=None,
    compile="auto",
) -> FitResult:
    """Train a model/guide pair by stochastic optimization of an ELBO or a custom loss.

    Args:
        model: a :class:`~ppgen.models.GenerativeModel`, or a ``(model, guide)`` pair of Pyro
            callables (functions, ``PyroModule`` s, autoguides) taking the data batch.
        data: a :class:`~ppgen.data.Dataset` (its ``train`` split is fitted, its ``val`` split
            validates, per-batch binarization/dequantization is redrawn) or a tensor of shape
            ``(num_points, num_features)``.
        estimator: a registered estimator name (``ppgen.inference.available_estimators()``), an
            estimator object (``get_estimator("tracegraph", baseline="nvil")``) or a Pyro
            ``ELBO`` object.
        num_particles: samples per data point for a named estimator (vectorized).
        loss: a custom loss ``loss(model, guide, batch) -> tensor`` (summed over the batch), a
            composed one (``elbo("trace") + 10 * MMDLoss(site="z", target="prior")``) or a
            registered loss name (``ppgen.inference.losses.available_losses()``: ``"mmd"``,
            ``"gan"``...), instead of ``estimator``. An implicit model (``Generator``) needs one.
        steps, epochs: the budget, in model steps or passes over the data (not both; a pass
            counts the adversary's batches too); the default is 1000 steps.
        batch_size: rows per minibatch (at most the data size); ``None`` for full-batch training.
        lr: the initial learning rate.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``...; model and data move there.
        seed: seeds Pyro/PyTorch sampling, the shuffle and per-batch redraws.
        progress: show a progress bar.
        checkpoint: a file path. If it exists the run resumes from it (settings must match);
            it is rewritten atomically every ``checkpoint_every`` steps and at the end.
        val_data: validation rows; default ``data.val`` for a ``Dataset``.
        log_every, val_every, checkpoint_every: cadences in steps (defaults: ~200 log rows, ~20
            validations and checkpoints per run). Validation and checkpoints happen on log steps.
        optimizer: ``"adam"`` (default), ``"adamw"`` or ``"sgd"``.
        lr_schedule: ``"cosine"`` (anneal to lr/100 over the run, default) or ``"constant"``.
        clip_norm: clip the gradient's global norm to this value.
        callback: called on every log step as ``callback(step, model)``; a dict it returns is
            added to that history row (e.g. modes captured so far). Runs under ``no_grad`` with
            the random state forked, so it never changes the training trajectory.
        compile: run the training step from a TorchScript trace of the objective, recorded once
            per batch shape and checked against the eager step (same loss and gradients from
            the same random state; a trace that fails or differs falls back to eager with a
            warning). ``"auto"`` (default): for ppgen models that declare ``traceable`` with an
            ELBO that keeps no state between steps (``trace``, ``iwae``, ``vimco``,
            ``rws``, ``enum``, ``tracegraph`` without a baseline). ``True``: also for other
            models and plain Pyro pairs (whose Python control flow must not depend on the data).
            ``False``: always eager. See :mod:`ppgen.inference.compiled`.

    Returns:
        A :class:`FitResult`; the model is trained in place.

    Raises:
        TrainingDivergedError: the loss or parameters became non-finite. A checkpoint written
            before that (the last good one) is left in place.
    """
    model_fn, guide_fn, _, max_plate_nesting = split_pair(model)
    modules = _modules(model_fn, guide_fn)
    objective, objective_name = resolve_objective(estimator, loss, num_particles, max_plate_nesting)
    if getattr(model, "likelihood", None) == "implicit" and objective.needs_likelihood:
        raise ValueError(
            f"{type(model).__name__} is an implicit model with no likelihood, so the ELBO "
            f"({objective_name}) does not apply; train it with a two-sample loss, e.g. "
            "loss='mmd' or loss='gan' (see ppgen.inference.losses.available_losses())"
        )
    adversary_steps = objective.adversary_steps
    if compile not in COMPILE_CHOICES or not isinstance(compile, (str, bool)):
        raise ValueError(f"compile must be 'auto', True or False, got {compile!r}")
    if compile is True and not is_traceable(objective):
        raise ValueError(
            f"compile=True needs an ELBO estimator without state between steps, and "
            f"{objective_name} is not one (a composed or custom loss, or a running baseline); "
            "use compile=False"
        )
    check_name(lr_schedule, SCHEDULES, "learning-rate schedule")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable as callback(step, model), got {callback!r}")
    check_name(optimizer, OPTIMIZERS, "optimizer")
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    device = resolve_device(device)
    for module in modules:
        module.to(device)
    objective.to(device)

    # ----- data -------------------------------------------------------------------------------
    if isinstance(data, Dataset):
        dataset = data.to(device)
        if val_data is None:
            val_data = dataset.val
    elif isinstance(data, torch.Tensor):
        dataset = None
    else:
        raise TypeError(f"data must be a ppgen Dataset or a tensor, got {type(data).__name__}")
    train = dataset.train if dataset is not None else data.to(device)
    if isinstance(model, GenerativeModel):
        model.check_training_data(train)
        if val_data is not None:
            val_data = model.check_data(val_data.to(device), "validation data")
    else:
        check_data(train, name="training data")
        if val_data is not None:
            val_data = check_data(
                val_data.to(device), name="validation data", event_dim=train.shape[1]
            )
    num_data = len(train)
    # A class-conditional model reads the labels of each batch as model(x, y=...).
    conditional = isinstance(model, GenerativeModel) and model.conditional
    train_labels = val_labels = None
    if conditional:
        if dataset is None or dataset.train_labels is None:
            raise ValueError(
                f"{type(model).__name__} is class-conditional (num_classes="
                f"{model.num_classes}) and needs labels: pass a Dataset with train_labels"
            )
        if val_data is not dataset.val:
            raise ValueError("a class-conditional model validates on its Dataset's val split")
        train_labels = model.check_labels(dataset.train_labels, len(train), "train_labels")
        val_labels = model.check_labels(dataset.val_labels, len(val_data), "val_labels")
    batch_size = num_data if batch_size is None else batch_size
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    batch_size = min(batch_size, num_data)
    batches_per_epoch = math.ceil(num_data / batch_size)
    batches_per_step = 1 + adversary_steps

    # ----- budget and cadences ----------------------------------------------------------------
    if steps is not None and epochs is not None:
        raise ValueError("give steps or epochs, not both")
    for name, value in (("steps", steps), ("epochs", epochs)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if epochs is not None:
        total_steps = math.ceil(epochs * batches_per_epoch / batches_per_step)
    else:
        total_steps = steps or DEFAULT_STEPS
    log_every = log_every or max(1, total_steps // 200)
    val_every = val_every or max(log_every, total_steps // 20)
    checkpoint_every = checkpoint_every or val_every

    def draw_batch(index) -> torch.Tensor:
        return dataset.train_batch(index, generator) if dataset is not None else train[index]

    def batch_kwargs(index) -> dict:
        return {"y": train_labels[index]} if conditional else {}

    for module in modules:
        for name, param in module.named_parameters():
            if not torch.isfinite(param).all():
                raise ValueError(
                    f"parameter {name!r} of {type(module).__name__} is non-finite (NaN or inf) "
                    "before training; re-initialise the model"
                )

    # ----- parameters: run the objective once so that lazily created params exist -------------
    pyro.set_rng_seed(seed)
    generator = torch.Generator(device=device).manual_seed(seed)
    with poutine.trace(param_only=True) as param_capture:
        first = torch.arange(batch_size, device=device)
        objective(model_fn, guide_fn, draw_batch(first), **batch_kwargs(first))
    param_names = sorted(param_capture.trace.nodes)
    parameters = {id(p): p for m in modules for p in m.parameters()}
    for site in param_capture.trace.nodes.values():
        unconstrained = site["value"].unconstrained()
        parameters.setdefault(id(unconstrained), unconstrained)
    # Estimators may own parameters too (NVIL's baseline network).
    for p in objective.parameters():
        parameters.setdefault(id(p), p)
    parameters = [p for p in parameters.values() if p.requires_grad]
    if not parameters:
        raise ValueError("the model and guide have no trainable parameters")
    # A loss may ask for optimizer settings (a GAN's Adam betas); they apply to Adam-type only.
    extra = objective.optimizer_options if optimizer in ("adam", "adamw") else {}
    opt = OPTIMIZERS[optimizer](parameters, lr=lr, **extra)

    def make_schedule(optimizer_):
        if lr_schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer_, total_steps, eta_min=optimizer_.param_groups[0]["lr"] / 100
            )
        return torch.optim.lr_scheduler.LambdaLR(optimizer_, lambda _: 1.0)

    schedule = make_schedule(opt)
    # The second player (a discriminator) has its own parameters and optimizer; they are never
    # stepped by the model's optimizer, nor the model's by its.
    adversary_opt = adversary_schedule = None
    if adversary_steps:
        if not any(p.requires_grad for p in objective.adversary_parameters()):
            raise ValueError(f"the adversary of {objective_name} has no trainable parameters")
        own = {id(p) for p in parameters}
        if any(id(p) in own for p in objective.adversary_parameters()):
            raise ValueError("the adversary shares parameters with the model or guide")
        adversary_opt = objective.adversary_optimizer(lr)
        adversary_schedule = make_schedule(adversary_opt)

    # ----- resume -----------------------------------------------------------------------------
    settings = {
        "objective": objective_name,
        "num_particles": num_particles,
        "total_steps": total_steps,
        "batch_size": batch_size,
        "num_data": num_data,
        "lr": lr,
        "seed": seed,
        "optimizer": optimizer,
        "lr_schedule": lr_schedule,
    }
    step, order, position, train_time, rows = 0, None, 0, 0.0, []
    if checkpoint is not None and Path(checkpoint).exists():
        # Loaded on the CPU: RNG states must stay there; parameters and optimizer state are
        # copied onto their own devices by load_state_dict.
        state = load_checkpoint(checkpoint, map_location="cpu")
        check_same_settings(state["settings"], settings, checkpoint)
        for module, module_state in zip(modules, state["modules"]):
            module.load_state_dict(module_state)
        for name, value in state["params"].items():
            # In place, so that the optimizer keeps pointing at the same tensors.
            pyro.param(name).unconstrained().data.copy_(value)
        if state["objective"] is not None:
            objective.load_state_dict(state["objective"])
        opt.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        if adversary_opt is not None:
            adversary_opt.load_state_dict(state["adversary_optimizer"])
            adversary_schedule.load_state_dict(state["adversary_schedule"])
        set_random_state(state["rng"])
        generator.set_state(state["generator"])
        step, order, position = state["step"], state["order"], state["position"]
        order = None if order is None else order.to(device)
        train_time, rows = state["train_time"], state["history"]

    def write_checkpoint():
        save_checkpoint(
            checkpoint,
            {
                "settings": settings,
                "modules": [m.state_dict() for m in modules],
                "params": {n: pyro.param(n).unconstrained().detach() for n in param_names},
                "objective": objective.state_dict(),
                "optimizer": opt.state_dict(),
                "schedule": schedule.state_dict(),
                "adversary_optimizer": adversary_opt and adversary_opt.state_dict(),
                "adversary_schedule": adversary_schedule and adversary_schedule.state_dict(),
                "rng": get_random_state(),
                "generator": generator.get_state(),
                "step": step,
                "order": order,
                "position": position,
                "train_time": train_time,
                "history": rows,
            },
        )

    def validate() -> dict:
        # Validation must not perturb the training trajectory: fork the random state.
        metrics = {}
        with torch.no_grad(), forked_random_state():
            chunks = val_data.split(VALIDATION_CHUNK)
            label_chunks = (
                val_labels.split(VALIDATION_CHUNK) if conditional else [None] * len(chunks)
            )
            total = sum(
                float(objective(model_fn, guide_fn, c, **({"y": y} if conditional else {})))
                for c, y in zip(chunks, label_chunks)
            )
            metrics["val_loss"] = total / len(val_data)
            if isinstance(model, GenerativeModel) and model.has_exact_log_prob:
                metrics["val_log_lik"] = float(model.log_prob(val_data).mean())
        return metrics

    def diverged(reason: str):
        where = ""
        if checkpoint is not None and Path(checkpoint).exists():
            saved = load_checkpoint(checkpoint)["step"]
            where = f" The last good checkpoint (step {saved}) is kept at {checkpoint}."
        raise TrainingDivergedError(
            f"training diverged at step {step} with {objective_name}: {reason}. Try a smaller lr "
            f"(now {lr:g}), clip_norm=, more particles, or another estimator.{where}",
            step,
            pd.DataFrame(rows),
        )

    def due(step: int, every: int) -> bool:
        # Work is done on log steps only: on the first log step that reaches a multiple of `every`.
        return step // every > (step - log_every) // every

    def next_index() -> torch.Tensor:
        nonlocal order, position
        if order is None or position >= num_data:
            order = torch.randperm(num_data, generator=generator, device=device)
            position = 0
        index = order[position : position + batch_size]
        position += len(index)
        return index

    def adversary_step() -> torch.Tensor:
        index = next_index()
        batch = draw_batch(index)
        with pyro.validation_enabled(False):  # as in training_loss
            value = objective.adversary_loss(model_fn, guide_fn, batch, **batch_kwargs(index))
        value = value / len(batch)
        adversary_opt.zero_grad(set_to_none=True)
        value.backward()
        adversary_opt.step()
        return value.detach()

    # ----- the step ---------------------------------------------------------------------------
    traceable_model = isinstance(model, GenerativeModel) and model.traceable
    if compile is True or (compile == "auto" and traceable_model and is_traceable(objective)):
        step_objective = CompiledObjective(objective, model_fn, guide_fn, parameters)
    else:
        step_objective = None

    def training_loss(batch, index) -> torch.Tensor:
        # Pyro's validation (site shapes, supports, NaN warnings) already ran on the parameter
        # capture above; per step it costs host syncs and Python time, and non-finite values
        # are caught on log steps instead.
        with pyro.validation_enabled(False):
            if step_objective is not None:
                return step_objective(batch, **batch_kwargs(index))
            return objective(model_fn, guide_fn, batch, **batch_kwargs(index))

    # ----- the loop ---------------------------------------------------------------------------
    bar = tqdm(total=total_steps, initial=step, disable=not progress, desc=objective_name)
    # Per-step values (device tensors) since the last log row: the loss, each term of a composed
    # loss, and the adversary's loss.
    window, part_windows, adversary_window = [], {}, []
    tick = time.perf_counter()
    while step < total_steps:
        for _ in range(adversary_steps):
            adversary_window.append(adversary_step())
        if adversary_schedule is not None:
            adversary_schedule.step()
        index = next_index()
        batch = draw_batch(index)
        try:
            value = training_loss(batch, index) / len(batch)
        except (ValueError, RuntimeError) as error:
            # Non-finite parameters surface here when sampling refuses them (Bernoulli, Categorical)
            # or under validation; otherwise as a non-finite loss on the next log step.
            if all(torch.isfinite(p).all() for p in parameters):
                raise
            step += 1  # report the step being computed
            diverged(f"parameters became non-finite ({str(error).splitlines()[0]})")
        opt.zero_grad(set_to_none=True)
        value.backward()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(parameters, clip_norm)
        opt.step()
        schedule.step()
        window.append(value.detach())
        for name, part in objective.last_parts.items():
            part_windows.setdefault(name, []).append(part / len(batch))
        step += 1
        if step % log_every and step != total_steps:
            continue

        # A log step: one host-device sync for the whole window.
        losses = torch.stack(window).tolist()
        window = []
        train_time += time.perf_counter() - tick
        if not all(math.isfinite(v) for v in losses):
            diverged(f"the loss became {next(v for v in losses if not math.isfinite(v))}")
        row = {
            "step": step,
            "epoch": (step * batches_per_step - 1) // batches_per_epoch + position / num_data,
            "loss": sum(losses) / len(losses),
            "lr": opt.param_groups[0]["lr"],
            "wall_time": train_time,
        }
        for name, values in part_windows.items():
            row[f"loss/{name}"] = float(torch.stack(values).mean())
        part_windows = {}
        if adversary_window:
            adversary_losses = torch.stack(adversary_window).tolist()
            adversary_window = []
            if not all(math.isfinite(v) for v in adversary_losses):
                diverged("the adversary's loss became non-finite")
            row["adversary_loss"] = sum(adversary_losses) / len(adversary_losses)
        if val_data is not None and (due(step, val_every) or step == total_steps):
            row.update(validate())
        if callback is not None:
            with torch.no_grad(), forked_random_state():
                row.update(callback(step, model) or {})
        rows.append(row)
        bar.update(step - bar.n)
        bar.set_postfix(loss=f"{row['loss']:.4g}")
        if checkpoint is not None and (due(step, checkpoint_every) or step == total_steps):
            write_checkpoint()
        tick = time.perf_counter()
    bar.close()

    params = {n: pyro.param(n).detach() for n in param_names}
    return FitResult(
        model=model,
        history=pd.DataFrame(rows),
        objective=objective_name,
        device=device,
        params=params,
        compiled=step_objective is not None and step_objective.compiled,
    )
