"""How tight the shipped flow's likelihood bounds are: uniform against learned dequantization, by draws per image.

Each is a lower bound on the log-likelihood of the digits' 256 pixel levels, log mean_k p(x + u_k) / q(u_k | x)
over K draws (Burda et al. 2016): u uniform (q = 1), as the flow trained, or from its learned dequantizer. One
draw of each is what `evaluate` reports as test_bpd (uniform) and what the dequantizer trained on; K = 8 learned
is its test_bpd_learned. The first test digits 0-8, draws seeded; lower bits/dim is the tighter bound.
"""

from __future__ import annotations

import torch

from explorer import checkpoints
from explorer.data import load_mnist
from explorer.metrics import mean_importance_weighted_bits_per_dim

from .timing import table

DRAWS = (1, 8, 32)
IMAGES = 500


def run(quick: bool = False) -> str:
    flow = checkpoints.load("flow").model
    if flow.dequantizer is None:
        return "the shipped flow has no learned dequantizer"
    x = load_mnist("test").seen().as_float()[:50 if quick else IMAGES]
    rows = [[name, *(f"{mean_importance_weighted_bits_per_dim(flow, x, k, learned=name == 'learned'):.4f}"
                     for k in DRAWS)] for name in ("uniform", "learned")]
    return (f"bits/dim of the first {len(x)} test digits 0-8\n\n"
            + table(["dequantization", *(f"{k} draw{'s' * (k > 1)}" for k in DRAWS)], rows))
