"""Run folders: creating them safely, resuming them, and reloading them without running code.

A run folder (written by ``ppgen fit``) holds ``config.json`` (how to rebuild the model and the
data), ``model.pt`` (the model's ``state_dict``), ``history.csv``, ``metrics.csv``/``.md``, PNG
figures, and with ``--checkpoint`` the ``checkpoint.pt`` that a re-run resumes from.

**What a run folder may point at** (:func:`load_run`, behind ``ppgen evaluate`` and
``ppgen analyze``). A run folder may come from someone else, so reading it never runs code:

- the model is a registered ppgen model name; a model in a Python file (``path.py:Class``) runs
  that file when loaded, so it is refused unless the caller says the code is trusted
  (``trust_code=True``, ``--trust-model-code``);
- the data set is a registered name with its options; a file it names (``path=``) is read by
  ppgen's loaders, which take only data files (``.npy``, ``.npz``, ``.pt``, ``.csv``, MNIST's IDX
  files) and never unpickle, and a file whose sha256 differs from the one recorded at fit time is
  refused;
- ``model.pt`` is read with ``torch.load(weights_only=True)`` (tensors only), and must match the
  sha256 recorded in ``config.json``.

**Writing.** :func:`open_run_dir` checks that the folder can be written before any training; a
run that fails before it has written a checkpoint removes the folder it created, so a failed
command leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import torch

from ..data import Dataset, load_dataset
from ..models import get_model
from ..models.base import GenerativeModel
from ..models.lookup import is_file_spec
from ..training.distributed.sync import broadcast_object
from ..validation import probe_writable
from .config import RunConfig

CONFIG = "config.json"
MODEL = "model.pt"
CHECKPOINT = "checkpoint.pt"
#: Keys of ``config.json`` that a resumed run must share with the run that wrote the folder.
RESUME_KEYS = RunConfig.resume_keys()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _writable_folder(path: Path) -> None:
    """Create ``path`` if needed and check that files can be written in it."""
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"--out {path} is a file, not a folder")
    try:
        probe_writable(path / ".ppgen-write-test")
    except OSError as error:
        raise PermissionError(
            f"cannot write the run folder {path}: {error.strerror or error}"
        ) from error


def _differences(saved: dict, config: dict) -> list[str]:
    def value(settings: dict, key: str):
        if key == "data_seed" and key not in settings:  # older runs: one seed for both
            return settings.get("seed")
        return settings.get(key)

    return [
        f"{key}: {value(saved, key)!r} there, {value(config, key)!r} now"
        for key in RESUME_KEYS
        if value(saved, key) != value(config, key)
    ]


@contextmanager
def open_run_dir(out, label: str, config: dict | None = None, resume: bool = False):
    """Yield the run folder: ``out``, or ``runs/<label>-<time>``, created and checked writable.

    A folder that exists and is not empty is refused, except with ``resume`` when it holds a
    ``config.json`` with the same settings (``RESUME_KEYS``): then the run continues from its
    checkpoint. ``config`` is written at once (it records the command, and proves the folder
    writable). If the block fails, a folder created here is removed unless a checkpoint was
    written in it (that one can be resumed).
    """
    path = Path(out) if out else Path("runs") / f"{label}-{time.strftime('%Y%m%d-%H%M%S')}"
    created = not path.exists()
    if path.is_dir() and any(path.iterdir()):
        saved_path = path / CONFIG
        if not resume or not saved_path.is_file():
            hint = " or add --checkpoint to resume a checkpointed run" if not resume else ""
            raise FileExistsError(
                f"run folder {path} exists and is not empty; choose another --out{hint}"
            )
        saved = _read_config(path)
        differences = _differences(saved, config or {})
        if differences:
            raise ValueError(
                f"run folder {path} holds a run with other settings ({'; '.join(differences)}); "
                "re-run the same command to resume it, or choose another --out"
            )
    _writable_folder(path)
    try:
        if config is not None:
            write_config(path, config)
        yield path
    except BaseException:
        if created and not (path / CHECKPOINT).exists():
            shutil.rmtree(path, ignore_errors=True)
        raise


@contextmanager
def open_shared_run_dir(out, label: str, config: dict, resume: bool, ranks):
    """:func:`open_run_dir` for a data-parallel command (``torchrun ... -m ppgen fit``): rank 0
    opens (and, on failure, cleans up) the folder and tells the other ranks where it is, or why
    it could not; only rank 0 writes in it."""
    if not ranks.active:
        with open_run_dir(out, label, config, resume=resume) as path:
            yield path
        return

    if not ranks.is_main:
        shared = broadcast_object(ranks, None)
        if isinstance(shared, str):
            raise ValueError(f"rank 0 could not open the run folder: {shared}")
        yield shared
        return
    with ExitStack() as stack:
        try:
            path = stack.enter_context(open_run_dir(out, label, config, resume=resume))
        except Exception as error:
            broadcast_object(ranks, str(error))
            raise
        broadcast_object(ranks, path)
        yield path


def write_config(run_dir: Path, config: dict) -> None:
    (run_dir / CONFIG).write_text(json.dumps(config, indent=2, default=str) + "\n")


def save_model(run_dir: Path, model: GenerativeModel, config: dict) -> None:
    """``model.pt`` (state_dict) and ``config.json``, with ``model.pt``'s sha256 and that of the
    data file, where the data came from one."""
    torch.save(model.state_dict(), run_dir / MODEL)
    files = {MODEL: sha256(run_dir / MODEL)}
    data_path = (config.get("data_options") or {}).get("path")
    if data_path and Path(data_path).is_file():
        files["data"] = sha256(Path(data_path))
    write_config(run_dir, {**config, "sha256": files})


def _read_config(run_dir: Path) -> dict:
    try:
        config = json.loads((run_dir / CONFIG).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{run_dir / CONFIG} is not readable JSON: {error}") from error
    if not isinstance(config, dict):
        raise ValueError(f"{run_dir / CONFIG} must hold a JSON object")
    return config


def check_config(run_dir: Path, config: dict, trust_code: bool) -> None:
    """Refuse a ``config.json`` that names what a run folder may not point at (module doc)."""
    where = run_dir / CONFIG
    for key in ("model", "data"):
        if not isinstance(config.get(key), str):
            raise ValueError(f"{where} has no {key!r} name (it is not written by `ppgen fit`)")
    for key in ("model_options", "data_options"):
        if not isinstance(config.get(key, {}), dict):
            raise ValueError(f"{where}: {key!r} must be a JSON object")
    if is_file_spec(config["model"]) and not trust_code:
        raise ValueError(
            f"{where} names the model code {config['model']!r}; loading it runs that Python "
            "file. If you trust it, pass --trust-model-code (load_run(..., trust_code=True))"
        )
    recorded = config.get("sha256") or {}
    data_path = config.get("data_options", {}).get("path")
    if data_path and "data" in recorded:
        if not Path(data_path).is_file():
            raise FileNotFoundError(f"{where} names the data file {data_path}, which is missing")
        if sha256(Path(data_path)) != recorded["data"]:
            raise ValueError(
                f"the data file {data_path} changed since the run in {run_dir} was written "
                "(its sha256 differs from the one in config.json)"
            )


def load_run(
    run_dir: str | Path, device="cpu", trust_code: bool = False
) -> tuple[GenerativeModel, Dataset, dict]:
    """Rebuild a saved run's ``(model, data, config)``: the data set is reloaded with the run's
    options and seed, the model rebuilt from its options and its ``state_dict`` loaded. What the
    folder may point at, and what is refused, is in the module docstring."""
    run_dir = Path(run_dir)
    missing = [f for f in (CONFIG, MODEL) if not (run_dir / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{run_dir} is not a ppgen run folder, or its run has not finished (missing "
            f"{', '.join(missing)}); it is written by `ppgen fit`"
        )
    config = _read_config(run_dir)
    check_config(run_dir, config, trust_code)
    recorded = (config.get("sha256") or {}).get(MODEL)
    if recorded is not None and sha256(run_dir / MODEL) != recorded:
        raise ValueError(f"{run_dir / MODEL} is damaged or changed: its sha256 differs from config")
    data = load_dataset(
        config["data"],
        binarize=config.get("binarize"),
        dequantize=config.get("dequantize", False),
        drop_constant=config.get("drop_constant", False),
        seed=config.get("data_seed", config.get("seed", 0)),  # older runs: one seed for both
        **config.get("data_options", {}),
    )
    model = get_model(config["model"])(data.num_features, **config.get("model_options", {}))
    try:
        state = torch.load(run_dir / MODEL, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as error:  # the safe unpickler and load_state_dict raise several types
        raise ValueError(
            f"{run_dir / MODEL} is not a state_dict of {config['model']} as configured, and is "
            f"refused without running it ({str(error).splitlines()[0]})"
        ) from error
    return model.to(device), data.to(device), config
