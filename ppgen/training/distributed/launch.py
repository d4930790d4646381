"""Run a function on N local processes with PyTorch's own launcher (what ``torchrun`` runs).

:func:`launch` starts the processes with ``torch.distributed.launcher.elastic_launch`` (a local
rendezvous on a free port, as ``torchrun --standalone``), joins each to the default process
group (NCCL on CUDA, gloo otherwise) and returns every rank's result in rank order. It is what
``fit(..., devices=N)`` uses; for several nodes or SLURM start ``torchrun`` (or Lightning's
launcher) yourself: ``fit`` joins whatever group the environment describes.

The function and its arguments travel to fresh processes by pickle: module-level functions and
classes, not lambdas or closures.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import tempfile
import uuid

import torch
import torch.distributed as dist
from torch.distributed.elastic.multiprocessing.api import DefaultLogsSpecs
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, record

from ...validation import check_positive_int
from .ranks import init_from_environment


class DistributedRunError(RuntimeError):
    """A rank of a launched run failed; the message carries its error."""


@record  # a failing rank's error reaches the launcher
def _on_rank(payload: bytes, threads: int | None):
    """The entry point of each process: join the group, run, leave. The function and its
    arguments come as pickled bytes, so each rank unpickles its own copy (handed over as
    objects, tensors would travel through shared memory, and the ranks' models would share
    their parameters); the result goes back as bytes too."""
    if threads is not None and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(threads)  # N processes share the cores, as torchrun arranges
    init_from_environment()
    try:
        fn, args, kwargs = pickle.loads(payload)
        return check_picklable(fn(*args, **kwargs), "the result")  # bytes, as the payload
    finally:
        if dist.is_initialized():  # one process joins no group
            dist.destroy_process_group()


def check_picklable(value, what: str) -> bytes:
    """``value`` pickled, or a ``TypeError`` that says what must be picklable."""
    try:
        return pickle.dumps(value)
    except (pickle.PicklingError, AttributeError, TypeError) as error:
        raise TypeError(
            f"{what} must be picklable to reach the other processes (module-level functions "
            f"and classes, not lambdas or closures): {error}"
        ) from None


def launch(fn, num_processes: int, *args, **kwargs) -> list:
    """``[fn(*args, **kwargs) on rank 0, ..., on rank N-1]``, each run in its own process of an
    N-process group. On a CUDA machine each process takes its own GPU (``cuda:LOCAL_RANK``)."""
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    check_positive_int(num_processes, "num_processes", allow_none=False)
    if multiprocessing.parent_process() is not None:
        # A started process imports the caller's script again (Python's "spawn"); a launch at
        # the script's top level would start processes without end.
        raise RuntimeError(
            "a process started to run on one rank is importing your script, and the script "
            "launches processes at its top level: put the call under "
            '`if __name__ == "__main__":` (Python\'s multiprocessing imports the script in '
            "every process it starts)"
        )
    if torch.cuda.is_available() and num_processes > torch.cuda.device_count():
        raise ValueError(
            f"{num_processes} processes need as many GPUs; {torch.cuda.device_count()} here"
        )
    payload = check_picklable((fn, args, kwargs), "the function and its arguments")
    threads = None if torch.cuda.is_available() else max(1, (os.cpu_count() or 1) // num_processes)
    # The launcher keeps per-run logs (and failing ranks' error files) in a folder of its own;
    # it lives only as long as the launch.
    with tempfile.TemporaryDirectory(prefix="ppgen-launch-") as logs:
        config = LaunchConfig(
            min_nodes=1,
            max_nodes=1,
            nproc_per_node=num_processes,
            run_id=str(uuid.uuid4()),
            rdzv_backend="c10d",
            rdzv_endpoint="localhost:0",  # a free port, as torchrun --standalone
            max_restarts=0,
            monitor_interval=0.1,
            logs_specs=DefaultLogsSpecs(log_dir=logs),
        )
        try:
            results = elastic_launch(config, _on_rank)(payload, threads)
        except ChildFailedError as error:
            rank, failure = error.get_first_failure()
            message = failure.message
            if isinstance(message, dict):
                message = message.get("message", message)
            raise DistributedRunError(f"rank {rank} failed: {message}") from None
    return [pickle.loads(results[rank]) for rank in range(num_processes)]
