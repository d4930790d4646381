"""DRAW's selective attention (Gregor et al. 2015, Sec. 3): Gaussian filterbanks that read an
N x N glimpse from an image and write an N x N patch onto a canvas.

Five numbers from the decoder's state place the grid: its centre ``(g_x, g_y)``, the stride
``delta`` between filters, the filters' variance ``sigma^2`` and an intensity ``gamma``. Filter
``i`` of the horizontal bank is a Gaussian over the image's columns centred at
``mu_i = g_x + (i - N/2 - 1/2) delta``, normalised to sum to one over the columns; likewise
vertically. Reading is ``gamma F_Y x F_X^T`` and writing is ``(1 / gamma) F_Y^T w F_X``: both are
differentiable in where they look, so where to look is learned by the ELBO's gradient.

Every function works over any number of leading dimensions (particles, data points).
"""

from __future__ import annotations

import torch
from torch import nn

# Keeps a filterbank's normaliser away from 0 when every filter lies far outside the image.
FILTER_EPS = 1e-8


def filterbank(centre, log_stride, log_variance, size: int, length: int, image_extent: int):
    """Normalised Gaussian filters ``(..., size, length)`` along one image axis.

    ``centre`` in image coordinates (``0 .. length - 1``), one per leading index; the stride is
    scaled as in the paper, ``(extent - 1) / (size - 1) * exp(log_stride)``.
    """
    stride = (image_extent - 1) / max(size - 1, 1) * log_stride.exp()  # (...,)
    offsets = torch.arange(size, device=centre.device, dtype=centre.dtype) - (size - 1) / 2
    means = centre[..., None] + offsets * stride[..., None]  # (..., size)
    pixels = torch.arange(length, device=centre.device, dtype=centre.dtype)
    squared = (pixels - means[..., None]) ** 2  # (..., size, length)
    filters = torch.exp(-squared / (2 * log_variance.exp()[..., None, None]))
    return filters / (filters.sum(-1, keepdim=True) + FILTER_EPS)


class Attention(nn.Module):
    """Places an N x N grid of filters on an ``(height, width)`` image from a state vector."""

    def __init__(self, state_dim: int, image_shape: tuple[int, int], size: int):
        super().__init__()
        self.height, self.width = image_shape
        self.size = size
        self.params = nn.Linear(state_dim, 5)  # g_x, g_y, log delta, log sigma^2, log gamma

    def banks(self, state: torch.Tensor):
        """``(F_x (..., N, W), F_y (..., N, H), gamma (...,))`` from ``state (..., state_dim)``."""
        gx, gy, log_stride, log_variance, log_gamma = self.params(state).unbind(-1)
        extent = max(self.height, self.width)
        # Centres: (tilde g + 1) / 2 spans the image, as (A + 1) / 2 (g + 1) in the paper.
        centre_x = (self.width - 1) * (gx + 1) / 2
        centre_y = (self.height - 1) * (gy + 1) / 2
        f_x = filterbank(centre_x, log_stride, log_variance, self.size, self.width, extent)
        f_y = filterbank(centre_y, log_stride, log_variance, self.size, self.height, extent)
        return f_x, f_y, log_gamma.exp()

    def read(self, images: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """Glimpses ``(..., N * N)`` of flattened images ``(..., H * W)``."""
        f_x, f_y, gamma = self.banks(state)
        grid = images.reshape(images.shape[:-1] + (self.height, self.width))
        glimpse = f_y @ grid @ f_x.transpose(-1, -2)  # (..., N, N)
        return gamma[..., None] * glimpse.flatten(-2)

    def write(self, patch: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """The flattened image ``(..., H * W)`` that an N x N ``patch (..., N * N)`` paints."""
        f_x, f_y, gamma = self.banks(state)
        patch = patch.reshape(patch.shape[:-1] + (self.size, self.size))
        image = f_y.transpose(-1, -2) @ patch @ f_x  # (..., H, W)
        return image.flatten(-2) / gamma[..., None]
