"""AppTests of the Interpolation page: the strip, the round-trip animation, the classifier's chart, analogies."""

from pathlib import Path

import pytest

from page_checks import downloads, frame_count, page_test, plotly_figure, run_page, series, served_image, texts

PAGE = str(Path(__file__).parent.parent / "app_pages" / "1_Interpolation.py")


@pytest.fixture
def app(checkpoint_env, media, deferred):
    return run_page(PAGE)


def image(at, media, caption_part: str):
    (found,) = [e for e in at.image if caption_part in e.proto.imgs[0].caption]
    return served_image(media, found)


def test_default_walk_from_2_to_8(app, media, deferred):
    assert app.sidebar.selectbox(key="digit-0").value == 2 and app.sidebar.selectbox(key="digit-1").value == 8
    strip = image(app, media, "2 → 8: 10 steps")
    assert strip.size == (3 * (10 * 30 + 2), 3 * 32)  # ten 28-pixel frames with 2-pixel borders, tripled
    gif = image(app, media, "18 frames")
    assert gif.format == "GIF" and frame_count(gif) == 18 and gif.size == (168, 168)
    figure = plotly_figure(app, "probabilities")
    assert {"2", "8"} <= {trace["name"] for trace in figure["data"]}
    assert all(len(series(trace)) == 10 for trace in figure["data"])
    assert "classifier" in texts(app.caption)
    assert not [e for e in app.image if "model's" in e.proto.imgs[0].caption]  # the flow inverts exactly
    assert downloads(app, media, deferred) == ["roundtrip_flow_2to8_linear_10.gif", "interpolation_flow_2to8_linear_10.png"]


def test_steps_path_and_digits_change_the_walk(app, media):
    app.sidebar.slider(key="steps").set_value(5)
    app.sidebar.radio(key="path").set_value("spherical")
    app.sidebar.selectbox(key="digit-1").set_value(3)
    app.run()
    assert not app.exception
    assert image(app, media, "2 → 3: 5 steps, spherical").size == (3 * (5 * 30 + 2), 3 * 32)
    assert frame_count(image(app, media, "8 frames")) == 8
    assert all(len(series(trace)) == 5 for trace in plotly_figure(app, "probabilities")["data"])


def test_random_images_show_their_seed(app):
    app.sidebar.toggle(key="random").set_value(True).run()
    app.sidebar.number_input(key="image-seed").set_value(7).run()
    assert not app.exception
    captions = [e.proto.imgs[0].caption for e in app.image]
    assert any("(seed 7)" in c for c in captions)


def test_approximate_inversion_shows_the_models_versions(app, media):
    app.sidebar.selectbox(key="model").set_value("gan").run()
    assert not app.exception
    assert "approximate: optimised" in texts(app.caption)
    versions = [e.proto.imgs[0].caption for e in app.image if "model's" in e.proto.imgs[0].caption]
    assert len(versions) == 2 and all(": reads " in c for c in versions)
    for digit, caption in zip((2, 8), versions):  # picture and chart agree on what the path starts and ends with
        kept = caption.split(": reads ")[1].startswith(str(digit))
        assert kept == (f"the {digit}" not in texts(app.warning)), caption


def test_analogy_with_approximate_inversion_says_where_the_answer_comes_from(app):
    app.sidebar.selectbox(key="model").set_value("gan")
    app.sidebar.segmented_control(key="mode").set_value("Analogy").run()
    assert not app.exception
    assert "computed from these" in texts(app.caption) and "starts and ends" not in texts(app.caption)


def test_analogy_mode(app, media):
    app.sidebar.segmented_control(key="mode").set_value("Analogy").run()
    assert not app.exception
    captions = [e.proto.imgs[0].caption for e in app.image]
    assert captions[:3] == ["a: test 2 #0", "b: test 8 #0", "c: test 2 #1"]
    assert captions[3] == "? = c + (b − a)"
    assert "The classifier reads the answer as" in texts(app.caption)
    assert "random analogies between test digits" in texts(app.info)
    assert served_image(media, app.image[3]).size == (112, 112)


def test_broken_checkpoints_give_messages_not_exceptions(broken_checkpoints):
    at = page_test(PAGE, 120)
    at.run()
    assert not at.exception
    assert "Unavailable: flow" in texts(at.sidebar.caption)
    assert any("classifier" in e.value and "corrupt" in e.value for e in at.error)
    assert "Without the classifier" in texts(at.info)
    assert at.sidebar.selectbox(key="model").value == "cnf"  # the first model that loads
    assert any("2 → 8" in e.proto.imgs[0].caption for e in at.image)
