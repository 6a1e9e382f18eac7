"""The one interface every generative model implements, so pages never care which model they show.

Images are float tensors (N, 1, 28, 28) in [0, 1]; latent codes are flat (N, latent_dim) with a Gaussian prior
(standard normal, or for the flow's coarsest half of z a mixture of Gaussians), so every model can be sampled,
interpolated and fitted in the same way.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

# How ``encode`` reaches z: the flow inverts exactly, the continuous flow solves its ODE backwards (exact up to the
# solver's steps), the VAE returns its encoder's posterior mean, the GAN has no encoder and optimises z until G(z)
# matches the image (approximate, slower).
Inversion = Literal["exact", "ode", "posterior-mean", "optimised"]


class GenerativeModel(nn.Module):
    """Base class of every generative model: ``encode``, ``decode`` and ``sample`` over a Gaussian latent."""

    kind: str
    latent_dim: int
    inversion: Inversion
    channels_last_on_cpu = True  # served in oneDNN's channels-last layout on a CPU (``device.serving_layout``)
    far_codes_decode_to_static = False  # if True, few-shot Gaussians keep its codes within the examples' norms
    prior_centres = 1  # the codes a draw at temperature 0 gives: the prior's centre z = 0, or a mixture's means

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, 1, 28, 28) in [0, 1] -> latent codes (N, latent_dim)."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent codes (N, latent_dim) -> images (N, 1, 28, 28) in [0, 1]."""
        raise NotImplementedError

    def draw(self, z: torch.Tensor, **options) -> torch.Tensor:
        """Images from codes drawn at random rather than encoded: ``decode`` (``options`` go to it), where a model
        may trade the last bits of exactness for speed, as no round trip runs through it."""
        return self.decode(z, **options)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def sample_latent(self, n: int, temperature: float = 1.0,
                      generator: torch.Generator | int | None = None) -> torch.Tensor:
        """``n`` codes from the prior N(0, temperature^2 I), drawn on the CPU so a seed gives the same codes on any device."""
        if n < 0 or not temperature >= 0:
            raise ValueError(f"need n >= 0 and temperature >= 0, got n={n}, temperature={temperature}")
        if isinstance(generator, int):  # a seed
            generator = torch.Generator().manual_seed(generator)
        z = torch.randn(n, self.latent_dim, generator=generator) * temperature
        return z.to(self.device)

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0,
               generator: torch.Generator | int | None = None) -> torch.Tensor:
        """``n`` images (n, 1, 28, 28) in [0, 1] decoded from the prior at ``temperature``; ``generator`` may be a
        seed."""
        return self.draw(self.sample_latent(n, temperature, generator))
