"""Turning image tensors into what people see: grids, upscaled pixels, PNG and animated GIF bytes."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont


def to_numpy(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Images (N, 1, 28, 28) or (N, 28, 28), tensor or array -> float32 array (N, 28, 28) in [0, 1]."""
    if isinstance(images, torch.Tensor):
        images = images.detach().float().cpu().numpy()
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4:
        images = images[:, 0]
    return np.clip(images, 0.0, 1.0)


def grid(images: torch.Tensor | np.ndarray, ncols: int = 8, pad: int = 2, scale: int = 1) -> np.ndarray:
    """Tile N images into one (H, W) float array with ``pad`` pixels of border, upscaled ``scale`` times (nearest)."""
    images = to_numpy(images)
    n, h, w = images.shape
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    out = np.zeros((nrows * (h + pad) + pad, ncols * (w + pad) + pad), dtype=np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, ncols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = image
    return upscale(out, scale)


def upscale(image: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscaling, so digits stay crisp instead of blurred by the browser (``repeat``, faster than ``kron``)."""
    return image.repeat(scale, axis=0).repeat(scale, axis=1) if scale > 1 else image


def png_bytes(image: np.ndarray) -> bytes:
    """A float (H, W) image in [0, 1] as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def gif_bytes(frames: np.ndarray, scale: int = 4, frame_ms: int = 80) -> bytes:
    """Frames (T, 28, 28) in [0, 1] as a looping animated GIF, upscaled ``scale`` times."""
    frames = to_numpy(frames)
    pictures = [Image.fromarray((upscale(f, scale) * 255).round().astype(np.uint8)) for f in frames]
    buffer = io.BytesIO()
    # optimize=False: its palette search costs encoding time and saves no bytes on small greyscale frames
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=frame_ms, loop=0,
                     optimize=False)
    return buffer.getvalue()


def labelled_grid(images: torch.Tensor | np.ndarray, labels: list[str], ncols: int = 8, scale: int = 3,
                  pad: int = 2) -> np.ndarray:
    """Like ``grid`` (upscaled ``scale`` times) with a text strip under each image: labels that stay with their picture."""
    images = to_numpy(images)
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    font = ImageFont.load_default(size=4 * scale)
    size, strip = 28 * scale, 5 * scale
    ncols = max(1, min(ncols, len(images)))
    nrows = -(-len(images) // ncols)
    cell_w, cell_h = size + pad * scale, size + strip + pad * scale
    canvas = Image.new("L", (ncols * cell_w + pad * scale, nrows * cell_h + pad * scale), 0)
    draw = ImageDraw.Draw(canvas)
    for i, (image, label) in enumerate(zip(images, labels)):
        r, c = divmod(i, ncols)
        x, y = pad * scale + c * cell_w, pad * scale + r * cell_h
        canvas.paste(Image.fromarray((upscale(image, scale) * 255).round().astype(np.uint8)), (x, y))
        draw.text((x + size / 2, y + size + strip / 2), label, fill=255, font=font, anchor="mm")
    return np.asarray(canvas, dtype=np.float32) / 255


def finite(images: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Images with non-finite pixels set to black (NaN, -inf) or white (+inf), and how many images had any.

    A flow's inverse can overflow far from its training data; pages show such images black and say how many.
    """
    bad = int((~torch.isfinite(images)).flatten(1).any(1).sum())
    return torch.nan_to_num(images, nan=0.0, posinf=1.0, neginf=0.0), bad
