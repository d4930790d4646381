"""Two-dimensional toy densities with exact log-densities: ``ring8``, ``grid25``, ``8gaussians``,
``moons``.

- ``ring8``: 8 Gaussians (std 0.02) evenly on a circle of radius 2, and ``grid25``: 25 Gaussians
  (std 0.05) on the grid {-4, -2, 0, 2, 4}^2, as used to measure mode collapse of GANs
  (Metz et al. 2017; Srivastava et al. 2017, VEEGAN).
- ``8gaussians``: the density-estimation benchmark of FFJORD (Grathwohl et al. 2019): 8 Gaussians of
  std 0.5/sqrt(2) whose centres lie 4/sqrt(2) from the origin.
- ``moons``: two interleaved half circles with isotropic Gaussian noise (std 0.1). Unlike
  ``sklearn.datasets.make_moons``, which spaces the angles evenly, the angle is drawn uniformly at
  random so that the points are i.i.d. from a density; that density is a 1-D integral over the
  angle, computed here by Gauss-Legendre quadrature (accurate to ~1e-10 nats at 256 nodes).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from ..registry import DATASETS
from .dataset import Dataset


class GaussianMixture2D:
    """An equally weighted mixture of isotropic 2-D Gaussians with a common standard deviation."""

    def __init__(self, centers: torch.Tensor, std: float):
        self.centers = centers  # (num_modes, 2)
        self.std = std

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        modes = torch.randint(len(self.centers), (n,), generator=generator)
        return self.centers[modes] + self.std * torch.randn(n, 2, generator=generator)

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        centers = self.centers.to(x)
        sq_dist = (x[:, None, :] - centers).pow(2).sum(-1)  # (n, num_modes)
        log_norm = -math.log(2 * math.pi * self.std**2)
        component = log_norm - 0.5 * sq_dist / self.std**2
        return torch.logsumexp(component, dim=1) - math.log(len(centers))


def ring8() -> GaussianMixture2D:
    angles = torch.arange(8) * (2 * math.pi / 8)
    return GaussianMixture2D(2.0 * torch.stack([angles.cos(), angles.sin()], 1), std=0.02)


def grid25() -> GaussianMixture2D:
    ticks = torch.arange(-4.0, 5.0, 2.0)
    centers = torch.cartesian_prod(ticks, ticks)
    return GaussianMixture2D(centers, std=0.05)


def eight_gaussians() -> GaussianMixture2D:
    s = 1 / math.sqrt(2)
    units = torch.tensor([[1, 0], [-1, 0], [0, 1], [0, -1], [s, s], [s, -s], [-s, s], [-s, -s]])
    return GaussianMixture2D(4 * s * units, std=0.5 * s)


class Moons:
    """Two half circles, angle ~ U(0, pi), plus N(0, noise^2 I)."""

    def __init__(self, noise: float = 0.1, quadrature_nodes: int = 256):
        self.noise = noise
        nodes, weights = np.polynomial.legendre.leggauss(quadrature_nodes)
        # Map [-1, 1] to [0, pi]; the angle density 1/pi times dt = pi/2 d(node) gives weights / 2.
        self._angles = torch.as_tensor((nodes + 1) * math.pi / 2, dtype=torch.float64)
        self._log_weights = torch.as_tensor(np.log(weights / 2), dtype=torch.float64)

    @staticmethod
    def _curves(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        upper = torch.stack([t.cos(), t.sin()], -1)
        lower = torch.stack([1 - t.cos(), 0.5 - t.sin()], -1)
        return upper, lower

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        t = math.pi * torch.rand(n, generator=generator)
        upper, lower = self._curves(t)
        which = torch.rand(n, generator=generator) < 0.5
        points = torch.where(which[:, None], upper, lower)
        return points + self.noise * torch.randn(n, 2, generator=generator)

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        x64 = x.to(torch.float64)
        terms = []
        for curve in self._curves(self._angles.to(x.device)):  # each (nodes, 2)
            sq_dist = (x64[:, None, :] - curve).pow(2).sum(-1)  # (n, nodes)
            log_kernel = -math.log(2 * math.pi * self.noise**2) - 0.5 * sq_dist / self.noise**2
            terms.append(torch.logsumexp(log_kernel + self._log_weights.to(x.device), dim=1))
        return (torch.logsumexp(torch.stack(terms), dim=0) - math.log(2)).to(x.dtype)


TOY_DENSITIES = {"ring8": ring8, "grid25": grid25, "8gaussians": eight_gaussians, "moons": Moons}


def load_toy2d(
    name: str, *, seed: int = 0, num_train: int = 10000, num_val: int = 2000, num_test: int = 2000
) -> Dataset:
    """Draw seeded train/validation/test samples from the toy density ``name``."""
    density = TOY_DENSITIES[name]()
    generator = torch.Generator().manual_seed(seed)
    splits = [density.sample(n, generator) for n in (num_train, num_val, num_test)]
    mixture = isinstance(density, GaussianMixture2D)
    return Dataset(
        name=name,
        train=splits[0],
        val=splits[1],
        test=splits[2],
        meta={"true_log_density": "exact", **({} if mixture else {"noise": density.noise})},
        log_density=density.log_density,
        mode_centers=density.centers if mixture else None,
        mode_std=density.std if mixture else None,
    )


TOY_DESCRIPTIONS = {
    "ring8": "8 Gaussians (std 0.02) on a circle of radius 2, exact density",
    "grid25": "25 Gaussians (std 0.05) on a 5x5 grid, exact density",
    "8gaussians": "FFJORD's 8 Gaussians, exact density",
    "moons": "two noisy half circles, density by quadrature",
}
for _name in TOY_DENSITIES:
    DATASETS.register(
        _name, functools.partial(load_toy2d, _name), description=TOY_DESCRIPTIONS[_name]
    )
