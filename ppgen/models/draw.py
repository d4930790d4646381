"""DRAW (Gregor, Danihelka, Graves, Rezende & Wierstra 2015): a recurrent VAE that draws an image
on a canvas in T steps, with selective attention.

Model, per image, for ``t = 1 .. T`` under ``pyro.markov`` (each step depends on the last)::

    z_t ~ N(0, I)                                       (latent_dim per step)
    h_t = LSTM_dec(z_t, h_{t-1})
    c_t = c_{t-1} + write(h_t)                          (an N x N patch, Gaussian filterbanks)
    x ~ Bernoulli(logits = c_T)

Guide: an encoder LSTM reads, at each step, a glimpse of the image and of the error image
``x - sigmoid(c_{t-1})`` where the decoder's previous state points, and proposes
``q(z_t | x, z_<t) = N(mu(e_t), sigma(e_t))``. The guide runs the decoder too (the encoder
conditions on ``h_{t-1}``), so the decoder's weights appear in both programs, as in the paper.

With ``attention=False`` reading is the whole image and error image and writing a whole-image
update: DRAW without attention. Everything is reparameterized: ``trace`` trains it by the ELBO
and ``iwae`` by the importance-weighted bound. :meth:`DRAW.canvases` draws the canvas step by step.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch import nn

from ..registry import MODELS
from ..validation import check_positive_int
from .attention import Attention
from .base import GenerativeModel
from .networks import image_shape_options

# Smallest posterior standard deviation: keeps log q finite when the encoder grows confident.
MIN_SCALE = 1e-4


class BroadcastLSTMCell(nn.LSTMCell):
    """``nn.LSTMCell`` over any leading dimensions (particles in front of the batch): inputs and
    states broadcast against each other, are flattened to one batch and restored."""

    def forward(self, inputs: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        hidden, cell = state
        leading = torch.broadcast_shapes(inputs.shape[:-1], hidden.shape[:-1])
        flat = [t.expand(leading + t.shape[-1:]).reshape(-1, t.shape[-1])
                for t in (inputs, hidden, cell)]  # fmt: skip
        hidden, cell = super().forward(flat[0], (flat[1], flat[2]))
        return hidden.reshape(leading + hidden.shape[-1:]), cell.reshape(leading + cell.shape[-1:])


def _concat(*tensors: torch.Tensor) -> torch.Tensor:
    """Concatenate on the last dimension after broadcasting the leading ones."""
    leading = torch.broadcast_shapes(*(t.shape[:-1] for t in tensors))
    return torch.cat([t.expand(leading + t.shape[-1:]) for t in tensors], -1)


@MODELS.register("draw")
class DRAW(GenerativeModel):
    """DRAW: recurrent VAE over T steps with read/write attention; binary images."""

    reference_setup = {"data": ("digits", {"binarize": "threshold"}), "model": {}, "fit": {}}
    example_options = {"steps": 3, "latent_dim": 2, "hidden_dim": 16, "image_shape": (8, 8)}

    likelihood = "bernoulli"
    traceable = True  # the loop runs T times whatever the data
    # The budget of benchmarks/digits_reference.py (results there); benchmarks/fit_defaults.py
    # covers the model but has not been run for it yet: fit's convergence check at it is unmeasured.
    default_lr = 3e-3
    default_steps = 2000

    def __init__(
        self,
        data_dim: int,
        steps: int = 8,
        latent_dim: int = 4,
        hidden_dim: int = 100,
        read_size: int = 3,
        write_size: int = 4,
        attention: bool = True,
        image_shape: tuple[int, int] | None = None,
        *,
        name: str | None = None,
    ):
        super().__init__(data_dim, name=name)
        for option, value in (("steps", steps), ("latent_dim", latent_dim),
                              ("hidden_dim", hidden_dim), ("read_size", read_size),
                              ("write_size", write_size)):  # fmt: skip
            check_positive_int(value, option, allow_none=False)
        if not isinstance(attention, bool):
            raise TypeError(f"attention must be a bool, got {attention!r}")
        if image_shape is None:  # a square image, or a 1 x D strip for vector data
            side = round(data_dim**0.5)
            image_shape = (side, side) if side * side == data_dim else (1, data_dim)
        self.image_shape = tuple(int(s) for s in image_shape)
        if len(self.image_shape) != 2 or self.image_shape[0] * self.image_shape[1] != data_dim:
            raise ValueError(
                f"image_shape {tuple(image_shape)} does not hold the data's {data_dim} features"
            )
        self.steps, self.latent_dim, self.hidden_dim = steps, latent_dim, hidden_dim
        self.attention = attention
        read_dim = 2 * read_size**2 if attention else 2 * data_dim
        self.encoder = BroadcastLSTMCell(read_dim + hidden_dim, hidden_dim)
        self.decoder = BroadcastLSTMCell(latent_dim, hidden_dim)
        self.loc_head = nn.Linear(hidden_dim, latent_dim)
        self.scale_head = nn.Linear(hidden_dim, latent_dim)
        if attention:
            self.reader = Attention(hidden_dim, self.image_shape, read_size)
            self.writer = Attention(hidden_dim, self.image_shape, write_size)
            self.patch = nn.Linear(hidden_dim, write_size**2)
        else:
            self.patch = nn.Linear(hidden_dim, data_dim)
        self.canvas_bias = nn.Parameter(torch.zeros(data_dim))  # c_0, the logits before step 1

    @classmethod
    def options_from_data(cls, data) -> dict:
        """``image_shape`` for whole images: attention reads and writes on the 2-D grid."""
        return image_shape_options(data)

    # ----- the pieces of one step ---------------------------------------------------------------
    def _initial_state(self, x: torch.Tensor):
        zeros = x.new_zeros(x.shape[:-1] + (self.hidden_dim,))
        return (zeros, zeros)

    def _write(self, hidden: torch.Tensor) -> torch.Tensor:
        patch = self.patch(hidden)
        return self.writer.write(patch, hidden) if self.attention else patch

    def _read(self, x: torch.Tensor, error: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        if not self.attention:
            return _concat(x, error)
        return torch.cat([self.reader.read(x, hidden), self.reader.read(error, hidden)], -1)

    def _prior(self, x: torch.Tensor) -> dist.Distribution:
        zeros = x.new_zeros(x.shape[:-1] + (self.latent_dim,))
        return dist.Normal(zeros, 1.0).to_event(1)

    # ----- the Pyro programs ------------------------------------------------------------------
    def model(self, x: torch.Tensor) -> None:
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            decoder_state, canvas = self._initial_state(x), self.canvas_bias
            for t in pyro.markov(range(self.steps)):
                z = pyro.sample(f"z_{t}", self._prior(x))  # (..., batch, latent)
                decoder_state = self.decoder(z, decoder_state)
                canvas = canvas + self._write(decoder_state[0])  # (..., batch, D)
            pyro.sample(self.observed_site, dist.Bernoulli(logits=canvas).to_event(1), obs=x)

    def guide(self, x: torch.Tensor) -> None:
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            encoder_state = decoder_state = self._initial_state(x)
            canvas = self.canvas_bias
            for t in pyro.markov(range(self.steps)):
                glimpse = self._read(x, x - torch.sigmoid(canvas), decoder_state[0])
                inputs = _concat(glimpse, decoder_state[0])  # (..., batch, read + hidden)
                encoder_state = self.encoder(inputs, encoder_state)
                h = encoder_state[0]
                scale = F.softplus(self.scale_head(h)) + MIN_SCALE
                z = pyro.sample(f"z_{t}", dist.Normal(self.loc_head(h), scale).to_event(1))
                decoder_state = self.decoder(z, decoder_state)
                canvas = canvas + self._write(decoder_state[0])

    # ----- sampling, step by step ---------------------------------------------------------------
    @torch.no_grad()
    def canvases(self, num_samples: int) -> torch.Tensor:
        """Pixel probabilities ``sigmoid(c_t)`` of ``num_samples`` draws after each step,
        ``(steps + 1, num_samples, D)`` (row 0 is the blank canvas ``c_0``)."""
        check_positive_int(num_samples, "num_samples", allow_none=False)
        x = torch.zeros(num_samples, self.data_dim, device=self.device, dtype=self.dtype)
        state, canvas = self._initial_state(x), self.canvas_bias.expand(x.shape)
        frames = [torch.sigmoid(canvas)]
        for _ in range(self.steps):
            state = self.decoder(self._prior(x).sample(), state)
            canvas = canvas + self._write(state[0])
            frames.append(torch.sigmoid(canvas))
        return torch.stack(frames)

    def init_from_data(self, x: torch.Tensor) -> DRAW:
        """Blank canvas at the logits of the mean image: the steps then draw deviations."""
        self.check_data(x, "x")
        with torch.no_grad():
            self.canvas_bias.copy_(torch.logit(x.mean(0).clamp(1e-3, 1 - 1e-3)))
        return self

    def extra_repr(self) -> str:
        return (
            f"data_dim={self.data_dim}, steps={self.steps}, latent_dim={self.latent_dim}, "
            f"hidden_dim={self.hidden_dim}, attention={self.attention}, "
            f"image_shape={self.image_shape}"
        )
