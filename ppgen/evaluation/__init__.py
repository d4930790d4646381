"""Evaluation of fitted model/guide pairs: per-datapoint importance weights, ELBO,
importance-sampled log-likelihood, and gradient-estimator statistics."""

from .bounds import elbo, log_likelihood
from .gradients import gradient_stats
from .importance import log_importance_weights

__all__ = ["elbo", "gradient_stats", "log_importance_weights", "log_likelihood"]
