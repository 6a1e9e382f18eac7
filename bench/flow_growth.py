"""Growing the shipped flow at level 2 against training it further as it is, for the same CPU minutes.

Samples' shape is decided at level 2 (7 x 7): scaling that half of z moves the confident share and FD, scaling the
factored-out 14 x 14 half does not. So the grown arm appends steps there (``train flow --grow-steps``), each starting
as the identity, and trains the whole flow; the other arm trains the shipped flow as it is. Both continue from
``checkpoints/flow.*`` with the same learning-rate cycle and seed, side by side on one torch thread each, on uniform
dequantization (the first part of each of the shipped flow's cycles, so without its learned dequantizer). Each
arm's steps are set so that it takes ``minutes``: its step is timed here first. Scored on the trainer's test
bits/dim (uniform dequantization) and on 3,000 samples at temperature 1, seed 1, as bench temperature scores them.
The arms' weights stay in ``runs/flow_growth/`` to be continued from.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

import torch

from explorer import catalogue, checkpoints
from explorer.data import load_mnist
from explorer.device import fast_bf16
from explorer.evaluate import fd_floor, generate, image_quality
from explorer.metrics import features
from explorer.models.flow import FlowConfig
from explorer.train.loop import Context

from . import training
from .timing import table

FOLDER = Path(__file__).parent.parent / "runs" / "flow_growth"
GROWTH = (4, 64)  # steps appended to level 2, width of their nets: about 18% more work a step, 3 MB more weights
LEARNING_RATE = 1.5e-4  # the shipped flow's cycles (its card)
SAMPLES, SEED = 3000, 1


def run(minutes: float = 10.0, quick: bool = False) -> str:
    shipped = checkpoints.load("flow")
    config = replace(shipped.model.config, dequantizer_channels=0)  # the arms train on uniform dequantization
    grown = replace(config, grown_steps=config.grown_steps + GROWTH[0],
                    grown_hidden_channels=config.grown_hidden_channels or GROWTH[1])
    arms = {"as_is": ("trained further as it is", config),
            "grown": (f"grown by {GROWTH[0]} steps x {grown.grown_hidden_channels} at level 2", grown)}
    budget = 6 if quick else minutes * 60
    steps = {arm: max(1, round(budget / seconds_per_step(c, shipped.card, quick))) for arm, (_, c) in arms.items()}
    with ThreadPoolExecutor(2) as pool:
        cards = list(pool.map(lambda arm: train(arm, arms[arm][1], shipped.card, steps[arm]), arms))
    classifier = checkpoints.load(catalogue.judge()).model
    reference = features(classifier, load_mnist("test").seen().as_float())
    samples = 200 if quick else SAMPLES
    floor = fd_floor(classifier, reference, samples)
    rows = []
    for label, model, card in [("the shipped flow (start)", shipped.model, shipped.card),
                               *[(label, checkpoints.load("flow", FOLDER / arm).model, card)
                                 for (arm, (label, _)), card in zip(arms.items(), cards)]]:
        quality = image_quality(generate(model, samples, seed=SEED), classifier, reference, floor)
        rows.append([label, f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M",
                     f"{(card['train_time_s'] - shipped.card['train_time_s']) / 60:.0f}",
                     f"{(card['steps'] - shipped.card['steps']) * card['batch_size']:,}",
                     f"{card['metrics']['test_bpd_digits_0_8']:.4f}", f"{quality['share_confident_0_8']:.1%}",
                     f"{quality['classifier_fd']:.2f}"])
    return (f"The shipped flow continued for {minutes:g} minutes per arm, one torch thread each, side by side; "
            f"{samples:,} samples at temperature 1, seed {SEED}, FD floor at this size {floor:.2f}\n\n"
            + table(["arm", "parameters", "minutes", "images seen", "test bits/dim, digits 0-8", "confident 0-8",
                     "FD"], rows))


def seconds_per_step(config: FlowConfig, card: dict, quick: bool) -> float:
    """Wall seconds of one of the trainer's steps (bench training's) for a flow of ``config``, on one thread,
    with ``--amp`` as the trainer takes it on this CPU."""
    device, threads = torch.device("cpu"), torch.get_num_threads()
    ctx = Context(device, amp=fast_bf16(device))
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)  # as the trainer sets it
    task = training.build("flow", {**card, "config": asdict(config)}, ctx)
    rate = training.images_per_second(task, ctx, card["batch_size"], training.QUICK_STEPS if quick else 10)
    torch.set_num_threads(threads)
    return card["batch_size"] / rate


def train(arm: str, config: FlowConfig, card: dict, steps: int) -> dict:
    """Continue the shipped flow as ``config`` for ``steps`` steps in FOLDER / ``arm``; the card it writes, its
    progress in train.log there."""
    folder = FOLDER / arm
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in (".safetensors", ".json", ".history.safetensors"):
        shutil.copy(checkpoints.checkpoint_dir() / f"flow{suffix}", folder)
    command = [sys.executable, "-m", "explorer", "train", "flow", "--coupling", config.coupling,
               "--steps-per-level", str(config.steps_per_level), "--hidden-channels", str(config.hidden_channels),
               "--blocks", str(config.blocks), "--grow-steps", str(config.grown_steps),
               "--grow-hidden", str(config.grown_hidden_channels), "--amp", "--dequantizer", "0",
               "--epochs", str(card["epochs"] + 20), "--steps", str(card["steps"] + steps), "--new-cycle",
               "--lr", str(LEARNING_RATE), "--continue-checkpoint", "--fresh", "--out", str(folder),
               "--runs", str(folder / "runs")]
    with open(folder / "train.log", "w") as log:
        subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, stderr=log)
    return json.loads((folder / "flow.json").read_text())
