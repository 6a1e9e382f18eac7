"""explorer.curves: smoothing, thinning, panels of the keys present, grid diversity."""

import io

import numpy as np
import pytest
from PIL import Image

from explorer import curves


def test_ema_without_smoothing_is_the_identity():
    values = np.random.default_rng(0).normal(size=50)
    np.testing.assert_allclose(curves.ema(values, 0.0), values)


def test_ema_matches_the_debiased_recursion():
    values = np.random.default_rng(1).normal(size=200)
    average, expected = 0.0, []
    for i, v in enumerate(values):
        average = 0.9 * average + 0.1 * v
        expected.append(average / (1 - 0.9 ** (i + 1)))
    np.testing.assert_allclose(curves.ema(values, 0.9), expected)


def test_ema_is_debiased_and_lags():
    np.testing.assert_allclose(curves.ema(np.full(30, 2.5), 0.99), 2.5)  # no pull towards zero at the start
    step = np.r_[np.zeros(50), np.ones(50)]
    smooth = curves.ema(step, 0.9)
    assert smooth[50] < 0.2 and 0.99 < smooth[-1] <= 1.0 and (np.diff(smooth) >= 0).all()


def test_ema_rejects_out_of_range_smoothing():
    for smoothing in (-0.1, 1.0):
        with pytest.raises(ValueError):
            curves.ema([1.0, 2.0], smoothing)


def test_thin_keeps_ends_and_bounds_the_count():
    assert curves.thin(10, 100).tolist() == list(range(10))
    keep = curves.thin(100_000, 2000)
    assert len(keep) <= 2000 and keep[0] == 0 and keep[-1] == 99_999 and (np.diff(keep) > 0).all()


def test_panels_show_only_the_keys_present():
    nonsaturating = {k: np.ones(5) for k in ("d_loss", "g_loss", "d_real", "d_fake", "encoder_loss")}
    nonsaturating[curves.GRIDS] = np.zeros((2, 64, 28, 28), np.uint8)
    panels = curves.panels(nonsaturating)
    assert [p.title for p in panels] == ["Losses", "Discriminator outputs", "First-guess encoder loss"]
    assert panels[1].keys == ("d_real", "d_fake")
    wgan = {k: np.ones(5) for k in ("d_loss", "g_loss", "wasserstein", "gradient_penalty")}
    assert [p.keys for p in curves.panels(wgan)] == [("d_loss", "g_loss"), ("wasserstein",), ("gradient_penalty",)]
    assert curves.panels({"bpd": np.ones(3), "empty": np.ones(0)}) == [curves.Panel("Bits per dimension", ("bpd",))]
    assert curves.panels({}) == []
    vae = curves.panels({k: np.ones(4) for k in ("loss", "recon", "kl")})
    assert vae == [curves.Panel("Loss and its terms", ("loss", "recon", "kl"))]


def test_diversity_drops_when_the_grid_collapses():
    rng = np.random.default_rng(0)
    varied = rng.integers(0, 256, (64, 28, 28), dtype=np.uint8)
    collapsed = np.repeat(varied[:2], 32, axis=0)
    same = np.repeat(varied[:1], 64, axis=0)
    values = curves.diversity(np.stack([varied, collapsed, same]))
    assert values.shape == (3,) and values[0] > values[1] > values[2] == 0
    black, white = np.zeros((1, 28, 28), np.uint8), np.full((1, 28, 28), 255, np.uint8)
    np.testing.assert_allclose(curves.diversity(np.concatenate([black, white])[None]), 1.0)  # the largest distance


def test_epochs_gif_has_a_frame_per_epoch():
    grids = np.random.default_rng(0).integers(0, 256, (3, 64, 28, 28), dtype=np.uint8)
    gif = Image.open(io.BytesIO(curves.epochs_gif(grids, scale=2)))
    assert gif.format == "GIF" and gif.n_frames == 3 and gif.size == (2 * (8 * 30 + 2),) * 2


def test_grid_moment_tells_a_finished_epoch_from_a_stopped_one():
    card = {"epochs": 1, "steps": 30, "train_size": 256, "batch_size": 16}  # a dry run stopped in epoch 2
    assert curves.grid_moment(card, 1) == "at the end of epoch 1 of 1"
    assert curves.grid_moment(card, 2) == "when training stopped, 14 steps into epoch 2"
    assert curves.grid_moment({"epochs": 0, "steps": 5}, 1) == "when training stopped, during epoch 1"


def test_steps_per_epoch_and_tail_means():
    assert curves.steps_per_epoch({"train_size": 1000, "batch_size": 64}) == 15  # full batches only
    assert curves.steps_per_epoch({"train_size": 1000}) is None
    history = {"d_loss": np.r_[np.zeros(90), np.ones(10)], curves.GRIDS: np.zeros((1, 64, 28, 28))}
    assert curves.tail_means(history) == {"d_loss": 1.0}
