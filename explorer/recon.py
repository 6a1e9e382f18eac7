"""Reconstructions through any model's ``encode``/``decode``, their per-image errors, and a 2-D latent decoded as a plane.

The latent plane follows Kingma & Welling's Figure 4: the grid is evenly spaced in the prior's quantiles
(z = inverse normal CDF of the grid), so every cell covers the same prior mass, and test codes are drawn
in the same coordinates u = Phi(z).
"""

from __future__ import annotations

import numpy as np
import torch

from .data import Digits
from .device import call

METRICS = {
    "mse": "mean squared pixel error (0 = perfect)",
    "bce": "binary cross-entropy summed over pixels, in nats (not 0 for grey pixels, even when perfect)",
}


def reconstruct(model, x: torch.Tensor, run=call) -> torch.Tensor:
    """Images (N, 1, 28, 28) -> decode(encode(x)) (N, 1, 28, 28) on the CPU; ``run(fn, *args)`` calls the model."""
    x = x.to(model.device)
    return run(model.decode, run(model.encode, x)).float().cpu()


def errors(x, x_hat, metric: str) -> np.ndarray:
    """Per-image error (N,) of reconstructions ``x_hat`` against ``x`` (tensors or arrays, N images in [0, 1])."""
    x, x_hat = (torch.as_tensor(v).float().flatten(1).cpu() for v in (x, x_hat))
    if metric == "mse":
        return (x - x_hat).pow(2).mean(1).numpy()
    if metric == "bce":
        p = x_hat.clamp(1e-6, 1 - 1e-6)
        return -(x * p.log() + (1 - x) * (1 - p).log()).sum(1).numpy()
    raise ValueError(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")


def examples(digits: Digits, chosen: list[int], per_digit: int, seed: int) -> torch.Tensor:
    """Indices into ``digits``: ``per_digit`` random images of each chosen digit, grouped by digit, the same per seed."""
    generator = torch.Generator().manual_seed(seed)
    picks = []
    for digit in chosen:
        pool = torch.nonzero(digits.labels == digit).flatten()
        if len(pool) < per_digit:
            raise ValueError(f"only {len(pool)} images of {digit}, asked for {per_digit}")
        picks.append(pool[torch.randperm(len(pool), generator=generator)[:per_digit]])
    return torch.cat(picks) if picks else torch.zeros(0, dtype=torch.long)


def per_digit_error(labels: np.ndarray, errs: np.ndarray) -> dict[int, float]:
    """Mean error of each digit present in ``labels``."""
    return {int(d): float(errs[labels == d].mean()) for d in np.unique(labels)}


def quantile_grid(n: int, coverage: float) -> np.ndarray:
    """``n`` evenly spaced cell centres u in (0, 1) spanning the central ``coverage`` of the prior."""
    if not 0 < coverage < 1 or n < 1:
        raise ValueError(f"need n >= 1 and 0 < coverage < 1, got n={n}, coverage={coverage}")
    lo = (1 - coverage) / 2
    return lo + (np.arange(n) + 0.5) * coverage / n


def latent_plane(model, n: int = 20, coverage: float = 0.9, run=call) -> np.ndarray:
    """Decodings of an n x n grid over a 2-D latent (n * n, 28, 28): row 0 at the top is the largest z2, as on a plot."""
    if model.latent_dim != 2:
        raise ValueError(f"the latent plane needs a 2-D latent, this model's is {model.latent_dim}-D")
    z = torch.special.ndtri(torch.from_numpy(quantile_grid(n, coverage)))
    z2, z1 = torch.meshgrid(z.flip(0), z, indexing="ij")  # rows: z2 from high to low; columns: z1 low to high
    grid = torch.stack([z1.flatten(), z2.flatten()], 1).float().to(model.device)  # (n * n, 2)
    return run(model.decode, grid).float().cpu()[:, 0].numpy()


def plane_ticks(coverage: float) -> tuple[np.ndarray, list[str]]:
    """Axis ticks of the plane: positions u = Phi(z) of the whole z values inside the central ``coverage``, labelled z."""
    whole = np.arange(-4, 5)
    u = to_plane(np.stack([whole, whole], 1))[:, 0]
    inside = np.abs(u - 0.5) <= coverage / 2
    return u[inside], [str(z) for z in whole[inside]]


def to_plane(z: np.ndarray) -> np.ndarray:
    """Codes (N, 2) -> plane coordinates u = Phi(z) in (0, 1), where the prior is uniform."""
    return torch.special.ndtr(torch.as_tensor(z, dtype=torch.float64)).numpy()
