"""The Likelihood page's answer to one drawn digit, per model: what a user waits for after each stroke.

For each model with a likelihood, the median seconds of its reading of one test digit (bits/dim, round trip) and
of its map of where the cost sits (drawn on request for the kinds in ``likelihood.MAPS_ON_REQUEST``), then the
page's whole answer with the maps it draws unasked: its work for a new image, the framing of the drawing aside.
"""

from __future__ import annotations

import torch

from explorer import catalogue, checkpoints, likelihood
from explorer.data import load_mnist

from .timing import median_seconds, table


def run(quick: bool = False) -> str:
    digit = load_mnist("test").as_float()[:1]
    repeats = 1 if quick else 5
    rows, answer = [], 0.0
    for name in catalogue.with_likelihood():
        model = checkpoints.load(name).model
        reading = median_seconds(lambda: likelihood.read(model, digit), repeats=repeats)
        mapping = median_seconds(lambda: likelihood.cost_map(model, digit), repeats=repeats)
        asked = model.kind in likelihood.MAPS_ON_REQUEST
        answer += reading + (0.0 if asked else mapping)
        rows.append([name, model.kind, f"{reading:.3f}", f"{mapping:.3f}", "on request" if asked else "always"])
    return (f"One digit's answer on the Likelihood page, {torch.get_num_threads()} torch thread(s), median of repeats\n\n"
            + table(["model", "kind", "reading (s)", "map (s)", "map drawn"], rows)
            + f"\n\nThe page's answer to a new drawing (every reading, the maps drawn unasked): {answer:.2f} s\n")
