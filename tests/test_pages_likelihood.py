"""AppTests of the Likelihood page: every image source, the readings beside the test digits, the gallery, bad input."""

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer import catalogue, likelihood
from explorer.data import load_mnist
from page_checks import page_test, plotly_figure, run_page, texts

PAGE = str(Path(__file__).parent.parent / "app_pages" / "7_Likelihood.py")


REFERENCES = 200  # test digits the tiny models' references are measured on


@pytest.fixture(scope="module")
def references(tiny_checkpoints, tmp_path_factory):
    """The tiny models' stored measurements, made once for the module as the page makes them on a first visit."""
    folder = tmp_path_factory.mktemp("likelihood")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(likelihood, "REFERENCE_IMAGES", REFERENCES)
        patch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(tiny_checkpoints))
        likelihood.precompute(catalogue.with_likelihood(), out=folder, log=lambda line: None)
    return folder


@pytest.fixture
def app(checkpoint_env, data_cache, media, references, monkeypatch):
    monkeypatch.setattr(likelihood, "REFERENCE_IMAGES", REFERENCES)
    shutil.copytree(references, data_cache / "likelihood")
    return run_page(PAGE)


def test_a_first_visit_measures_the_test_digits_once_and_stores_them(checkpoint_env, data_cache, monkeypatch):
    monkeypatch.setattr(likelihood, "REFERENCE_IMAGES", 50)
    run_page(PAGE)
    stored = sorted(p.name.split("-")[0] for p in (data_cache / "likelihood").glob("*.npz"))
    assert stored == sorted(catalogue.with_likelihood())


def readings(at):
    """The readings table as model -> measure -> number."""
    table = at.table[0].value
    return {model: {measure: float(str(v).split()[0].rstrip("%")) for measure, v in table[model].items()}
            for model in table.columns}


def test_a_test_digit_gets_a_reading_from_every_model_with_a_likelihood(app):
    table = readings(app)
    assert list(table) == ["flow", "cnf", "vae (bound)", "vae2 (bound)"]  # a VAE's number is an upper bound
    for numbers in table.values():
        assert np.isfinite(numbers["bits/dim"]) and 0 <= numbers["more likely than"] <= 100
        assert abs(numbers["coded size"] - numbers["bits/dim"] * 784 / 8) <= 1
    assert table["flow"]["round trip"] == 0
    assert all(0 < table[vae]["bits/dim"] <= 1.5 for vae in ("vae (bound)", "vae2 (bound)"))  # bits a black-or-white pixel
    assert "As a PNG file: **" in texts(app.markdown)
    spread = plotly_figure(app, "spread-flow")
    assert len(spread["data"]) == 10  # one box per digit
    assert plotly_figure(app, "map-flow")["data"][0]["type"] == "heatmap"
    assert plotly_figure(app, "map-vae")["data"][0]["zmin"] == 0  # bits a pixel costs, never negative
    assert not [c for c in app.get("plotly_chart") if c.proto.id.endswith("-map-cnf")]  # only on request
    app.toggle(key="slow_maps").set_value(True).run()
    assert not app.exception and plotly_figure(app, "map-cnf")["data"][0]["type"] == "heatmap"


def test_changed_digits_and_non_digits_change_the_reading(app):
    first = readings(app)["flow"]["bits/dim"]
    app.sidebar.radio(key="image").set_value("A changed digit").run()
    app.sidebar.radio(key="change").set_value("inverted").run()
    assert not app.exception and readings(app)["flow"]["bits/dim"] != first
    assert "inverted" in app.image[0].proto.imgs[0].caption
    app.sidebar.radio(key="image").set_value("Not a digit").run()
    app.sidebar.radio(key="special").set_value("blank").run()
    assert not app.exception and "blank" in app.image[0].proto.imgs[0].caption


def test_the_held_out_nine_is_a_choice(app):
    app.sidebar.selectbox(key="digit").set_value(9).run()
    app.sidebar.number_input(key="index").set_value(5).run()
    assert not app.exception and "test 9 #5" in app.image[0].proto.imgs[0].caption


def test_a_drawing_is_measured(app):
    app.sidebar.radio(key="image").set_value("Draw one").run()
    assert "Draw on the black pad" in texts(app.info)


def test_uploads_are_measured_and_bad_ones_named(app):
    app.sidebar.radio(key="image").set_value("Upload one").run()
    assert "Upload an image" in texts(app.info)
    nine = load_mnist("test").held_out().images[0].numpy()
    buffer = io.BytesIO()
    Image.fromarray(255 - nine).resize((140, 140)).save(buffer, format="PNG")
    app.file_uploader(key="upload").set_value([("nine.png", buffer.getvalue(), "image/png")]).run()
    assert not app.exception and app.image[0].proto.imgs[0].caption.startswith("nine.png")
    app.file_uploader(key="upload").set_value([("notes.txt", b"not a picture", "text/plain")]).run()
    assert not app.exception and any(w.value.startswith("notes.txt: not an image") for w in app.warning)


def test_the_gallery_measures_non_digits_against_the_test_digits(app):
    gallery = app.dataframe[0].value
    assert list(gallery.columns) == ["flow", "cnf", "vae", "vae2"] and "blank" in gallery.index and "a test 9 (never seen)" in gallery.index
    assert "more likely than the median test digit" in texts(app.markdown) or "none of the non-digits" in texts(app.markdown)


def test_without_any_model_with_a_likelihood_the_page_says_so(broken_checkpoints):
    for name in ("cnf", "vae", "vae2"):
        (broken_checkpoints / f"{name}.json").unlink()
    at = page_test(PAGE)
    at.run()
    assert not at.exception
    assert any("No model with a likelihood could be loaded" in e.value for e in at.error)
