"""A mixture of full-covariance Gaussians: the flow's prior over its coarsest code, where a digit's shape is decided.

Why not N(0, I) there: a unimodal prior spreads its mass between the digits' clusters of codes, and draws from
between them decode to stroke fragments (bench/results/flow_levels.md, flow_prior.md). A few Gaussians fitted to the
training digits' codes put the mass where the digits are, and the density stays exact (a log-sum-exp).
Each component's covariance is held as its Cholesky factor: the log of its diagonal (positive under training) and
its strictly lower triangle, packed (half the numbers of a full matrix).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

EM_REGULARISER = 1e-4  # added to each covariance's diagonal by EM: keeps it invertible where codes are scarce


class GaussianMixture(nn.Module):
    """p(z) = sum_k w_k N(z; mean_k, L_k L_k^T) over codes z (N, dim)."""

    def __init__(self, components: int, dim: int):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(components))  # w = softmax(logits)
        self.means = nn.Parameter(torch.zeros(components, dim))
        self.log_diag = nn.Parameter(torch.zeros(components, dim))
        self.lower = nn.Parameter(torch.zeros(components, dim * (dim - 1) // 2))
        self.register_buffer("rows_cols", torch.tril_indices(dim, dim, -1), persistent=False)
        self.register_buffer("initialized", torch.tensor(0, dtype=torch.uint8))  # set by ``fit``

    @property
    def components(self) -> int:
        return self.means.shape[0]

    def scale_tril(self) -> torch.Tensor:
        """The Cholesky factors L_k (components, dim, dim)."""
        tril = torch.diag_embed(torch.exp(self.log_diag))
        rows, cols = self.rows_cols
        tril[:, rows, cols] = self.lower
        return tril

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """Log-density (N,) in nats of codes ``z`` (N, dim)."""
        diff = (z.float()[None] - self.means[:, None]).transpose(1, 2)  # (components, dim, N)
        u = torch.linalg.solve_triangular(self.scale_tril(), diff, upper=False)  # L_k^-1 (z - mean_k)
        log_normal = (-0.5 * u.pow(2).sum(1) - self.log_diag.sum(1, keepdim=True)
                      - 0.5 * z.shape[1] * math.log(2 * math.pi))
        return torch.logsumexp(torch.log_softmax(self.logits, 0)[:, None] + log_normal, 0)

    @torch.no_grad()
    def place(self, eps: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Standard normal draws ``eps`` (N, dim), scaled by a temperature already, -> codes mean_k + L_k eps, each
        in a component k drawn by its weight with ``generator`` (on the CPU, so a seed gives the same components on
        any device)."""
        which = torch.multinomial(torch.softmax(self.logits.float().cpu(), 0), len(eps), replacement=True,
                                  generator=generator).to(eps.device)
        tril, z = self.scale_tril(), torch.empty_like(eps)
        for k in range(self.components):
            chosen = which == k
            z[chosen] = self.means[k] + eps[chosen] @ tril[k].T
        return z

    @torch.no_grad()
    def fit(self, codes: torch.Tensor, seed: int = 0) -> None:
        """Fit the mixture by EM (scikit-learn) to ``codes`` (N, dim)."""
        from sklearn.mixture import GaussianMixture as EM

        em = EM(self.components, covariance_type="full", reg_covar=EM_REGULARISER, random_state=seed)
        em.fit(codes.double().cpu().numpy())
        tril = torch.as_tensor(np.linalg.cholesky(em.covariances_))
        rows, cols = self.rows_cols.cpu()
        self.logits.copy_(torch.as_tensor(np.log(em.weights_)))  # copy_ casts to the parameters' dtype and device
        self.means.copy_(torch.as_tensor(em.means_))
        self.log_diag.copy_(torch.log(torch.diagonal(tril, dim1=1, dim2=2)))
        self.lower.copy_(tril[:, rows, cols])
        self.initialized.fill_(1)
