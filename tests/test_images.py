"""What people see: grids, upscaled pixels, PNG and GIF bytes, non-finite pixels."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from explorer import images


def test_upscale_turns_every_pixel_into_a_block():
    image = np.arange(6, dtype=np.float32).reshape(2, 3)
    big = images.upscale(image, 3)
    assert big.shape == (6, 9) and big.dtype == np.float32
    assert np.array_equal(big[::3, ::3], image) and np.array_equal(big[3:6, 6:9], np.full((3, 3), 5.0))
    assert images.upscale(image, 1) is image


def test_grid_places_images_in_rows_with_borders():
    batch = torch.stack([torch.full((1, 28, 28), v) for v in (0.2, 0.4, 0.6)])
    picture = images.grid(batch, ncols=2, pad=2)
    assert picture.shape == (2 * 30 + 2, 2 * 30 + 2)
    assert picture[2:30, 2:30].min() == pytest.approx(0.2) and picture[2:30, 32:60].max() == pytest.approx(0.4)
    assert picture[32:60, 2:30].mean() == pytest.approx(0.6) and picture[32:60, 32:60].max() == 0  # an empty cell
    assert picture[:2].max() == 0 and picture[:, 30:32].max() == 0
    assert images.grid(batch, ncols=2, pad=2, scale=3).shape == (3 * 62, 3 * 62)


def test_png_and_gif_bytes_decode_to_the_pictures():
    frames = np.stack([np.eye(28, dtype=np.float32), np.ones((28, 28), np.float32)])
    png = Image.open(io.BytesIO(images.png_bytes(frames[0])))
    assert png.size == (28, 28) and np.array_equal(np.asarray(png), (frames[0] * 255).astype(np.uint8))
    gif = Image.open(io.BytesIO(images.gif_bytes(frames, scale=2)))
    assert gif.size == (56, 56) and gif.n_frames == 2


def test_labelled_grid_needs_one_label_per_image():
    batch = torch.rand(3, 1, 28, 28)
    assert images.labelled_grid(batch, ["a", "b", "c"], ncols=3, scale=2).shape[1] == 3 * (56 + 4) + 4
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        images.labelled_grid(batch, ["a", "b"])


def test_non_finite_pixels_are_shown_black_or_white_and_counted():
    batch = torch.full((3, 1, 28, 28), 0.5)
    batch[0, 0, 0, 0], batch[0, 0, 1, 1], batch[2, 0, 5, 5] = float("nan"), float("inf"), float("-inf")
    shown, bad = images.finite(batch)
    assert bad == 2 and torch.isfinite(shown).all()
    assert (shown[0, 0, 0, 0], shown[0, 0, 1, 1], shown[2, 0, 5, 5]) == (0.0, 1.0, 0.0)
