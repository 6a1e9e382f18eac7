"""Interaction latency in a real browser: from a control change to the updated output, for every page.

The app runs as ./start.sh runs it (bench/harness.py) and Debian's Chromium drives it through Playwright.
One change is timed from the key press (or click) until the output shown has changed (an image's source, a
chart's axes) and the script has finished. The yardstick is bench/trivial_app.py, one slider and one image,
measured in the same process and browser. A slider walks one way to its end, then back, so after a turn some
values come again and may come from Streamlit's caches, as they would for a person.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from .harness import CHROMIUM, CHROMIUM_ARGS, exceptions, running_app, running_script, wait_for_run

from .timing import percentile, table

QUICK_CHANGES = 3
TIMEOUT_MS = 180_000
OUTPUT = """() => {
    const main = document.querySelector("[data-testid='stMain']");
    const images = [...main.querySelectorAll("[data-testid='stImage'] img")].map(i => i.src);
    const charts = [...main.querySelectorAll(".js-plotly-plot")].map(
        p => JSON.stringify([p._fullLayout?.xaxis?.range, p._fullLayout?.yaxis?.range, p.data?.length]));
    return images.concat(charts).join(" ");
}"""
UPDATED = f"""before => {{
    const app = document.querySelector("[data-testid='stApp']");
    return app.dataset.testConnectionState === "CONNECTED" && app.dataset.testScriptState === "notRunning"
        && !document.querySelector("[data-testid='stSkeleton']") && ({OUTPUT})() !== before;
}}"""


@dataclass
class Slider:
    """A slider nudged with the arrow keys, as a person using the keyboard would; it turns at either end."""

    label: str
    up: bool = True

    def change(self, page) -> None:
        slider = page.locator("[data-testid='stSlider']").filter(has_text=self.label)
        handle = slider.locator("input[type='range']").first
        low, high, value = handle.evaluate("e => [+e.min, +e.max, +e.value]")
        self.up = value < high if self.up else value <= low
        handle.focus()
        handle.press("ArrowRight" if self.up else "ArrowLeft")


@dataclass
class Radio:
    """A radio group whose next option is clicked (after the last, the first)."""

    label: str

    def change(self, page) -> None:
        group = page.locator("[data-testid='stRadio']").filter(has_text=self.label)
        options = group.locator("label:has(input[type='radio'])")
        checked = options.evaluate_all("labels => labels.findIndex(l => l.querySelector('input').checked)")
        options.nth((checked + 1) % options.count()).click()


def pages() -> list[tuple[str, Slider | Radio]]:
    """(url path, control) of the yardstick first, then of every page: the control each page is mostly about."""
    return [("trivial page", Slider("Value")),
            ("Interpolation", Slider("Steps from start to end")),
            ("Samples", Slider("Temperature", up=False)),
            ("Embeddings", Radio("Projection")),
            ("Reconstructions", Slider("Images per digit")),
            ("GAN_training", Slider("Epoch", up=False)),
            ("Few-shot_9", Slider("k, the number of examples"))]


def run(device: str | None = None, quick: bool = False, changes: int = 20) -> str:
    from playwright.sync_api import sync_playwright

    changes = min(changes, QUICK_CHANGES) if quick else changes
    (_, trivial_control), *app_pages = controls = pages()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        with running_script(Path(__file__).with_name("trivial_app.py")) as url:  # one server at a time
            results = [measure(browser, url, trivial_control, changes)]
        with running_app({"LATENT_EXPLORER_DEVICE": device} if device else None) as url:
            results += [measure(browser, f"{url}/{path}", control, changes) for path, control in app_pages]
        version = browser.version
        browser.close()
    return report(f"Interaction latency in Chromium {version} (headless), {changes} changes a page: from the key "
                  "press or click to the changed output with the script finished", controls, results, "errors")


def report(title: str, controls: list, results: list[tuple[list[float], float, int]], problems: str) -> str:
    """The table of (times, first open, problem count) per (name, control), with each p50 over the trivial page's."""
    trivial = percentile(results[0][0], 50)
    rows = [[name, type(control).__name__.lower() + f" '{control.label}'", len(times), f"{opened:.1f}",
             f"{1e3 * percentile(times, 50):.0f}", f"{1e3 * percentile(times, 95):.0f}",
             f"{percentile(times, 50) / trivial:.1f}", count]
            for (times, opened, count), (name, control) in zip(results, controls)]
    return title + "\n\n" + table(["page", "control", "changes", "first open s", "p50 ms", "p95 ms", "p50 / trivial",
                                    problems], rows)


def measure(browser, url: str, control, changes: int) -> tuple[list[float], float, int]:
    """Seconds of each change, seconds to open the page, and how many exception boxes it showed at the end."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    started = time.perf_counter()
    page.goto(url)
    wait_for_run(page, TIMEOUT_MS)
    opened = time.perf_counter() - started
    times = []
    for _ in range(changes):
        page.wait_for_timeout(300)  # let the browser settle (late chart drawing) before the next change
        before = page.evaluate(OUTPUT)
        started = time.perf_counter()
        control.change(page)
        page.wait_for_function(UPDATED, arg=before, timeout=TIMEOUT_MS)
        times.append(time.perf_counter() - started)
    errors = len(exceptions(page))
    context.close()
    return times, opened, errors
