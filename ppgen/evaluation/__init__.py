"""Evaluation of fitted model/guide pairs: per-datapoint importance weights, ELBO,
importance-sampled log-likelihood, bits per dimension, active units, reconstruction error,
gradient-estimator statistics and estimator comparison."""

from .baselines import independent_bernoulli_log_lik
from .bounds import bits_per_dim, elbo, log_likelihood
from .compare import compare
from .gradients import gradient_stats
from .importance import log_importance_weights
from .latents import active_units, latent_activity, posterior_mean
from .reconstruction import reconstruction_error

__all__ = [
    "active_units",
    "bits_per_dim",
    "compare",
    "elbo",
    "gradient_stats",
    "independent_bernoulli_log_lik",
    "latent_activity",
    "log_importance_weights",
    "log_likelihood",
    "posterior_mean",
    "reconstruction_error",
]
