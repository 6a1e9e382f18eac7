"""Every page at a projector's 1024 x 768 and a wide screen's 1920 x 1080, in presenter mode and not: nothing may
stick out sideways (a class cannot scroll a projected page), no number may be cut off, and each screen is saved for
a person to look at:
``artifacts/screenshots/<width>x<height>/<page>[_present].png``.

    ./test.sh tests/e2e/test_screens.py       # the README's pictures come from here (docs/screens/)
"""

import pytest

from bench.harness import ARTIFACTS, exceptions, wait_for_run

PAGES = ["", "Interpolation", "Samples?model=cnf", "Embeddings", "Reconstructions", "GAN_training", "Few-shot_9",
         "Likelihood"]
SCREENS = [(1024, 768), (1920, 1080)]


@pytest.fixture(params=SCREENS, ids=[f"{w}x{h}" for w, h in SCREENS])
def screen(browser, request):
    width, height = request.param
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(180_000)
    yield page, f"{width}x{height}"
    context.close()


@pytest.mark.parametrize("present", [False, True], ids=["plain", "present"])
@pytest.mark.parametrize("path", PAGES, ids=[p.split("?")[0] or "Home" for p in PAGES])
def test_each_page_fits_the_screen_and_is_saved(screen, app_url, path, present):
    page, size = screen
    page.goto(f"{app_url}/{path}" + (("&" if "?" in path else "?") + "present=true" if present else ""))
    name = path.split("?")[0] or "Home"
    wait_for_run(page)
    assert exceptions(page) == []
    folder = ARTIFACTS / size
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}{'_present' if present else ''}.png"))
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name} is {overflow} px wider than the {size} screen"
    cut = page.locator("[data-testid='stMetricValue'] div").evaluate_all(
        "values => values.filter(v => v.scrollWidth > v.clientWidth + 1).map(v => v.innerText)")
    assert cut == [], f"{name} at {size} cuts off the numbers {cut}"
