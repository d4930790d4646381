"""Variational autoencoders (Kingma & Welling 2014; Rezende et al. 2014) as Pyro model/guide pairs.

Model, per data point (labels ``y`` only for a class-conditional VAE)::

    z ~ p(z)                              N(0, I), or a normalizing flow of it (prior="flow")
    x | z, y ~ p(x | decoder(z, y))       Bernoulli, Gaussian (learned per-pixel scale) or
                                          continuous Bernoulli (Loaiza-Ganem & Cunningham 2019)

Guide, amortized by an encoder ``h = encoder(x, y)``:

- ``"diagonal"``: ``q(z | x) = N(mu(h), diag sigma(h)^2)``;
- ``"full"``: ``N(mu(h), L(h) L(h)^T)`` with a lower-triangular ``L`` (full covariance);
- ``"iaf"``: the diagonal Gaussian pushed through inverse autoregressive flow layers that also
  read ``h`` (Kingma et al. 2016), a non-Gaussian posterior whose density of its own samples is
  one network pass per layer.

Encoder and decoder are ReLU MLPs (``"mlp"``) or, for images, two stride-2 convolutions and their
transposed-convolution mirror (``"conv"``). Everything is reparameterized, so every ELBO estimator
applies: ``trace`` (the VAE), ``iwae`` / ``dreg`` with K particles (the IWAE).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyro
import pyro.distributions as dist
import torch
import torch.nn.functional as F

from ..registry import MODELS
from ..validation import check_int_at_least, check_name, check_positive_int, check_positive_ints
from .autoregressive_decoder import AutoregressiveBernoulli, conditional_made
from .base import GenerativeModel
from .flows import build_flow, conditional_iaf
from .networks import (
    ARCHITECTURES,
    ConvDecoder,
    ConvEncoder,
    MLPEncoder,
    check_image_shape,
    image_shape_options,
    mlp,
)

VAE_LIKELIHOODS = ("bernoulli", "gaussian", "continuous_bernoulli")
GUIDES = ("diagonal", "full", "iaf")
PRIORS = ("standard", "flow")
# Smallest posterior standard deviation: keeps log q finite when an encoder grows confident.
MIN_SCALE = 1e-4


@MODELS.register("vae")
class VAE(GenerativeModel):
    """Variational autoencoder: MLP/conv networks, Gaussian/flow prior, diagonal/full/IAF guide."""

    reference_setup = {"data": ("digits", {"binarize": "threshold"}), "model": {}, "fit": {}}
    example_options = {"latent_dim": 4, "hidden_dims": (32,)}

    traceable = True  # no data-dependent control flow in model/guide
    autoencodes = True  # encode, decode, reconstruct

    likelihood = "bernoulli"  # the default; an instance sets its own from the constructor
    # Converges on binarized digits (benchmarks/results/fit_defaults.md).
    default_lr = 3e-3
    default_steps = 4000

    def __init__(
        self,
        data_dim: int,
        latent_dim: int = 10,
        hidden_dims: Sequence[int] = (200, 200),
        *,
        likelihood: str = "bernoulli",
        encoder: str = "mlp",
        decoder: str = "mlp",
        image_shape: Sequence[int] | None = None,
        guide: str = "diagonal",
        prior: str = "standard",
        flow_layers: int = 2,
        prior_flow: str = "realnvp",
        num_classes: int | None = None,
        autoregressive_decoder: Sequence[int] | None = None,
        name: str | None = None,
    ):
        """
        Args:
            data_dim: pixels or features per data point.
            latent_dim: size of the code ``z``.
            hidden_dims: hidden sizes of the encoder MLP (the decoder mirrors them); for ``conv``
                networks only the last one is used (the fully connected layer's width).
            likelihood: ``"bernoulli"`` (binary data), ``"gaussian"`` (a learned standard
                deviation per feature) or ``"continuous_bernoulli"`` (data in [0, 1]).
            encoder, decoder: ``"mlp"`` or ``"conv"`` (needs ``image_shape``).
            image_shape: ``(height, width)`` of image data, for ``conv`` networks and figures.
            guide: ``"diagonal"``, ``"full"`` or ``"iaf"`` (see the module docstring).
            prior: ``"standard"`` (N(0, I)) or ``"flow"`` (``prior_flow`` of N(0, I)).
            flow_layers: layers of the IAF guide and of the flow prior.
            prior_flow: a flow name from ``ppgen.models.flows.available_flows()``; the prior is
                evaluated on guide samples, so the default ``realnvp`` is fast in that direction.
            num_classes: make the VAE class-conditional on labels in ``[0, num_classes)``: encoder
                and decoder read a one-hot label, and the programs are ``model(x, y)``.
            autoregressive_decoder: hidden sizes of a conditional MADE that turns the decoder's
                output into an autoregressive Bernoulli likelihood, ``p(x_d | x_<d, z)``
                (:mod:`ppgen.models.autoregressive_decoder`); ``None`` for independent pixels.
        """
        super().__init__(data_dim, name=name)
        check_name(likelihood, VAE_LIKELIHOODS, "VAE likelihood")
        check_name(encoder, ARCHITECTURES, "encoder architecture")
        check_name(decoder, ARCHITECTURES, "decoder architecture")
        check_name(guide, GUIDES, "guide family")
        check_name(prior, PRIORS, "prior")
        check_positive_int(latent_dim, "latent_dim", allow_none=False)
        hidden_dims = check_positive_ints(hidden_dims, "hidden_dims")
        check_int_at_least(num_classes, "num_classes", 2, allow_none=True)
        if "conv" in (encoder, decoder):
            image_shape = check_image_shape(image_shape, data_dim)
        if autoregressive_decoder is not None and likelihood != "bernoulli":
            raise ValueError(
                f"autoregressive_decoder models binary pixels; the likelihood is {likelihood!r}"
            )
        self.latent_dim = latent_dim
        self.hidden_dims = hidden_dims
        self.likelihood = likelihood
        self.constant_columns_unbounded = likelihood == "gaussian"  # per-feature noise
        self.architecture = (encoder, decoder)
        self.image_shape = None if image_shape is None else tuple(image_shape)
        self.guide_family = guide
        self.prior_family = prior
        self.num_classes = num_classes
        label_features = num_classes or 0

        # ----- encoder q(z | x, y) -------------------------------------------------------------
        context = hidden_dims[-1]
        if encoder == "conv":
            self.encoder = ConvEncoder(self.image_shape, context, label_features)
        else:
            self.encoder = MLPEncoder(data_dim, hidden_dims, label_features)
        self.loc_head = torch.nn.Linear(context, latent_dim)
        self.scale_head = torch.nn.Linear(context, latent_dim)
        if guide == "full":
            self.register_buffer("_tril", torch.tril_indices(latent_dim, latent_dim, offset=-1))
            self.tril_head = torch.nn.Linear(context, latent_dim * (latent_dim - 1) // 2)
        if guide == "iaf":
            self.guide_flow = conditional_iaf(latent_dim, context, flow_layers)

        # ----- decoder p(x | z, y) and prior p(z) ------------------------------------------------
        code = latent_dim + label_features
        if decoder == "conv":
            self.decoder = ConvDecoder(code, self.image_shape, hidden_dims[-1])
        else:
            self.decoder = mlp([code, *reversed(hidden_dims), data_dim])
        if likelihood == "gaussian":
            self.log_scale = torch.nn.Parameter(torch.zeros(data_dim))
        self.autoregressive = autoregressive_decoder is not None
        if self.autoregressive:  # the decoder's output becomes the MADE's context
            self.ar_decoder = conditional_made(data_dim, data_dim, autoregressive_decoder)
        if prior == "flow":
            if latent_dim < 2 and prior_flow in ("realnvp", "nsf"):
                prior_flow = "maf"  # coupling needs two coordinates
            self.prior_flow = build_flow(prior_flow, latent_dim, flow_layers)
        self.register_buffer("prior_loc", torch.zeros(latent_dim))
        self.register_buffer("prior_scale", torch.ones(latent_dim))

    # ----- distributions ----------------------------------------------------------------------
    def _one_hot(self, y: torch.Tensor | None, batch_shape) -> torch.Tensor | None:
        """One-hot labels expanded to ``batch_shape`` (which may have particle dims in front)."""
        if not self.conditional:
            if y is not None:
                raise ValueError(f"{type(self).__name__} is not class-conditional; drop y=")
            return None
        if y is None:
            raise ValueError(
                f"this VAE is class-conditional (num_classes={self.num_classes}): pass y="
            )
        one_hot = F.one_hot(y, self.num_classes).to(self.dtype)  # (batch, classes)
        return one_hot.expand(tuple(batch_shape) + (self.num_classes,))

    def prior(self) -> dist.Distribution:
        """``p(z)`` for one data point (event shape ``(latent_dim,)``)."""
        base = dist.Normal(self.prior_loc, self.prior_scale).to_event(1)
        if self.prior_family == "flow":
            return dist.TransformedDistribution(base, self.prior_flow.transforms())
        return base

    def posterior(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dist.Distribution:
        """``q(z | x, y)``, batch shape ``(batch,)``, event shape ``(latent_dim,)``."""
        h = self.encoder(x, self._one_hot(y, x.shape[:-1]))  # (batch, context)
        loc = self.loc_head(h)
        scale = F.softplus(self.scale_head(h)) + MIN_SCALE
        if self.guide_family == "full":
            scale_tril = torch.diag_embed(scale)
            scale_tril[..., self._tril[0], self._tril[1]] = self.tril_head(h)
            return dist.MultivariateNormal(loc, scale_tril=scale_tril)
        base = dist.Normal(loc, scale).to_event(1)
        if self.guide_family == "iaf":
            return dist.TransformedDistribution(base, self.guide_flow.transforms(h))
        return base

    def observation(self, params: torch.Tensor) -> dist.Distribution:
        """``p(x | z)`` from the decoder's output (logits, or means for the Gaussian)."""
        if self.autoregressive:
            return AutoregressiveBernoulli(self.ar_decoder, params)
        if self.likelihood == "bernoulli":
            return dist.Bernoulli(logits=params).to_event(1)
        if self.likelihood == "continuous_bernoulli":
            return dist.ContinuousBernoulli(logits=params).to_event(1)
        return dist.Normal(params, self.log_scale.exp()).to_event(1)

    # ----- the Pyro programs ------------------------------------------------------------------
    def model(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            z = pyro.sample("z", self.prior())  # (..., batch, latent)
            params = self._decode_params(z, y)
            pyro.sample(self.observed_site, self.observation(params), obs=x)

    def guide(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            pyro.sample("z", self.posterior(x, y))

    def _decode_params(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        one_hot = self._one_hot(y, z.shape[:-1])
        return self.decoder(z if one_hot is None else torch.cat([z, one_hot], -1))

    # ----- encoding and decoding, for figures and evaluation ----------------------------------
    @torch.no_grad()
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None, num_samples: int = 1000):
        """The posterior mean ``E_q[z | x]``, shape ``(batch, latent_dim)``: exact for Gaussian
        guides, a ``num_samples`` Monte Carlo average for the IAF guide."""
        self.check_data(x, "x")
        q = self.posterior(x, y)
        if self.guide_family != "iaf":
            return q.mean
        return q.sample((num_samples,)).mean(0)

    @torch.no_grad()
    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The mean of ``p(x | z, y)``, shape ``(..., data_dim)``: pixel probabilities for the
        Bernoulli, means otherwise. An autoregressive likelihood has no closed-form mean: its
        conditionals' probabilities along one ancestral draw instead."""
        likelihood = self.observation(self._decode_params(z, y))
        if self.autoregressive:
            return torch.sigmoid(likelihood.logits(likelihood.sample()))
        return likelihood.mean

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """``decode(encode(x))``: the decoder's mean at the posterior mean."""
        return self.decode(self.encode(x, y), y)

    @classmethod
    def options_from_data(cls, data) -> dict:
        """``image_shape`` for whole images (none for vector data or column-dropped images)."""
        return image_shape_options(data)

    def init_from_data(self, x: torch.Tensor) -> VAE:
        """Start the decoder's output bias at the data's mean (log-odds for Bernoulli pixels).

        The network then only has to learn deviations from the average image; the first steps
        of training otherwise go into learning that average (Burda et al. 2016 do the same).
        """
        self.check_data(x, "x")
        mean = x.mean(0)
        if self.likelihood == "gaussian":
            bias = mean
        else:
            p = mean.clamp(1e-3, 1 - 1e-3)
            bias = torch.log(p) - torch.log1p(-p)
        last = self.decoder.deconvs[-1] if self.architecture[1] == "conv" else self.decoder[-1]
        with torch.no_grad():
            if self.architecture[1] == "conv":
                last.bias.fill_(float(bias.mean()))  # one output channel: one bias
            else:
                last.bias.copy_(bias)
            if self.likelihood == "gaussian":
                self.log_scale.copy_(x.std(0).clamp_min(1e-3).log())
        return self

    def extra_repr(self) -> str:
        return (
            f"data_dim={self.data_dim}, latent_dim={self.latent_dim}, "
            f"likelihood={self.likelihood!r}, networks={self.architecture}, "
            f"guide={self.guide_family!r}, prior={self.prior_family!r}, "
            f"num_classes={self.num_classes}"
        )
