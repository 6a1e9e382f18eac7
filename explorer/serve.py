"""Serve the app: ``python -m explorer serve [SCRIPT] [streamlit options]`` (what ``./start.sh`` runs).

Garbage is collected, and freed memory handed back to the system (glibc's ``malloc_trim``), every few seconds in
one thread, not after every script run as Streamlit does by default (``runner.postScriptGC``): with a whole class
on the app at once, those full collections take a large share of the server's CPU time, all of it with the GIL
held, and every update of every user waits for them. Freed memory is handed back because glibc otherwise keeps
it for reuse, and the server's size would follow the busiest moment it has seen rather than what it holds.

The modules the pages use are imported here, before the server starts, and what is alive then is moved out of
the collector's sight (``gc.freeze``): hundreds of thousands of objects, nearly all of them the modules of torch,
pandas, plotly and Streamlit, which every full collection would otherwise walk. No session exists yet, so nothing
a session creates is frozen: a frozen object is never collected as cyclic garbage, and a frozen session would
stay in memory after its user left.

Torch gets half the cores per model call (``OMP_NUM_THREADS``, unless set): its OpenMP threads spin between
the many small operations of a page's update and take the CPU from everything else the server (and, on one
machine, the browser) does, so fewer threads per call make every page that runs a model answer sooner.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import os
import threading
import time

OPTIONS = ("--server.headless", "true", "--server.fileWatcherType", "none",  # the file watcher trips over torch
           "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
           "--runner.postScriptGC", "false")  # see keep_memory_tidy
PRELOADED = ("numpy", "pandas", "torch", "plotly.graph_objects", "streamlit", "streamlit.web.bootstrap",
             *(f"explorer.{name}" for name in ("analogies", "cards", "catalogue", "checkpoints", "curves", "data", "embed",
                                              "fewshot", "images", "judge", "latent", "likelihood", "metrics", "plots",
                                              "recon", "sweep", "ui", "upload", "wording")))
TIDY_SECONDS = 5.0


def preload() -> int:
    """Import what the pages import and freeze everything alive; returns how many objects were frozen."""
    for name in PRELOADED:
        importlib.import_module(name)
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def limit_threads() -> None:
    """Half the cores for torch, unless ``OMP_NUM_THREADS`` says otherwise; before torch loads, as every thread
    that OpenMP starts (Streamlit runs each session's script in its own) reads its count from the environment."""
    os.environ.setdefault("OMP_NUM_THREADS", str(half_the_cores()))


def half_the_cores() -> int:
    """Torch's threads per call, and how many fine-tunes run at once (``ui.training_slots``)."""
    return max(1, (os.cpu_count() or 2) // 2)


def keep_memory_tidy(every: float = TIDY_SECONDS) -> None:
    """Start a thread that, every ``every`` seconds, collects cyclic garbage and hands freed memory back to the
    system, where the C library can (``malloc_trim`` is glibc's; elsewhere the allocator decides)."""
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)

    def tidy_forever() -> None:
        while True:
            time.sleep(every)
            gc.collect()
            if trim is not None:
                trim(0)  # about a millisecond when nothing was freed; ctypes lets go of the GIL meanwhile

    threading.Thread(target=tidy_forever, name="keep-memory-tidy", daemon=True).start()


def main(argv: list[str]) -> None:
    script, options = (argv[0], argv[1:]) if argv and not argv[0].startswith("-") else ("app.py", argv)
    limit_threads()
    preload()
    keep_memory_tidy()
    from streamlit.web import cli

    cli.main(["run", script, *OPTIONS, *options], prog_name="streamlit")  # later options override OPTIONS
