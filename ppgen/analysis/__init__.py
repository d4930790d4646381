"""Posterior analysis in ArviZ: a fitted model/guide pair as ``InferenceData``
(:func:`to_inference_data`)."""

from .inference_data import to_inference_data

__all__ = ["to_inference_data"]
