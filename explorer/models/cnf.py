"""A continuous normalizing flow trained by flow matching: an ODE carries Gaussian codes to digits and back.

Follows conditional flow matching on the straight path (Lipman et al. 2022, https://arxiv.org/abs/2210.02747;
rectified flow, Liu et al. 2022, https://arxiv.org/abs/2209.03003). Time convention: t = 0 is the Gaussian code
x0 ~ N(0, I), t = 1 the image, x_t = (1 - t) x0 + t x1, and the network v(x_t, t) learns the velocity x1 - x0.
Images live in data space d = 2 y - 1 for pixels y in [0, 1] (dequantized in training and likelihoods).

``decode`` integrates from t = 0 to 1, ``encode`` from 1 back to 0, both with a fixed-step fourth-order
Runge-Kutta solver, so a seed gives the same picture on any machine (up to the last bits of the arithmetic) and
``steps`` trades time for accuracy. The steps shorten toward the digit (t = 1), where the paths bend most.
``log_prob`` adds the instantaneous change of variables (Chen et al. 2018, https://arxiv.org/abs/1806.07366):
log p(x1) = log N(x0; 0, I) - integral of div v over the path, the divergence estimated with Hutchinson's
Rademacher probes (Grathwohl et al. 2019, FFJORD).

The velocity field is a small U-Net run on the squeezed image (4 x 14 x 14 then 7 x 7), so a solver step costs a few
milliseconds on a CPU: residual blocks with group norm and SiLU, the time entering every block as a learned shift.

Autoguidance (Karras et al. 2024, https://arxiv.org/abs/2406.02507): a model may carry a guide, a smaller field trained
briefly on the same data, and follow v_guide + w (v - v_guide) with guidance w > 1. Where the two agree (the broad
shape of a digit) nothing changes; where the small field errs (the smudges both make, worse in the guide) the solver is
pushed away from its error, so samples come out cleaner. The guided field is still one ODE: encode, decode and the
likelihood all follow it, and w = 1 is the trained field alone.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..device import fast_bf16
from .base import GenerativeModel
from .flow import IMAGE_DIM, Flow, squeeze, unsqueeze


LIKELIHOOD_STEPS = 32  # Runge-Kutta steps of ``log_prob``: within about 0.01 bits/dim of 64 on the shipped weights
# The solver's grid is t = 1 - (1 - s)^GRID_POWER for evenly spaced s: at the same steps as an even grid it gives a
# smaller round-trip error and samples nearer the test digits (bench/results/cnf_steps.md compares the two).
GRID_POWER = 1.25


@dataclass
class CNFConfig:
    channels: int = 32  # U-Net width at 14 x 14; twice this at 7 x 7
    blocks: int = 2  # residual blocks per resolution, on the way down and on the way up
    steps: int = 8  # Runge-Kutta steps of encode and decode (four network calls each)
    # The field in bfloat16 while encode and decode solve, where the device runs bf16 natively (the state and the
    # likelihood stay float32): about twice as fast on a CPU with bf16 instructions, with the same sample quality
    # and a round trip well within its bar (bench/results/cnf_steps.md measures both).
    bf16_solver: bool = True
    guide_channels: int = 0  # width of the guiding field (0: none)
    guide_blocks: int = 1
    guidance: float = 1.0  # w of autoguidance: 1 follows the trained field alone


def solver_times(steps: int) -> list[float]:
    """The solver's fixed time grid from t = 0 to 1 in ``steps`` steps, shorter toward the digit."""
    return [1 - (1 - i / steps) ** GRID_POWER for i in range(steps + 1)]


