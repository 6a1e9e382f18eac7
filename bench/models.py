"""Model work: encode, decode and sample batches of 1, 64 and 1,024 for each shipped model as the app serves it
(``serving_layout``), median of repeats."""

from __future__ import annotations

import torch

from explorer import catalogue, checkpoints
from explorer.data import load_mnist
from explorer.device import describe, pick_device, serving_layout

from .timing import median_seconds, table

BATCHES = (1, 64, 1024)


def run(device: str | None = None) -> str:
    device = pick_device(device)
    images = load_mnist("test").as_float(device)[:max(BATCHES)]
    rows = []
    for name in catalogue.generative():
        try:
            model = serving_layout(checkpoints.load(name, device=device).model, device)
        except checkpoints.CheckpointError as err:
            rows.append([name, "-", "-", "-", f"unavailable: {err}"])
            continue
        for n in BATCHES:
            z = model.sample_latent(n, generator=torch.Generator().manual_seed(0))
            repeats = 3 if n == max(BATCHES) else 7
            with torch.inference_mode():
                decode = median_seconds(lambda: model.decode(z), repeats)
                sample = median_seconds(lambda: model.sample(n, generator=torch.Generator().manual_seed(0)), repeats)
            encode = median_seconds(lambda: model.encode(images[:n]), repeats)
            rows.append([name, n, f"{1e3 * encode:.1f}", f"{1e3 * decode:.1f}", f"{1e3 * sample:.1f}"])
    return (f"Model work on {describe(device)} (milliseconds, median)\n\n"
            + table(["model", "batch", "encode ms", "decode ms", "sample ms"], rows))
