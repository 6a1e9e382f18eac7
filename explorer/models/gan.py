"""A DCGAN-family generative adversarial network whose ``encode`` inverts the generator by optimising z.

Follows DCGAN (Radford et al. 2016, https://arxiv.org/abs/1511.06434): the generator projects z with
one linear layer to 7 x 7 feature maps and doubles the resolution twice with strided 4x4 transposed
convolutions, batch normalisation and ReLU; the discriminator mirrors it with strided 4x4 convolutions
and LeakyReLU(0.2), no pooling. Departures: 28 x 28 images need two upsamplings instead of four; the
output is a sigmoid over [0, 1] pixels rather than tanh over [-1, 1] (the same map rescaled); the
discriminator has a third convolution (28 -> 14 -> 7 -> 4) before its linear layer, because with two its
features saw only 10 x 10 patches and it let clean strokes in wrong shapes pass; and, as in the paper,
there is no batch norm on the discriminator's first layer.

With ``loss="wgan-gp"`` the discriminator is the critic of WGAN-GP (Gulrajani et al. 2017,
https://arxiv.org/abs/1704.00028): the same network without batch normalisation, since the gradient
penalty is taken per sample and batch statistics would couple the samples.

With ``loss="hinge"`` the discriminator is spectrally normalised (Miyato et al. 2018,
https://arxiv.org/abs/1802.05957) and trained with the hinge loss: each layer's largest singular value is held at
one, which keeps D smooth without batch statistics or a penalty; a known-good recipe for small images.

With ``digit_code=True`` the discriminator is also told each image's digit: a real image's label, and for a
generated one the digit its code names, the place of the largest of the code's first nine coordinates
(``code_digits``). The generator stays a smooth function of z, but it learns to draw in each of those nine
cones of codes one digit, clearly, instead of whatever passes as some digit; codes stay plain N(0, I) draws.
With ``digit_input > 0`` the generator also sees its code's digit, as ``softmax(z[:9] / digit_input)`` (``code_hint``):
a one-hot everywhere but within about ``digit_input`` of a cone's border, so G need not find the border in z itself,
and G stays a smooth function of z: a straight line between codes changes digit quickly, not by a jump, where it
crosses a border.

A GAN has no inference network, so ``encode`` finds "the closest point on the manifold": it starts
from a small encoder's guess (trained on pairs (G(z), z)) and refines z with Adam on the pixel error.
The result is approximate; ``invert`` also returns the reconstruction and its error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ..data import SEEN_DIGITS
from .base import GenerativeModel

Loss = Literal["nonsaturating", "wgan-gp", "hinge"]
LOSSES = ("nonsaturating", "wgan-gp", "hinge")


@dataclass
class GANConfig:
    latent_dim: int = 64
    g_width: int = 64  # generator channels at 14 x 14; twice as many at 7 x 7
    d_width: int = 32  # discriminator channels at 14 x 14; twice as many at 7 x 7 (half G's: D costs 3 passes a step)
    e_width: int = 32  # first-guess encoder channels at 14 x 14; 0 for no encoder
    g_blocks: int = 0  # extra 3x3 convolutions in the generator at 7 x 7 and at 14 x 14 (depth, not width)
    loss: Loss = "nonsaturating"
    digit_code: bool = False  # D is told each image's digit; a code's digit is where its first nine coordinates peak
    digit_input: float = 0.0  # > 0: G also sees its code's digit, softmax(z[:9] / digit_input); needs digit_code


def convolutions(channels: int, n: int) -> list[nn.Module]:
    """``n`` resolution-keeping 3x3 convolutions with batch norm and ReLU, the generator's optional depth."""
    return [layer for _ in range(n) for layer in (nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                                                  nn.BatchNorm2d(channels), nn.ReLU())]


class Generator(nn.Module):
    """z (N, latent_dim) -> images (N, 1, 28, 28) in [0, 1]."""

    def __init__(self, latent_dim: int, width: int, blocks: int = 0, digit_input: float = 0.0):
        super().__init__()
        self.digit_input = digit_input
        hint = len(SEEN_DIGITS) if digit_input else 0
        self.net = nn.Sequential(
            nn.Linear(latent_dim + hint, 2 * width * 7 * 7, bias=False),
            nn.Unflatten(1, (2 * width, 7, 7)),
            nn.BatchNorm2d(2 * width), nn.ReLU(),
            *convolutions(2 * width, blocks),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),  # (N, width, 14, 14)
            nn.BatchNorm2d(width), nn.ReLU(),
            *convolutions(width, blocks),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1),  # (N, 1, 28, 28)
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.digit_input:
            z = torch.cat([z, code_hint(z, self.digit_input)], 1)
        return self.net(z)


def code_hint(z: torch.Tensor, temperature: float) -> torch.Tensor:
    """The digit each code (N, latent_dim) names as a smooth one-hot (N, 9): a softmax of its first nine coordinates
    at ``temperature``, whose largest entry is ``code_digits``'s digit."""
    return torch.softmax(z[:, :len(SEEN_DIGITS)].float() / temperature, 1).to(z.dtype)


def code_digits(z: torch.Tensor) -> torch.Tensor:
    """The digit each code (N, latent_dim) names: the place of the largest of its first nine coordinates (N,).

    Under N(0, I) every digit is named equally often, and the codes of one digit form a cone, so a generator can
    map each cone onto its digit and still be a smooth function of z."""
    return z[:, :len(SEEN_DIGITS)].argmax(1)