def runge_kutta(state: tuple[torch.Tensor, ...], times: list[float], field) -> tuple[torch.Tensor, ...]:
    """Classic fourth-order Runge-Kutta over the time grid ``times`` for a system whose derivatives
    ``field(state, t)`` returns, one tensor per part of ``state``."""
    def moved(by, h):
        return tuple(s + h * k for s, k in zip(state, by))

    for t, end in zip(times[:-1], times[1:]):
        h = end - t
        k1 = field(state, t)
        k2 = field(moved(k1, h / 2), t + h / 2)
        k3 = field(moved(k2, h / 2), t + h / 2)
        k4 = field(moved(k3, h), t + h)
        state = tuple(s + h / 6 * (a + 2 * b + 2 * c + d) for s, a, b, c, d in zip(state, k1, k2, k3, k4))
    return state


class TimeEmbedding(nn.Module):
    """t in [0, 1] -> a vector: sinusoids at geometric frequencies, then an MLP."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("freqs", torch.exp(torch.linspace(0, math.log(1000), dim // 2)), persistent=False)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = t[:, None] * self.freqs[None]
        return self.mlp(torch.cat([angles.sin(), angles.cos()], dim=1))


class ResBlock(nn.Module):
    def __init__(self, channels: int, time_dim: int):
        super().__init__()
        self.norm1, self.norm2 = nn.GroupNorm(8, channels), nn.GroupNorm(8, channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.time = nn.Linear(time_dim, channels)

    def forward(self, h: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.silu(self.norm1(h))) + self.time(temb)[:, :, None, None]
        return h + self.conv2(F.silu(self.norm2(out)))


class VelocityField(nn.Module):
    """v(x, t): images in data space (N, 1, 28, 28) and times (N,) -> velocities (N, 1, 28, 28)."""

    def __init__(self, channels: int, blocks: int):
        super().__init__()
        c, time_dim = channels, 4 * channels
        self.time = TimeEmbedding(time_dim)
        self.inp = nn.Conv2d(4, c, 3, padding=1)
        self.down = nn.ModuleList([ResBlock(c, time_dim) for _ in range(blocks)])
        self.to_low = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)
        self.low = nn.ModuleList([ResBlock(2 * c, time_dim) for _ in range(blocks)])
        self.to_high = nn.Conv2d(2 * c, c, 3, padding=1)
        self.merge = nn.Conv2d(2 * c, c, 1)
        self.up = nn.ModuleList([ResBlock(c, time_dim) for _ in range(blocks)])
        self.out = nn.Sequential(nn.GroupNorm(8, c), nn.SiLU(), nn.Conv2d(c, 4, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = self.time(t)
        h = self.inp(squeeze(x))  # (N, c, 14, 14)
        for block in self.down:
            h = block(h, temb)
        skip = h
        h = self.to_low(h)  # (N, 2c, 7, 7)
        for block in self.low:
            h = block(h, temb)
        h = self.to_high(F.interpolate(h, size=skip.shape[-2:], mode="nearest"))
        h = self.merge(torch.cat([h, skip], dim=1))
        for block in self.up:
            h = block(h, temb)
        return unsqueeze(self.out(h))


class CNF(GenerativeModel):
    """Digits as the end of an ODE from a 784-D Gaussian: exact-in-the-limit codes, reached numerically."""

    kind = "cnf"
    latent_dim = IMAGE_DIM
    inversion = "ode"

    def __init__(self, config: CNFConfig):
        super().__init__()
        self.config = config
        self.velocity = VelocityField(config.channels, config.blocks)
        self.guide = VelocityField(config.guide_channels, config.guide_blocks) if config.guide_channels else None
        if self.guide is not None:
            self.guide.requires_grad_(False)  # trained apart; training this model never moves it

    def attach_guide(self, guide: VelocityField, channels: int, blocks: int, guidance: float) -> None:
        """Follow v_guide + ``guidance`` (v - v_guide) from now on, ``guide`` a copy of a field ``channels`` wide with
        ``blocks`` blocks."""
        self.config = dataclasses.replace(self.config, guide_channels=channels, guide_blocks=blocks, guidance=guidance)
        self.guide = copy.deepcopy(guide).requires_grad_(False).to(self.device)

    def field(self, x: torch.Tensor, t: torch.Tensor, guidance: float | None = None) -> torch.Tensor:
        """The velocity the solver follows at images ``x`` and times ``t``: the trained field, pushed away from the
        guide's by ``guidance`` (default the config's) where the model has one."""
        v = self.velocity(x, t)
        w = self.config.guidance if guidance is None else guidance
        if self.guide is None or w == 1:
            return v
        v_guide = self.guide(x, t)
        return v_guide + w * (v - v_guide)

    @property
    def channels_last_on_cpu(self) -> bool:
        """Its group norms in bfloat16 run at half the speed channels-last; in float32 that layout is the faster
        one (``python -m bench models`` times both)."""
        return not (self.config.bf16_solver and fast_bf16(torch.device("cpu")))

    # -- training ----------------------------------------------------------------------------------

    @staticmethod
    def to_data(y: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> data space [-1, 1], where the ODE runs."""
        return 2 * y - 1

    def forward(self, x1: torch.Tensor, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Conditional flow matching's loss: mean squared error of v(x_t, t) against x1 - x0 on the straight path
        from codes ``x0`` to images ``x1`` (both in data space) at times ``t`` (N,)."""
        tt = t[:, None, None, None]
        xt = (1 - tt) * x0 + tt * x1
        return F.mse_loss(self.velocity(xt, t).float(), x1 - x0)

    # -- the ODE -----------------------------------------------------------------------------------

    def integrate(self, x: torch.Tensor, times: list[float], guidance: float | None = None) -> torch.Tensor:
        """Solve dx/dt = v(x, t) over the time grid ``times`` (rising to decode, falling to encode), one classic
        Runge-Kutta step between neighbours; v is ``field`` at ``guidance``."""
        field = lambda state, t: (self.field(state[0], torch.full((len(state[0]),), t, device=x.device,  # noqa: E731
                                                                  dtype=x.dtype), guidance),)
        half = self.config.bf16_solver and fast_bf16(x.device)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=half):
            return runge_kutta((x,), times, field)[0].float()

    @torch.no_grad()
    def encode(self, x: torch.Tensor, steps: int | None = None, guidance: float | None = None) -> torch.Tensor:
        return self.integrate(self.to_data(x), solver_times(steps or self.config.steps)[::-1], guidance).flatten(1)

    @torch.no_grad()
    def decode(self, z: torch.Tensor, steps: int | None = None, guidance: float | None = None) -> torch.Tensor:
        x = self.integrate(z.view(-1, 1, 28, 28), solver_times(steps or self.config.steps), guidance)
        return ((x + 1) / 2).clamp(0, 1)

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | int | None = None,
               steps: int | None = None, guidance: float | None = None) -> torch.Tensor:
        """As every model's ``sample``, decoded with ``steps`` solver steps and ``guidance`` (default: the
        config's)."""
        return self.decode(self.sample_latent(n, temperature, generator), steps, guidance)

    @torch.no_grad()
    def path(self, z: torch.Tensor, frames: int, steps: int | None = None,
             guidance: float | None = None) -> tuple[list[float], torch.Tensor]:
        """The images along the way from codes ``z`` to digits, at up to ``frames`` times of the solver's grid for
        ``steps``, spread evenly over its steps: (their times, images (frames, N, 1, 28, 28)). The first frame is the
        code, the last ``decode(z, steps, guidance)``."""
        times = solver_times(steps or self.config.steps)
        marks = sorted({round(i * (len(times) - 1) / max(1, frames - 1)) for i in range(frames)})
        x, out = z.view(-1, 1, 28, 28), [z.view(-1, 1, 28, 28)]
        for start, end in zip(marks[:-1], marks[1:]):
            x = self.integrate(x, times[start:end + 1], guidance)
            out.append(x)
        return [times[m] for m in marks], ((torch.stack(out) + 1) / 2).clamp(0, 1)

    # -- likelihood --------------------------------------------------------------------------------

    def log_prob(self, x: torch.Tensor, generator: torch.Generator | None = None, steps: int | None = None,
                 probes: int = 1) -> torch.Tensor:
        """Log-likelihood in nats (N,) of the discrete images ``x``, a dequantized bound: the image (pixel + u) / 256
        with u from ``generator`` (1/2 without), carried back to t = 0 while the divergence of v is integrated with
        ``probes`` Rademacher probes per image, drawn from ``generator`` (a fixed seed without, so one image always
        gets one number). Unbiased in the divergence, so means over many images are exact up to the solver."""
        return self.log_density(Flow.dequantize(x, generator), self.probes(x, probes, generator), steps)

    @staticmethod
    def probes(x: torch.Tensor, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``count`` Rademacher probes (count, *x.shape) for the divergence, from ``generator``; without one, one
        fixed set shared by every image, so an image gets the same probes alone or in any batch."""
        if generator is None:
            shared = torch.randint(0, 2, (count, 1, *x.shape[1:]), generator=torch.Generator().manual_seed(0))
            return (shared * 2 - 1).to(x).expand(count, *x.shape)
        return (torch.randint(0, 2, (count, *x.shape), generator=generator) * 2 - 1).to(x)

    def log_density(self, y: torch.Tensor, eps: torch.Tensor, steps: int | None = None,
                    differentiable: bool = False) -> torch.Tensor:
        """``log_prob`` of dequantized images ``y`` (N, 1, 28, 28) in (0, 1) with the divergence probes ``eps``
        (probes, N, 1, 28, 28); ``differentiable`` keeps the graph so that the result has a gradient in ``y``
        (about three times the work).

        The field contracts sharply near the data (t = 1), where evenly spaced steps miss most of the divergence, so
        the ``steps`` (default LIKELIHOOD_STEPS) are spaced as t = 1 - s^2 for evenly spaced s: short near t = 1."""
        times = (1 - torch.linspace(0, 1, (steps or LIKELIHOOD_STEPS) + 1) ** 2).tolist()
        # the image and the running integral of the divergence solve one system, dv/dt = (v, div v)
        state, div_integral = runge_kutta((self.to_data(y), torch.zeros(y.shape[0], device=y.device)), times,
                                          lambda s, t: self._velocity_and_divergence(s[0], t, eps, differentiable))
        # integral of div from 1 to 0 is div_integral; log p1 = log p0 - integral_0^1 div = log p0 + div_integral
        log_p0 = -0.5 * (state ** 2).flatten(1).sum(1) - 0.5 * IMAGE_DIM * math.log(2 * math.pi)
        # data space d = 2 y - 1 with y = (pixel + u) / 256: the discrete probability is p_d * 2^D / 256^D
        return log_p0 + div_integral + IMAGE_DIM * (math.log(2) - math.log(256))

    def _velocity_and_divergence(self, x: torch.Tensor, t: float, eps: torch.Tensor, differentiable: bool = False):
        with torch.enable_grad():
            if not differentiable:
                x = x.detach().requires_grad_(True)
            v = self.field(x, torch.full((x.shape[0],), t, device=x.device, dtype=x.dtype))
            div = 0
            for probe in eps:
                (grad,) = torch.autograd.grad(v, x, probe, retain_graph=True, create_graph=differentiable)
                div = div + (grad * probe).flatten(1).sum(1)
        if differentiable:
            return v, div / len(eps)
        return v.detach(), (div / len(eps)).detach()

    def bits_per_dim(self, x: torch.Tensor, generator: torch.Generator | None = None,
                     steps: int | None = None, probes: int = 1) -> torch.Tensor:
        """Negative log-likelihood of each image (N,) in bits per pixel."""
        return -self.log_prob(x, generator, steps, probes) / (IMAGE_DIM * math.log(2))
