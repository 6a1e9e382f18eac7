"""Training curves from a checkpoint's stored history: grouping into panels, smoothing, thinning, grid diversity.

Only the keys a history holds are shown; per-step series are 1-D, the GAN's fixed-noise grids are
``epoch_grids`` uint8 (epochs, 64, 28, 28).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from .images import gif_bytes, grid

GRIDS = "epoch_grids"
LABELS = {"d_loss": "discriminator loss", "g_loss": "generator loss", "d_real": "D(x), real images",
          "d_fake": "D(G(z)), generated images", "wasserstein": "Wasserstein estimate",
          "gradient_penalty": "gradient penalty", "encoder_loss": "first-guess encoder loss",
          "bpd": "bits per dimension", "grad_norm": "gradient norm", "loss": "loss",
          "recon": "reconstruction (nats per image)", "kl": "KL to the prior (nats per image)",
          "accuracy": "training accuracy"}
# Series that belong on one chart, in the order charts appear; any other series gets a chart of its own.
GROUPS = (("Losses", ("d_loss", "g_loss")),
          ("Discriminator outputs", ("d_real", "d_fake")),
          ("Wasserstein estimate", ("wasserstein",)),
          ("Gradient penalty", ("gradient_penalty",)),
          ("Loss and its terms", ("loss", "recon", "kl")))


@dataclass(frozen=True)
class Panel:
    title: str
    keys: tuple[str, ...]


def panels(history: dict) -> list[Panel]:
    """The charts a history fills: the known groups with the keys present, then every other 1-D series alone."""
    series = [k for k, v in history.items() if np.ndim(v) == 1 and len(v)]
    out = [Panel(title, tuple(k for k in keys if k in series)) for title, keys in GROUPS]
    out = [p for p in out if p.keys]
    grouped = {k for p in out for k in p.keys}
    return out + [Panel(LABELS.get(k, k).capitalize(), (k,)) for k in series if k not in grouped]


def ema(values, smoothing: float) -> np.ndarray:
    """Exponential moving average with TensorBoard's debiasing, so the start is not pulled towards zero.

    ``smoothing`` in [0, 1): the weight of the past; 0 returns the values unchanged.
    """
    if not 0 <= smoothing < 1:
        raise ValueError(f"smoothing must be in [0, 1), not {smoothing}")
    values = np.asarray(values, dtype=np.float64)
    average = lfilter([1 - smoothing], [1, -smoothing], values)  # a_i = s a_(i-1) + (1 - s) v_i, a_(-1) = 0
    return average / (1 - smoothing ** np.arange(1, len(values) + 1))


def thin(n: int, max_points: int) -> np.ndarray:
    """At most ``max_points`` evenly spaced indices of ``n`` (first and last included): light charts of long runs."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


def diversity(grids: np.ndarray) -> np.ndarray:
    """Per grid (E, K, 28, 28) uint8: the mean pixel distance between two of its K images, in [0, 1] units (E,).

    Fixed noise gives K different codes; a generator that collapses onto a few modes draws near-identical
    images for them, and this number drops.
    """
    x = np.asarray(grids, dtype=np.float64).reshape(len(grids), np.shape(grids)[1], -1) / 255
    k = x.shape[1]
    squares = (x ** 2).sum(2)
    gram = x @ x.transpose(0, 2, 1)
    distances = np.sqrt(np.clip(squares[:, :, None] + squares[:, None, :] - 2 * gram, 0, None))  # (E, K, K)
    return distances.sum((1, 2)) / (k * (k - 1)) / np.sqrt(x.shape[2])


def epochs_gif(grids: np.ndarray, scale: int = 2, frame_ms: int = 400) -> bytes:
    """Grids (E, K, 28, 28) uint8 as one looping GIF, a frame per epoch, each grid 8 digits wide."""
    return gif_bytes(np.stack([grid(g / 255, ncols=8) for g in grids]), scale=scale, frame_ms=frame_ms)


def steps_per_epoch(card: dict) -> int | None:
    """Training steps in one epoch (the loop keeps full batches only), or None when the card does not say."""
    size, batch = card.get("train_size"), card.get("batch_size")
    return size // batch if size and batch and size >= batch else None


def grid_moment(card: dict, epoch: int) -> str:
    """When the ``epoch``-th grid was drawn: each finished epoch ends with one, and so does a run stopped mid-epoch."""
    if epoch <= card["epochs"]:
        return f"at the end of epoch {epoch} of {card['epochs']}"
    per_epoch = steps_per_epoch(card)
    into = f"{card['steps'] - card['epochs'] * per_epoch:,} steps into" if per_epoch else "during"
    return f"when training stopped, {into} epoch {epoch}"


def tail_means(history: dict, fraction: float = 0.1) -> dict[str, float]:
    """Mean of each per-step series over its last ``fraction`` of steps: where training ended up."""
    return {k: float(np.mean(v[-max(1, int(len(v) * fraction)):])) for k, v in history.items()
            if np.ndim(v) == 1 and len(v)}
