"""The Likelihood page's answer to one drawn digit, per model: what a user waits for after each stroke.

For each model with a likelihood, the median seconds of its reading of one test digit (bits/dim, round trip) and
of its map of where the cost sits (drawn on request for the kinds in ``likelihood.MAPS_ON_REQUEST``), then the
page's whole answer with the maps it draws unasked: its work for a new image, the framing of the drawing aside.
Then, for the flows, how the page's readings (one fixed draw, fewer solver steps) agree with the bound their cards
report (seeded draws, the full solver) on the same test digits.
"""

from __future__ import annotations

import numpy as np
import torch

from explorer import catalogue, checkpoints, likelihood
from explorer.data import load_mnist

from .timing import median_seconds, table


AGREEMENT_IMAGES = 100  # test digits on which the page's reading meets the card's bound


def run(quick: bool = False) -> str:
    test = load_mnist("test").as_float()
    digit, repeats, images = test[:1], 1 if quick else 5, 10 if quick else AGREEMENT_IMAGES
    rows, agreement, answer = [], [], 0.0
    for name in catalogue.with_likelihood():
        model = checkpoints.load(name).model
        if model.kind != "vae":  # a VAE's page reading is its evaluated bound by construction
            agreement.append([name, *_agreement(model, test[:images])])
        reading = median_seconds(lambda: likelihood.read(model, digit), repeats=repeats)
        mapping = median_seconds(lambda: likelihood.cost_map(model, digit), repeats=repeats)
        asked = model.kind in likelihood.MAPS_ON_REQUEST
        answer += reading + (0.0 if asked else mapping)
        rows.append([name, model.kind, f"{reading:.3f}", f"{mapping:.3f}", "on request" if asked else "always"])
    return (f"One digit's answer on the Likelihood page, {torch.get_num_threads()} torch thread(s), median of repeats\n\n"
            + table(["model", "kind", "reading (s)", "map (s)", "map drawn"], rows)
            + f"\n\nThe page's answer to a new drawing (every reading, the maps drawn unasked): {answer:.2f} s\n"
            + f"\nThe page's flow readings against the bound the cards report, on the first {images} test digits\n\n"
            + table(["model", "page (bits/dim)", "card's bound", "mean abs difference", "correlation"], agreement)
            + "\n")


def _agreement(model, x: torch.Tensor) -> list[str]:
    """The page's mean reading of images ``x``, the cards' (seeded draws, the default solver), their mean absolute
    difference and correlation per image."""
    batches = [x[i:i + likelihood.BATCH] for i in range(0, len(x), likelihood.BATCH)]
    page = torch.cat([likelihood.bits_per_dim(model, batch).cpu() for batch in batches])
    generator = torch.Generator().manual_seed(0)  # as metrics.mean_bits_per_dim, per image
    card = torch.cat([model.bits_per_dim(batch.to(model.device), generator).detach().cpu() for batch in batches])
    return [f"{page.mean():.3f}", f"{card.mean():.3f}", f"{(page - card).abs().mean():.3f}",
            f"{np.corrcoef(page.numpy(), card.numpy())[0, 1]:.3f}"]
