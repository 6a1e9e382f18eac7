"""Turning a user's image file into an MNIST-like digit: 28 x 28 grayscale, white stroke on black, centred.

Follows MNIST's own preparation (LeCun et al.): the digit's bounding box is scaled to fit 20 x 20 keeping
its aspect ratio, then placed in the 28 x 28 frame so that its centre of mass is at the centre. Photos
and scans of dark ink on light paper are inverted; transparency counts as background. Anything that is
not a readable image, is too large, or holds no digit (blank, or noise) raises ``UploadError`` with a message for people.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import judge

MAX_BYTES = 20 * 2**20
MAX_PIXELS = 40_000_000  # far beyond any photo of a digit, far below a decompression bomb
BOX, SIZE = 20, 28


class UploadError(ValueError):
    """A file could not be turned into a digit; the message names the file and says why."""


def load_digit(data: bytes, name: str = "upload") -> np.ndarray:
    """Image file bytes -> uint8 array (28, 28), white digit on black like MNIST."""
    digit = _mnist_frame(_grayscale(_open(data, name)), name)
    pixels = digit.astype(np.float32) / 255
    if judge.is_static(pixels).item() or not judge.has_stroke(pixels).item():
        raise UploadError(f"{name}: this looks like noise, not a digit: at 28 x 28 it has no clear pen stroke. "
                          "Please upload a single digit, dark on light or light on dark.")
    return digit


def _open(data: bytes, name: str) -> Image.Image:
    if len(data) == 0:
        raise UploadError(f"{name}: the file is empty.")
    if len(data) > MAX_BYTES:
        raise UploadError(f"{name}: {len(data) / 2**20:.1f} MB is too large; "
                          f"a digit needs under {MAX_BYTES // 2**20} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise UploadError(f"{name}: {image.width} x {image.height} pixels is too large; "
                                  f"please crop or shrink it below {MAX_PIXELS // 1_000_000} megapixels.")
            image.seek(0)  # the first frame of an animation
            image.load()
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise UploadError(f"{name}: far too many pixels for a digit; please crop or shrink it.") from err
    except UnidentifiedImageError as err:
        raise UploadError(f"{name}: not an image; please upload a PNG, JPEG, GIF, BMP, TIFF or WebP file.") from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise UploadError(f"{name}: the image is truncated or damaged ({err}).") from err
    if image.width < 1 or image.height < 1:
        raise UploadError(f"{name}: the image has no pixels.")
    return ImageOps.exif_transpose(image)


def _grayscale(image: Image.Image) -> np.ndarray:
    """Any mode (1, L, P, RGB, RGBA, LA, CMYK, I;16, I, F...) -> float (H, W) in [0, 1], white digit on black."""
    if image.mode == "P":
        image = image.convert("RGBA")
    alpha = None
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        alpha = np.asarray(image.getchannel("A"), dtype=np.float64) / 255
        image = image.convert("RGB")
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        gray = np.asarray(image, dtype=np.float64)
        low, high = np.nanmin(gray), np.nanmax(gray)
        gray = (gray - low) / (high - low) if high > low else np.zeros_like(gray)
    else:
        gray = np.asarray(image.convert("L"), dtype=np.float64) / 255
    if alpha is not None and alpha.min() < 1:
        # a stroke drawn on a transparent canvas: ink is where it is opaque and differs from the canvas
        ink_dark = (gray * alpha).sum() / max(alpha.sum(), 1e-9) < 0.5
        return alpha * (1 - gray if ink_dark else gray)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return 1 - gray if np.median(border) > 0.5 else gray


def _mnist_frame(gray: np.ndarray, name: str) -> np.ndarray:
    """White-on-black float image -> uint8 (28, 28): background removed, box scaled to 20, centre of mass centred."""
    background = np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]]))
    ink = np.clip((gray - background) / max(1 - background, 1e-9), 0, 1)
    if ink.max() < 0.2:
        raise UploadError(f"{name}: no digit found; the image is blank or has almost no contrast.")
    rows, cols = np.nonzero(ink > 0.2 * ink.max())
    ink = ink[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
    h, w = ink.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = np.asarray(Image.fromarray((ink * 255).astype(np.uint8)).resize(size, Image.Resampling.LANCZOS),
                       dtype=np.float64)
    frame = np.zeros((SIZE, SIZE))
    total = small.sum()
    cy, cx = (np.indices(small.shape) * small).reshape(2, -1).sum(1) / total if total > 0 else (0, 0)
    top = int(np.clip(round(SIZE / 2 - cy), 0, SIZE - small.shape[0]))
    left = int(np.clip(round(SIZE / 2 - cx), 0, SIZE - small.shape[1]))
    frame[top: top + small.shape[0], left: left + small.shape[1]] = small
    return np.clip(frame, 0, 255).round().astype(np.uint8)
