"""Evaluation of fitted model/guide pairs: per-datapoint importance weights, ELBO,
importance-sampled log-likelihood, gradient-estimator statistics and estimator comparison."""

from .bounds import elbo, log_likelihood
from .compare import compare
from .gradients import gradient_stats
from .importance import log_importance_weights

__all__ = ["compare", "elbo", "gradient_stats", "log_importance_weights", "log_likelihood"]
