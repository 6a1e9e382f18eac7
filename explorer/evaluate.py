"""Recompute every shipped checkpoint's headline numbers and write them into its card.

Flow: bits/dim on test digits 0-8 and on test 9s (uniform dequantization, one draw) and, for a flow with a learned
dequantizer, the importance-weighted bound over its draws. VAE: negative ELBO and the importance-weighted NLL in nats
on a fixed binarization of test digits 0-8. Every generative model: the Frechet distance between classifier
features of its samples (temperature 1, seed 0) and of test digits 0-8, beside the floor a perfect model would
score (training digits 0-8 against the same test digits, equally many), the share of samples the classifier calls
a 9, the share it calls one of 0-8 with confidence above 0.9, and how far the most over- or under-drawn digit's
share is from 1/9. Classifier: test accuracy on all ten digits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import catalogue, checkpoints
from .data import HELD_OUT_DIGIT, load_mnist
from .device import pick_device
from .metrics import (BATCH, binarize, classify, features, frechet_distance, mean_bits_per_dim,
                      mean_importance_weighted_bits_per_dim, predict_proba, vae_iwae_nll, vae_negative_elbo)

IWAE_SAMPLES = 100  # larger k tightens the bound (Burda et al. use 5000) at proportional cost
CONFIDENT = 0.9
DEQUANTIZER_DRAWS = 8  # draws of a flow's learned dequantizer per image, for its importance-weighted bound
CNF_BPD_IMAGES = 1000  # test images of each set whose continuous-flow likelihood is integrated (minutes each)


@dataclass
class Evaluation:
    """Measured ``metrics`` and ``kinds`` by checkpoint name, and why a name was ``skipped``."""

    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@torch.no_grad()
def generate(model: nn.Module, n: int, *, temperature: float = 1.0, seed: int = 0, batch_size: int = BATCH,
             **decode_options) -> torch.Tensor:
    """``n`` samples (n, 1, 28, 28) in [0, 1] on the CPU, as ``model.sample`` draws them for this seed, in batches
    with ``decode_options`` (the continuous flow's ``steps``)."""
    z = model.sample_latent(n, temperature, torch.Generator().manual_seed(seed))
    chunks = [model.draw(z[i:i + batch_size], **decode_options).cpu() for i in range(0, n, batch_size)]
    return torch.cat(chunks) if chunks else torch.empty(0, 1, 28, 28)


def sample_quality(model: nn.Module, classifier: nn.Module, reference: np.ndarray, floor: float, n: int, *,
                   temperature: float = 1.0, **decode_options) -> dict[str, float]:
    """Frechet distance of ``n`` samples' classifier features to ``reference`` features (M, F), its ``floor``, label
    shares; samples as ``generate`` draws them."""
    return image_quality(generate(model, n, temperature=temperature, seed=0, **decode_options), classifier, reference,
                         floor)


def image_quality(images: torch.Tensor, classifier: nn.Module, reference: np.ndarray, floor: float) -> dict[str, float]:
    """``sample_quality`` of images (n, 1, 28, 28) in [0, 1] however they were made."""
    probs, feats = classify(classifier, images)
    confidence, label = probs.max(1)
    shares = torch.bincount(label, minlength=10)[:HELD_OUT_DIGIT] / len(images)
    return {
        "classifier_fd": round(frechet_distance(feats, reference), 4),
        "classifier_fd_floor": round(floor, 4),
        f"share_called_{HELD_OUT_DIGIT}": round((label == HELD_OUT_DIGIT).float().mean().item(), 4),
        "share_confident_0_8": round(((label != HELD_OUT_DIGIT) & (confidence > CONFIDENT)).float().mean().item(), 4),
        # a dropped or over-drawn digit: the largest distance of one digit's share of the samples from 1/9
        "largest_share_gap_0_8": round((shares - 1 / len(shares)).abs().max().item(), 4),
        "fd_samples": len(images),
    }


def fd_floor(classifier: nn.Module, reference: np.ndarray, n: int) -> float:
    """Frechet distance of ``n`` training digits 0-8 (a fixed random subset) to ``reference`` features: what real data scores."""
    train = load_mnist("train").seen()
    pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:n]
    return frechet_distance(features(classifier, train.as_float()[pick]), reference)


