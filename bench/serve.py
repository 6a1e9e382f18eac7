"""Serve any Streamlit script as start.sh serves the app (headless, no file watcher), on a free localhost port."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.e2e.harness import ROOT, free_port


@contextlib.contextmanager
def serving(script: Path, timeout: float = 60):
    """Yields the base URL while ``streamlit run script`` answers; stops the server afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
         "--server.fileWatcherType", "none", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while process.poll() is None:
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                    break
            if time.time() > deadline:
                raise TimeoutError(f"{script.name} did not answer on {url} within {timeout} s")
            time.sleep(0.5)
        else:
            raise RuntimeError(f"{script.name} exited with code {process.returncode}")
        yield url
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
