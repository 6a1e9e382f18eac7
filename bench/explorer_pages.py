"""Timings of the work behind the Embeddings, Reconstructions and GAN training pages, on the CPU.

    python bench/explorer_pages.py [CHECKPOINT_DIR] [--threads N] [--projections]

Prints wall-clock and process CPU seconds of each step a control triggers; on a busy machine the CPU
seconds (with --threads 1) estimate the wall time on an idle core. Speed does not depend on training, so a
checkpoint missing from the folder is replaced by its architecture's defaults with untrained weights.
``--projections`` also times a first projection of the 10,000 test codes (minutes, once per checkpoint).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from explorer import checkpoints, curves, embed, plots, recon
from explorer.data import load_mnist
from explorer.models import build_model

NAMES = ("flow", "vae", "vae2", "gan")
VAE2 = {"latent_dim": 2, "channels": [16, 32], "hidden": 128}  # the shipped vae2's command line


def timed(label: str, fn, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.inference_mode():
        out = fn(*args, **kwargs)
    print(f"{label:56s} wall {time.perf_counter() - wall:7.2f} s   cpu {time.process_time() - cpu:7.2f} s", flush=True)
    return out


def model(name: str, directory):
    try:
        return checkpoints.load(name, directory).model
    except checkpoints.CheckpointError:
        kind, config = ("vae", VAE2) if name == "vae2" else (name, {})
        print(f"({name}: no usable checkpoint, timing an untrained {kind} {config or 'with default config'})")
        fresh = build_model(kind, config).eval().requires_grad_(False)
        if hasattr(fresh, "initialize"):
            fresh.initialize(load_mnist("train").as_float()[:256])
        return fresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", nargs="?", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--projections", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    print(f"torch threads {torch.get_num_threads()}")
    models = {n: model(n, args.directory) for n in NAMES}
    test = load_mnist("test")
    x = test.as_float()

    coords, labels = np.random.default_rng(0).normal(size=(len(test), 2)).astype(np.float32), test.labels.numpy()
    path = embed.cache_root() / "bench-map.npz"
    embed.write(path, coords, labels, 0.0)
    timed("embeddings: read a stored map", embed.read, path)
    figure = timed("embeddings: scatter figure of 10,000 points", plots.digit_scatter, coords, labels)
    timed("embeddings: figure to JSON (what the browser gets)", figure.to_json)
    timed("embeddings: neighbour mix of the map", embed.neighbour_mix, coords, labels)
    path.unlink()
    for name, m in models.items():
        timed(f"embeddings: decode a selection of 48 ({name})", recon.reconstruct, m, x[:48])
    for name, m in models.items():
        timed(f"reconstructions: 10 digits x 4 ({name})", recon.reconstruct, m, x[:40])
    timed("reconstructions: latent plane 20 x 20 (vae2)", recon.latent_plane, models["vae2"], 20, 0.99)
    timed("reconstructions: plane figure with 10,000 codes", lambda: plots.add_picture(
        plots.digit_scatter(coords, labels), np.zeros((560, 560)), (0.005, 0.995), (0.005, 0.995)).to_json())

    steps = 10 * 422
    history = {k: np.random.default_rng(1).random(steps) for k in ("d_loss", "g_loss", "d_real", "d_fake")}
    grids = np.random.default_rng(2).integers(0, 256, (10, 64, 28, 28), dtype=np.uint8)
    timed(f"gan training: smooth + thin 4 series of {steps} steps", lambda: [
        curves.ema(v, 0.9)[curves.thin(len(v), 2000)] for v in history.values()])
    timed("gan training: diversity of 10 epoch grids", curves.diversity, grids)
    timed("gan training: GIF of 10 epoch grids (on click)", curves.epochs_gif, grids)

    if args.projections:
        for name, m in models.items():
            z = timed(f"first projection: encode 10,000 test images ({name})", embed.encode_all, m, x)
            for method in embed.METHODS:
                timed(f"first projection: {embed.METHODS[method]} of {name}'s codes", embed.project, z, method,
                      embed.settings_for(method))


if __name__ == "__main__":
    main()
