"""explorer.recon: reconstructions, per-image errors, seeded examples, the quantile-spaced latent plane."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explorer import checkpoints, recon
from explorer.data import Digits, load_mnist
from explorer.models.base import GenerativeModel


class Plane(GenerativeModel):
    """A 2-D latent stand-in whose decoding shows its code: pixel (0, 0) is sigmoid(z1), pixel (0, 1) sigmoid(z2)."""

    kind, latent_dim, inversion = "test", 2, "exact"

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))

    def decode(self, z):
        out = torch.zeros(len(z), 1, 28, 28)
        out[:, 0, 0, :2] = torch.sigmoid(z)
        return out


def test_errors_match_their_definitions():
    x = torch.rand(5, 1, 28, 28)
    x_hat = torch.rand(5, 1, 28, 28)
    np.testing.assert_allclose(recon.errors(x, x, "mse"), 0)
    np.testing.assert_allclose(recon.errors(x, x_hat, "mse"), ((x - x_hat) ** 2).flatten(1).mean(1), rtol=1e-5)
    expected = F.binary_cross_entropy(x_hat, x, reduction="none").flatten(1).sum(1)
    np.testing.assert_allclose(recon.errors(x, x_hat, "bce"), expected, rtol=1e-4)
    assert np.isfinite(recon.errors(x, torch.zeros_like(x), "bce")).all()  # clamped, never infinite
    with pytest.raises(ValueError):
        recon.errors(x, x, "l1")


def test_examples_are_grouped_by_digit_and_seeded():
    test = load_mnist("test")
    index = recon.examples(test, [9, 3], 4, seed=1)
    assert test.labels[index].tolist() == [9] * 4 + [3] * 4
    assert torch.equal(index, recon.examples(test, [9, 3], 4, seed=1))
    assert not torch.equal(index, recon.examples(test, [9, 3], 4, seed=2))
    assert len(recon.examples(test, [], 4, seed=0)) == 0
    few = Digits(test.images[:3], torch.tensor([1, 1, 2]))
    with pytest.raises(ValueError):
        recon.examples(few, [2], 2, seed=0)


def test_reconstruct_goes_through_the_interface(checkpoint_env):
    model = checkpoints.load("vae").model
    x = load_mnist("test").as_float()[:6]
    calls = []
    out = recon.reconstruct(model, x, run=lambda fn, *args: calls.append(fn.__name__) or fn(*args))
    assert out.shape == x.shape and calls == ["encode", "decode"]
    torch.testing.assert_close(out, model.decode(model.encode(x)))
    flow = checkpoints.load("flow").model  # exact inversion: the image comes back
    assert recon.errors(x, recon.reconstruct(flow, x), "mse").max() < 1e-4


def test_per_digit_error_averages_each_digit():
    means = recon.per_digit_error(np.array([1, 9, 1, 9]), np.array([1.0, 4.0, 3.0, 6.0]))
    assert means == {1: 2.0, 9: 5.0}


def test_quantile_grid_is_centred_and_evenly_spaced():
    u = recon.quantile_grid(20, 0.9)
    assert len(u) == 20 and u[0] > 0.05 and u[-1] < 0.95
    np.testing.assert_allclose(u + u[::-1], 1)
    np.testing.assert_allclose(np.diff(u), 0.9 / 20)
    with pytest.raises(ValueError):
        recon.quantile_grid(10, 1.0)


def test_latent_plane_is_laid_out_like_a_plot():
    n = 5
    cells = recon.latent_plane(Plane(), n, 0.9)
    assert cells.shape == (n * n, 28, 28)
    z = torch.special.ndtri(torch.from_numpy(recon.quantile_grid(n, 0.9)))
    first, last = torch.sigmoid(z[0]).item(), torch.sigmoid(z[-1]).item()
    top_left, bottom_right = cells[0, 0, :2], cells[-1, 0, :2]
    np.testing.assert_allclose(top_left, [first, last], rtol=1e-5)  # left: smallest z1; top: largest z2
    np.testing.assert_allclose(bottom_right, [last, first], rtol=1e-5)
    np.testing.assert_allclose(cells[1, 0, 1], last, rtol=1e-5)  # along the top row, z2 stays at its largest


def test_latent_plane_needs_a_2d_latent(checkpoint_env):
    with pytest.raises(ValueError, match="2-D"):
        recon.latent_plane(checkpoints.load("vae").model)


def test_plane_ticks_label_whole_z_inside_the_square():
    positions, labels = recon.plane_ticks(0.99)
    assert labels == ["-2", "-1", "0", "1", "2"]
    np.testing.assert_allclose(positions, [0.02275, 0.158655, 0.5, 0.841345, 0.97725], atol=1e-5)
    assert recon.plane_ticks(0.999)[1] == ["-3", "-2", "-1", "0", "1", "2", "3"]


def test_to_plane_is_the_normal_cdf():
    u = recon.to_plane(np.array([[0.0, -1.0], [1.0, 3.0]]))
    np.testing.assert_allclose(u, [[0.5, 0.158655], [0.841345, 0.998650]], atol=1e-6)
    np.testing.assert_allclose(recon.to_plane(torch.special.ndtri(torch.tensor([[0.3, 0.7]])).numpy()), [[0.3, 0.7]])
