"""AppTests of the Home page: the pages, every model's card, broken checkpoints flagged with their messages."""

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from explorer import catalogue, ui
from page_checks import texts

APP = str(Path(__file__).parent.parent / "app.py")


def run_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def test_home_lists_pages_models_and_device(checkpoint_env):
    at = run_app()
    pages = sorted(p.relative_to(Path(APP).parent).as_posix() for p in (Path(APP).parent / "app_pages").glob("*.py"))
    assert pages == sorted(script for script, *_ in ui.PAGES)  # every page is in the navigation
    assert len(at.get("page_link")) == 2 * len(pages) - 1  # the sidebar's and the Pages section's (no Home there)
    assert [s.value for s in at.subheader] == list(catalogue.names())
    assert not at.error and not at.warning
    text = texts(at.markdown)
    assert "**kind:** gan" in text and "**latent:** 16-D, encoded by optimised inversion" in text
    assert "**trained on digits:** 0-8 (9 held out)" in text and "**hardware:** test" in text
    assert [c.value for c in at.code] == ["tests/conftest.py (untrained)"] * len(catalogue.names())
    assert "Models run on cpu" in texts(at.caption)
    assert texts(at.caption).count("in memory: unchanged since loading") == len(catalogue.names())
    assert "held out everywhere" in text


def test_broken_checkpoints_are_flagged_and_the_rest_shown(broken_checkpoints):
    at = run_app()
    errors = [e.value for e in at.error]
    assert len(errors) == 2 and all("truncated or corrupt" in e for e in errors)
    assert errors[0].startswith("Checkpoint 'flow'") and errors[1].startswith("Checkpoint 'classifier'")
    assert "Not available: flow, classifier" in at.warning[0].value
    assert len(at.code) == len(catalogue.names()) - 2  # the usable models still show their cards


def test_the_lesson_walks_through_pages_that_exist_and_the_glossary_is_there(checkpoint_env):
    at = run_app()
    lesson, glossary = (e for e in at.expander if e.label in ("A 45-minute lesson", "Glossary"))
    named = set(re.findall(r"\*\*([^*]+)\*\* \(\d+ min\)", texts(lesson.markdown)))
    assert named == {title for _, title, _, _ in ui.PAGES[1:]}
    assert "**bits/dim**" in texts(glossary.markdown) and "**static**" in texts(glossary.markdown)


def test_presenter_mode_comes_from_the_link_and_goes_into_every_page_link(checkpoint_env):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["present"] = "true"
    at.run()
    assert not at.exception and at.sidebar.toggle(key="present").value
    assert any("font-size" in e.proto.body for e in at.get("html"))
    links = at.get("page_link")
    assert len(links) == 2 * len(ui.PAGES) - 1 and all(link.proto.query_string == "present=true" for link in links)


def test_home_shows_at_a_glance_a_walk_and_every_models_samples(checkpoint_env):
    at = run_app()
    captions = [e.proto.imgs[0].caption for e in at.image]
    assert captions[0] == "2 → Z → 8 → Z → 2 in cnf's latent space (Interpolation)"
    assert captions[1:] == catalogue.generative(first="cnf")
    assert "8 samples from each model at temperature 1, seed 0 (Samples)" in [c.value for c in at.caption]
