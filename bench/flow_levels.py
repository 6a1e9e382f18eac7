"""Where the flow's samples lose their shape: each half of its code taken from a real test digit or from the prior.

The flow's code z has two halves: the 14 x 14 half factored out after level 1 (its fine detail) and level 2's
7 x 7 code (the rest). Decoding a real digit's level-2 code with a random 14 x 14 half, and the other way round,
says which half's model decides whether a sample reads as a digit: the shipped flow's sample gap lies wherever
the drawn half loses it. 3,000 test digits 0-8 (a fixed random pick) encoded as ``encode`` does; draws from the
prior at temperature 1, seed 1, scored as bench temperature scores samples.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from explorer import catalogue, checkpoints
from explorer.data import load_mnist
from explorer.evaluate import fd_floor, image_quality
from explorer.metrics import features
from explorer.models.flow import HALF, Flow

from .timing import table

SAMPLES, SEED = 3000, 1


def run(quick: bool = False) -> str:
    flow, judge, test, n = setting(quick)
    generator = torch.Generator().manual_seed(SEED)
    picked = test[torch.randperm(len(test), generator=generator)[:n]]
    real = torch.cat([flow.encode(batch) for batch in picked.split(500)])
    drawn = flow.sample_latent(len(real), 1.0, generator)
    arms = [("real", "real", real),
            ("real", "drawn", torch.cat([drawn[:, :HALF], real[:, HALF:]], 1)),
            ("drawn", "real", torch.cat([real[:, :HALF], drawn[:, HALF:]], 1)),
            ("drawn", "drawn", drawn)]
    rows = [[level2, fine, *scores(flow, z, judge)] for level2, fine, z in arms]
    return (f"The shipped flow, {n:,} test digits 0-8 and as many draws from the prior (temperature 1, seed {SEED}); "
            f"FD floor at this size {judge.floor:.2f}\n\n"
            + table(["level 2's 7 x 7 code", "factored-out 14 x 14 half", "confident 0-8", "FD"], rows))


class Judge(NamedTuple):
    """The classifier that scores samples, the test digits' features it scores them against, the FD floor."""
    classifier: nn.Module
    reference: np.ndarray
    floor: float


def setting(quick: bool) -> tuple[Flow, Judge, torch.Tensor, int]:
    """The shipped flow, its judge, the test digits 0-8 and how many samples to score (fewer in a quick run)."""
    classifier = checkpoints.load(catalogue.judge()).model
    test = load_mnist("test").seen().as_float()
    reference = features(classifier, test)
    n = 200 if quick else SAMPLES
    return checkpoints.load("flow").model, Judge(classifier, reference, fd_floor(classifier, reference, n)), test, n


def scores(flow: Flow, z: torch.Tensor, judge: Judge) -> list[str]:
    """Confident share and FD of the images the codes ``z`` (N, 784) decode to, as table cells."""
    quality = image_quality(torch.cat([flow.decode(batch) for batch in z.split(500)]), *judge)
    return [f"{quality['share_confident_0_8']:.1%}", f"{quality['classifier_fd']:.2f}"]
