"""Start the app as the README does and drive it in Debian's headless Chromium through Playwright: shared by the
browser tests, the load test and the benchmarks that time the app."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def browser_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not Path(CHROMIUM).exists():
        return "Debian's chromium is not installed (apt-get install chromium); .ci/run installs it"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (it is in requirements-dev.txt)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(env: dict[str, str] | None = None, timeout: float = 120):
    """``./start.sh`` on a free localhost port; yields the base URL and stops the server afterwards."""
    with running_server(env, timeout) as (url, _):
        yield url


@contextlib.contextmanager
def running_server(env: dict[str, str] | None = None, timeout: float = 120):
    """Like ``running_app``, yielding (base URL, the server's process); ``start.sh`` execs the server itself."""
    with _serving(lambda port: [str(ROOT / "start.sh"), "--server.address", "127.0.0.1"], "the app", env,
                  timeout) as served:
        yield served


@contextlib.contextmanager
def running_script(script: Path, timeout: float = 60):
    """Any Streamlit script served as start.sh serves the app (headless, no file watcher); yields the base URL."""
    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "explorer", "serve", str(script), "--server.address", "127.0.0.1",
                "--server.port", str(port)]

    with _serving(command, script.name, None, timeout) as (url, _):
        yield url


@contextlib.contextmanager
def _serving(command, name: str, env: dict[str, str] | None, timeout: float):
    """Run ``command(port)`` for a free port (also given as PORT in its environment) until it answers Streamlit's
    health check; yields (base URL, process) and stops its whole process group afterwards."""
    port = free_port()
    log_path = ROOT / "artifacts" / f"server-{port}.log"
    log = open(log_path, "w") if _artifacts() else subprocess.DEVNULL
    process = subprocess.Popen(command(port), cwd=ROOT, env={**os.environ, "PORT": str(port), **(env or {})},
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with code {process.returncode}; see {log_path}")
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                    break
            if time.time() > deadline:
                raise TimeoutError(f"{name} did not answer on {url} within {timeout} s")
            time.sleep(0.5)
        yield url, process
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


def rss_mib(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _artifacts() -> bool:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return True


def wait_for_run(page, timeout: float = 180_000) -> None:
    """Wait for the app's own signal that the script has finished, as Streamlit's end-to-end tests do."""
    page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']").wait_for(
        state="attached", timeout=timeout)
    page.wait_for_timeout(150)
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=timeout)
    page.locator("[data-testid='stSkeleton']").first.wait_for(state="detached", timeout=timeout)


def exceptions(page) -> list[str]:
    """Texts of the exception boxes on the page (there should be none)."""
    return page.locator("[data-testid='stException']").all_inner_texts()


def image_sources(page) -> list[str]:
    """The src of every image Streamlit shows on the main area, to tell whether the output changed."""
    return page.locator("[data-testid='stMain'] [data-testid='stImage'] img").evaluate_all(
        "images => images.map(i => i.src)")


def nudge_slider(page, label: str, key: str) -> None:
    """Move the slider labelled ``label`` one step with the keyboard (``ArrowLeft``/``ArrowRight``), as a person can."""
    slider = page.locator("[data-testid='stSlider']").filter(has_text=label).locator("input[type='range']").first
    slider.focus()
    slider.press(key)


def screenshot(page, name: str) -> Path:
    _artifacts()
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def draw_nine(page) -> None:
    """Draw a 9 on the page's first drawing pad as a person does: the loop, then the stem down its right side."""
    pad = page.locator("canvas.upper-canvas").first  # Fabric.js takes the pointer on its upper canvas
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    loop = [(0.5 + 0.18 * math.cos(t / 10 * math.tau), 0.32 + 0.16 * math.sin(t / 10 * math.tau)) for t in range(11)]
    stem = [(0.68, 0.32), (0.66, 0.6), (0.63, 0.88)]
    page.mouse.move(box["x"] + loop[0][0] * box["width"], box["y"] + loop[0][1] * box["height"])
    page.mouse.down()
    for x, y in loop[1:] + stem:
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=4)
    page.mouse.up()
