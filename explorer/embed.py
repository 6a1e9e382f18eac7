"""2-D maps of a model's latent codes for the whole MNIST test set (UMAP, t-SNE, PCA), computed once and kept on disk.

A projection is named by checkpoint, weights sha256, method and settings, e.g. ``vae-1a2b3c4d5e6f-umap-md0.1-nn15.npz``.
It is looked up first in ``<checkpoints>/embeddings/`` (shipped with the repo, written by
``python -m explorer embed --precompute``), then in ``<data cache>/embeddings/``, where new ones are written.
The codes themselves (``vae-1a2b3c4d5e6f-codes.npy``) are stored the same way, so changing a setting re-projects
without re-encoding and a selection decodes without encoding.
UMAP and t-SNE are seeded; all heavy work runs one at a time under a lock (numba's threading layer aborts
the process when two threads run UMAP at once, umap-learn issue 665).
"""

from __future__ import annotations

import functools
import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import checkpoints
from .data import TEST_SIZE, cache_dir, load_mnist
from .device import call
from .models.base import GenerativeModel

METHODS = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}
DEFAULTS: dict[str, dict[str, float]] = {
    "umap": {"n_neighbors": 15, "min_dist": 0.1},
    "tsne": {"perplexity": 30.0},
    "pca": {},
}
# Beside each method's defaults, the settings the lesson on the Home page asks a class to try: shipped, so a room
# changing them at once waits for nothing.
LESSON_SETTINGS: dict[str, tuple[dict[str, float], ...]] = {"umap": ({"n_neighbors": 100},),
                                                            "tsne": ({"perplexity": 5.0},)}
SHORT = {"n_neighbors": "nn", "min_dist": "md", "perplexity": "p"}  # settings as they appear in file names
PCA_DIMS = 50  # codes wider than this go through PCA first: the usual t-SNE/UMAP practice, and much faster
SHIPPED_CODES_MAX_DIM = 64  # precompute ships codes this narrow (the GAN's: 2.6 MB); the flow's 784-D would be 31 MB
BATCH_SIZE = 200  # also bounds how long one model call takes (the GAN's optimised encode is the slowest)
NEIGHBOURS = 10  # for the clustering summary of a map

Progress = Callable[[float, str], None]
_heavy = threading.Lock()
# numpy parses each stored array's header with ast.literal_eval, and CPython 3.11 counts AST depth once per
# interpreter, so two threads parsing at once can fail ("SystemError: AST constructor recursion depth mismatch"):
# stored arrays are read one at a time.
_numpy_reading = threading.Lock()


@dataclass(frozen=True)
class Projection:
    """2-D coordinates (N, 2) of the first N test images, their digit labels (N,) and how long they took."""

    coords: np.ndarray
    labels: np.ndarray
    seconds: float
    path: Path


def settings_for(method: str, **settings: float) -> dict[str, float]:
    """The method's full settings: its defaults overridden by ``settings``; unknown names are an error."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    unknown = set(settings) - set(DEFAULTS[method])
    if unknown:
        raise ValueError(f"{method} has no settings {sorted(unknown)}")
    return {**DEFAULTS[method], **settings}


def shipped_settings(method: str) -> list[dict[str, float]]:
    """The settings whose maps ``precompute`` ships for ``method``: its defaults, then the lesson's."""
    return [settings_for(method), *(settings_for(method, **extra) for extra in LESSON_SETTINGS.get(method, ()))]


def file_name(name: str, sha256: str, method: str, settings: dict, seed: int = 0, n: int = TEST_SIZE) -> str:
    """``<name>-<sha12>-<method>[-<settings>][-s<seed>][-n<n>].npz``; the defaults (seed 0, all images) add nothing."""
    slug = "".join(f"-{SHORT[key]}{value:g}" for key, value in sorted(settings.items()))
    seed_part = f"-s{seed}" if seed and method != "pca" else ""
    size_part = f"-n{n}" if n != TEST_SIZE else ""
    return f"{name}-{sha256[:12]}-{method}{slug}{seed_part}{size_part}.npz"


def shipped_dir() -> Path:
    return checkpoints.checkpoint_dir() / "embeddings"


