"""Walking in latent space: interpolation, the 2 -> Z -> 8 -> Z -> 2 round trip, analogies, Gaussian fits.

Codes are flat tensors (N, D) under a Gaussian prior, alike for every model (see models/base.py), so nothing
here knows which model made them. Paths hit their endpoints exactly: frame 0 is the first code
and the last frame the second, bit for bit, so a decoded strip starts and ends at the encoded images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from .models.base import GenerativeModel

PathKind = Literal["linear", "spherical"]
PATHS: tuple[PathKind, ...] = ("linear", "spherical")


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Straight line from code ``a`` (D,) to ``b`` (D,) at fractions ``t`` (T,) -> (T, D)."""
    t = t[:, None].to(torch.float64)
    return ((1 - t) * a.double() + t * b.double()).to(a.dtype)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Great-circle path between the directions of ``a`` and ``b`` while the length changes linearly -> (T, D).

    Plain linear paths cut through the low-norm middle of a high-dimensional Gaussian, where no
    training code ever lies (White 2016, https://arxiv.org/abs/1609.04468); this path keeps every
    code about as long as its endpoints. Parallel or opposite directions fall back to the straight line.
    """
    t = t[:, None].to(torch.float64)
    a64, b64 = a.double(), b.double()
    norm_a, norm_b = a64.norm(), b64.norm()
    if norm_a == 0 or norm_b == 0:
        return lerp(a, b, t[:, 0])
    u, v = a64 / norm_a, b64 / norm_b
    omega = torch.arccos(torch.clamp(u @ v, -1.0, 1.0))
    if torch.sin(omega) < 1e-6:
        return lerp(a, b, t[:, 0])
    direction = (torch.sin((1 - t) * omega) * u + torch.sin(t * omega) * v) / torch.sin(omega)
    path = ((1 - t) * norm_a + t * norm_b) * direction
    path[t[:, 0] == 0] = a64  # exact endpoints, whatever the rounding in sin and arccos
    path[t[:, 0] == 1] = b64
    return path.to(a.dtype)


def interpolate(a: torch.Tensor, b: torch.Tensor, steps: int, path: PathKind = "linear") -> torch.Tensor:
    """``steps`` codes (steps, D) from ``a`` to ``b`` inclusive, evenly spaced in the path's parameter."""
    if steps < 2:
        raise ValueError(f"need at least 2 steps to include both endpoints, got {steps}")
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}, not {path!r}")
    t = torch.linspace(0, 1, steps, dtype=torch.float64)
    return (lerp if path == "linear" else slerp)(a.flatten(), b.flatten(), t)


def round_trip(a: torch.Tensor, b: torch.Tensor, steps: int, path: PathKind = "linear") -> torch.Tensor:
    """The seed's 2 -> Z -> 8 -> Z -> 2 loop: codes (2 * steps - 2, D) from ``a`` to ``b`` and back.

    The way back leaves out both ends, so a looping animation shows every code once per turn without
    pausing on ``a`` or ``b``.
    """
    there = interpolate(a, b, steps, path)
    return torch.cat([there, there.flip(0)[1:-1]])


