"""``relax``: REBAR's control variate plus a learned neural one (Grathwohl et al. 2018), for
Bernoulli and one-hot categorical guide sites.

The control variate of each such site is ``c(z) = eta f(sigma_lambda(z)) + r_rho(z)``, with
``r_rho`` a small network of the site's logistic (resp. Gumbel-max) variables (one per site, built
on the first call, ``tanh`` hidden layer), summed to one value per sample and data point. Any ``c``
keeps the estimate unbiased (:mod:`ppgen.inference.rebar`); ``eta``, ``lambda`` and the networks'
weights are trained together on the estimate's second moment, the variance objective of the paper,
and are the estimator's own parameters (``parameters()``, checkpointed by ``fit`` like NVIL's
baseline).
"""

from __future__ import annotations

import torch

from ..registry import ESTIMATORS
from .rebar import REBAR
from .site_passes import sites_of_families


def to_points(values: torch.Tensor, site, data_plate, sample_dim: int, points: int):
    """``values`` shaped like the site's batch dimensions, summed to ``(K, points)``: samples
    from the sample plate's dimension, points from the data plate's (or all summed, one point)."""
    batch = values.dim()
    by_sample = values.movedim(batch + sample_dim, 0)  # (K, ...)
    if points == 1:
        return by_sample.reshape(by_sample.shape[0], -1).sum(1, keepdim=True)
    frame = next(f for f in site["cond_indep_stack"] if f.name == data_plate)
    # The data plate's dimension, counted from the right, is unchanged by moving the sample dim
    # (which lies left of it).
    by_point = by_sample.movedim(frame.dim, 1)  # (K, points, ...)
    return by_point.reshape(*by_point.shape[:2], -1).sum(-1)


@ESTIMATORS.register(
    "relax", description="REBAR plus a learned neural control variate (Grathwohl et al. 2018)"
)
class RELAX(REBAR):
    """RELAX for Bernoulli and one-hot categorical guide sites, pathwise gradients elsewhere;
    unbiased for the ELBO."""

    name = "relax"

    def __init__(self, num_particles=None, max_plate_nesting=None, temperature=0.5, eta=1.0,
                 hidden=50):  # fmt: skip
        super().__init__(num_particles, max_plate_nesting, temperature, eta)
        self.hidden = hidden
        self.networks = torch.nn.ModuleDict()  # site name -> r_rho, built on first use

    def network(self, name: str, z: torch.Tensor) -> torch.nn.Module:
        key = name.replace(".", "_")
        if key not in self.networks:
            width = z.shape[-1]
            self.networks[key] = torch.nn.Sequential(
                torch.nn.Linear(width, self.hidden), torch.nn.Tanh(),
                torch.nn.Linear(self.hidden, 1),
            ).to(z)  # fmt: skip
        return self.networks[key]

    def tuned_parameters(self) -> list:
        return [self.log_temperature, self.eta, *self.networks.parameters()]

    def state_dict(self) -> dict:
        return {"tuned": [p.detach().clone() for p in super().tuned_parameters()],
                "networks": self.networks.state_dict()}  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            for p, value in zip(super().tuned_parameters(), state["tuned"]):
                p.copy_(value)
        for key, weight in state["networks"].items():  # build the networks the state holds
            name, _, part = key.partition(".")
            if part == "0.weight" and name not in self.networks:
                self.network(name, weight.new_zeros(weight.shape[1]))
        self.networks.load_state_dict(state["networks"])

    def prepare(self, guide_trace) -> None:
        """Build each relaxed site's network, so that ``fit`` finds its parameters."""
        for name in sites_of_families(guide_trace, self.discrete_families):
            site = guide_trace.nodes[name]
            self.network(name, self.features(site["value"], site))

    @staticmethod
    def features(z: torch.Tensor, site) -> torch.Tensor:
        """The site's event dimensions flattened into one last dimension."""
        event_dim = site["fn"].event_dim
        features = z if event_dim else z.unsqueeze(-1)
        return features.reshape(*features.shape[: features.dim() - max(event_dim, 1)], -1)

    def control_variate(self, relaxed_signal, z, site, layout) -> torch.Tensor:
        features = self.features(z, site)
        learned = self.network(site["name"], features)(torch.sigmoid(features)).squeeze(-1)
        points = relaxed_signal.shape[1]
        return self.eta * relaxed_signal + to_points(learned, site, *layout, points)
