"""Saving and restoring every random state ppgen's training draws from.

Validation, callbacks and the compiled path's equality check must not perturb a run's random
stream: they take a snapshot, do their work and put it back. The snapshot is Pyro's (PyTorch's CPU
generator, Python's ``random`` and NumPy) plus every CUDA generator.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from pyro.util import get_rng_state, set_rng_state


def get_random_state() -> dict:
    """Pyro's RNG state (torch CPU, random, numpy) plus every CUDA generator's."""
    state = get_rng_state()
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state: dict) -> None:
    set_rng_state(state)
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
