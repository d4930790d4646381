"""PPCA and factor analysis fitted by SVI from a random start reach scikit-learn's fits on digits.

Targets (issue 2): 61-dimensional digits (constant pixels dropped, raw 0-16 scale), 10 factors;
PPCA within 0.05 nats per sample of PCA(10).score, FA at least FactorAnalysis(10).score - 0.1,
both on the training data they were fitted to. W and the guide start random; b starts at the data
mean (``init_from_data``). The settings are those of benchmarks/ppca_fa_digits.py.
"""

import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.decomposition import FactorAnalysis as SklearnFA

from ppgen import PPCA, FactorAnalysis, fit, load_dataset


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", drop_constant=True)


# About a minute (8000 full-batch steps). The default selection checks PPCA against
# scikit-learn's PCA(10) through tests/training/test_convergence.py (fit's defaults, within
# 0.3 nats on the test split); this one holds the tighter 0.05 on the training split.
@pytest.mark.slow
def test_ppca_matches_sklearn_pca_score(digits):
    reference = PCA(10).fit(digits.train.numpy()).score(digits.train.numpy())
    torch.manual_seed(0)
    model = PPCA(61, 10).init_from_data(digits.train)
    fit(
        model,
        digits.train,
        estimator="meanfield",
        lr=0.03,
        steps=8000,
        batch_size=None,
        progress=False,
    )
    ours = float(model.log_prob(digits.train).mean())
    assert abs(ours - reference) < 0.05, (ours, reference)


@pytest.mark.slow  # 35 s; FA's exact optimum is checked in the default selection by
# tests/models/test_linear_factor.py (closed-form posterior, the ELBO gap closing)
def test_factor_analysis_reaches_sklearn_score(digits):
    x = digits.train.numpy()
    reference = SklearnFA(10, svd_method="lapack").fit(x).score(x)
    torch.manual_seed(0)
    model = FactorAnalysis(61, 10).init_from_data(digits.train)
    fit(
        model, digits.train, estimator="trace", lr=0.01, steps=6000, batch_size=None, progress=False
    )
    ours = float(model.log_prob(digits.train).mean())
    assert ours > reference - 0.1, (ours, reference)
