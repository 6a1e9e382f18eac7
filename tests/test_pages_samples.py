"""AppTests of the Samples page: a seeded grid, the classifier's labels, and a broken classifier."""

from pathlib import Path

import numpy as np
import pytest

from explorer import catalogue
from page_checks import downloads, frame_count, page_test, plotly_figure, run_page, series, served_image, texts

PAGE = str(Path(__file__).parent.parent / "app_pages" / "2_Samples.py")


@pytest.fixture
def app(checkpoint_env, media, deferred):
    return run_page(PAGE)


def grid(at, media) -> np.ndarray:
    return np.asarray(served_image(media, at.image[0]))


def test_default_grid_is_64_samples_with_its_seed(app, media, deferred):
    assert served_image(media, app.image[0]).size == (3 * (8 * 30 + 2), 3 * (8 * 30 + 2))
    caption = app.image[0].proto.imgs[0].caption
    assert "64 samples from flow" in caption and "seed 0" in caption
    assert downloads(app, media, deferred) == ["samples_flow_n64_t1.00_seed0.png"]


def test_temperature_zero_says_every_tile_is_the_centre(app):
    """The flow's mixture prior has 2 centres (seeded), the VAE's N(0, I) one."""
    app.sidebar.slider(key="temperature").set_value(0.0).run()
    caption = app.image[0].proto.imgs[0].caption
    assert "one of the prior's 2 Gaussians" in caption and "seed 0" in caption
    app.sidebar.selectbox(key="model").set_value("vae").run()
    caption = app.image[0].proto.imgs[0].caption
    assert "z = 0" in caption and "seed" not in caption


def test_the_same_seed_gives_the_same_grid(app, media):
    first = grid(app, media)
    app.sidebar.number_input(key="seed").set_value(1).run()
    other = grid(app, media)
    app.sidebar.number_input(key="seed").set_value(0).run()
    assert np.array_equal(grid(app, media), first) and not np.array_equal(other, first)


def test_256_samples_from_each_model(app, media):
    app.sidebar.select_slider(key="n").set_value(256).run()
    for name in ("flow", "vae", "gan"):
        app.sidebar.selectbox(key="model").set_value(name).run()
        assert not app.exception
        assert served_image(media, app.image[0]).size == (2 * (16 * 30 + 2), 2 * (16 * 30 + 2))


def test_labels_name_every_sample(app, media):
    app.sidebar.slider(key="temperature").set_value(0.7)
    app.toggle(key="labels").set_value(True).run()
    assert not app.exception
    (labelled,) = app.image
    assert "the digit the classifier reads" in labelled.proto.imgs[0].caption
    width, height = served_image(media, labelled).size
    assert width == 3 * (8 * 30 + 2) and height > width  # the same columns, plus a text strip under each row
    counts = series(plotly_figure(app, "counts")["data"][0])
    assert counts.sum() == 64 and len(counts) == 11  # digits 0-9 and static
    assert "never saw" in texts(app.caption)


def test_labels_stay_readable_at_256_and_come_from_the_link(checkpoint_env, media):
    at = page_test(PAGE, 120)
    at.query_params.update({"n": "256", "labels": "true"})
    at.run()
    assert not at.exception and at.toggle(key="labels").value
    width, height = served_image(media, at.image[0]).size
    assert width == 3 * (8 * 30 + 2) and height > 32 * 3 * 30  # 32 rows of 8, each with its label strip


def test_every_model_side_by_side_on_the_same_seed(app, media):
    app.toggle(key="compare").set_value(True).run()
    assert not app.exception
    compared = [e for e in app.image if e.proto.imgs[0].caption in catalogue.generative()]
    assert [e.proto.imgs[0].caption for e in compared] == ["flow", "cnf", "vae", "vae2", "gan"]
    assert all(served_image(media, e).size == (2 * (4 * 30 + 2),) * 2 for e in compared)


def test_static_gets_no_reading(app):
    app.sidebar.slider(key="temperature").set_value(1.5)  # the untrained test flow decodes such codes to noise
    app.toggle(key="labels").set_value(True).run()
    static = series(plotly_figure(app, "counts")["data"][0])[-1]
    assert static > 0 and f"{static} are static" in texts(app.caption)


def test_broken_classifier_only_disables_the_labels(broken_checkpoints, media):
    at = page_test(PAGE, 120)
    at.run()
    at.toggle(key="labels").set_value(True).run()
    assert not at.exception
    assert any("classifier" in e.value for e in at.error)
    caption = at.image[0].proto.imgs[0].caption  # the first model that loads, without labels
    assert "samples from cnf" in caption and "classifier reads" not in caption


def test_the_continuous_flow_shows_its_solver_steps_and_its_path(app, media, deferred):
    assert not app.sidebar.get("select_slider") or "solver-steps" not in [s.key for s in app.sidebar.select_slider]
    app.sidebar.selectbox(key="model").set_value("cnf").run()
    assert not app.exception
    assert app.sidebar.select_slider(key="solver-steps").value == 2  # the checkpoint's own default
    first = grid(app, media)
    app.sidebar.select_slider(key="solver-steps").set_value(8).run()
    assert not np.array_equal(grid(app, media), first)
    path_grid, animation = app.image[1], app.image[2]
    assert "t = 0" in path_grid.proto.imgs[0].caption
    assert served_image(media, path_grid).size[0] == 2 * (9 * 30 + 2)  # nine frames a row
    assert frame_count(served_image(media, animation)) == 9
    app.sidebar.select_slider(key="solver-steps").set_value(2).run()  # fewer steps than frames: one frame a step
    assert frame_count(served_image(media, app.image[2])) == 3
    assert "path_cnf_t1.00_seed0.gif" in downloads(app, media, deferred)


def test_the_continuous_flow_offers_its_guidance_and_one_is_the_model_alone(app, media):
    app.sidebar.selectbox(key="model").set_value("cnf").run()
    assert app.sidebar.select_slider(key="guidance").value == 2.0  # the checkpoint's own weight
    guided = grid(app, media)
    app.sidebar.select_slider(key="guidance").set_value(1.0).run()
    assert not app.exception
    alone = grid(app, media)
    assert not np.array_equal(alone, guided)
