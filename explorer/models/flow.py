"""A Glow-style multi-scale normalizing flow: exact encode X -> Z and decode Z -> X.

Follows Glow (Kingma & Dhariwal 2018, https://arxiv.org/abs/1807.03039): each step is ActNorm,
an invertible 1x1 convolution (LU-parametrised) and an affine coupling; the image is squeezed to
4 x 14 x 14, half of it is factored out after the first level with a learned conditional prior,
and the rest is squeezed to 8 x 7 x 7 for the second level. Preprocessing follows RealNVP
(Dinh et al. 2017, https://arxiv.org/abs/1605.08803): uniform dequantization and a logit transform. An optional
learned dequantizer (Flow++) tightens the likelihood bound without changing the map between images and codes.

Why Glow rather than RealNVP's hand-made checkerboard masks: the 1x1 convolution learns the channel
permutation, ActNorm keeps small batches stable, and the coupling network (3x3, 1x1, 3x3 convolutions)
runs at 14 x 14 or 7 x 7, which makes training affordable on a laptop CPU.
Departures from the paper: two levels (28 is not divisible by 8), and the conditional prior of the factored-out
half is folded into the flow as an affine bijection, so that half of z is standard normal. The other half, level 2's
7 x 7 code, where a digit's shape is decided, has N(0, I) as its prior or a mixture of Gaussians fitted to the
training digits' codes (``models.mixture``): a sample is drawn from a digit's cluster of codes, not from between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..device import fast_bf16
from .base import GenerativeModel
from .mixture import GaussianMixture

IMAGE_DIM = 28 * 28
HALF = IMAGE_DIM // 2  # z[:, :HALF] is the 14 x 14 half factored out after level 1, z[:, HALF:] level 2's 7 x 7 code
# Codes far from the data can overflow float32 in the inverse (a coupling divides by a scale near zero).
# Encoded digits stay within a few tens; bounding activations here keeps such samples finite.
INVERSE_LIMIT = 1e4


def _bounded(x: torch.Tensor) -> torch.Tensor:
    return torch.nan_to_num(x, nan=0.0, posinf=INVERSE_LIMIT, neginf=-INVERSE_LIMIT).clamp(-INVERSE_LIMIT, INVERSE_LIMIT)


@dataclass
class FlowConfig:
    steps_per_level: int = 8
    hidden_channels: int = 128
    alpha: float = 0.05  # logit transform: p = alpha + (1 - 2 alpha) x, as in RealNVP
    # "plain": Glow's coupling net (3x3, 1x1, 3x3 convolutions) and sigmoid scale.
    # "gated": gated residual blocks with channel layer norm and a tanh-bounded scale, as in Flow++
    # (Ho et al. 2019, https://arxiv.org/abs/1902.00275); the bound keeps the inverse from blowing up.
    coupling: str = "plain"
    blocks: int = 2  # gated residual blocks per coupling net ("gated" only)
    dequantizer_channels: int = 0  # width of the learned dequantizer's net (see Dequantizer); 0: none
    # Steps appended to level 2, each with nets this wide: capacity added to a trained flow where its samples' shape
    # is decided (7 x 7). Each starts as the identity, so training goes on from the trained flow's likelihood
    # ("gated" only: a "plain" coupling starts as a scale of sigmoid(2), not as the identity).
    grown_steps: int = 0
    grown_hidden_channels: int = 0
    prior_components: int = 0  # level 2's prior: 0 for N(0, I), else a mixture of this many full-covariance Gaussians


def squeeze(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, 4C, H/2, W/2), each 2x2 block becomes 4 channels."""
    n, c, h, w = x.shape
    x = x.view(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(n, c * 4, h // 2, w // 2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    """(N, 4C, H, W) -> (N, C, 2H, 2W), the inverse of ``squeeze``."""
    n, c, h, w = x.shape
    x = x.view(n, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(n, c // 4, h * 2, w * 2)


class ActNorm(nn.Module):
    """Per-channel affine map initialised from the first batch to zero mean, unit variance."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.logs = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.tensor(0, dtype=torch.uint8))

    @torch.no_grad()
    def _init_from(self, x: torch.Tensor) -> None:
        self.bias.copy_(-x.mean(dim=(0, 2, 3), keepdim=True))
        self.logs.copy_(-torch.log(x.std(dim=(0, 2, 3), keepdim=True) + 1e-6))
        self.initialized.fill_(1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.initialized:
            self._init_from(x)
        log_det = self.logs.sum() * x.shape[2] * x.shape[3]
        return (x + self.bias) * torch.exp(self.logs), log_det.expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_det = -self.logs.sum() * y.shape[2] * y.shape[3]
        return y * torch.exp(-self.logs) - self.bias, log_det.expand(y.shape[0])


class InvConv1x1(nn.Module):
    """Invertible 1x1 convolution W = P L (U + diag(s)), so log|det W| = sum log|s| costs nothing."""

    def __init__(self, channels: int, identity: bool = False):
        super().__init__()
        w = torch.eye(channels) if identity else torch.linalg.qr(torch.randn(channels, channels))[0]
        p, lower, upper = torch.linalg.lu(w)
        s = torch.diagonal(upper)
        self.register_buffer("p", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.lower = nn.Parameter(lower)
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(torch.log(torch.abs(s)))

    def weight(self) -> torch.Tensor:
        eye = torch.eye(self.p.shape[0], device=self.p.device, dtype=self.p.dtype)
        lower = self.lower * self.lower_mask + eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * torch.exp(self.log_s))
        return self.p @ lower @ upper

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_det = self.log_s.sum() * x.shape[2] * x.shape[3]
        with torch.autocast(x.device.type, enabled=False):  # the bijection stays float32 under mixed precision
            return F.conv2d(x, self.weight()[:, :, None, None]), log_det.expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_det = -self.log_s.sum() * y.shape[2] * y.shape[3]
        w_inv = torch.linalg.inv(self.weight().double()).to(y.dtype)
        return F.conv2d(y, w_inv[:, :, None, None]), log_det.expand(y.shape[0])


class ZeroConv(nn.Module):
    """3x3 convolution starting at zero output, so each new layer begins as the identity map."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.scale = nn.Parameter(torch.zeros(1, out_channels, 1, 1))
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * torch.exp(3 * self.scale)


def concat_elu(x: torch.Tensor) -> torch.Tensor:
    """ELU of x and of -x side by side: a nonlinearity that keeps the information of both signs."""
    return F.elu(torch.cat([x, -x], dim=1))


class GatedBlock(nn.Module):
    """x + a * sigmoid(b) from a 3x3 and a 1x1 convolution, then a layer norm over the channels at each position."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(2 * channels, channels, 3, padding=1)
        self.gate = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.gate(concat_elu(self.conv(concat_elu(x)))).chunk(2, dim=1)
        x = x + value * torch.sigmoid(gate)
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class AffineCoupling(nn.Module):
    """Keeps the first half of the channels and scales and shifts the second half by a function of the first."""

    def __init__(self, channels: int, hidden: int, kind: str = "plain", blocks: int = 2):
        super().__init__()
        self.kind = kind
        if kind == "plain":
            self.net = nn.Sequential(
                nn.Conv2d(channels // 2, hidden, 3, padding=1), nn.ReLU(),
                nn.Conv2d(hidden, hidden, 1), nn.ReLU(),
                ZeroConv(hidden, channels),
            )
        elif kind == "gated":
            self.net = nn.Sequential(
                nn.Conv2d(channels // 2, hidden, 3, padding=1),
                *[GatedBlock(hidden) for _ in range(blocks)],
                nn.ELU(), ZeroConv(hidden, channels),
            )
            self.log_bound = nn.Parameter(torch.zeros(1, channels // 2, 1, 1))
        else:
            raise ValueError(f"unknown coupling {kind!r}; known: plain, gated")

    def _log_scale_shift(self, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.net(kept).float()  # the net may run in bf16 (autocast); the bijection stays float32
        if self.kind == "plain":
            return F.logsigmoid(h[:, 1::2] + 2.0), h[:, 0::2]  # Glow's sigmoid scale, near 1 at the start
        bound = torch.exp(self.log_bound)  # |log scale| < bound, learned per channel
        return bound * torch.tanh(h[:, 1::2] / bound), h[:, 0::2]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        kept, changed = x.chunk(2, dim=1)
        log_scale, shift = self._log_scale_shift(kept)
        changed = (changed + shift) * torch.exp(log_scale)
        return torch.cat([kept, changed], dim=1), log_scale.flatten(1).sum(1)

    def inverse(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        kept, changed = y.chunk(2, dim=1)
        log_scale, shift = self._log_scale_shift(kept)
        changed = changed * torch.exp(-log_scale) - shift
        return torch.cat([kept, changed], dim=1), -log_scale.flatten(1).sum(1)


class Dequantizer(nn.Module):
    """q(u | x): where inside its 1/256-wide bin each pixel of image x lies, learned for a tighter likelihood bound.

    Variational dequantization (Flow++, Ho et al. 2019, https://arxiv.org/abs/1902.00275): log P(x) is at least
    E_q[log p((pixels + u) / 256) - log q(u | x)], and the gap shrinks as q matches the flow's density inside the
    image's bins, which uniform u (the bound training uses) ignores. Here each pixel's u = sigmoid(m + s eps),
    eps ~ N(0, 1), with m and log s from a small convolutional net on the image (19,000 weights at 32 channels).
    Trained with the flow frozen (``train flow --dequantizer 32 --freeze-flow``), it leaves encoding, sampling and
    the uniform bound as they are.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.ELU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.ELU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.ELU(),
            ZeroConv(channels, 2),
        )

    def forward(self, x: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images x (N, 1, 28, 28) in [0, 1] and standard normal noise eps of their shape -> u in (0, 1) of that
        shape and log q(u | x) (N,)."""
        h = self.net(2 * x - 1).float()
        mean, log_scale = h[:, :1], h[:, 1:]
        a = mean + torch.exp(log_scale) * eps
        log_q = -0.5 * eps ** 2 - 0.5 * math.log(2 * math.pi) - log_scale - F.logsigmoid(a) - F.logsigmoid(-a)
        return torch.sigmoid(a), log_q.flatten(1).sum(1)


class FlowStep(nn.Module):
    """ActNorm, 1x1 convolution, coupling; an ``identity`` step starts as the identity map (its coupling always
    does), for growing a trained flow without changing what it has learnt."""

    def __init__(self, channels: int, hidden: int, coupling: str = "plain", blocks: int = 2, identity: bool = False):
        super().__init__()
        norm = ActNorm(channels)
        if identity:
            norm.initialized.fill_(1)  # bias 0 and scale 1 as they are, not set from the first batch
        self.layers = nn.ModuleList([norm, InvConv1x1(channels, identity),
                                     AffineCoupling(channels, hidden, coupling, blocks)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_det = 0
        for layer in self.layers:
            x, ld = layer(x)
            log_det = log_det + ld
        return x, log_det

    def inverse(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_det = 0
        for layer in reversed(self.layers):
            y, ld = layer.inverse(y)
            y, log_det = _bounded(y), log_det + ld
        return y, log_det


class FactorOut(nn.Module):
    """Standardises the factored-out half by a Gaussian whose mean and scale depend on the kept half."""

    def __init__(self, channels: int):
        super().__init__()
        self.prior = ZeroConv(channels // 2, channels)

    def _mean_logs(self, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.prior(kept).float()
        return h[:, 0::2], h[:, 1::2]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(N, C, H, W) -> kept (N, C/2, H, W), standardised z (N, C/2, H, W), log_det (N,)."""
        kept, dropped = x.chunk(2, dim=1)
        mean, logs = self._mean_logs(kept)
        return kept, (dropped - mean) * torch.exp(-logs), -logs.flatten(1).sum(1)

    def inverse(self, kept: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logs = self._mean_logs(kept)
        return torch.cat([kept, z * torch.exp(logs) + mean], dim=1), logs.flatten(1).sum(1)


class Flow(GenerativeModel):
    """Density model of MNIST digits with an exact, invertible map between images and a 784-D code z."""

    kind = "flow"
    latent_dim = IMAGE_DIM
    inversion = "exact"
    far_codes_decode_to_static = True  # measured: most of its static comes from codes beyond every example's norm

    def __init__(self, config: FlowConfig):
        super().__init__()
        self.config = config
        k, hidden, net = config.steps_per_level, config.hidden_channels, (config.coupling, config.blocks)
        if config.grown_steps and config.coupling != "gated":
            raise ValueError("grown steps start as the identity only with the gated coupling")
        self.level1 = nn.ModuleList([FlowStep(4, hidden, *net) for _ in range(k)])  # on 4 x 14 x 14
        self.factor_out = FactorOut(4)
        self.level2 = nn.ModuleList([FlowStep(8, hidden, *net) for _ in range(k)]  # on 8 x 7 x 7
                                    + [FlowStep(8, config.grown_hidden_channels, *net, identity=True)
                                       for _ in range(config.grown_steps)])
        self.dequantizer = Dequantizer(config.dequantizer_channels) if config.dequantizer_channels else None
        self.prior = GaussianMixture(config.prior_components, IMAGE_DIM - HALF) if config.prior_components else None

    # -- the bijection between continuous images y in (0, 1) and z -----------------------------------

    def _logit(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.config.alpha
        p = a + (1 - 2 * a) * y
        log_det = (math.log(1 - 2 * a) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(1)
        return torch.log(p) - torch.log1p(-p), log_det

    def _sigmoid(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.config.alpha
        p = torch.sigmoid(s)
        log_det = (torch.log(p) + torch.log1p(-p) - math.log(1 - 2 * a)).flatten(1).sum(1)
        return (p - a) / (1 - 2 * a), log_det

    def forward(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Continuous images y (N, 1, 28, 28) in (0, 1) -> z (N, 784) and log|det dz/dy| (N,)."""
        return self.upper(*self.lower(y))

    def lower(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The first half of ``forward``, up to level 1's output h (N, 4, 14, 14), with log|det dh/dy| (N,): most of
        its work, as level 1 runs on four times the positions of level 2."""
        h, log_det = self._logit(y)
        h = squeeze(h)  # (N, 4, 14, 14)
        for step in self.level1:
            h, ld = step(h)
            log_det = log_det + ld
        return h, log_det

    def upper(self, h: torch.Tensor, log_det: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The rest of ``forward``: level 1's output h and the log-det so far -> z (N, 784) and the whole log-det."""
        h, z1, ld = self.factor_out(h)  # h, z1: (N, 2, 14, 14)
        log_det = log_det + ld
        h = squeeze(h)  # (N, 8, 7, 7)
        for step in self.level2:
            h, ld = step(h)
            log_det = log_det + ld
        return torch.cat([z1.flatten(1), h.flatten(1)], dim=1), log_det

    def inverse(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z (N, 784) -> continuous images y (N, 1, 28, 28) and log|det dy/dz| (N,)."""
        n = z.shape[0]
        z1, h = z[:, :HALF].reshape(n, 2, 14, 14), z[:, HALF:].reshape(n, 8, 7, 7)
        log_det = torch.zeros(n, device=z.device, dtype=z.dtype)
        for step in reversed(self.level2):
            h, ld = step.inverse(h)
            log_det = log_det + ld
        h, ld = self.factor_out.inverse(unsqueeze(h), z1)  # (N, 4, 14, 14)
        log_det = log_det + ld
        for step in reversed(self.level1):
            h, ld = step.inverse(h)
            log_det = log_det + ld
        y, ld = self._sigmoid(unsqueeze(h))
        return y, log_det + ld

    # -- densities -------------------------------------------------------------------------------

    @staticmethod
    def dequantize(x: torch.Tensor, generator: torch.Generator | None = None,
                   noise: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1] (pixel / 255) -> (pixel + u) / 256: u is ``noise`` when given (training's own uniform
        draws), else U(0, 1) from ``generator``, else 1/2."""
        pixels = torch.round(x * 255)
        if noise is not None:
            return (pixels + noise) / 256
        if generator is None:
            return (pixels + 0.5) / 256
        u = torch.rand(x.shape, generator=generator).to(x.device)
        return (pixels + u) / 256

    def log_prob(self, x: torch.Tensor, generator: torch.Generator | None = None,
                 noise: torch.Tensor | None = None) -> torch.Tensor:
        """Log-likelihood in nats of the discrete images ``x`` (N, 1, 28, 28), a lower bound through dequantization.

        Training passes its own uniform ``noise``; evaluation a seeded ``generator``.
        """
        return self.log_prob_from(*self(self.dequantize(x, generator, noise)))

    def learned_log_prob(self, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """One draw of the learned dequantization bound (N,) in nats, log p(x + u) - log q(u | x), with u from
        the ``Dequantizer`` driven by standard normal ``eps`` (N, 1, 28, 28)."""
        u, log_q = self.dequantizer(x, eps)
        return self.log_prob(x, noise=u) - log_q

    def importance_weighted_log_prob(self, x: torch.Tensor, draws: int, generator: torch.Generator | None = None,
                                     learned: bool = True) -> torch.Tensor:
        """log of the mean of p(x + u) / q(u | x) over ``draws`` draws of the learned dequantizer, or of uniform
        ones (q = 1) when not ``learned`` (N,) in nats: a lower bound on the discrete log-likelihood that tightens
        as ``draws`` grows (Burda et al. 2016)."""
        def one_draw() -> torch.Tensor:
            if not learned:
                return self.log_prob(x, generator)
            return self.learned_log_prob(x, torch.randn(x.shape, generator=generator).to(x.device))
        return torch.logsumexp(torch.stack([one_draw() for _ in range(draws)]), 0) - math.log(draws)

    def log_prob_from(self, z: torch.Tensor, log_det: torch.Tensor) -> torch.Tensor:
        """Discrete log-likelihood (N,) in nats from ``forward``'s outputs: prior, Jacobian, 256 bins a pixel."""
        return self.prior_log_prob(z) + log_det - IMAGE_DIM * math.log(256)

    def prior_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) (N,) in nats: N(0, I) on the factored-out half, level 2's prior on the rest."""
        if self.prior is None:
            return standard_normal_log_prob(z)
        return standard_normal_log_prob(z[:, :HALF]) + self.prior.log_prob(z[:, HALF:])

    def bits_per_dim(self, x: torch.Tensor, generator: torch.Generator | None = None,
                     noise: torch.Tensor | None = None) -> torch.Tensor:
        """Negative log-likelihood of each image (N,) in bits per pixel."""
        return -self.log_prob(x, generator, noise) / (IMAGE_DIM * math.log(2))

    # -- the shared interface -------------------------------------------------------------------

    @property
    def prior_centres(self) -> int:
        return 1 if self.prior is None else self.prior.components

    def sample_latent(self, n: int, temperature: float = 1.0,
                      generator: torch.Generator | int | None = None) -> torch.Tensor:
        """``n`` codes from the prior, its spread scaled by ``temperature``: with a mixture at level 2, each level-2
        code is a component's mean plus its scaled noise, so temperature 0 gives the components' means."""
        if isinstance(generator, int):  # a seed
            generator = torch.Generator().manual_seed(generator)
        z = super().sample_latent(n, temperature, generator)
        if self.prior is not None:
            z[:, HALF:] = self.prior.place(z[:, HALF:], generator)
        return z

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self(self.dequantize(x))[0]

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.inverse(z)[0].clamp(0, 1)

    @torch.no_grad()
    def draw(self, z: torch.Tensor) -> torch.Tensor:
        """``decode`` in bfloat16 where the device runs it natively: faster on a CPU with bf16 instructions
        (bench/results/pages.md: the Samples page's work), with samples the classifier reads alike; ``decode``
        stays float32, exact for round trips."""
        with torch.autocast(z.device.type, dtype=torch.bfloat16, enabled=fast_bf16(z.device)):
            return self.inverse(z)[0].float().clamp(0, 1)

    @torch.no_grad()
    def initialize(self, x: torch.Tensor) -> None:
        """Data-dependent ActNorm initialisation from one batch of images (N, 1, 28, 28)."""
        self(self.dequantize(x))


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) (N,) in nats of codes z (N, D)."""
    return -0.5 * (z ** 2).sum(1) - 0.5 * z.shape[1] * math.log(2 * math.pi)
