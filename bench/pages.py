"""The work behind each page's controls, step by step: what one control change calls, on the shipped checkpoints.

Wall and process CPU seconds of each call, so a page's slow step is named. Whole reruns in a real browser are
``bench/latency.py``; first projections of the test set are ``bench/embeddings.py``.
"""

from __future__ import annotations

import numpy as np
import torch

from explorer import catalogue, checkpoints, curves, embed, fewshot, latent, metrics, plots, recon
from explorer.data import HELD_OUT_DIGIT, few_shot, load_mnist, pick
from explorer.device import describe, pick_device

from .timing import once, table


class Steps:
    """Times calls and keeps one table row per call."""

    def __init__(self):
        self.rows: list[list] = []

    def __call__(self, page: str, work: str, fn, *args, **kwargs):
        out, wall, cpu = once(fn, *args, **kwargs)
        self.rows.append([page, work, f"{wall:.2f}", f"{cpu:.2f}"])
        return out


def run(device: str | None = None) -> str:
    device = pick_device(device)
    models = {n: checkpoints.load(n, device=device).model for n in catalogue.names()}
    models["judge"] = models[catalogue.judge()]
    test = load_mnist("test")
    step = Steps()
    interpolation(step, models, test, device)
    samples(step, models)
    embeddings(step, models, test)
    reconstructions(step, models, test, device)
    gan_training(step)
    few_shot_9(step, models, test)
    return (f"Work behind the pages' controls on {describe(device)} (seconds, one call each)\n\n"
            + table(["page", "work", "wall s", "cpu s"], step.rows))


def interpolation(step: Steps, models: dict, test, device) -> None:
    x = torch.cat([pick(test, 2, 0), pick(test, 8, 0)]).to(device)
    for name in catalogue.generative():
        frames = step("Interpolation", f"walk {name}, 10 steps (18 frames)", latent.walk, models[name], x[:1], x[1:], 10)
    step("Interpolation", "classifier on 10 frames", metrics.predict_proba, models["judge"], frames[:10])


def samples(step: Steps, models: dict) -> None:
    for name in catalogue.generative():
        for n in (64, 256):
            step("Samples", f"{name}, n = {n}", models[name].sample, n, 1.0, torch.Generator().manual_seed(0))
    step("Samples", "classifier labels for 256", metrics.predict_proba, models["judge"], torch.rand(256, 1, 28, 28))


def embeddings(step: Steps, models: dict, test) -> None:
    coords, labels = np.random.default_rng(0).normal(size=(len(test), 2)).astype(np.float32), test.labels.numpy()
    path = embed.cache_root() / "bench-map.npz"
    embed.write(path, coords, labels, 0.0)
    step("Embeddings", "read a stored map", embed.read, path)
    path.unlink()
    figure = step("Embeddings", "scatter figure of 10,000 points", plots.digit_scatter, coords, labels)
    step("Embeddings", "figure to JSON (what the browser gets)", figure.to_json)
    step("Embeddings", "neighbour mix of the map", embed.neighbour_mix, coords, labels)
    x = test.as_float()[:48]
    for name in catalogue.generative():
        step("Embeddings", f"encode + decode a selection of 48 ({name})", recon.reconstruct, models[name], x)


def reconstructions(step: Steps, models: dict, test, device) -> None:
    x = test.as_float(device)[:40]
    for name in catalogue.generative():
        step("Reconstructions", f"10 digits x 4 ({name})", recon.reconstruct, models[name], x)
    planar = catalogue.with_latent_dim(2)[0]
    step("Reconstructions", f"latent plane 20 x 20 ({planar})", recon.latent_plane, models[planar], 20, 0.99)
    coords, labels = np.random.default_rng(0).normal(size=(len(test), 2)), test.labels.numpy()
    step("Reconstructions", "plane figure with 10,000 codes, to JSON", lambda: plots.add_picture(
        plots.digit_scatter(coords, labels), np.zeros((560, 560)), (0.005, 0.995), (0.005, 0.995)).to_json())


def gan_training(step: Steps) -> None:
    card = checkpoints.read_card(catalogue.gans()[0])
    history = {k: v.numpy() for k, v in step("GAN_training", "load the GAN's history", checkpoints.load_history,
                                             card).items()}
    grids = history.pop("epoch_grids")
    step("GAN_training", f"smooth + thin {len(history)} series of {card['steps']:,} steps", lambda: [
        curves.ema(v, 0.9)[curves.thin(len(v), 2000)] for v in history.values()])
    step("GAN_training", f"diversity of {len(grids)} epoch grids", curves.diversity, grids)
    step("GAN_training", f"GIF of {len(grids)} epoch grids (on click)", curves.epochs_gif, grids)


def few_shot_9(step: Steps, models: dict, test) -> None:
    nines = test.held_out().as_float()
    ref = step("Few-shot_9", f"reference: {len(nines):,} test 9s (once per server)", fewshot.reference, nines,
               models["judge"], models["flow"])
    examples = few_shot(load_mnist("train"), HELD_OUT_DIGIT, 10, 0).as_float()
    for method in ("pixel", "flow", "vae"):
        step("Few-shot_9", f"{method}, k = 10, n = 64, scored", fewshot.run, method, examples, ref,
             flow=models["flow"], vae=models["vae"], classifier=models["judge"], n=64)
    step("Few-shot_9", f"fine-tune {fewshot.FINETUNE_STEPS} steps + test 9s' bits/dim", fewshot.transfer, models["flow"],
         examples, ref)
