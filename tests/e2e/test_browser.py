"""The main paths as a user meets them: the app started by ./start.sh, driven in a real headless Chromium.

For every page: load it, change its main control the way a person would (keyboard on a slider),
wait for the rerun to finish, and check that what is shown changed and that no exception is shown.
Screenshots land in artifacts/screenshots/.
"""

import pytest

from bench.harness import draw_nine, exceptions, image_sources, nudge_slider, running_app, screenshot, wait_for_run
from explorer import ui

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



def test_box_selection_on_the_embeddings_map_shows_the_digits_and_their_decodings(page, app_url):
    page.goto(f"{app_url}/Embeddings?method=PCA")
    wait_for_run(page)
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    page.locator(".js-plotly-plot .modebar-btn[data-title='Box Select']").first.click()
    area = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    x, y = area["x"] + 0.5 * area["width"], area["y"] + 0.2 * area["height"]
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 100, y + 150, steps=10)  # a person's drag, in small moves
    page.mouse.up()
    page.get_by_text("selected (").first.wait_for()
    wait_for_run(page)
    screenshot(page, "Embeddings_selection")
    assert exceptions(page) == []
    (summary,) = [t for t in page.locator("[data-testid='stMarkdown']").all_inner_texts() if "selected (" in t]
    assert int(summary.split()[0]) > 0
    assert len(image_sources(page)) == 2  # the selected test images and the model's decodings of their codes


def test_a_nine_drawn_with_the_mouse_becomes_the_few_shot_example(page, app_url):
    page.goto(f"{app_url}/Few-shot_9?source=Draw+them")
    wait_for_run(page)
    assert image_sources(page) == []  # nothing drawn yet: no examples, no grids
    draw_nine(page)
    page.get_by_text("As the models will see it").wait_for(timeout=120_000)  # the drawing reached the server
    wait_for_run(page)
    screenshot(page, "Few-shot_9_drawing")
    page.get_by_role("button", name="Add this 9").click()
    page.get_by_text("1 drawn by you").wait_for(timeout=120_000)
    wait_for_run(page)
    screenshot(page, "Few-shot_9_drawn")
    assert exceptions(page) == []
    assert len(image_sources(page)) == 7  # the drawn example and the six default methods' grids


def test_a_digit_drawn_with_the_mouse_gets_its_likelihood(page, app_url):
    page.goto(f"{app_url}/Likelihood?image=Draw+one")
    wait_for_run(page)
    page.get_by_text("Draw on the black pad").wait_for()
    draw_nine(page)
    page.get_by_text("your drawing: 28 x 28").wait_for(timeout=120_000)
    wait_for_run(page)
    screenshot(page, "Likelihood_drawn")
    assert exceptions(page) == []
    readings = page.locator("[data-testid='stTable']").first.inner_text()
    assert "flow" in readings and "bits/dim" in readings and "grey levels" in readings
    assert "As a PNG file" in page.locator("[data-testid='stMain']").inner_text()  # the PNG's size beside them


def test_a_link_to_a_page_as_a_new_servers_first_visit_shows_one_menu(page):
    """A teacher starts the app and hands out a link to one page: the first visitor opens that address, not Home."""
    with running_app() as url:
        for path in ("Likelihood", "Samples"):
            page.goto(f"{url}/{path}")
            wait_for_run(page)
            links = page.locator("[data-testid='stSidebar'] a").all_inner_texts()
            assert page.locator("[data-testid='stSidebarNav']").count() == 0  # Streamlit's own menu stays hidden
            assert len(links) == len(ui.PAGES) and links[-1].endswith(ui.PAGES[-1][1])
