"""The model registry: names for the CLI, ``ppgen list`` and the registry-driven contract tests."""

from __future__ import annotations

from ..validation import check_name

_MODELS: dict[str, type] = {}


def register_model(name: str):
    """Class decorator registering a :class:`GenerativeModel` subclass under ``name``."""

    def decorate(cls):
        if name in _MODELS:
            raise ValueError(f"a model named {name!r} is already registered")
        _MODELS[name] = cls
        cls.registry_name = name
        return cls

    return decorate


def available_models() -> dict[str, type]:
    """Registered model names and their classes."""
    return dict(sorted(_MODELS.items()))


def get_model(name: str) -> type:
    """The model class registered as ``name``."""
    check_name(name, _MODELS, "model")
    return _MODELS[name]
