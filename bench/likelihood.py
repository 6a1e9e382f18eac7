"""The Likelihood page's answer to one drawn digit, per model: what a user waits for after each stroke.

For each flow, the median seconds of its reading of one test digit (bits/dim, round trip) and, for the discrete
flow, of its sensitivity map: the page's work for a new image, the framing of the drawing aside.
"""

from __future__ import annotations

import torch

from explorer import catalogue, checkpoints, likelihood
from explorer.data import load_mnist

from .timing import median_seconds, table


def run(quick: bool = False) -> str:
    digit = load_mnist("test").as_float()[:1]
    rows = []
    for name in catalogue.with_likelihood():
        model = checkpoints.load(name).model
        reading = median_seconds(lambda: likelihood.read(model, digit), repeats=1 if quick else 5)
        extra = median_seconds(lambda: likelihood.sensitivity(model, digit), repeats=1 if quick else 5) \
            if model.kind == "flow" else 0.0
        rows.append([name, model.kind, f"{reading:.3f}", f"{extra:.3f}" if extra else "-", f"{reading + extra:.3f}"])
    return (f"One digit's answer on the Likelihood page, {torch.get_num_threads()} torch thread(s), median of repeats\n\n"
            + table(["model", "kind", "reading (s)", "sensitivity map (s)", "total (s)"], rows))
