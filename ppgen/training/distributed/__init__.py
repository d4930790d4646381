"""Data-parallel training and evaluation on ``torch.distributed``.

ppgen writes nothing distributed by hand: processes are started by ``torchrun`` or by PyTorch's
own launcher (:func:`launch`, behind ``fit(devices=N)``), they meet through ``torch.distributed``
(gloo on CPU, NCCL on CUDA), and gradients travel by its ``all_reduce``. What ppgen adds is what
Pyro programs need on top (see the README's "Scaling out"):

- :mod:`.ranks`: who this process is, per-rank seeds, and the rows each rank takes of a step;
- :mod:`.sync`: every trainable tensor averaged (``pyro.param`` values, estimators' own networks,
  an adversary's), not only a module's registered parameters; identical starting values; losses
  and objects shared between ranks;
- :mod:`.noise`: the test mode in which every rank draws the noise of the whole global batch;
- :mod:`.launch`: running a function, or ``fit``, on N local processes.
"""

from .launch import launch
from .ranks import Ranks, current_ranks, init_from_environment

__all__ = ["Ranks", "current_ranks", "init_from_environment", "launch"]
