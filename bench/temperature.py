"""What the Samples page's temperature dial buys each generative model: sample quality per temperature.

For each model and temperature: the share of samples the classifier reads confidently as 0-8, their Fréchet
distance to the test digits (floor beside), the share it calls a 9, the largest gap between a digit's share and
1/9 (it grows when a model narrows onto a few digits as the codes shrink toward the prior's centre) and the
share of static tiles. Seed 1, not evaluate's seed 0, so that a default chosen here is not scored on the codes
that chose it.
"""

from __future__ import annotations

import torch

from explorer import catalogue, checkpoints
from explorer.data import load_mnist
from explorer.evaluate import fd_floor, generate, image_quality
from explorer.judge import is_static
from explorer.metrics import features

from .timing import table

TEMPERATURES = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
SAMPLES, SEED = 3000, 1


def run(quick: bool = False) -> str:
    classifier = checkpoints.load(catalogue.judge()).model
    reference = features(classifier, load_mnist("test").seen().as_float())
    samples = 200 if quick else SAMPLES
    floor = fd_floor(classifier, reference, samples)
    rows = []
    for name in catalogue.generative():
        model = checkpoints.load(name).model
        for temperature in TEMPERATURES[::3] if quick else TEMPERATURES:
            pictures = generate(model, samples, temperature=temperature, seed=SEED)
            quality = image_quality(pictures, classifier, reference, floor)
            rows.append([name, f"{temperature:g}", f"{quality['share_confident_0_8']:.1%}",
                         f"{quality['classifier_fd']:.2f}", f"{quality['share_called_9']:.1%}",
                         f"{quality['largest_share_gap_0_8']:.1%}", f"{is_static(pictures).float().mean().item():.1%}"])
    return (f"{samples:,} samples per model and temperature, seed {SEED}; FD floor at this size {floor:.2f}\n\n"
            + table(["model", "temperature", "confident 0-8", "FD", "called 9", "largest digit share gap", "static"],
                    rows))
