"""Evaluation of fitted model/guide pairs: per-datapoint importance weights, ELBO and
importance-sampled log-likelihood."""

from .bounds import elbo, log_likelihood
from .importance import log_importance_weights

__all__ = ["elbo", "log_importance_weights", "log_likelihood"]
