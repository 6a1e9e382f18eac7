"""AppTests of the Reconstructions page: pairs with their errors, per-digit means, the 2-D latent plane."""

import io
import shutil
from pathlib import Path

import pytest
import streamlit as st
from PIL import Image

from explorer import checkpoints, wording
from page_checks import clicked_download, page_test, plotly_figure, series, served_image, texts

PAGE = str(Path(__file__).parent.parent / "app_pages" / "4_Reconstructions.py")


def pairs_size(digits: int, per_digit: int) -> tuple[int, int]:
    """The labelled grid at scale 3: 84-pixel digits, 6-pixel gaps, a 15-pixel caption strip under each."""
    return 2 * per_digit * 90 + 6, digits * 105 + 6


@pytest.fixture
def app(checkpoint_env, data_cache, media, deferred):
    at = page_test(PAGE, 300)
    at.run()
    assert not at.exception
    return at


def pairs(at, media):
    (element,) = [e for e in at.image if "reconstruction" in e.proto.imgs[0].caption]
    return element.proto.imgs[0].caption, served_image(media, element)


def test_default_pairs_every_digit_with_its_error(app, media, deferred):
    caption, picture = pairs(app, media)
    assert picture.size == pairs_size(10, 4) and "seed 0" in caption
    bars = plotly_figure(app, "errors")["data"][0]
    assert list(bars["x"]) == [str(d) for d in range(9)] + ["9 (held out)"]
    assert wording.INVERSION_NOTES["posterior-mean"] in texts(app.caption)  # the VAE comes first
    content, filename = clicked_download(app, deferred, "Download PNG")
    assert filename == "reconstructions_vae_seed0.png"
    assert Image.open(io.BytesIO(content)).tobytes() == picture.convert("L").tobytes()


def test_chosen_digits_count_metric_and_seed(app, media, deferred):
    app.sidebar.selectbox(key="model").set_value("vae2")
    app.sidebar.multiselect(key="digits").set_value([9])
    app.sidebar.slider(key="per_digit").set_value(3)
    app.sidebar.radio(key="metric").set_value("bce")
    app.sidebar.number_input(key="test-seed").set_value(5)
    app.run()
    assert not app.exception
    caption, picture = pairs(app, media)
    assert picture.size == pairs_size(1, 3) and "seed 5" in caption and "BCE" in caption
    bars = plotly_figure(app, "errors")["data"][0]
    assert list(bars["x"]) == ["9 (held out)"] and len(series(bars)) == 1
    assert clicked_download(app, deferred, "Download PNG")[1] == "reconstructions_vae2_seed5.png"


def test_the_gan_and_the_flow_say_what_their_codes_are(app):
    app.sidebar.multiselect(key="digits").set_value([1])
    for name, inversion in (("gan", "optimised"), ("flow", "exact")):
        app.sidebar.selectbox(key="model").set_value(name).run()
        assert not app.exception
        assert wording.INVERSION_NOTES[inversion] in texts(app.caption)


def test_latent_plane_with_the_test_codes(app, deferred):
    figure = plotly_figure(app, "plane")  # by default the decoded digits alone, undimmed
    assert figure["data"] == [] and len(figure["layout"]["images"]) == 1
    assert "20 × 20 decoded codes over the central 99%" in texts(app.caption)
    content, filename = clicked_download(app, deferred, "Download the plane as PNG")
    assert filename == "latent_plane_vae2_20x20.png" and Image.open(io.BytesIO(content)).size == (20 * 28 * 3,) * 2
    app.sidebar.slider(key="grid").set_value(10)
    app.sidebar.toggle(key="codes").set_value(True)
    app.run()
    assert not app.exception
    figure = plotly_figure(app, "plane")
    assert len(figure["layout"]["images"]) == 1
    assert sum(len(series(t, "x")) for t in figure["data"]) == 10_000
    assert figure["data"][-1]["name"] == "9 (held out)"
    assert clicked_download(app, deferred, "Download the plane as PNG")[1] == "latent_plane_vae2_10x10.png"


def test_without_a_2d_model_the_plane_explains_why(tiny_checkpoints, tmp_path, monkeypatch, data_cache):
    directory = tmp_path / "checkpoints"
    shutil.copytree(tiny_checkpoints, directory)
    weights, _ = checkpoints.paths("vae2", directory)
    weights.write_bytes(weights.read_bytes()[:100])
    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(directory))
    st.cache_resource.clear()
    at = page_test(PAGE, 300)
    at.run()
    st.cache_resource.clear()
    assert not at.exception
    assert "No model with a 2-D latent space is available (vae2: Checkpoint 'vae2'" in texts(at.info)
    assert "Unavailable: vae2" in texts(at.sidebar.caption)
