"""AppTests of the Embeddings page: it opens on a stored map at once, computes a new one once, survives a broken model."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from explorer import checkpoints, embed
from explorer.data import TEST_SIZE, load_mnist
from page_checks import page_test, plotly_figure, series, texts

PAGE = str(Path(__file__).parent.parent / "app_pages" / "3_Embeddings.py")
SHIPPED = ("umap", "tsne", "pca")  # default maps stored for the tiny models, as the repo ships them for the real ones


def ship_maps(directory: Path, name: str) -> None:
    """Stored default maps for ``name``: random points, real labels (the page must not care how they were made)."""
    sha = checkpoints.sha256_file(checkpoints.paths(name, directory)[0])
    labels = load_mnist("test").labels.numpy()
    rng = np.random.default_rng(0)
    for method in SHIPPED:
        path = directory / "embeddings" / embed.file_name(name, sha, method, embed.settings_for(method))
        embed.write(path, rng.normal(size=(TEST_SIZE, 2)), labels, 12.0)


@pytest.fixture
def shipped(tiny_checkpoints, tmp_path, monkeypatch, data_cache):
    directory = tmp_path / "checkpoints"
    shutil.copytree(tiny_checkpoints, directory)
    ship_maps(directory, "vae")
    ship_maps(directory, "flow")
    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(directory))
    st.cache_resource.clear()
    yield directory
    st.cache_resource.clear()


def run_page() -> AppTest:
    at = page_test(PAGE, 300)
    at.run()
    assert not at.exception
    return at


def the_map(at, name: str, method: str, settings: dict | None = None) -> dict:
    sha = checkpoints.load(name).sha256
    stem = embed.file_name(name, sha, method, settings if settings is not None else embed.settings_for(method))[:-4]
    return plotly_figure(at, f"map-{stem}")


def test_opens_on_the_stored_umap_with_every_test_digit(shipped):
    at = run_page()
    assert at.sidebar.radio(key="method").value == "umap"
    assert not at.status  # nothing to compute
    figure = the_map(at, "vae", "umap")
    traces = figure["data"]
    assert [t["name"] for t in traces] == [str(d) for d in range(9)] + ["9 (held out)"]
    assert sum(len(series(t, "x")) for t in traces) == TEST_SIZE
    assert len(series(traces[-1], "x")) == 1009 and traces[-1]["marker"]["symbol"] == "diamond"
    assert all(t["type"] == "scattergl" for t in traces)
    caption = texts(at.caption)
    assert "UMAP of vae's 8-D codes of 10,000 test digits (n neighbors 15, min dist 0.1, seed 0)." in caption
    at.sidebar.selectbox(key="model").set_value("flow").run()
    assert "UMAP of flow's 784-D codes of 10,000 test digits (n neighbors 15, min dist 0.1, seed 0), through " \
           "their first 50 principal components" in texts(at.caption)
    assert "nearest neighbours of a held-out 9" in texts(at.markdown)
    assert "Select points on the map" in texts(at.info)


def test_stored_tsne_and_pca_maps_switch_instantly(shipped):
    at = run_page()
    at.sidebar.radio(key="method").set_value("tsne").run()
    assert not at.exception and not at.status
    assert at.sidebar.select_slider(key="perplexity").value == 30
    assert "perplexity 30, seed 0" in texts(at.caption)
    at.sidebar.radio(key="method").set_value("pca").run()
    assert not at.exception and not at.status
    assert sum(len(series(t, "x")) for t in the_map(at, "vae", "pca")["data"]) == TEST_SIZE
    assert not at.sidebar.number_input  # PCA has no seed


def test_a_new_map_is_computed_once_with_progress_then_stored(shipped, data_cache):
    at = run_page()
    at.sidebar.radio(key="method").set_value("pca").run()
    at.sidebar.selectbox(key="model").set_value("vae2").run()  # no stored map for vae2
    assert not at.exception
    assert "Computed in" in at.status[0].label
    sha = checkpoints.load("vae2").sha256
    assert (data_cache / "embeddings" / embed.file_name("vae2", sha, "pca", {})).exists()
    assert sum(len(series(t, "x")) for t in the_map(at, "vae2", "pca")["data"]) == TEST_SIZE
    at.run()
    assert not at.status  # the second time it is read from disk


def test_the_map_shown_before_stays_while_a_new_one_is_computed(shipped, monkeypatch):
    at = run_page()

    def computing(*args, **kwargs):  # the page as a user sees it mid-computation
        raise RuntimeError("still computing")

    monkeypatch.setattr(embed, "projection", computing)
    at.sidebar.slider(key="n_neighbors").set_value(40).run()  # no stored map with 40 neighbours
    ids = [c.proto.id for c in at.get("plotly_chart")]
    assert any(i.endswith("-map-previous") for i in ids) and "The map shown before" in texts(at.caption)


def test_a_broken_checkpoint_is_left_out_with_its_reason(shipped, data_cache):
    weights, _ = checkpoints.paths("vae", shipped)
    weights.write_bytes(weights.read_bytes()[:100])
    st.cache_resource.clear()
    at = run_page()
    assert "Unavailable: vae" in texts(at.sidebar.caption)
    model = at.sidebar.selectbox(key="model")
    assert model.value == "vae2" and "vae" not in model.options
    assert sum(len(series(t, "x")) for t in the_map(at, "vae2", "pca")["data"]) == TEST_SIZE


def test_the_clustering_chart_is_drawn_only_when_opened(shipped):
    at = run_page()
    assert [c.proto.id for c in at.get("plotly_chart") if "clustering" in c.proto.id] == []
    at.session_state["clustering-open"] = True
    at.run()
    assert not at.exception
    bars = plotly_figure(at, "clustering")["data"][0]
    assert len(bars["x"]) == 10 and all(0 <= v <= 1 for v in series(bars))
    assert "nearest neighbours on the map that show the same digit" in texts(at.caption)