def cache_root() -> Path:
    return cache_dir() / "embeddings"


def stored(name: str, sha256: str, method: str, settings: dict, seed: int = 0, n: int = TEST_SIZE) -> Path | None:
    """Where the projection is stored, shipped first, then cached; None if it has not been computed yet."""
    file = file_name(name, sha256, method, settings, seed, n)
    return next((folder / file for folder in (shipped_dir(), cache_root()) if (folder / file).exists()), None)


def lookup(name: str, sha256: str, method: str, settings: dict, seed: int = 0, n: int = TEST_SIZE) -> Projection | None:
    """The stored projection, read from disk once per process and shared read-only; None if not computed yet."""
    path = stored(name, sha256, method, settings, seed, n)
    return _remembered(path, path.stat().st_mtime_ns) if path else None


@functools.lru_cache(maxsize=64)
def _remembered(path: Path, mtime_ns: int) -> Projection:
    """``read(path)``, kept; the file's modification time is part of the key, so a rewritten file is read again."""
    result = read(path)
    result.coords.flags.writeable = result.labels.flags.writeable = False
    return result


def projection(model, name: str, sha256: str, method: str, settings: dict, seed: int = 0, n: int = TEST_SIZE,
               run=call, progress: Progress | None = None) -> Projection:
    """The projection of the first ``n`` test images' codes, from disk or computed (then written to the cache).

    ``run(fn, *args)`` calls the model (the app passes its runner, which takes a model-call slot);
    ``progress(fraction, text)`` reports.
    """
    found = lookup(name, sha256, method, settings, seed, n)
    if found:
        return found
    report = progress or (lambda fraction, text: None)
    with _heavy:
        found = lookup(name, sha256, method, settings, seed, n)  # another session may have just made it
        if found:
            return found
        started = time.perf_counter()
        z = codes(model, name, sha256, n, run, lambda f, text: report(0.5 * f, text))
        report(0.5, f"Projecting {len(z):,} codes with {METHODS[method]}...")
        coords = project(z, method, settings, seed)
        labels = load_mnist("test").labels[:n].numpy()
        path = cache_root() / file_name(name, sha256, method, settings, seed, n)
        write(path, coords, labels, time.perf_counter() - started)
    report(1.0, "Done.")
    return read(path)


def codes_name(name: str, sha256: str, n: int = TEST_SIZE) -> str:
    return f"{name}-{sha256[:12]}-codes" + (f"-n{n}" if n != TEST_SIZE else "") + ".npy"


def stored_codes(name: str, sha256: str, n: int = TEST_SIZE) -> np.ndarray | None:
    """The first ``n`` test images' codes (n, latent_dim) float32 if stored (shipped first, then cached), else None."""
    for folder in (shipped_dir(), cache_root()):
        path = folder / codes_name(name, sha256, n)
        if path.exists():
            return _remembered_codes(path, path.stat().st_mtime_ns)
    return None


@functools.lru_cache(maxsize=16)
def _remembered_codes(path: Path, mtime_ns: int) -> np.ndarray:
    """The codes in ``path``, read once per process and shared read-only (every visit to Reconstructions or
    Interpolation asks for a few rows of them)."""
    with _numpy_reading:
        z = np.load(path, allow_pickle=False)
    z.flags.writeable = False
    return z


def codes(model, name: str, sha256: str, n: int = TEST_SIZE, run=call, progress: Progress | None = None) -> np.ndarray:
    """Latent codes (n, latent_dim) float32 of the first ``n`` test images, encoded once per checkpoint and cached."""
    z = stored_codes(name, sha256, n)
    if z is None:
        z = encode_all(model, load_mnist("test").as_float()[:n], run=run, progress=progress)
        _save_codes(cache_root() / codes_name(name, sha256, n), z)
    return z


def _save_codes(path: Path, z: np.ndarray) -> None:
    tmp = _temporary(path)
    np.save(tmp, z.astype(np.float32), allow_pickle=False)
    tmp.replace(path)


