"""What each estimator in :func:`ppgen.compare` starts from, trains on and is scored on.

Every estimator must start from the same parameters. A ppgen model is cloned per estimator. A
user's ``(model, guide)`` pair cannot be cloned (its ``pyro.param`` values and ``pyro.module``
networks live outside it), so its parameters are snapshotted once and restored, in place, before
each estimator trains.

Both check every estimator against the program before any training
(:mod:`ppgen.inference.requirements`): one that does not apply is refused with the reason.
"""

from __future__ import annotations

import copy
import math

import pyro
import torch

from ..data import Dataset
from ..inference.requirements import applicable_estimators, requirement_failure
from ..program.data_spec import DataSpec
from ..program.errors import ProgramError
from ..program.program import Program
from ..training import fit
from ..training.probe import probe_program
from .bounds import log_likelihood


def _refuse_inapplicable(built: dict, info) -> None:
    """``built``: ``{name: estimator}``."""
    reasons = [
        f"{spec}: {reason}"
        for spec, estimator in built.items()
        if (reason := requirement_failure(estimator, info))
    ]
    if reasons:
        raise ProgramError(
            "estimator(s) that do not apply to this program, refused before any training: "
            + "; ".join(reasons)
            + f". Estimators that apply: {', '.join(applicable_estimators(info))}"
        )


def _first_rows(data, count: int):
    if isinstance(data, torch.Tensor):
        return data[:count]
    if isinstance(data, (tuple, list)):
        return tuple(t[:count] for t in data)
    if isinstance(data, dict):
        return {k: v[:count] for k, v in data.items()}
    return data


class ModelContestants:
    """A ppgen model and a Dataset: a clone per estimator, scored on ``test``."""

    def __init__(self, model, data: Dataset, device):
        self.model, self.data, self.device = model, data, device

    def check(self, built: dict) -> None:
        rows = self.data.train[:2].to(self.model.device)
        _refuse_inapplicable(built, Program.of(self.model).inspect((rows,), {}))

    def train(self, estimator, settings: dict):
        candidate = self.model.clone().to(self.device)
        result = fit(candidate, self.data, estimator=estimator, **settings)
        return candidate, result.history

    def held_out(self, candidate, eval_samples: int):
        if candidate.has_exact_log_prob:
            with torch.no_grad():
                return float(candidate.log_prob(self.data.test).mean()), "exact"
        estimate = log_likelihood(candidate, self.data.test, num_samples=eval_samples)
        return float(estimate.mean()), f"importance sampling (S={eval_samples})"

    def grad_rows(self, count: int):
        return self.data.train[:count]

    def grad_options(self) -> dict:
        return {}


class PairContestants:
    """A user's pair: its parameters restored before each estimator, scored where it can be."""

    def __init__(self, pair, data, test_data, fit_options: dict):
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(map(callable, pair))):
            raise TypeError(
                "model must be a ppgen GenerativeModel or a (model, guide) pair of Pyro "
                f"callables, got {type(pair).__name__}"
            )
        self.pair, self.fit_options = pair, fit_options
        self.data = data
        train = data.train if isinstance(data, Dataset) else data
        if test_data is None and isinstance(data, Dataset):
            test_data = data.test
        self.train_data, self.test_data = train, test_data
        self.model_kwargs = fit_options.get("model_kwargs") or {}
        spec = DataSpec.from_data(train, fit_options.get("model_args", ()), self.model_kwargs)
        self.program = Program.of(pair, fit_options.get("data_plate"))
        # On all rows: parameters a program sizes by its first call (per-row guides) are
        # created at their real size, and then saved.
        with self.program.scope(training=True):
            self.info = self.program.inspect(*spec.call(), num_rows=spec.num_rows)
            self.snapshot = self._snapshot()
        self.spec, self._all_rows = spec, {}

    def _snapshot(self) -> dict:
        store = pyro.get_param_store()
        return {
            "params": {n: pyro.param(n).unconstrained().detach().clone() for n in store.keys()},
            "modules": [copy.deepcopy(m.state_dict()) for m in self.program.modules()],
        }

    def _restore(self) -> None:
        store = pyro.get_param_store()
        with torch.no_grad():
            for name, value in self.snapshot["params"].items():
                if name in store:
                    pyro.param(name).unconstrained().copy_(value)
        for module, state in zip(self.program.modules(), self.snapshot["modules"]):
            module.load_state_dict(state)

    def check(self, built: dict) -> None:
        _refuse_inapplicable(built, self.info)

    def train(self, estimator, settings: dict):
        with self.program.scope(training=True):
            self._restore()
        result = fit(self.pair, self.data, estimator=estimator, **settings)
        return self.pair, result.history

    def held_out(self, candidate, eval_samples: int):
        if self.test_data is None:
            return math.nan, "no test data"
        if self.info.global_latents or self.info.data_plate is None or self.info.subsamples:
            return math.nan, "no per-datapoint log p(x) (global latents or no data plate)"
        estimate = log_likelihood(
            candidate, self.test_data, num_samples=eval_samples, **self.model_kwargs
        )
        return float(estimate.mean()), f"importance sampling (S={eval_samples})"

    def grad_rows(self, count: int):
        """The rows gradients are estimated on: the first ``count``, unless the program needs
        every row, as training does (:meth:`needs_all_rows`)."""
        return (
            self.train_data if self.needs_all_rows(count) else _first_rows(self.train_data, count)
        )

    def needs_all_rows(self, count: int) -> bool:
        """Whether the program must see every row at once: it subsamples its own data plate,
        its guide holds parameters of particular rows, or its plates are sized for all rows
        (``fit``'s probe of a ``count``-row batch tells, :mod:`ppgen.training.probe`)."""
        rows = self.spec.num_rows
        if rows is None or count >= rows or self.info.subsamples or self.info.per_row_params:
            return True
        if count not in self._all_rows:
            with self.program.scope():
                try:
                    _, minibatches = probe_program(self.program, self.spec, count, False)
                    self._all_rows[count] = minibatches.kind != "sliced"
                except ProgramError:  # refused minibatches of this size: all rows, as fit
                    self._all_rows[count] = True
        return self._all_rows[count]

    def grad_options(self) -> dict:
        """What ``gradient_stats`` passes to the programs besides the rows."""
        return {"data_plate": self.fit_options.get("data_plate"), **self.model_kwargs}
