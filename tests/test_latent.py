"""Latent operations: exact endpoints, sensible norms, analogies, and Gaussians that keep their moments."""

import math

import pytest
import torch

from explorer import latent
from explorer.data import load_mnist
from explorer.models import build_model


def codes(d: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(d, generator=g), torch.randn(d, generator=g) * 1.7


@pytest.mark.parametrize("path", latent.PATHS)
@pytest.mark.parametrize("d", [2, 16, 784])
@pytest.mark.parametrize("steps", [2, 3, 10])
def test_interpolation_hits_its_endpoints_exactly(path, d, steps):
    a, b = codes(d)
    z = latent.interpolate(a, b, steps, path)
    assert z.shape == (steps, d) and z.dtype == a.dtype
    assert torch.equal(z[0], a) and torch.equal(z[-1], b)


def test_linear_path_is_evenly_spaced():
    a, b = codes(8)
    z = latent.interpolate(a, b, 5, "linear")
    assert torch.allclose(z[2], (a + b) / 2, atol=1e-6)
    gaps = (z[1:] - z[:-1]).norm(dim=1)
    assert torch.allclose(gaps, gaps[0].expand(4), rtol=1e-5)


def test_slerp_keeps_norms_between_the_endpoints_where_a_straight_line_dips():
    a, b = codes(784)
    spherical = latent.interpolate(a, b, 11, "spherical").norm(dim=1)
    assert torch.allclose(spherical, torch.linspace(a.norm(), b.norm(), 11), rtol=1e-5)
    straight = latent.interpolate(a, b, 11, "linear").norm(dim=1)
    assert straight[5] < 0.8 * spherical[5]  # independent codes are nearly orthogonal in 784-D


def test_slerp_of_parallel_codes_is_the_straight_line():
    a = torch.randn(16)
    assert torch.allclose(latent.interpolate(a, 3 * a, 5, "spherical"), latent.interpolate(a, 3 * a, 5, "linear"))


def test_round_trip_goes_there_and_back_once():
    a, b = codes(16)
    z = latent.round_trip(a, b, 6)
    assert z.shape == (10, 16)
    assert torch.equal(z[0], a) and torch.equal(z[5], b)
    for j in range(1, 5):
        assert torch.equal(z[5 + j], z[5 - j])


def test_bad_paths_are_refused():
    a, b = codes(4)
    with pytest.raises(ValueError):
        latent.interpolate(a, b, 1)
    with pytest.raises(ValueError):
        latent.interpolate(a, b, 5, "zigzag")


def test_analogy_is_vector_arithmetic():
    a, b, c = torch.randn(3, 2, 8).unbind(0)  # seeded by conftest, like every test
    # summed in another order, so equal up to rounding: an absolute tolerance for entries near zero
    torch.testing.assert_close(latent.analogy(a, b, c), c + b - a, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(latent.analogy(a, b, a), b, rtol=1e-5, atol=1e-6)  # a : b :: a : b


def test_crossing_finds_the_first_frame_where_the_end_digit_wins():
    probs = torch.zeros(5, 10)
    probs[:, 2] = torch.tensor([0.9, 0.7, 0.4, 0.2, 0.1])
    probs[:, 8] = torch.tensor([0.05, 0.2, 0.5, 0.7, 0.8])
    assert latent.crossing(probs, 2, 8) == 2
    assert latent.crossing(probs, 8, 2) == 0
    assert latent.crossing(probs[:2], 2, 8) is None


@pytest.fixture(scope="module")
def flow():
    model = build_model("flow", {"steps_per_level": 2, "hidden_channels": 16}).eval()
    model.initialize(load_mnist("train").seen().as_float()[:128])
    return model.requires_grad_(False)


def test_flow_encode_decode_reproduces_the_image(flow):
    x = load_mnist("test").as_float()[:8]
    assert (flow.decode(flow.encode(x)) - x).abs().max() < 0.01  # within the dequantization bin


def test_walk_starts_and_ends_at_the_images_for_an_exact_model(flow):
    test = load_mnist("test")
    x_a, x_b = test.as_float()[:1], test.as_float()[1:2]
    frames = latent.walk(flow, x_a, x_b, 5, "spherical")
    assert frames.shape == (8, 1, 28, 28) and frames.min() >= 0 and frames.max() <= 1
    assert (frames[0] - x_a[0]).abs().max() < 0.01 and (frames[4] - x_b[0]).abs().max() < 0.01


def test_solve_analogy_returns_versions_and_answer(flow):
    x = load_mnist("test").as_float()[:3]
    out = latent.solve_analogy(flow, x[0:1], x[1:2], x[2:3])
    assert out.shape == (4, 1, 28, 28)
    assert (out[:3] - x).abs().max() < 0.01


# -- the fitted Gaussian --------------------------------------------------------------------------------

def test_fitted_gaussian_reproduces_mean_and_variances():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(40, 30, generator=g) * torch.linspace(0.1, 3, 30) + 5
    gauss = latent.fit_gaussian(x, 10)
    assert gauss.dim == 10
    assert torch.allclose(gauss.mean, x.double().mean(0))
    coords = gauss.coordinates(x)
    assert torch.allclose(coords.var(0, correction=0), gauss.var, rtol=1e-6)
    assert torch.allclose(gauss.basis @ gauss.basis.T, torch.eye(10, dtype=torch.float64), atol=1e-10)
    assert torch.all(gauss.var[:-1] >= gauss.var[1:])  # the directions of most spread first
    samples = gauss.sample(200_000, torch.Generator().manual_seed(2)).double()
    assert torch.allclose(samples.mean(0), gauss.mean, atol=0.03)
    assert torch.allclose(gauss.coordinates(samples).var(0), gauss.var, rtol=0.02)


def test_few_points_span_at_most_k_minus_one_directions():
    x = torch.randn(4, 50)
    assert latent.fit_gaussian(x, 10).dim == 3
    single = latent.fit_gaussian(x[:1], 10)
    assert single.dim == 0
    assert torch.allclose(single.sample(3, torch.Generator().manual_seed(0)), x[:1].expand(3, 50))


def test_seed_reproduces_gaussian_samples():
    gauss = latent.fit_gaussian(torch.randn(20, 12), 5)
    first = gauss.sample(7, torch.Generator().manual_seed(3))
    assert torch.equal(first, gauss.sample(7, torch.Generator().manual_seed(3)))
    assert not torch.equal(first, gauss.sample(7, torch.Generator().manual_seed(4)))
    centre = gauss.sample(7, torch.Generator().manual_seed(3), temperature=0.0)
    assert torch.allclose(centre, gauss.mean.float().expand(7, 12))


def test_draws_beyond_the_radius_are_drawn_again():
    x = torch.randn(30, 8, generator=torch.Generator().manual_seed(0)) * 3 + 1
    gauss = latent.fit_gaussian(x, 5)
    radius = x.norm(dim=1).median().item()
    free = gauss.sample(2000, torch.Generator().manual_seed(1))
    bounded = gauss.sample(2000, torch.Generator().manual_seed(1), radius=radius)
    assert (free.norm(dim=1) > radius).float().mean() > 0.02  # without a radius some draws lie beyond it
    assert (bounded.norm(dim=1) <= radius + 1e-5).all()
    inside = free[free.norm(dim=1) <= radius]
    assert torch.equal(bounded[:len(inside)], inside)  # the draws inside are kept as they came
    with pytest.raises(ValueError, match="leaves out the mean"):
        gauss.sample(3, radius=0.5 * gauss.mean.norm().item())
    with pytest.raises(ValueError, match="temperature"):
        gauss.sample(3, temperature=math.nan, radius=radius)


def test_log_prob_matches_the_full_gaussian():
    x = torch.randn(60, 6, dtype=torch.float64) @ torch.randn(6, 6, dtype=torch.float64)
    gauss = latent.fit_gaussian(x, 3)
    v = gauss.basis
    residual = 0.7
    cov = v.T @ torch.diag(gauss.var) @ v + residual * (torch.eye(6, dtype=torch.float64) - v.T @ v)
    expected = torch.distributions.MultivariateNormal(gauss.mean, cov).log_prob(x)
    assert torch.allclose(gauss.log_prob(x, residual_var=residual), expected, atol=1e-8)
    sub = torch.distributions.MultivariateNormal(torch.zeros(3, dtype=torch.float64), torch.diag(gauss.var))
    assert torch.allclose(gauss.log_prob_subspace(x), sub.log_prob(gauss.coordinates(x)), atol=1e-8)
    assert math.isfinite(gauss.log_prob(x).sum().item())


def test_walk_codes_decode_the_way_there_once_and_match_the_whole_round_trip(flow):
    z = torch.randn(2, 784, generator=torch.Generator().manual_seed(0))
    frames = latent.walk_codes(flow, z[0], z[1], 6, "linear")
    assert torch.allclose(frames, flow.decode(latent.round_trip(z[0], z[1], 6, "linear")), atol=1e-5)
