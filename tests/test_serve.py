"""The server's launcher: the modules the pages use are loaded, and frozen, before the first user comes."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.serve import PRELOADED

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(script: Path) -> set[str]:
    """Modules a script imports at its top level: ``from explorer import ui`` counts as ``explorer.ui``."""
    names = set()
    for node in ast.parse(script.read_text()).body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            names.add(node.module)
            if node.module == "explorer":
                names.update(f"explorer.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] not in sys.stdlib_module_names}


def test_every_module_a_page_imports_is_preloaded():
    scripts = [ROOT / "app.py", *sorted((ROOT / "app_pages").glob("*.py"))]
    imported = set().union(*map(imported_modules, scripts))
    assert "explorer.fewshot" in imported and "plotly.graph_objects" in imported
    # the drawing pad registers its component with the running server, so only a page can import it
    assert imported - {"explorer", "streamlit_drawable_canvas"} <= set(PRELOADED)


def test_preload_freezes_the_libraries_so_a_full_collection_skips_them():
    code = ("import gc; from explorer.serve import preload; frozen = preload(); "
            "gc.collect(); print(frozen, len(gc.get_objects()))")
    frozen, left = map(int, subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                           check=True).stdout.split())
    assert frozen > 100_000  # torch, pandas, plotly and Streamlit: about 430,000 objects
    assert left < frozen / 20  # what a collection still walks


def threads_in_a_new_thread(**env: str) -> tuple[int, int]:
    """(torch's threads in a thread started after the launcher's set-up, the machine's cores), as Streamlit runs pages."""
    code = ("import os, threading; from explorer.serve import limit_threads, preload; limit_threads(); preload(); "
            "import torch; seen = []; t = threading.Thread(target=lambda: seen.append(torch.get_num_threads())); "
            "t.start(); t.join(); print(seen[0], os.cpu_count())")
    clean = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True,
                         check=True).stdout
    return tuple(map(int, out.split()))


def test_page_threads_get_half_the_cores_unless_told():
    threads, cores = threads_in_a_new_thread()
    assert threads == max(1, cores // 2)
    if cores > 1:  # torch takes at most one thread per core, so one core leaves nothing else to tell it
        told = 2 if threads == 1 else 1
        assert threads_in_a_new_thread(OMP_NUM_THREADS=str(told))[0] == told


FRAGMENT_AND_TIDY = """
import ctypes, gc, threading, time, weakref
import numpy as np
from explorer.serve import keep_memory_tidy

def rss():  # smaps_rollup walks the page tables; statm's per-CPU counters can be tens of MB behind on many cores
    line = next(line for line in open("/proc/self/smaps_rollup") if line.startswith("Rss:"))
    return int(line.split()[1]) / 2**10

kept = []
def work(i):  # what sessions do: many mid-sized arrays at once, freed, with small ones kept between them
    for j in range(20):
        scratch = [np.ones((100 + i * 7 + j, 784)) for _ in range(40)]
        kept.append(np.ones(1000 + j))
        del scratch
threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
[t.start() for t in threads]; [t.join() for t in threads]

gc.disable()  # only the tidying thread may collect the cycle
class Node: pass
cycle = Node(); cycle.me = cycle; gone = weakref.ref(cycle); del cycle

before = rss()
time.sleep(0.5)
idle = rss()
keep_memory_tidy(every=0.1)
time.sleep(0.5)
print(hasattr(ctypes.CDLL(None), "malloc_trim"), gone() is None, before, idle, rss())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_server_collects_garbage_and_gives_freed_memory_back():
    out = subprocess.run([sys.executable, "-c", FRAGMENT_AND_TIDY], cwd=ROOT, env={**os.environ, "MALLOC_ARENA_MAX": "2"},
                         capture_output=True, text=True, check=True).stdout.split()
    can_trim, collected, (before, idle, after) = out[0] == "True", out[1] == "True", map(float, out[2:])
    assert collected
    if not can_trim:
        pytest.skip("this C library has no malloc_trim (it is glibc's)")
    assert after < min(before, idle) - 100, (before, idle, after)  # the server gives back what glibc alone kept
