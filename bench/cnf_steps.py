"""The continuous flow's solver steps: what each costs and what it buys.

For each number of Runge-Kutta steps: the round trip's mean absolute pixel error (encode then decode 500 test digits
0-8), the seconds to decode 64 samples on this machine's torch threads, and the share of 1,000 samples the
classifier reads confidently as 0-8 with their Fréchet distance to the test digits (its floor at this size beside).
"""

from __future__ import annotations

import torch

from explorer import catalogue, checkpoints
from explorer.data import load_mnist
from explorer.evaluate import fd_floor, sample_quality
from explorer.metrics import features

from .timing import median_seconds, table

STEPS = (1, 2, 4, 8, 16, 32)
ROUND_TRIP_IMAGES, SAMPLES = 500, 1000


def run(quick: bool = False) -> str:
    cnf = checkpoints.load(catalogue.generative(first="cnf")[0]).model
    if cnf.kind != "cnf":
        raise SystemExit("no continuous-flow checkpoint to measure")
    classifier = checkpoints.load(catalogue.judge()).model
    test = load_mnist("test").seen().as_float()
    digits = test[:50 if quick else ROUND_TRIP_IMAGES]
    samples = 100 if quick else SAMPLES
    reference = features(classifier, test)
    floor = fd_floor(classifier, reference, samples)
    z = cnf.sample_latent(64, generator=0)
    rows = []
    for steps in STEPS[:3] if quick else STEPS:
        round_trip = (cnf.decode(cnf.encode(digits, steps), steps) - digits).abs().mean().item()
        seconds = median_seconds(lambda: cnf.decode(z, steps), repeats=3)
        quality = sample_quality(cnf, classifier, reference, floor, samples, steps=steps)
        rows.append([steps, 4 * steps, f"{round_trip:.2e}", f"{seconds:.2f}", f"{quality['share_confident_0_8']:.1%}",
                     f"{quality['classifier_fd']:.2f}"])
    return (f"Continuous flow ({cnf.config.channels} channels, default {cnf.config.steps} steps), "
            f"{torch.get_num_threads()} torch thread(s); FD floor at {samples:,} samples {floor:.2f}\n\n"
            + table(["RK4 steps", "network calls", "round-trip error", "decode 64 (s)", "confident 0-8", "FD"], rows))

