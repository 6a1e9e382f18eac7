"""Small timing helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
import time

import torch


def median_seconds(fn, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` runs after ``warmup`` runs (CUDA synchronised)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _sync()
        start = time.perf_counter()
        fn()
        _sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def once(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, its wall-clock seconds and the process's CPU seconds (CUDA synchronised).

    On a shared machine the CPU seconds, with one torch thread, estimate the wall time on an idle core.
    """
    _sync()
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    _sync()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def table(header: list[str], rows: list[list]) -> str:
    """A Markdown table, so the output pastes straight into bench/README.md."""
    cells = [header] + [[f"{c:.4g}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
