"""Model work: encode, decode and sample batches of 1, 64 and 1,024 for each shipped model, in both memory layouts
on a CPU (the one the app serves each model in is marked), median of repeats."""

from __future__ import annotations

import copy

import torch

from explorer import catalogue, checkpoints
from explorer.data import load_mnist
from explorer.device import describe, pick_device, serves_channels_last

from .timing import median_seconds, table

BATCHES = (1, 64, 1024)


def run(device: str | None = None) -> str:
    device = pick_device(device)
    images = load_mnist("test").as_float(device)[:max(BATCHES)]
    rows = []
    for name in catalogue.generative():
        try:
            loaded = checkpoints.load(name, device=device).model
        except checkpoints.CheckpointError as err:
            rows.append([name, "-", "-", "-", "-", f"unavailable: {err}"])
            continue
        layouts = {"contiguous": loaded}
        if device.type == "cpu":
            layouts["channels last"] = copy.deepcopy(loaded).to(memory_format=torch.channels_last)
        served = "channels last" if serves_channels_last(loaded, device) else "contiguous"
        for layout, model in layouts.items():
            for n in BATCHES:
                rows.append([name, layout + (" (served)" if layout == served else ""), n, *_times(model, images[:n], n)])
    return (f"Model work on {describe(device)} (milliseconds, median)\n\n"
            + table(["model", "layout", "batch", "encode ms", "decode ms", "sample ms"], rows))


def _times(model, images: torch.Tensor, n: int) -> list[str]:
    z = model.sample_latent(n, generator=torch.Generator().manual_seed(0))
    repeats = 3 if n == max(BATCHES) else 7
    with torch.inference_mode():
        decode = median_seconds(lambda: model.decode(z), repeats)
        sample = median_seconds(lambda: model.sample(n, generator=torch.Generator().manual_seed(0)), repeats)
    encode = median_seconds(lambda: model.encode(images), repeats)
    return [f"{1e3 * encode:.1f}", f"{1e3 * decode:.1f}", f"{1e3 * sample:.1f}"]
