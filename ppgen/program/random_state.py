"""Saving and restoring every random state ppgen's training draws from.

Validation, callbacks and the compiled path's equality check must not perturb a run's random
stream: they take a snapshot, do their work and put it back. The snapshot is Pyro's (PyTorch's CPU
generator, Python's ``random`` and NumPy) plus every CUDA generator. It holds tensors, numbers and
tuples only (NumPy's key array as an int64 tensor), so that a checkpoint can be read with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from pyro.util import get_rng_state, set_rng_state


def get_random_state() -> dict:
    """Pyro's RNG state (torch CPU, random, numpy) plus every CUDA generator's."""
    state = get_rng_state()
    kind, keys, *rest = state["numpy"]  # ("MT19937", uint32 array, pos, has_gauss, gauss)
    state["numpy"] = (kind, torch.from_numpy(keys.astype(np.int64)), *rest)
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state: dict) -> None:
    kind, keys, *rest = state["numpy"]
    keys = keys.numpy().astype(np.uint32) if isinstance(keys, torch.Tensor) else keys
    set_rng_state({**state, "numpy": (kind, keys, *rest)})
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextmanager
def forked_random_state():
    """Run the block, then restore the random state it started from."""
    state = get_random_state()
    try:
        yield
    finally:
        set_random_state(state)