def encoded(model, name: str, sha256: str, rows: list[int], run=call) -> torch.Tensor:
    """The codes (N, latent_dim) of test images ``rows`` on the model's device: their stored codes when there are
    some, which spares the GAN its optimisation; otherwise encoded now."""
    z = stored_codes(name, sha256)
    if z is None:
        return run(model.encode, load_mnist("test").numbered(rows).as_float().to(model.device))
    return torch.from_numpy(z[rows]).to(model.device)


class RoundTrips:
    """The most recent ``kept`` round trips (1, 28, 28) by (weights sha256, test row), shared by every session of a
    server: students who look at the same test images, or at more of them, decode only what no one has yet."""

    def __init__(self, kept: int):
        self.kept, self._images, self._lock = kept, OrderedDict(), threading.Lock()

    def get(self, sha256: str, rows: list[int]) -> dict[int, torch.Tensor]:
        with self._lock:
            found = {row: self._images[(sha256, row)] for row in rows if (sha256, row) in self._images}
            for row in found:
                self._images.move_to_end((sha256, row))
        return found

    def put(self, sha256: str, rows: list[int], images: torch.Tensor) -> None:
        with self._lock:
            for row, image in zip(rows, images):
                self._images[(sha256, row)] = image.clone()  # not a view: an evicted row frees its memory
            while len(self._images) > self.kept:
                self._images.popitem(last=False)


round_trips = RoundTrips(kept=4096)  # 3 KB each


def decoded(model, name: str, sha256: str, rows: list[int], run=call) -> torch.Tensor:
    """decode(encode(x)) (N, 1, 28, 28) of test images ``rows``, on the CPU, through ``encoded``; each row's round
    trip is computed once and kept in ``round_trips``."""
    known = round_trips.get(sha256, rows)
    missing = [row for row in dict.fromkeys(rows) if row not in known]
    if missing:
        fresh = run(model.decode, encoded(model, name, sha256, missing, run)).float().cpu()
        round_trips.put(sha256, missing, fresh)
        known.update(zip(missing, fresh))
    return torch.stack([known[row] for row in rows]) if rows else torch.zeros(0, 1, 28, 28)


def encode_all(model, images: torch.Tensor, batch_size: int = BATCH_SIZE, run=call,
               progress: Progress | None = None) -> np.ndarray:
    """Images (N, 1, 28, 28) -> codes (N, latent_dim) float32, in batches so memory and each model call stay bounded."""
    parts = []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size].to(model.device)
        parts.append(run(model.encode, batch).float().cpu().numpy())
        if progress:
            done = min(start + batch_size, len(images))
            progress(done / len(images), f"Encoding test images with the model ({done:,}/{len(images):,})...")
    return np.concatenate(parts) if parts else np.zeros((0, model.latent_dim), np.float32)


def project(z: np.ndarray, method: str, settings: dict, seed: int = 0) -> np.ndarray:
    """Codes (N, D) -> coordinates (N, 2) float32 by ``method``; UMAP and t-SNE see the first 50 principal components."""
    settings = settings_for(method, **settings)
    z = np.asarray(z, dtype=np.float32)
    if method == "pca":
        return _pca(z, 2, seed)
    reduced = _pca(z, PCA_DIMS, seed) if z.shape[1] > PCA_DIMS else z
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(settings["perplexity"], (len(z) - 1) / 3)  # sklearn needs perplexity < n / 3
        tsne = TSNE(2, perplexity=perplexity, init="pca", random_state=seed, n_jobs=-1)
        return tsne.fit_transform(reduced).astype(np.float32)
    import umap  # slow to import (numba): only when a UMAP is computed

    fit = umap.UMAP(n_neighbors=int(settings["n_neighbors"]), min_dist=settings["min_dist"], random_state=seed)
    return fit.fit_transform(reduced).astype(np.float32)


