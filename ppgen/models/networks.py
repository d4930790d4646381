"""Encoder and decoder networks for the deep latent-variable models (VAE).

Every network maps ``(..., in_features) -> (..., out_features)`` over any number of leading
dimensions, because Pyro's vectorized particles put a sample dimension in front of the batch:
a decoder sees codes of shape ``(num_particles, batch, latent)``. The convolutional ones flatten the
leading dimensions into one batch for ``nn.Conv2d`` and restore them afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

ARCHITECTURES = ("mlp", "conv")
# Channels of the two stride-2 convolution stages; each halves the image's height and width.
CONV_CHANNELS = (32, 64)


def mlp(sizes: Sequence[int], activation=nn.ReLU, final_activation: bool = False) -> nn.Sequential:
    """``Linear`` layers through ``sizes`` with ``activation`` between them (and after the last
    one when ``final_activation``)."""
    layers = []
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if k < len(sizes) - 2 or final_activation:
            layers.append(activation())
    return nn.Sequential(*layers)


def image_shape_options(data) -> dict:
    """``{"image_shape": (height, width)}`` when ``data`` holds whole images, else ``{}``.

    Vector data and images with dropped constant columns have no shape a model could use.
    """
    shape = data.image_shape
    if shape is None or data.num_features != int(torch.tensor(shape).prod()):
        return {}
    return {"image_shape": tuple(shape)}


def check_image_shape(image_shape, data_dim: int) -> tuple[int, int]:
    """``(height, width)`` after checking that it matches ``data_dim`` and halves twice."""
    if image_shape is None:
        raise ValueError(
            "a convolutional encoder or decoder needs image_shape=(height, width) (the CLI takes "
            "it from the data set); use 'mlp' for vector data"
        )
    height, width = (int(s) for s in image_shape)
    if height * width != data_dim:
        raise ValueError(
            f"image_shape {tuple(image_shape)} has {height * width} pixels but the data have "
            f"{data_dim} features; convolutions need whole images (no drop_constant)"
        )
    if height % 4 or width % 4:
        raise ValueError(
            f"image_shape {tuple(image_shape)}: height and width must be multiples of 4 for the "
            "two stride-2 stages"
        )
    return height, width


def _flat_batch(x: torch.Tensor, event_dims: int) -> tuple[torch.Tensor, torch.Size]:
    """Merge the leading dimensions of ``x`` into one; return it and the leading shape."""
    leading = x.shape[: x.dim() - event_dims]
    return x.reshape((-1,) + x.shape[x.dim() - event_dims :]), leading


class ConvEncoder(nn.Module):
    """Image pixels ``(..., H * W)`` -> features ``(..., out_features)`` by two stride-2
    convolutions and a linear layer."""

    def __init__(self, image_shape, out_features: int, extra_features: int = 0):
        super().__init__()
        self.height, self.width = (int(s) for s in image_shape)
        c1, c2 = CONV_CHANNELS
        self.convs = nn.Sequential(
            nn.Conv2d(1, c1, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        flat = c2 * (self.height // 4) * (self.width // 4)
        # Extra inputs (a one-hot label) join after the convolutions.
        self.head = nn.Sequential(nn.Linear(flat + extra_features, out_features), nn.ReLU())
        self.extra_features = extra_features

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        images, leading = _flat_batch(x, 1)
        features = self.convs(images.reshape(-1, 1, self.height, self.width)).flatten(1)
        features = features.reshape(leading + features.shape[-1:])
        if extra is not None:
            features = torch.cat([features, extra], -1)
        return self.head(features)


class ConvDecoder(nn.Module):
    """Codes ``(..., in_features)`` -> pixel parameters ``(..., H * W)`` by a linear layer and two
    stride-2 transposed convolutions."""

    def __init__(self, in_features: int, image_shape, hidden: int):
        super().__init__()
        self.height, self.width = (int(s) for s in image_shape)
        c1, c2 = CONV_CHANNELS
        self.seed_shape = (c2, self.height // 4, self.width // 4)
        self.linear = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, c2 * (self.height // 4) * (self.width // 4)),
            nn.ReLU(),
        )
        self.deconvs = nn.Sequential(
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        codes, leading = _flat_batch(z, 1)
        images = self.deconvs(self.linear(codes).reshape((-1,) + self.seed_shape))
        return images.reshape(leading + (self.height * self.width,))


class MLPEncoder(nn.Module):
    """Pixels (and optional extra inputs) ``(..., D)`` -> features, by a ReLU MLP."""

    def __init__(self, in_features: int, hidden_dims: Sequence[int], extra_features: int = 0):
        super().__init__()
        self.net = mlp([in_features + extra_features, *hidden_dims], final_activation=True)

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x if extra is None else torch.cat([x, extra], -1))
