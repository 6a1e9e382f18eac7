"""Training throughput: images/s of each trainer's step at its shipped configuration (from the checkpoint cards).

Float32 eager and bfloat16 autocast (the trainers' ``--amp``) everywhere; on CUDA also ``torch.compile`` and both.
The tasks come from explorer/train/*.py and the data is the loop's own (resident tensors, index batches), so a
step here is a step in training; the first steps (compilation, allocation) are left out. Nothing is written.
"""

from __future__ import annotations

import argparse
import importlib

from explorer import catalogue, checkpoints
from explorer.data import load_mnist
from explorer.device import describe, pick_device
from explorer.models import MODELS
from explorer.train import flow, gan
from explorer.train.loop import Context, Task, epoch_batches, resident_data

from .timing import once, table

STEPS, QUICK_STEPS, WARMUP_STEPS = 20, 3, 3


def run(device: str | None = None, quick: bool = False) -> str:
    device = pick_device(device)
    variants = {"float32 eager": (False, False), "bf16 autocast": (True, False)}
    if device.type == "cuda":
        variants.update({"compile": (False, True), "bf16 autocast + compile": (True, True)})
    steps = QUICK_STEPS if quick else STEPS
    rows = []
    for name in catalogue.names():
        card = checkpoints.read_card(name)
        for variant, (amp, compiled) in variants.items():
            ctx = Context(device, amp=amp, compile=compiled)  # the trainers' --amp and --compile
            rate = images_per_second(build(name, card, ctx), ctx, card["batch_size"], steps)
            rows.append([name, card["batch_size"], variant, f"{rate:,.0f}"])
    return (f"Training throughput on {describe(device)}: {steps} steps after {WARMUP_STEPS} warm-up steps\n\n"
            + table(["trainer", "batch", "settings", "images/s"], rows))


def build(name: str, card: dict, ctx: Context) -> Task:
    """The trainer's task at the card's configuration; the learning rate does not change the speed."""
    lr, betas = gan.OPTIMIZER_DEFAULTS["nonsaturating"]
    args = argparse.Namespace(lr=lr, betas=betas, epochs=1, seed=0, dry_run=False, batch_size=card["batch_size"],
                              n_critic=5 if card["config"].get("loss") == "wgan-gp" else 1, gp_weight=10.0, ema=0.999,
                              decay_from=None, freeze_flow=False, top_k=1.0)
    config = MODELS[card["kind"]][1](**card["config"])
    if card["kind"] == "flow":
        return flow.FlowTask(config, args, ctx, load_mnist("train").seen().as_float(ctx.device)[:512])
    return importlib.import_module(f"explorer.train.{card['kind']}").TASK(config, args, ctx)


def images_per_second(task: Task, ctx: Context, batch_size: int, steps: int) -> float:
    x, y, _, _ = resident_data(task.classes, ctx.device, dry_run=False)
    batches = epoch_batches(len(x), batch_size, 0, 0, ctx)[:WARMUP_STEPS + steps]
    task.total_steps = len(batches)
    for i, idx in enumerate(batches[:WARMUP_STEPS]):
        task.step(x[idx], y[idx], i)
    timed = list(enumerate(batches))[WARMUP_STEPS:]
    _, wall, _ = once(lambda: [task.step(x[idx], y[idx], i) for i, idx in timed])
    return steps * batch_size / wall