def _pca(z: np.ndarray, dims: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    dims = min(dims, *z.shape)
    out = PCA(dims, random_state=seed).fit_transform(z).astype(np.float32)
    return np.pad(out, ((0, 0), (0, max(0, 2 - dims))))  # a 1-D latent still gets a second (zero) axis


def write(path: Path, coords: np.ndarray, labels: np.ndarray, seconds: float) -> None:
    """Store a projection: coords (N, 2) float32, labels (N,) and the seconds it took, compressed, no pickles."""
    tmp = _temporary(path)
    np.savez_compressed(tmp, coords=coords.astype(np.float32), labels=labels.astype(np.int8),
                        seconds=np.float32(seconds))
    tmp.replace(path)


def _temporary(path: Path) -> Path:
    """A file beside ``path`` that no other process or thread writes, renamed into place when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.stem}.{os.getpid()}-{threading.get_ident()}{path.suffix}")


def read(path: Path) -> Projection:
    """A stored projection from disk (no pickles are loaded)."""
    with _numpy_reading, np.load(path, allow_pickle=False) as arrays:
        return Projection(arrays["coords"].astype(np.float32), arrays["labels"].astype(np.int64),
                          float(arrays["seconds"]), path)


def selected_rows(points: list[dict], trace_rows: list[np.ndarray] | None = None) -> list[int]:
    """Row ids of the points a Plotly selection event names, in order, without repeats.

    Each point carries its row id as ``customdata`` (a number or a one-element list); without it the row is
    looked up as ``trace_rows[curve_number][point_index]``, since a point's index counts within its own trace.
    """
    rows: dict[int, None] = {}
    for point in points:
        data = point.get("customdata")
        if isinstance(data, (list, tuple)):
            data = data[0] if data else None
        if data is None and trace_rows is not None:
            data = trace_rows[point["curve_number"]][point["point_index"]]
        if data is not None:
            rows[int(data)] = None
    return list(rows)


def neighbour_mix(coords: np.ndarray, labels: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """(10, 10): row d is how the ``k`` nearest map neighbours of digit-d points split over the digits (rows sum to 1)."""
    from sklearn.neighbors import NearestNeighbors

    _, index = NearestNeighbors(n_neighbors=k + 1).fit(coords).kneighbors(coords)
    neighbour_labels = labels[index[:, 1:]]  # (N, k), the point itself dropped
    mix = np.zeros((10, 10))
    np.add.at(mix, (np.repeat(labels, k), neighbour_labels.ravel()), 1)
    return mix / np.maximum(mix.sum(1, keepdims=True), 1)


def precompute(names, methods=tuple(METHODS), out: Path | None = None, device="cpu",
               log: Callable[[str], None] = print) -> list[Path]:
    """Write the projections of every method at its shipped settings (``shipped_settings``) for each usable
    checkpoint into ``out`` (the shipped folder), and the test images' codes of latents up to
    ``SHIPPED_CODES_MAX_DIM`` wide.

    Files of earlier weights of the same checkpoint names are removed, so the folder holds only current ones.
    """
    out = Path(out or shipped_dir())
    written = []
    for name in names:
        try:
            ckpt = checkpoints.load(name, device=device)
        except checkpoints.CheckpointError as err:
            log(f"skipped {name}: {err}")
            continue
        if not isinstance(ckpt.model, GenerativeModel):
            log(f"skipped {name}: a {ckpt.card['kind']} has no latent codes")
            continue
        for stale in out.glob(f"{name}-*.np[yz]"):
            match = re.fullmatch(rf"{re.escape(name)}-([0-9a-f]{{12}})-.*\.np[yz]", stale.name)
            if match and match.group(1) != ckpt.sha256[:12]:
                stale.unlink()
        for method, settings in ((m, s) for m in methods for s in shipped_settings(m)):
            target = out / file_name(name, ckpt.sha256, method, settings)
            started = time.perf_counter()
            result = (lookup(name, ckpt.sha256, method, settings)
                      or projection(ckpt.model, name, ckpt.sha256, method, settings))
            if result.path != target:
                write(target, result.coords, result.labels, result.seconds)
            log(f"{target} ({result.seconds:.1f} s to compute, {time.perf_counter() - started:.1f} s now)")
            written.append(target)
        if ckpt.model.latent_dim <= SHIPPED_CODES_MAX_DIM:
            target = out / codes_name(name, ckpt.sha256)
            _save_codes(target, codes(ckpt.model, name, ckpt.sha256))
            log(f"{target} (the test images' codes, so selections decode without encoding)")
            written.append(target)
    return written