def analogy(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """a : b :: c : ?  answered in latent space as c + (b - a) (Mikolov-style vector offsets), shapes (N, D)."""
    return c + (b - a)


@torch.no_grad()
def walk(model: GenerativeModel, x_a: torch.Tensor, x_b: torch.Tensor, steps: int,
         path: PathKind = "linear") -> torch.Tensor:
    """Images (2 * steps - 2, 1, 28, 28) decoded along the round trip between images ``x_a`` and ``x_b`` (1, 1, 28, 28).

    Frames 0 .. steps - 1 go from a to b; frame 0 and frame steps - 1 are the model's own versions of
    the two images (the images themselves for an exactly invertible model).
    """
    z = model.encode(torch.cat([x_a, x_b]).to(model.device))
    return walk_codes(model, z[0], z[1], steps, path)


def walk_codes(model: GenerativeModel, z_a: torch.Tensor, z_b: torch.Tensor, steps: int,
               path: PathKind = "linear") -> torch.Tensor:
    """``walk`` between two codes: the ``steps`` frames there are decoded once, and the way back reuses them."""
    there = model.decode(interpolate(z_a, z_b, steps, path).to(model.device)).cpu()
    return torch.cat([there, there.flip(0)[1:-1]])


@torch.no_grad()
def solve_analogy(model: GenerativeModel, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Images (4, 1, 28, 28): the model's versions of a, b, c, then the answer decoded from c + (b - a)."""
    return analogy_from_codes(model, model.encode(torch.cat([a, b, c]).to(model.device)))


@torch.no_grad()
def analogy_from_codes(model: GenerativeModel, z: torch.Tensor) -> torch.Tensor:
    """``solve_analogy`` from the codes (3, D) of a, b and c."""
    return model.decode(torch.cat([z, analogy(z[0:1], z[1:2], z[2:3])])).cpu()


def crossing(probs, start: int, end: int) -> int | None:
    """First frame of ``probs`` (T, 10), tensor or array, where the classifier prefers digit ``end`` to digit
    ``start``; None if never."""
    probs = torch.as_tensor(probs)
    later = torch.nonzero(probs[:, end] > probs[:, start]).flatten()
    return int(later[0]) if len(later) else None


@dataclass(frozen=True)
class SubspaceGaussian:
    """A Gaussian on the top-d principal directions of a few points, with a diagonal covariance there.

    Mathematica's ``Multinormal, IntrinsicDimension -> d, CovarianceType -> Diagonal``: ``mean`` (D,),
    orthonormal ``basis`` (d, D) and ``var`` (d,) along it. Samples lie in the d-dimensional affine subspace.
    k points span at most k - 1 directions, so d is at most k - 1 (a single point gives d = 0: the point itself).
    """

    mean: torch.Tensor
    basis: torch.Tensor
    var: torch.Tensor

    @property
    def dim(self) -> int:
        return self.basis.shape[0]

    def coordinates(self, x: torch.Tensor) -> torch.Tensor:
        """Points (N, D) -> their coordinates (N, d) along the basis, relative to the mean."""
        return (x.double() - self.mean) @ self.basis.T

    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0,
               radius: float = math.inf) -> torch.Tensor:
        """``n`` points (n, D) float32, noise scaled by ``temperature``; drawn on the CPU so a seed reproduces them.

        Points farther than ``radius`` from the origin are drawn again. The mean lies within any radius that holds
        the fitted points, so some draws always land inside.
        """
        if not self.mean.norm() <= radius:  # also refuses a radius of NaN
            raise ValueError(f"a radius of {radius} leaves out the mean, {self.mean.norm():.4g} from the origin")
        if not 0 <= temperature < math.inf:  # no draw of NaN or infinite noise would ever land inside
            raise ValueError(f"temperature must be a finite number >= 0, not {temperature}")
        kept = torch.empty(0, self.mean.numel(), dtype=torch.float64)
        while len(kept) < n:
            eps = torch.randn(n, self.dim, generator=generator, dtype=torch.float64) * temperature
            points = self.mean + (eps * self.var.sqrt()) @ self.basis
            kept = torch.cat([kept, points[points.norm(dim=1) <= radius]])
        return kept[:n].float()

    def log_prob_subspace(self, x: torch.Tensor) -> torch.Tensor:
        """Log-density (N,) in nats of the points' d coordinates: a density on the subspace, not on R^D."""
        c = self.coordinates(x)
        return -0.5 * ((c ** 2 / self.var) + torch.log(2 * math.pi * self.var)).sum(1)

    def log_prob(self, x: torch.Tensor, residual_var: float = 1.0) -> torch.Tensor:
        """Log-density (N,) in nats on all of R^D, with variance ``residual_var`` in the D - d other directions.

        In a latent space ``residual_var = 1`` keeps the model's own N(0, I) spread where k examples say nothing.
        """
        c = self.coordinates(x)
        rest = ((x.double() - self.mean) ** 2).sum(1) - (c ** 2).sum(1)  # squared distance off the subspace
        d_rest = self.mean.numel() - self.dim
        off = rest.clamp_min(0) / residual_var + d_rest * math.log(2 * math.pi * residual_var)
        return self.log_prob_subspace(x) - 0.5 * off


def fit_gaussian(x: torch.Tensor, dim: int, min_var: float = 1e-8) -> SubspaceGaussian:
    """Fit a SubspaceGaussian to points ``x`` (N, D): their mean, top principal directions and (ML) variances.

    Uses min(dim, N - 1) directions, dropping those with variance below ``min_var`` (no spread to model).
    """
    if x.ndim != 2 or len(x) < 1:
        raise ValueError(f"need points of shape (N, D) with N >= 1, got {tuple(x.shape)}")
    x = x.detach().double().cpu()
    mean = x.mean(0)
    _, s, vh = torch.linalg.svd(x - mean, full_matrices=False)
    var = s ** 2 / len(x)
    keep = min(dim, len(x) - 1, int((var > min_var).sum()))
    return SubspaceGaussian(mean, vh[:keep], var[:keep])
