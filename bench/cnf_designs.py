"""Continuous-flow designs at equal CPU minutes, judged at equal decoding cost.

Decoding 64 samples must take at most 1.5 s on one thread, so width and solver steps trade against each other: a
narrow velocity field can afford more Runge-Kutta steps than a wide one. Each design trains with
``python -m explorer train cnf`` (its own full-run schedule, same data and seed) for the same wall-clock minutes on
one torch thread, one design at a time; then its weight average draws 1,000 samples at its solver steps, which the
classifier reads. The snapshots stay in ``runs/cnf_designs/``, so the chosen design can train on:
``python -m explorer train cnf <its options> --name <its name> --runs runs/cnf_designs``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from explorer import checkpoints, catalogue
from explorer.data import load_mnist
from explorer.evaluate import fd_floor, sample_quality
from explorer.metrics import features

from .timing import median_seconds, table

RUNS = Path("runs/cnf_designs")
SAMPLES = 1000
DESIGNS = {
    "32 channels, 2 blocks, 8 RK4 steps": ["--channels", "32", "--blocks", "2", "--solver-steps", "8", "--epochs", "60"],
    "48 channels, 2 blocks, 4 RK4 steps": ["--channels", "48", "--blocks", "2", "--solver-steps", "4", "--epochs", "30"],
}


def run(minutes: float = 10.0, quick: bool = False) -> str:
    minutes = 0.2 if quick else minutes
    classifier = checkpoints.load(catalogue.judge()).model
    reference = features(classifier, load_mnist("test").seen().as_float())
    floor = fd_floor(classifier, reference, SAMPLES)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for i, design in enumerate(DESIGNS):
            model, card = train(f"design{i}", DESIGNS[design], minutes, Path(folder))
            quality = sample_quality(model, classifier, reference, floor, SAMPLES)
            z = model.sample_latent(64, generator=0)
            rows.append([design, f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M",
                         f"{card['steps'] * card['batch_size']:,}", f"{card['metrics']['test_matching_loss_digits_0_8']:.4f}",
                         f"{quality['share_confident_0_8']:.1%}", f"{quality['classifier_fd']:.2f}",
                         f"{median_seconds(lambda: model.decode(z), repeats=3):.2f}"])
    return (f"Continuous-flow designs after {minutes:g} minutes of training each, one torch thread, bf16; "
            f"{SAMPLES:,} samples each (FD floor at this size {floor:.2f})\n\n"
            + table(["design", "parameters", "images seen", "held-out matching loss", "confident 0-8",
                     "FD", "decode 64 (s)"], rows))


def train(name: str, options: list[str], minutes: float, folder: Path):
    """Train one design for ``minutes`` (snapshot kept under RUNS); its weight average and card."""
    command = [sys.executable, "-m", "explorer", "train", "cnf", *options, "--amp", "--name", name,
               "--max-minutes", str(minutes), "--out", str(folder), "--runs", str(RUNS)]
    subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, stderr=subprocess.DEVNULL)
    torch.set_num_threads(1)
    loaded = checkpoints.load(name, directory=folder)
    return loaded.model, loaded.card
