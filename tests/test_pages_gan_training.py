"""AppTests of the GAN training page: curves of the keys present, smoothing, the epoch grid, absent or broken histories."""

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer import checkpoints
from page_checks import clicked_download, downloads, page_test, plotly_figure, series, served_image, texts

PAGE = str(Path(__file__).parent.parent / "app_pages" / "5_GAN_training.py")
EPOCHS, STEPS_PER_EPOCH = 3, 10


def gan_history(wgan: bool = False) -> dict[str, torch.Tensor]:
    steps = EPOCHS * STEPS_PER_EPOCH
    rng = np.random.default_rng(0)
    keys = ("d_loss", "g_loss", "d_real", "d_fake") + (("wasserstein", "gradient_penalty") if wgan else ())
    history = {k: torch.from_numpy(rng.random(steps).astype(np.float32)) for k in keys}
    history["epoch_grids"] = torch.from_numpy(rng.integers(0, 256, (EPOCHS, 64, 28, 28), dtype=np.uint8))
    return history


def with_history(source: Path, directory: Path, history: dict | None) -> Path:
    """A copy of the tiny checkpoints whose gan card tells of a 3-epoch run and stores ``history``."""
    shutil.copytree(source, directory)
    ckpt = checkpoints.load("gan", directory)
    card = {**ckpt.card, "train_size": 64 * STEPS_PER_EPOCH, "batch_size": 64, "epochs": EPOCHS,
            "steps": EPOCHS * STEPS_PER_EPOCH, "command": "python -m explorer train gan --epochs 3"}
    checkpoints.save(ckpt.model, card, "gan", directory, history=history)
    return directory


@pytest.fixture
def run_page(tiny_checkpoints, tmp_path, monkeypatch, media):
    def run(history: dict | None) -> AppTest:
        directory = with_history(tiny_checkpoints, tmp_path / f"checkpoints{len(list(tmp_path.iterdir()))}", history)
        monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(directory))
        st.cache_resource.clear()
        at = page_test(PAGE, 120)
        at.run()
        assert not at.exception
        return at

    yield run
    st.cache_resource.clear()


def traces(at, title: str) -> list[dict]:
    return plotly_figure(at, f"curve-{title}")["data"]


def test_curves_grid_and_notes_of_a_standard_gan(run_page, media, deferred):
    at = run_page(gan_history())
    assert at.slider(key="epoch").value == EPOCHS and at.slider(key="epoch").max == EPOCHS
    (grid,) = [e for e in at.image if "noise vectors" in e.proto.imgs[0].caption]
    assert served_image(media, grid).size == (3 * (8 * 30 + 2),) * 2  # 8 x 8 digits with 2-pixel borders, tripled
    assert "end of epoch 3 of 3" in grid.proto.imgs[0].caption
    losses = traces(at, "Losses")
    assert [t["name"] for t in losses if t.get("showlegend") is not False] == ["discriminator loss", "generator loss"]
    assert len(losses) == 4 and all(len(series(t)) == EPOCHS * STEPS_PER_EPOCH for t in losses)  # raw and smoothed
    assert len(traces(at, "Discriminator outputs")) == 4
    assert not [e for e in at.get("plotly_chart") if "Wasserstein" in e.proto.id]
    assert len(series(plotly_figure(at, "diversity")["data"][0])) == EPOCHS
    assert "Over the last 10% of training:" in texts(at.markdown)
    assert "mode-collapsed" in texts(at.markdown) and "Mode collapse." in texts(at.markdown)
    assert [b.proto.label for b in at.get("download_button")] == ["Download PNG", "Download all epochs as GIF"]
    assert downloads(at, media, deferred) == ["gan_epoch3.png", "gan_training.gif"]
    content, filename = clicked_download(at, deferred, "Download all epochs as GIF")
    assert filename == "gan_training.gif" and Image.open(io.BytesIO(content)).n_frames == EPOCHS


def test_smoothing_and_epoch_controls(run_page, media):
    at = run_page(gan_history())
    raw = series(traces(at, "Losses")[0])
    at.sidebar.slider(key="smoothing").set_value(0.0)
    at.slider(key="epoch").set_value(1)
    at.run()
    assert not at.exception
    losses = traces(at, "Losses")
    assert len(losses) == 2  # no faint raw copy when nothing is smoothed
    np.testing.assert_allclose(series(losses[0]), raw, rtol=1e-6)
    (grid,) = [e for e in at.image if "noise vectors" in e.proto.imgs[0].caption]
    assert "end of epoch 1 of 3" in grid.proto.imgs[0].caption
    assert "Time runs in epochs of 10 steps" in texts(at.caption)
    steps = series(losses[0], "x")
    assert steps[0] == pytest.approx(1 / STEPS_PER_EPOCH) and steps[-1] == pytest.approx(EPOCHS)


def test_the_curves_do_not_change_with_the_epoch(run_page):
    """A chart whose figure changes is drawn anew by the browser: the epoch must change the grid and its caption only."""
    at = run_page(gan_history())
    before = {key: plotly_figure(at, key) for key in ("curve-Losses", "curve-Discriminator outputs", "diversity")}
    at.slider(key="epoch").set_value(2).run()
    assert {key: plotly_figure(at, key) for key in before} == before
    diversity = series(before["diversity"]["data"][0])
    assert f"Epoch 2: {diversity[1]:.3f}" in texts(at.caption)


def test_wgan_gp_adds_its_own_curves(run_page):
    at = run_page(gan_history(wgan=True))
    assert [t["name"] for t in traces(at, "Wasserstein estimate")][-1] == "Wasserstein estimate"
    assert [t["name"] for t in traces(at, "Gradient penalty")][-1] == "gradient penalty"


def test_a_run_without_history_explains_itself(run_page):
    at = run_page(None)
    assert "saved without a training history" in texts(at.info)
    assert not at.get("plotly_chart")


def test_a_broken_card_shows_its_message(tiny_checkpoints, tmp_path, monkeypatch):
    directory = tmp_path / "broken"
    shutil.copytree(tiny_checkpoints, directory)
    checkpoints.paths("gan", directory)[1].write_text("{ not json")
    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(directory))
    at = page_test(PAGE, 120)
    at.run()
    assert not at.exception
    assert "is not valid JSON" in texts(at.error)
    assert "Mode collapse." in texts(at.markdown)  # the notes stay


def test_other_gan_runs_are_listed_and_other_models_are_not(run_page, tmp_path):
    at = run_page(gan_history())
    directory = Path(checkpoints.checkpoint_dir())
    flow, gan = checkpoints.load("flow", directory), checkpoints.load("gan", directory)
    checkpoints.save(flow.model, flow.card, "flow", directory, history={"bpd": torch.linspace(6, 2, 50)})
    checkpoints.save(gan.model, {**gan.card, "name": "gan-hinge"}, "gan-hinge", directory,
                     history={"d_loss": torch.linspace(2, 1, 50)})
    at.run()
    assert at.sidebar.selectbox(key="run").options == ["gan", "gan-hinge"]
    at.sidebar.selectbox(key="run").set_value("gan-hinge").run()
    assert not at.exception
    assert not at.main.slider  # no grids in that run's history
