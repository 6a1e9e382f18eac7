import copy
import math

import pytest
import torch
from sklearn.mixture import GaussianMixture as EM
from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

from explorer.models.mixture import EM_REGULARISER, GaussianMixture


@pytest.fixture(scope="module")
def codes():
    """Three clusters of 5-D codes, of different sizes and spreads."""
    g = torch.Generator().manual_seed(0)
    return torch.cat([0.5 * torch.randn(500, 5, generator=g) + 3, torch.randn(500, 5, generator=g) - 2,
                      2 * torch.randn(300, 5, generator=g)])


@pytest.fixture(scope="module")
def mixture(codes):
    model = GaussianMixture(3, 5)
    model.fit(codes)
    return model


def test_the_fit_is_scikit_learns_em(mixture, codes):
    em = EM(3, covariance_type="full", reg_covar=EM_REGULARISER, random_state=0).fit(codes.double().numpy())
    x = 3 * torch.randn(7, 5, generator=torch.Generator().manual_seed(1))
    expected = torch.as_tensor(em.score_samples(x.double().numpy()), dtype=torch.float32)
    assert mixture.initialized and torch.allclose(mixture.log_prob(x), expected, atol=1e-3)


def test_the_density_is_the_mixture_of_its_gaussians(mixture):
    """Against torch.distributions, with every parameter moved off its fit (the packed triangle included)."""
    mixture = copy.deepcopy(mixture)
    with torch.no_grad():
        for p in mixture.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(2)))
    reference = MixtureSameFamily(Categorical(logits=mixture.logits.detach()),
                                  MultivariateNormal(mixture.means.detach(), scale_tril=mixture.scale_tril().detach()))
    x = 3 * torch.randn(9, 5, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(mixture.log_prob(x), reference.log_prob(x), atol=1e-4)
    assert torch.equal(torch.tril(mixture.scale_tril()), mixture.scale_tril())


def test_placed_draws_follow_the_mixture(mixture):
    """mean_k + L_k eps over components drawn by weight: the draws' mean and covariance are the mixture's."""
    eps = torch.randn(40_000, 5, generator=torch.Generator().manual_seed(4))
    z = mixture.place(eps, torch.Generator().manual_seed(5))
    w, means = torch.softmax(mixture.logits, 0).detach(), mixture.means.detach()
    tril = mixture.scale_tril().detach()
    mean = w @ means
    centred = means - mean
    cov = (w[:, None, None] * (tril @ tril.transpose(1, 2) + centred[:, :, None] * centred[:, None, :])).sum(0)
    assert torch.allclose(z.mean(0), mean, atol=0.05)
    assert torch.allclose(torch.cov(z.T), cov, atol=0.15 * cov.abs().max().item())


def test_no_noise_places_every_draw_on_a_components_mean(mixture):
    z = mixture.place(torch.zeros(50, 5), torch.Generator().manual_seed(0))
    nearest = (z[:, None] - mixture.means.detach()).norm(dim=2).min(1).values
    assert nearest.max() < 1e-6 and len(z.unique(dim=0)) == 3


def test_a_fresh_mixture_is_the_standard_normal():
    """Before its fit every component is N(0, I): the prior it replaces."""
    x = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    expected = -0.5 * (x ** 2).sum(1) - 2 * math.log(2 * math.pi)
    assert torch.allclose(GaussianMixture(3, 4).log_prob(x), expected, atol=1e-5)
