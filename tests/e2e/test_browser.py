"""The main paths as a user meets them: the app started by ./start.sh, driven in a real headless Chromium.

For every page: load it, change its main control the way a person would (keyboard on a slider),
wait for the rerun to finish, and check that what is shown changed and that no exception is shown.
Screenshots land in artifacts/screenshots/.
"""

import pytest

from .harness import exceptions, image_sources, nudge_slider, screenshot, wait_for_run

# (url path, slider label, key to press): the control each page is mostly about.
PAGES = [
    ("Interpolation", "Steps from start to end", "ArrowRight"),
    ("Samples", "Temperature", "ArrowLeft"),
    ("Reconstructions", "Images per digit", "ArrowRight"),
    ("GAN_training", "Epoch", "ArrowLeft"),
    ("Few-shot_9", "k, the number of examples", "ArrowRight"),
]


def test_home_lists_the_models(page, app_url):
    page.goto(app_url)
    wait_for_run(page)
    screenshot(page, "0_home")
    assert exceptions(page) == []
    text = page.locator("[data-testid='stMain']").inner_text()
    for name in ("flow", "vae", "gan", "classifier"):
        assert name in text


@pytest.mark.parametrize("path,label,key", PAGES, ids=[p[0] for p in PAGES])
def test_page_control_changes_the_output(page, app_url, path, label, key):
    page.goto(f"{app_url}/{path}")
    wait_for_run(page)
    assert exceptions(page) == []
    before = image_sources(page)
    assert before, f"{path} shows no image"
    nudge_slider(page, label, key)
    page.wait_for_function(
        "before => { const now = [...document.querySelectorAll(\"[data-testid='stMain'] [data-testid='stImage'] img\")]"
        ".map(i => i.src); return now.length && now.join() !== before.join(); }", arg=before, timeout=120_000)
    wait_for_run(page)
    screenshot(page, path)
    assert exceptions(page) == []
    assert image_sources(page) != before

