"""Whether an image is a digit at all, before anyone reads a class off it.

A classifier names one of ten digits for any input, static included, often with high confidence. Two measured
rules come first. Static: an image whose total variation (the summed absolute difference of neighbouring pixels)
exceeds that of every MNIST test digit is noisier than any handwriting, so the app gives it no label. No stroke:
an image framed like MNIST with fewer bright pixels than any MNIST training digit holds no pen stroke (a photo
of noise, shrunk to 28 x 28, becomes a faint grey blur).
"""

from __future__ import annotations

import numpy as np
import torch

# The largest total variation among the 10,000 MNIST test images; tests/test_judge.py recomputes it from the data.
MNIST_MAX_TV = 180.41
# The fewest pixels at half brightness or more in any of the 60,000 MNIST training digits; tested likewise.
MNIST_MIN_STROKE = 15
STATIC = "static"


def total_variation(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Summed absolute differences of horizontally and vertically neighbouring pixels, per image: (N,)."""
    x = torch.as_tensor(images, dtype=torch.float32)
    x = x.reshape(-1, *x.shape[-2:])
    return (x[:, 1:] - x[:, :-1]).abs().flatten(1).sum(1) + (x[:, :, 1:] - x[:, :, :-1]).abs().flatten(1).sum(1)


def is_static(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """True for each image noisier than every MNIST test digit: (N,) bool."""
    return total_variation(images) > MNIST_MAX_TV


def has_stroke(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """True for each image (values in [0, 1]) with at least as many bright pixels as every MNIST digit: (N,) bool."""
    x = torch.as_tensor(images, dtype=torch.float32)
    return (x.reshape(-1, *x.shape[-2:]) >= 0.5).flatten(1).sum(1) >= MNIST_MIN_STROKE


def called(probs: torch.Tensor | np.ndarray, images: torch.Tensor | np.ndarray, digit: int) -> torch.Tensor:
    """True for each image the classifier reads as ``digit`` and that is not static: (N,) bool."""
    return (torch.as_tensor(probs).argmax(1) == digit) & ~is_static(images)


def readings(probs: torch.Tensor | np.ndarray, images: torch.Tensor | np.ndarray) -> list[str]:
    """The label under each image: the classifier's digit and confidence, or ``STATIC`` where the image is static."""
    probs = torch.as_tensor(probs)
    confidence, digit = probs.max(1)
    return [STATIC if noisy else f"{d}  {p:.0%}"
            for d, p, noisy in zip(digit.tolist(), confidence.tolist(), is_static(images).tolist())]
