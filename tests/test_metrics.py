import math

import numpy as np
import pytest
import torch

from explorer.data import load_mnist
from explorer.metrics import (binarize, classify, features, frechet_distance, mean_bits_per_dim, predict_proba, vae_iwae_nll,
                              vae_negative_elbo)
from explorer.models.classifier import Classifier, ClassifierConfig
from explorer.models.flow import Flow, FlowConfig
from explorer.models.vae import VAE, VAEConfig


def with_moments(mean: np.ndarray, cov: np.ndarray, n: int = 500, seed: int = 0) -> np.ndarray:
    """n points (n, d) whose sample mean and sample covariance are exactly ``mean`` and ``cov``."""
    x = np.random.default_rng(seed).standard_normal((n, len(mean)))
    x -= x.mean(0)
    x = x @ np.linalg.inv(np.linalg.cholesky(np.cov(x, rowvar=False))).T  # sample covariance now I
    return x @ np.linalg.cholesky(cov).T + mean


@pytest.fixture(scope="module")
def digits():
    return load_mnist("test").seen().as_float()[:64]


def test_frechet_distance_of_a_set_with_itself_is_zero():
    a = np.random.default_rng(1).standard_normal((300, 12))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(2)
    mu_a, mu_b, s_a, s_b = rng.normal(size=6), rng.normal(size=6), rng.uniform(0.5, 2, 6), rng.uniform(0.5, 2, 6)
    a, b = with_moments(mu_a, np.diag(s_a ** 2)), with_moments(mu_b, np.diag(s_b ** 2), seed=1)
    expected = ((mu_a - mu_b) ** 2).sum() + ((s_a - s_b) ** 2).sum()
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_matches_the_closed_form_for_scaled_full_covariances():
    rng = np.random.default_rng(3)
    root = rng.normal(size=(8, 8))
    cov, c = root @ root.T + 0.1 * np.eye(8), 1.7
    mu_a, mu_b = rng.normal(size=8), rng.normal(size=8)
    a, b = with_moments(mu_a, cov), torch.from_numpy(with_moments(mu_b, c ** 2 * cov, seed=4))
    expected = ((mu_a - mu_b) ** 2).sum() + (1 - c) ** 2 * np.trace(cov)  # sqrt(S S c^2) = c S
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_rejects_mismatched_features():
    with pytest.raises(ValueError):
        frechet_distance(np.zeros((10, 3)), np.zeros((10, 4)))


def test_binarize_is_seeded_and_binary(digits):
    a, b, c = binarize(digits, seed=0), binarize(digits, seed=0), binarize(digits, seed=1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert set(a.unique().tolist()) <= {0.0, 1.0} and a.shape == digits.shape
    assert abs(a.mean().item() - digits.mean().item()) < 0.01


def test_classifier_probabilities_and_features_do_not_depend_on_batching(digits):
    torch.manual_seed(0)
    model = Classifier(ClassifierConfig(channels=(4, 8), hidden=16)).eval()
    probs = predict_proba(model, digits, batch_size=7)
    assert probs.shape == (64, 10) and torch.allclose(probs.sum(1), torch.ones(64))
    assert torch.allclose(probs, predict_proba(model, digits), atol=1e-6)
    feats = features(model, digits, batch_size=7)
    assert feats.shape == (64, 16) and feats.dtype == np.float64
    assert np.allclose(feats, features(model, digits), atol=1e-5)


def test_one_classifier_pass_gives_what_its_forward_gives(digits):
    torch.manual_seed(0)
    model = Classifier(ClassifierConfig(channels=(4, 8), hidden=16)).eval()
    probs, feats = classify(model, digits)
    with torch.no_grad():
        assert torch.allclose(probs, torch.softmax(model(digits), dim=1), atol=1e-6)
        assert np.allclose(feats, model.features(digits).double().numpy())


def test_iwae_is_tighter_than_the_elbo_and_both_are_seeded(digits):
    torch.manual_seed(0)
    vae = VAE(VAEConfig(latent_dim=4, channels=(8, 16), hidden=32)).eval()
    x = binarize(digits, seed=0)
    elbo, iwae = vae_negative_elbo(vae, x, seed=0), vae_iwae_nll(vae, x, k=100, seed=0)
    assert math.isfinite(elbo) and 0 < iwae < elbo
    assert vae_iwae_nll(vae, x, k=100, seed=0) == iwae and vae_negative_elbo(vae, x, seed=0) == elbo


def test_mean_bits_per_dim_is_the_seeded_mean_over_images(digits):
    torch.manual_seed(0)
    flow = Flow(FlowConfig(steps_per_level=1, hidden_channels=8))
    flow.initialize(digits)
    flow.eval()
    expected = flow.bits_per_dim(digits[:10], torch.Generator().manual_seed(5)).mean().item()
    assert mean_bits_per_dim(flow, digits[:10], seed=5) == pytest.approx(expected, rel=1e-6)
    assert mean_bits_per_dim(flow, digits[:10], seed=5, batch_size=3) == pytest.approx(expected, rel=1e-5)
