"""What a browser update costs by what it redraws, with no model behind it: the floor under bench/latency.py.

One slider on bench/floor_app.py changes an image and, depending on ``?show=``, plotly charts beside it. Streamlit
gives a chart whose figure changed a new identity, so the browser builds it anew (a WebGL chart with new GL
contexts); these rows say what that costs in this browser, so a page's latency can be read against them.
"""

from __future__ import annotations

from pathlib import Path

from .harness import CHROMIUM, CHROMIUM_ARGS, running_script

from .latency import QUICK_CHANGES, Slider, measure
from .timing import percentile, table

SHOWN = {
    "image": "one image (the trivial page of `latency`)",
    "chart": "the image and one small plotly chart (4 lines of 10 points)",
    "chart3": "the image and three such charts",
    "webgl100": "the image and a WebGL scatter of 100 points (10 traces)",
    "webgl10000": "the image and a WebGL scatter of 10,000 points (10 traces, as the Embeddings map)",
}


def run(quick: bool = False, changes: int = 20) -> str:
    from playwright.sync_api import sync_playwright

    changes = min(changes, QUICK_CHANGES) if quick else changes
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        with running_script(Path(__file__).with_name("floor_app.py")) as url:
            results = {show: measure(browser, f"{url}/?show={show}", Slider("Value"), changes)[0] for show in SHOWN}
        version = browser.version
        browser.close()
    image = percentile(results["image"], 50)
    rows = [[SHOWN[show], len(times), f"{1e3 * percentile(times, 50):.0f}", f"{1e3 * percentile(times, 95):.0f}",
             f"{percentile(times, 50) / image:.1f}"] for show, times in results.items()]
    return (f"What an update redraws, in Chromium {version} (headless), {changes} changes each: from the key press "
            "to the changed output with the script finished\n\n"
            + table(["a slider change redraws", "changes", "p50 ms", "p95 ms", "p50 / image only"], rows))
