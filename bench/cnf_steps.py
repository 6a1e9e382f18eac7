"""The continuous flow's solver steps and guidance: what each costs and what it buys.

For each number of Runge-Kutta steps: the round trip's mean absolute pixel error (encode then decode 500 test digits
0-8), the seconds to decode 64 samples on this machine's torch threads, and the share of 1,000 samples the
classifier reads confidently as 0-8 with their Fréchet distance to the test digits (its floor at this size beside).
Then, at the default steps, the same measures on an evenly spaced time grid beside the solver's own, whose steps
shorten toward the digit; and, where the model has a guide, for each guidance weight (1: the trained field alone),
with the largest gap between a digit's share of the samples and 1/9, which grows when guidance drops variety.
"""

from __future__ import annotations

import torch

from explorer import catalogue, checkpoints
from explorer.data import load_mnist
from explorer.evaluate import fd_floor, generate, image_quality, sample_quality
from explorer.metrics import features
from explorer.models.cnf import solver_times

from .timing import median_seconds, table

STEPS = (1, 2, 4, 8, 16, 32)
GUIDANCE = (1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)
ROUND_TRIP_IMAGES, SAMPLES, GRID_SAMPLES = 500, 1000, 3000
GUIDANCE_SEED = 1  # not evaluate's seed 0, so that the weight is not chosen on the codes that score it


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
    steps, grid_samples = cnf.config.steps, 100 if quick else GRID_SAMPLES
    grid_floor = fd_floor(classifier, reference, grid_samples)
    grids = [grid_row(cnf, name, times, digits, grid_samples, classifier, reference, grid_floor) for name, times in
             (("even", [i / steps for i in range(steps + 1)]), ("shorter toward the digit", solver_times(steps)))]
    config = cnf.config
    guide = (f", guided by a {config.guide_channels}-channel field at weight {config.guidance:g}: each step also calls "
             "the guide four times" if cnf.guide is not None else "")
    report = (f"Continuous flow ({config.channels} channels, default {steps} steps{guide}), "
              f"{torch.get_num_threads()} torch thread(s); FD floor at {samples:,} samples {floor:.2f}\n\n"
              + table(["RK4 steps", "network calls", "round-trip error", "decode 64 (s)", "confident 0-8", "FD"], rows)
              + f"\n\nThe time grid at {steps} steps: {grid_samples:,} samples from the same codes, FD floor "
                f"{grid_floor:.2f}\n\n"
              + table(["grid", "round-trip error", "confident 0-8", "FD"], grids))
    if cnf.guide is None:
        return report
    weights = GUIDANCE[::3] if quick else GUIDANCE
    guided = [guidance_row(cnf, w, z, grid_samples, classifier, reference, grid_floor) for w in weights]
    return (report + f"\n\nGuidance at {steps} steps: {grid_samples:,} samples, seed {GUIDANCE_SEED}, FD floor "
                     f"{grid_floor:.2f}\n\n"
            + table(["guidance", "decode 64 (s)", "confident 0-8", "FD", "largest digit share gap"], guided))


def guidance_row(cnf, weight: float, z: torch.Tensor, samples: int, classifier, reference, floor: float) -> list:
    seconds = median_seconds(lambda: cnf.decode(z, guidance=weight), repeats=3)
    pictures = generate(cnf, samples, seed=GUIDANCE_SEED, guidance=weight)
    quality = image_quality(pictures, classifier, reference, floor)
    return [f"{weight:g}", f"{seconds:.2f}", f"{quality['share_confident_0_8']:.1%}", f"{quality['classifier_fd']:.2f}",
            f"{quality['largest_share_gap_0_8']:.1%}"]


@torch.no_grad()
def grid_row(cnf, name: str, times: list[float], digits: torch.Tensor, samples: int, classifier, reference,
             floor: float) -> list:
    """Round trip and sample quality with the solver run over the time grid ``times`` instead of its own."""
    def decoded(z):
        return ((cnf.integrate(z, times) + 1) / 2).clamp(0, 1)

    round_trip = (decoded(cnf.integrate(cnf.to_data(digits), times[::-1])) - digits).abs().mean().item()
    codes = cnf.sample_latent(samples, generator=torch.Generator().manual_seed(0)).view(-1, 1, 28, 28)
    quality = image_quality(torch.cat([decoded(z) for z in codes.split(256)]), classifier, reference, floor)
    return [name, f"{round_trip:.2e}", f"{quality['share_confident_0_8']:.1%}", f"{quality['classifier_fd']:.2f}"]
