"""Evaluation of fitted model/guide pairs: per-datapoint importance weights, ELBO,
importance-sampled log-likelihood, bits per dimension, reference densities (independent
Bernoullis, a Bernoulli mixture fitted by EM), active units, reconstruction error,
gradient-estimator statistics (bias against the exact gradient, variance at equal cost, along a
training trajectory) and estimator comparison; and, for models judged by their samples
(GANs, GMMNs), mode coverage, the MMD two-sample test, the memorization check and the kernel
density score."""

from .baselines import independent_bernoulli_log_lik
from .bernoulli_mixture import BernoulliMixture, fit_bernoulli_mixture
from .bounds import bits_per_dim, elbo, joint_log_likelihood, log_likelihood
from .compare import compare
from .gradients import gradient_stats
from .kde import kde_log_likelihood
from .latents import active_units, latent_activity, posterior_mean
from .memorization import memorization_check, nearest_neighbour_distances
from .modes import mode_coverage
from .reconstruction import reconstruction_error
from .trajectory import gradient_trajectory
from .two_sample import TwoSampleTest, mmd_test
from .weights import log_importance_weights

__all__ = [
    "BernoulliMixture",
    "TwoSampleTest",
    "active_units",
    "bits_per_dim",
    "compare",
    "elbo",
    "fit_bernoulli_mixture",
    "gradient_stats",
    "gradient_trajectory",
    "independent_bernoulli_log_lik",
    "joint_log_likelihood",
    "kde_log_likelihood",
    "latent_activity",
    "log_importance_weights",
    "log_likelihood",
    "memorization_check",
    "mmd_test",
    "mode_coverage",
    "nearest_neighbour_distances",
    "posterior_mean",
    "reconstruction_error",
]