class Discriminator(nn.Module):
    """Images (N, 1, 28, 28), optionally their digits (N,) -> one logit (or, for WGAN-GP, one critic score) each (N,).

    Told the digits (``digits=True``), it is a projection discriminator (Miyato and Koyama 2018,
    https://arxiv.org/abs/1802.05637): its score gains the inner product of its features with a learned vector for
    the digit, so a clear 3 passes only where a 3 was asked for.
    """

    def __init__(self, width: int, batch_norm: bool, spectral: bool = False, digits: bool = False):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=1),  # (N, width, 14, 14)
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1, bias=not batch_norm),  # (N, 2 width, 7, 7)
            nn.BatchNorm2d(2 * width) if batch_norm else nn.Identity(),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1, bias=not batch_norm),  # (N, 4 width, 4, 4)
            nn.BatchNorm2d(4 * width) if batch_norm else nn.Identity(),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(4 * width * 4 * 4, 1),
        )
        self.embed = nn.Embedding(len(SEEN_DIGITS), 4 * width * 4 * 4) if digits else None
        if spectral:
            for layer in [*self.net, self.embed]:
                if isinstance(layer, (nn.Conv2d, nn.Linear, nn.Embedding)):
                    nn.utils.parametrizations.spectral_norm(layer)

    def forward(self, x: torch.Tensor, digits: torch.Tensor | None = None) -> torch.Tensor:
        features = self.net[:-1](2 * x - 1)  # the network sees [-1, 1], as in DCGAN
        score = self.net[-1](features).squeeze(1)
        if self.embed is not None:
            score = score + (self.embed(digits) * features).sum(1)
        return score


class Encoder(nn.Module):
    """Images (N, 1, 28, 28) -> a first guess of z (N, latent_dim); no batch norm, so each image is on its own."""

    def __init__(self, latent_dim: int, width: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # (N, width, 14, 14)
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # (N, 2 width, 7, 7)
            nn.Flatten(),
            nn.Linear(2 * width * 7 * 7, latent_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(2 * x - 1)


class GAN(GenerativeModel):
    """Generator, discriminator and first-guess encoder; pages use ``decode``, ``sample``, ``encode`` and ``invert``."""

    kind = "gan"
    inversion = "optimised"

    def __init__(self, config: GANConfig):
        super().__init__()
        if config.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, not {config.loss!r}")
        self.config = config
        self.latent_dim = config.latent_dim
        if config.digit_code and config.latent_dim < len(SEEN_DIGITS):
            raise ValueError(f"digit_code needs a latent_dim of at least {len(SEEN_DIGITS)}: a code names its digit "
                             "by its first nine coordinates")
        if config.digit_input and not config.digit_code:
            raise ValueError("digit_input needs digit_code: the generator's digit is the one D checks")
        self.generator = Generator(config.latent_dim, config.g_width, config.g_blocks, config.digit_input)
        self.discriminator = Discriminator(config.d_width, batch_norm=config.loss == "nonsaturating",
                                           spectral=config.loss == "hinge", digits=config.digit_code)
        self.encoder = Encoder(config.latent_dim, config.e_width) if config.e_width else None

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)

    def encode(self, x: torch.Tensor, steps: int = 20, lr: float = 0.1, prior_weight: float = 0.01,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Images (N, 1, 28, 28) -> codes (N, latent_dim) whose G(z) is close to them; see ``invert``."""
        return self.invert(x, steps, lr, prior_weight, generator)[0]

    def invert(self, x: torch.Tensor, steps: int = 20, lr: float = 0.1, prior_weight: float = 0.01,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Optimise z for each image: -> z (N, latent_dim), G(z) (N, 1, 28, 28), pixel MSE of each image (N,).

        Minimises mean squared pixel error plus ``prior_weight`` (|z| / sqrt(d) - 1)^2, which keeps z near
        the shell where N(0, I) puts its mass, by ``steps`` of Adam whose learning rate decays from ``lr``
        along a half cosine, so the last steps settle instead of circling the optimum. Starts from the
        encoder's guess, or without an encoder from N(0, I) drawn with ``generator``. Every image is
        optimised on its own (the loss is a sum over images and Adam works per coordinate), so batching
        does not change the result. Only z receives gradients; the model's weights and buffers are never
        changed, so a shared model is safe.

        The defaults favour speed, so a page that encodes a batch stays responsive on a CPU; more steps lower
        the error a little at a proportional cost.
        """
        if self.training:
            raise RuntimeError("invert needs the model in eval mode (batch norm would use and update batch statistics)")
        d = self.latent_dim
        with torch.inference_mode(False), torch.enable_grad():
            target = x.detach().clone()  # a normal tensor, even when the caller runs under inference_mode
            if self.encoder is not None:
                start = self.encoder(target).detach()
            else:
                start = torch.randn(len(target), d, generator=generator).to(target.device)
            z = start.clone().requires_grad_(True)
            optimizer = torch.optim.Adam([z], lr=lr)
            for step in range(steps):
                optimizer.param_groups[0]["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
                error = (self.generator(z) - target).pow(2).flatten(1).mean(1)
                shell = (z.norm(dim=1) / math.sqrt(d) - 1).pow(2)
                (grad,) = torch.autograd.grad((error + prior_weight * shell).sum(), [z])
                z.grad = grad
                optimizer.step()
            z = z.detach()
        with torch.no_grad():
            reconstruction = self.generator(z)
        return z, reconstruction, (reconstruction - target).pow(2).flatten(1).mean(1)
