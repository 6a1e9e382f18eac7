"""A small convolutional digit classifier over all ten digits: the judge of what the generative models draw.

Unlike the generative models it is trained on digit 9 too, so it can say when a sample looks like a 9 and
its penultimate features give the classifier-feature Frechet distance (FID's recipe with an MNIST network
in place of Inception; Heusel et al. 2017, https://arxiv.org/abs/1706.08500).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # pixel statistics of the MNIST training set


@dataclass
class ClassifierConfig:
    channels: tuple[int, int] = (16, 32)  # conv widths at 28 x 28 and 14 x 14
    hidden: int = 128  # feature width (the penultimate layer)
    dropout: float = 0.3


def _block(c_in: int, c_out: int) -> nn.Sequential:
    """Two 3x3 convolutions with batch norm, then 2x2 max-pooling: (N, c_in, H, W) -> (N, c_out, H/2, W/2)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
        nn.MaxPool2d(2),
    )


class Classifier(nn.Module):
    """Images (N, 1, 28, 28) in [0, 1] -> logits over the digits 0-9 (N, 10)."""

    kind = "classifier"
    channels_last_on_cpu = True  # served in oneDNN's channels-last layout on a CPU (``device.serving_layout``)

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        self.body = nn.Sequential(
            _block(1, c1), _block(c1, c2),  # (N, c2, 7, 7)
            nn.Flatten(), nn.Linear(c2 * 49, config.hidden, bias=False), nn.BatchNorm1d(config.hidden), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.hidden, 10))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations (N, hidden) of images (N, 1, 28, 28)."""
        return self.body((x - MNIST_MEAN) / MNIST_STD)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