def evaluate(names: list[str] | None = None, *, directory: Path | None = None, samples: int = 10_000,
             iwae_samples: int = IWAE_SAMPLES, test_images: int | None = None,
             device: str | None = None, write: bool = True) -> Evaluation:
    """Measure checkpoints ``names`` (default: every card) in ``directory`` and, when ``write``, merge the numbers
    into their cards.

    ``test_images`` keeps only the first so many test images of each set, for quick checks.
    """
    device = pick_device(device)
    test = load_mnist("test")
    seen, nines, everything = (d.as_float()[:test_images] for d in (test.seen(), test.held_out(), test))
    labels = test.labels[:test_images]
    result = Evaluation()
    judge_name = catalogue.judge(directory)
    classifier = _load(judge_name, directory, device, result) if judge_name else None
    reference = None  # features of test digits 0-8 and the floor, computed on first need
    names = catalogue.names(directory) if names is None else names
    for name in names:
        checkpoint = classifier if name == judge_name else _load(name, directory, device, result)
        if checkpoint is None:
            continue
        model, kind = checkpoint.model, checkpoint.card["kind"]
        metrics: dict[str, float] = {}
        if kind == "flow":
            metrics["test_bpd_digits_0_8"] = round(mean_bits_per_dim(model, seen), 4)
            metrics[f"test_bpd_digit_{HELD_OUT_DIGIT}"] = round(mean_bits_per_dim(model, nines), 4)
            if model.dequantizer is not None:
                metrics.update(learned_dequantization_bounds(model, seen, nines))
        if kind == "cnf":  # each image's likelihood integrates an ODE with a divergence estimate: a subset
            for key, images in (("test_bpd_digits_0_8", seen), (f"test_bpd_digit_{HELD_OUT_DIGIT}", nines)):
                metrics[key] = round(mean_bits_per_dim(model, images[:CNF_BPD_IMAGES]), 4)
            metrics["bpd_images"] = min(CNF_BPD_IMAGES, len(seen), len(nines))
        if kind == "vae":
            binary = binarize(seen, seed=0)
            metrics["test_neg_elbo_nats_digits_0_8"] = round(vae_negative_elbo(model, binary, seed=0), 3)
            metrics["test_iwae_nll_nats_digits_0_8"] = round(vae_iwae_nll(model, binary, k=iwae_samples, seed=0), 3)
            metrics["iwae_samples"] = iwae_samples
        if kind in catalogue.GENERATIVE_KINDS and classifier is not None:
            if reference is None:
                real = features(classifier.model, seen)
                reference = real, fd_floor(classifier.model, real, samples)
            metrics.update(sample_quality(model, classifier.model, *reference, samples))
        elif kind in catalogue.GENERATIVE_KINDS:
            result.notes.append(f"{name}: no classifier checkpoint, so no Frechet distance or label shares")
        if kind == catalogue.JUDGE_KIND:
            predicted = predict_proba(model, everything).argmax(1)
            metrics["test_accuracy"] = round((predicted == labels).float().mean().item(), 5)
        result.metrics[name], result.kinds[name] = metrics, kind
        if write:
            card = checkpoints.read_card(name, directory)
            card["metrics"] = {**card["metrics"], **metrics}
            checkpoints.write_card(card, checkpoints.paths(name, directory)[1])
    if judge_name not in names:  # only loaded as the judge of samples; the notes already say what it cost
        result.skipped.pop(judge_name, None)
    return result


def learned_dequantization_bounds(flow: nn.Module, seen: torch.Tensor, nines: torch.Tensor) -> dict[str, float]:
    """The importance-weighted bits/dim of test digits 0-8 and 9s over ``DEQUANTIZER_DRAWS`` draws of ``flow``'s
    learned dequantizer."""
    return {"test_bpd_learned_digits_0_8": round(mean_importance_weighted_bits_per_dim(flow, seen, DEQUANTIZER_DRAWS), 4),
            f"test_bpd_learned_digit_{HELD_OUT_DIGIT}":
                round(mean_importance_weighted_bits_per_dim(flow, nines, DEQUANTIZER_DRAWS), 4),
            "dequantizer_draws": DEQUANTIZER_DRAWS}


def _load(name: str, directory: Path | None, device: torch.device, result: Evaluation):
    """The checkpoint, or None with the reason recorded in ``result.skipped``."""
    try:
        return checkpoints.load(name, directory, device)
    except checkpoints.CheckpointError as err:
        result.skipped[name] = str(err)
        return None


def table(result: Evaluation) -> str:
    """The metrics as aligned rows 'checkpoint  kind  metric  value', the Frechet distance beside its floor."""
    rows = [("checkpoint", "kind", "metric", "value")]
    for name, metrics in result.metrics.items():
        for key, value in metrics.items():
            if key == "classifier_fd_floor":
                continue
            text = f"{value:.4g}" if isinstance(value, float) else str(value)
            if key == "classifier_fd":
                text += f"  (floor {metrics['classifier_fd_floor']:.4g})"
            rows.append((name, result.kinds[name], key, text))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3] for row in rows)
