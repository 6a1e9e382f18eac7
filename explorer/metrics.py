"""Numbers that compare models: bits/dim, VAE bounds in nats, and the classifier-feature Frechet distance.

Every random quantity takes a seed, so a number on a card can be recomputed exactly. Images are float
tensors (N, 1, 28, 28) in [0, 1]; each function moves batches to its model's device and returns CPU results.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

BATCH = 100  # images a forward pass: larger batches run slower on small CPUs


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def binarize(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Bernoulli draws of images ``x`` (N, 1, 28, 28) in [0, 1] with a fixed seed, so a binarized test set is reproducible."""
    generator = torch.Generator().manual_seed(seed)
    return torch.bernoulli(x.detach().cpu().float(), generator=generator).to(x.device)


# -- classifier -----------------------------------------------------------------------------------

@torch.no_grad()
def classify(classifier: nn.Module, x: torch.Tensor, batch_size: int = BATCH) -> tuple[torch.Tensor, np.ndarray]:
    """One pass of the classifier over images ``x`` (N, 1, 28, 28): class probabilities (N, 10) on the CPU, and its
    penultimate activations (N, F) as float64 numpy, for Frechet distances."""
    device = _device(classifier)
    probs, feats = [], []
    for i in range(0, len(x), batch_size):
        f = classifier.features(x[i:i + batch_size].to(device))
        probs.append(torch.softmax(classifier.head(f).float(), dim=1).cpu())
        feats.append(f.double().cpu().numpy())
    return torch.cat(probs), np.concatenate(feats)


def predict_proba(classifier: nn.Module, x: torch.Tensor, batch_size: int = BATCH) -> torch.Tensor:
    """Class probabilities (N, 10) of images ``x`` (N, 1, 28, 28), on the CPU."""
    return classify(classifier, x, batch_size)[0]


def features(classifier: nn.Module, x: torch.Tensor, batch_size: int = BATCH) -> np.ndarray:
    """The classifier's penultimate activations (N, F) of images ``x`` as float64 numpy, for Frechet distances."""
    return classify(classifier, x, batch_size)[1]


def frechet_distance(feats_a, feats_b) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (N, F) and (M, F), as in FID.

    d = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a^1/2 S_b S_a^1/2)^1/2). The matrix square roots come from
    symmetric eigen-decompositions in float64, which stay real and stable where a general sqrtm can go complex.
    """
    a, b = (np.asarray(f.detach().cpu().numpy() if torch.is_tensor(f) else f, dtype=np.float64) for f in (feats_a, feats_b))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need two (N, F) feature sets with the same F, got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _sqrt_psd(cov_a)
    middle = root_a @ cov_b @ root_a
    tr_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    distance = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_root
    return max(float(distance), 0.0)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (F, F)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


# -- flow -----------------------------------------------------------------------------------------

@torch.no_grad()
def mean_bits_per_dim(flow: nn.Module, x: torch.Tensor, seed: int = 0, batch_size: int = BATCH) -> float:
    """Mean bits/dim of images ``x`` under ``flow``, dequantized with seeded uniform noise."""
    generator = torch.Generator().manual_seed(seed)
    device = _device(flow)
    total = sum(flow.bits_per_dim(x[i:i + batch_size].to(device), generator).sum().item()
                for i in range(0, len(x), batch_size))
    return total / len(x)


@torch.no_grad()
def mean_importance_weighted_bits_per_dim(flow: nn.Module, x: torch.Tensor, draws: int = 8, seed: int = 0,
                                          batch_size: int = BATCH, learned: bool = True) -> float:
    """Mean bits/dim of images ``x`` by the importance-weighted bound over ``draws`` draws of ``flow``'s learned
    dequantizer (or uniform draws when not ``learned``), seeded."""
    generator = torch.Generator().manual_seed(seed)
    device = _device(flow)
    total = sum(flow.importance_weighted_log_prob(x[i:i + batch_size].to(device), draws, generator, learned)
                .sum().item() for i in range(0, len(x), batch_size))
    return -total / len(x) / (x[0].numel() * math.log(2))


# -- VAE ------------------------------------------------------------------------------------------

@torch.no_grad()
def vae_negative_elbo(vae: nn.Module, x_binary: torch.Tensor, seed: int = 0, batch_size: int = BATCH) -> float:
    """Mean negative ELBO (beta = 1) in nats of binary images (N, 1, 28, 28): one posterior draw, analytic KL."""
    generator = torch.Generator().manual_seed(seed)
    device = _device(vae)
    total = 0.0
    for i in range(0, len(x_binary), batch_size):
        x = x_binary[i:i + batch_size].to(device)
        mu, logvar = vae.encode_posterior(x)
        eps = torch.randn(mu.shape, generator=generator).to(device)
        recon, kl = vae.elbo_terms(vae.decoder_logits(mu + torch.exp(0.5 * logvar) * eps), x, mu, logvar)
        total += (recon + kl).item()
    return total / len(x_binary)


@torch.no_grad()
def vae_iwae_nll(vae: nn.Module, x_binary: torch.Tensor, k: int = 100, seed: int = 0,
                 decoded_per_batch: int = 4000) -> float:
    """Importance-weighted estimate of -log p(x) in nats (Burda et al. 2016), mean over binary images (N, 1, 28, 28).

    log p(x) ~ log (1/k) sum_j p(x, z_j) / q(z_j | x); it tightens towards the true NLL as k grows and is never
    looser than the ELBO in expectation. Images go through in batches of ``decoded_per_batch // k`` to bound memory.
    """
    generator = torch.Generator().manual_seed(seed)
    device = _device(vae)
    batch_size = max(1, decoded_per_batch // k)
    total = 0.0
    for i in range(0, len(x_binary), batch_size):
        log_w = vae.log_weights(x_binary[i:i + batch_size].to(device), k, generator)  # (k, n)
        total -= (torch.logsumexp(log_w.double(), dim=0) - math.log(k)).sum().item()
    return total / len(x_binary)
