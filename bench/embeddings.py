"""Embeddings: per shipped model, encoding the test images once, then per method the first projection and a cached load.

Nothing shipped is reused: after the models load, the checkpoint folder (where shipped maps and codes are looked up)
points at an empty folder and the cache at a temporary one. UMAP's first fit in a process compiles numba code, so
that cost gets its own row, measured on a throwaway fit, and the projections after it are what a warm server pays.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np

from explorer import catalogue, checkpoints, embed
from explorer.data import TEST_SIZE, load_mnist
from explorer.device import describe, pick_device

from .timing import median_seconds, once, table

QUICK_IMAGES = 1000


def run(device: str | None = None, quick: bool = False) -> str:
    device = pick_device(device)
    n = QUICK_IMAGES if quick else TEST_SIZE
    ckpts = {name: checkpoints.load(name, device=device) for name in catalogue.generative()}
    shipped = {name: (embed.shipped_dir() / embed.codes_name(name, c.sha256)).exists() for name, c in ckpts.items()}
    load_mnist("test")  # the data cache is read once, outside every timing
    with tempfile.TemporaryDirectory() as tmp, mock.patch.dict(os.environ, {
            "LATENT_EXPLORER_CACHE": str(Path(tmp) / "cache"), "LATENT_EXPLORER_CHECKPOINTS": str(Path(tmp) / "none")}):
        rows = Rows()
        rows.append(["-", "-", "import umap", *seconds(once(importlib.import_module, "umap")), "-"])
        rows.append(["-", "-", "UMAP's numba compilation (a 5,000-point warm-up fit)", *seconds(once(umap_warmup)), "-"])
        for name, ckpt in ckpts.items():
            codes = "yes" if shipped[name] else "no"
            rows.append([name, codes, f"encode {n:,} images", *seconds(once(embed.codes, ckpt.model, name, ckpt.sha256, n)),
                         "-"])
            for method, label in embed.METHODS.items():
                settings = embed.settings_for(method)
                first = once(embed.projection, ckpt.model, name, ckpt.sha256, method, settings, n=n)
                cached = median_seconds(lambda: embed.read(embed.stored(name, ckpt.sha256, method, settings, n=n)))
                rows.append([name, codes, f"{label} from the codes", *seconds(first), f"{1e3 * cached:.1f}"])
    return (f"Embeddings of {n:,} test images on {describe(device)} (seconds; the first computation is written "
            "to the cache, the cached load reads it back)\n\n"
            + table(["model", "codes shipped", "first computation", "wall s", "cpu s", "cached load ms"], rows))


def seconds(timed: tuple) -> list[str]:
    """The wall and CPU columns of a ``once`` result."""
    return [f"{timed[1]:.1f}", f"{timed[2]:.1f}"]


class Rows(list):
    """Table rows, each also written to stderr when measured: a full run takes many minutes."""

    def append(self, row: list) -> None:
        print("embeddings:", " | ".join(map(str, row)), file=sys.stderr, flush=True)
        super().append(row)


def umap_warmup() -> None:
    """A short fit on enough points (over 4,096) that UMAP takes the same nearest-neighbour path as on 10,000."""
    import umap

    points = np.random.default_rng(0).normal(size=(5000, 16)).astype(np.float32)
    umap.UMAP(n_epochs=10, random_state=0).fit_transform(points)
