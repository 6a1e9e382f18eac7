"""How tight the shipped flow's likelihood bounds are: uniform against learned dequantization, by draws per image.

Each is a lower bound on the log-likelihood of the digits' 256 pixel levels, log mean_k p(x + u_k) / q(u_k | x)
over K draws (Burda et al. 2016): u uniform (q = 1), as the flow trained, or from its learned dequantizer. One
draw of each is what `evaluate` reports as test_bpd (uniform) and what the dequantizer trained on; K = 8 learned
is its test_bpd_learned. The first test digits 0-8, draws seeded; lower bits/dim is the tighter bound.
"""

from __future__ import annotations

import math

import torch

from explorer import checkpoints
from explorer.data import load_mnist
from explorer.metrics import BATCH

from .timing import table

DRAWS = (1, 8, 32)
IMAGES = 500


@torch.no_grad()
def bits_per_dim(one_draw, x: torch.Tensor, draws: int) -> float:
    """Mean bits/dim of images ``x`` by the importance-weighted bound over ``draws`` calls of ``one_draw(x, seed)``."""
    total = 0.0
    for i in range(0, len(x), BATCH):
        batch = x[i:i + BATCH]
        log_p = torch.stack([one_draw(batch, torch.Generator().manual_seed(k)) for k in range(draws)])
        total += (torch.logsumexp(log_p, 0) - math.log(draws)).sum().item()
    return -total / len(x) / (x[0].numel() * math.log(2))


def run(quick: bool = False) -> str:
    flow = checkpoints.load("flow").model
    if flow.dequantizer is None:
        return "the shipped flow has no learned dequantizer"
    x = load_mnist("test").seen().as_float()[:50 if quick else IMAGES]
    bounds = {"uniform": flow.log_prob,
              "learned": lambda batch, seed: flow.learned_log_prob(batch, torch.randn(batch.shape, generator=seed))}
    rows = [[name, *(f"{bits_per_dim(one_draw, x, k):.4f}" for k in DRAWS)] for name, one_draw in bounds.items()]
    return (f"bits/dim of the first {len(x)} test digits 0-8\n\n"
            + table(["dequantization", *(f"{k} draw{'s' * (k > 1)}" for k in DRAWS)], rows))
