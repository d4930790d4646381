"""The estimator registry."""

import pytest
from pyro.infer import Trace_ELBO, TraceMeanField_ELBO

from ppgen.inference import available_estimators, get_estimator


def test_lists_and_builds_the_registered_estimators():
    assert {"trace", "meanfield"} <= set(available_estimators())
    trace = get_estimator("trace", num_particles=4, max_plate_nesting=1)
    assert isinstance(trace, Trace_ELBO) and trace.num_particles == 4
    assert trace.vectorize_particles and trace.max_plate_nesting == 2  # particles to the left
    assert isinstance(get_estimator("meanfield"), TraceMeanField_ELBO)


def test_unknown_name_and_option():
    with pytest.raises(ValueError, match="unknown estimator 'iwea'"):
        get_estimator("iwea")
    with pytest.raises(ValueError, match="takes no option.*baseline"):
        get_estimator("trace", baseline="nvil")
