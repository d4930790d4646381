"""``fit(..., devices=N)``: the same ``fit`` on N processes started here, the result brought back.

Each process runs ``fit`` on a copy of the model and data (they travel by pickle) inside the
process group :func:`~ppgen.training.distributed.launch` set up; rank 0 sends back what the
caller's objects need to hold the trained state: every module's tensors and the pair's
``pyro.param`` values. The caller's model is then trained in place, as after a one-process
``fit``.
"""

from __future__ import annotations

import pyro

from ...program.program import Program
from .launch import check_picklable, launch
from .ranks import current_ranks


def _fit_on_rank(fit, model, data, options: dict):
    """One rank's ``fit``; rank 0 returns its result and the trained tensors."""
    result = fit(model, data, **options)
    if not current_ranks().is_main:
        return None
    store = pyro.get_param_store().get_state()  # the trained values, published by fit
    names = [n for n in result.params if n in store["params"]]  # modules' own are in modules
    return {
        "modules": Program.of(model).modules(),
        "params": {
            "params": {n: store["params"][n] for n in names},
            "constraints": {n: store["constraints"][n] for n in names},
        },
        "result": {k: v for k, v in vars(result).items() if k not in ("model", "params")},
    }


def _adopt(module, trained) -> None:
    """Give the caller's ``module`` the trained one's state, in place. Where both hold the same
    tensors, by ``load_state_dict``; a module that creates its parameters on its first call (an
    autoguide) has none yet here, so it takes the trained one's attributes."""
    if module.state_dict().keys() == trained.state_dict().keys():
        module.load_state_dict(trained.state_dict())
    else:
        module.__dict__.update(trained.__dict__)


def fit_on_processes(fit, model, data, settings, program_options: dict) -> dict:
    """Run ``fit(model, data, ...)`` with ``settings`` (a :class:`~ppgen.training.settings
    .FitSettings`) and the program's options on ``settings.devices`` processes (module
    docstring). The caller's model is trained in place; returns ``{"params", "result"}``: the
    pair's trained ``pyro.param`` values and the fields of rank 0's
    :class:`~ppgen.training.trainer.FitResult` (``fit`` is passed in, so that this module need
    not import the trainer that calls it)."""
    options = {**settings.options(), **program_options}
    num_processes = settings.devices
    check_picklable((model, data), "the model and the data")
    check_picklable(options, "fit's options (a callback, an estimator object)")
    returned = launch(_fit_on_rank, num_processes, fit, model, data, options)[0]
    program = Program.of(model)
    for module, trained in zip(program.modules(), returned["modules"]):
        _adopt(module, trained)
    with program.scope(training=True):
        pyro.get_param_store().set_state(returned["params"])
        params = {n: pyro.param(n).detach() for n in returned["params"]["params"]}
    return {"params": params, "result": returned["result"]}
