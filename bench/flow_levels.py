"""Where the flow's samples lose their shape: each half of its code taken from a real test digit or from the prior.

The flow's code z has two halves: the 14 x 14 half factored out after level 1 (its fine detail) and level 2's
7 x 7 code (the rest). Decoding a real digit's level-2 code with a random 14 x 14 half, and the other way round,
says which half's model decides whether a sample reads as a digit: the shipped flow's sample gap lies wherever
the drawn half loses it. 3,000 test digits 0-8 (a fixed random pick) encoded as ``encode`` does; draws from the
prior at temperature 1, seed 1, scored as bench temperature scores samples.
"""

from __future__ import annotations

import torch

from explorer import catalogue, checkpoints
from explorer.data import load_mnist
from explorer.evaluate import fd_floor, image_quality
from explorer.metrics import features
from explorer.models.flow import IMAGE_DIM

from .timing import table

HALF = IMAGE_DIM // 2  # z[:, :HALF] is the factored-out 14 x 14 half, z[:, HALF:] level 2's code (Flow.inverse)
SAMPLES, SEED = 3000, 1


def run(quick: bool = False) -> str:
    flow = checkpoints.load("flow").model
    classifier = checkpoints.load(catalogue.judge()).model
    test = load_mnist("test").seen().as_float()
    reference = features(classifier, test)
    n = 200 if quick else SAMPLES
    floor = fd_floor(classifier, reference, n)
    generator = torch.Generator().manual_seed(SEED)
    real = torch.cat([flow.encode(batch) for batch in test[torch.randperm(len(test), generator=generator)[:n]].split(500)])
    drawn = torch.randn(real.shape, generator=generator)
    arms = [("real", "real", real),
            ("real", "drawn", torch.cat([drawn[:, :HALF], real[:, HALF:]], 1)),
            ("drawn", "real", torch.cat([real[:, :HALF], drawn[:, HALF:]], 1)),
            ("drawn", "drawn", drawn)]
    rows = []
    for level2, fine, z in arms:
        quality = image_quality(torch.cat([flow.decode(batch) for batch in z.split(500)]), classifier, reference, floor)
        rows.append([level2, fine, f"{quality['share_confident_0_8']:.1%}", f"{quality['classifier_fd']:.2f}"])
    return (f"The shipped flow, {n:,} test digits 0-8 and as many draws from the prior (temperature 1, seed {SEED}); "
            f"FD floor at this size {floor:.2f}\n\n"
            + table(["level 2's 7 x 7 code", "factored-out 14 x 14 half", "confident 0-8", "FD"], rows))
