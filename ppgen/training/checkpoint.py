"""Checkpoint files: atomic, checksummed, and never able to run code when read.

A checkpoint holds everything needed to continue a run as if it had never stopped (see
:mod:`ppgen.training.training_state`). On disk it is::

    PPGEN-CHECKPOINT 2\\n
    <sha256 of the payload, 64 hex digits>\\n
    <payload: torch.save of a dict of tensors, numbers, strings, lists, tuples and dicts>

- **No code runs when a file is read.** The payload is read with ``torch.load(weights_only=True)``,
  whose unpickler admits tensors and plain containers only; a planted pickle that would call a
  function is refused before anything in it runs. What ppgen writes holds only such values (the
  NumPy random state is stored as a tensor, :mod:`ppgen.program.random_state`).
- **Damage is detected.** The checksum covers every payload byte; a flipped byte, a truncation
  or a file from elsewhere is refused with a message naming the file.
- **A failed write changes nothing.** The file is written to a sibling temporary file, flushed
  to disk and renamed over the target, so a crash, a full disk or a kill mid-write leaves the
  previous checkpoint in place; the temporary file is removed when a write fails.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import torch

from ..validation import probe_writable

MAGIC = b"PPGEN-CHECKPOINT 2\n"
DIGEST_LENGTH = 64  # hex digits of a sha256


class CheckpointError(ValueError):
    """A checkpoint cannot be read, is damaged, or belongs to another run."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (full disk, permissions...); the previous one is kept."""


def temporary_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


def check_writable(path: str | Path) -> Path:
    """Check, before any training, that a checkpoint can be written at ``path``: its folder can be
    created and written, and ``path`` is not a folder. Raises :class:`CheckpointWriteError`."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointWriteError(f"checkpoint path {path} is a folder; give a file path")
    try:
        probe_writable(temporary_path(path))
    except OSError as error:
        raise CheckpointWriteError(
            f"cannot write the checkpoint {path}: {error.strerror or error}"
        ) from error
    return path


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Write ``state`` to ``path`` atomically, with its checksum.

    Raises:
        CheckpointWriteError: the file could not be written; the previous checkpoint (if any)
            is unchanged and no temporary file is left behind.
    """
    path = Path(path)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    digest = hashlib.sha256(payload).hexdigest().encode()
    temporary = temporary_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as file:
            file.write(MAGIC + digest + b"\n")
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except (OSError, RuntimeError) as error:
        temporary.unlink(missing_ok=True)
        kept = " The previous checkpoint is kept." if path.exists() else ""
        reason = getattr(error, "strerror", None) or str(error).splitlines()[0]
        raise CheckpointWriteError(f"could not write the checkpoint {path}: {reason}.{kept}") from (
            error
        )


def load_checkpoint(path: str | Path, map_location=None) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises:
        CheckpointError: the file is not a ppgen checkpoint, its checksum does not match, or it
            holds anything but tensors and plain values (nothing in it is executed).
    """
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as error:
        raise CheckpointError(f"cannot read the checkpoint {path}: {error.strerror}") from error
    header = len(MAGIC) + DIGEST_LENGTH + 1
    if not content.startswith(MAGIC) or len(content) < header:
        raise CheckpointError(
            f"{path} is not a ppgen checkpoint (it does not start with {MAGIC[:-1].decode()!r})"
        )
    digest, payload = content[len(MAGIC) : header - 1], content[header:]
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        raise CheckpointError(
            f"checkpoint {path} is damaged: its sha256 does not match the one written with it "
            "(the file changed after ppgen wrote it). Delete it to start afresh, or restore a copy"
        )
    try:
        state = torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)
    except Exception as error:  # the safe unpickler raises UnpicklingError and others
        raise CheckpointError(
            f"{path} holds something other than tensors and plain values, and is refused "
            f"without running it ({str(error).splitlines()[0]})"
        ) from error
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} is not a ppgen checkpoint (it holds no dict)")
    return state


def check_same_settings(saved: dict, current: dict, path: str | Path) -> None:
    """Refuse to resume a checkpoint written with different training settings."""
    differences = [
        f"{key}: checkpoint {saved.get(key)!r}, now {value!r}"
        for key, value in current.items()
        if saved.get(key) != value
    ]
    if differences:
        raise CheckpointError(
            f"checkpoint {path} was written by a run with other settings ("
            + "; ".join(differences)
            + "); pass the same settings to resume, or another checkpoint path to start afresh"
        )
