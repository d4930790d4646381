"""Model classes by name: registered names (:data:`ppgen.registry.MODELS`, each family registers
itself with ``@MODELS.register(name)``) and a user's own file.

Besides registered names, :func:`get_model` takes ``"path/to/models.py:MyModel"``: a
:class:`~ppgen.models.GenerativeModel` subclass in a user's own file. That file is Python the
user asked to run; it is imported once per process, like any module.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from ..registry import MODELS
from .base import GenerativeModel

_FILES: dict[Path, object] = {}  # user model files already imported, by resolved path


def register_model(name: str):
    """Class decorator registering a :class:`GenerativeModel` subclass under ``name``: the same
    as ``@MODELS.register(name)``."""
    return MODELS.register(name, stacklevel=2)


def available_models() -> dict[str, type]:
    """Registered model names and their classes."""
    return MODELS.values()


def is_file_spec(name: str) -> bool:
    """Whether ``name`` names a class in a Python file, ``"path.py:Class"``."""
    path, sep, attribute = str(name).rpartition(":")
    return bool(sep and attribute and path.endswith(".py"))


def get_model(name: str) -> type:
    """The model class registered as ``name``, or ``"path/to/file.py:Class"``."""
    if is_file_spec(name):
        return _model_from_file(name)
    return MODELS.get(name)


def _model_from_file(spec: str) -> type:

    path_text, _, attribute = spec.rpartition(":")
    path = Path(path_text).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"{spec}: no such file {path_text!r}")
    if path not in _FILES:
        module_name = f"ppgen_user_models_{len(_FILES)}"
        loader_spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[module_name] = module  # dataclasses and pickling look modules up here
        loader_spec.loader.exec_module(module)
        _FILES[path] = module
    cls = getattr(_FILES[path], attribute, None)
    if cls is None:
        names = [n for n, v in vars(_FILES[path]).items() if isinstance(v, type)]
        raise ValueError(f"{spec}: {path.name} defines no {attribute!r}; its classes: {names}")
    if not (isinstance(cls, type) and issubclass(cls, GenerativeModel)):
        raise TypeError(
            f"{spec} is not a ppgen GenerativeModel subclass; the CLI trains GenerativeModels "
            "(a plain (model, guide) pair trains through ppgen.fit in Python)"
        )
    return cls
