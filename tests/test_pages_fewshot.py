"""AppTests of the Few-shot 9 page: methods side by side, example sources, uploads and broken checkpoints."""

import io
from pathlib import Path

import pytest
from PIL import Image

from explorer.data import load_mnist
from page_checks import page_test, plotly_figure, run_page, served_image, texts

PAGE = str(Path(__file__).parent.parent / "app_pages" / "6_Few-shot_9.py")
GRID = 2 * (8 * 30 + 2)  # 8 x 8 samples of 28 pixels with 2-pixel borders, doubled


@pytest.fixture
def app(checkpoint_env, media):
    return run_page(PAGE)


def sample_grids(at, media) -> list:
    return [served_image(media, e) for e in at.image if served_image(media, e).size == (GRID, GRID)]


def test_every_latent_method_with_a_checkpoint_side_by_side(app, media):
    assert app.image[0].proto.imgs[0].caption == "10 training 9s drawn with seed 0"
    assert served_image(media, app.image[0]).size == (2 * (10 * 30 + 2), 2 * 32)
    assert app.sidebar.multiselect(key="methods").value == ["pixel", "copy", "flow", "bayes", "cnf", "vae"]
    assert len(sample_grids(app, media)) == 6
    assert texts(app.markdown).count("called 9 **") == 6
    table = app.dataframe[0].value
    assert len(table) == 6 and table["called 9"].between(0, 100).all() and (table["diversity"] >= 0).all()
    # bits/dim for the flow's fitted Gaussian and its Bayesian update; nats for the pixel Gaussian
    assert table["test 9s, bits/dim"].isna().tolist() == [True, True, False, False, True, True]
    assert table["test 9s, nats in PCA space"].isna().tolist() == [False, True, True, True, True, True]
    assert table.loc[1, "to nearest example"] < 1e-6  # the copies
    plane = plotly_figure(app, "plane")
    assert len(plane["data"][0]["x"]) == 6 and plane["data"][1]["text"] == ["real test 9s"]
    assert "Nearest to them now" in texts(app.markdown)
    assert "No sweep for these weights yet" in texts(app.caption)  # the tiny weights have none stored
    assert "flow's own prior gives" in texts(app.markdown)


def test_k_and_seed_choose_the_examples(app, media):
    app.sidebar.slider(key="k").set_value(3)
    app.sidebar.number_input(key="example-seed").set_value(5).run()
    assert not app.exception
    assert app.image[0].proto.imgs[0].caption == "3 training 9s drawn with seed 5"
    assert "span only 2 directions" in texts(app.caption)
    app.sidebar.slider(key="k").set_value(1).run()  # a single example: the Gaussians shrink to a point
    assert not app.exception
    assert app.dataframe[0].value["to nearest example"].iloc[0] < 1e-4  # the pixel Gaussian copies it


def test_fine_tuning_shows_its_progress(app, media):
    app.sidebar.slider(key="tune-steps").set_value(10)
    app.sidebar.multiselect(key="methods").set_value(["pixel", "finetune"]).run()
    assert not app.exception
    assert len(sample_grids(app, media)) == 2
    assert "Fine-tuned a copy of the flow for 10 steps" in app.get("progress")[0].proto.text
    assert "bits/dim of the 10 examples while fine-tuning" in texts(app.caption).lower()


def test_gallery_picks(app, media):
    app.sidebar.radio(key="source").set_value("Pick from a gallery").run()
    assert not app.exception
    assert any(e.proto.imgs[0].caption.startswith("10 training 9s picked by hand") for e in app.image)
    assert len([c for c in app.checkbox if c.value]) == 10
    assert [served_image(media, e).size for e in app.image].count((56, 56)) == 48  # the gallery's 9s, doubled
    assert app.query_params["picks"] == ",".join(map(str, range(10)))


def test_gallery_picks_survive_another_page_and_come_from_the_link(checkpoint_env, media):
    at = page_test(PAGE, 120)
    at.query_params.update({"source": "Pick from a gallery", "picks": "3,50"})
    at.run()
    assert not at.exception
    assert any(e.proto.imgs[0].caption.startswith("2 training 9s picked by hand (numbers 3, 50)") for e in at.image)
    assert "other gallery pages: 50" in texts(at.caption)
    at.checkbox(key="pick-5").check()
    at.button[0].click().run()  # the form's "Use these 9s"
    at.sidebar.number_input(key="gallery-page").set_value(1).run()
    assert at.checkbox(key="pick-50").value and "other gallery pages: 3, 5" in texts(at.caption)
    assert at.query_params["picks"] == "3,5,50"


def test_a_bad_picks_link_is_named(checkpoint_env):
    at = page_test(PAGE, 120)
    at.query_params.update({"source": "Pick from a gallery", "picks": "3,99999"})
    at.run()
    assert not at.exception and "picks=3,99999" in texts(at.sidebar.warning)


def test_uploads_good_and_bad(app, media):
    nine = load_mnist("test").held_out().images[0].numpy()
    buffer = io.BytesIO()
    Image.fromarray(255 - nine).convert("RGB").resize((280, 280)).save(buffer, format="JPEG")
    app.sidebar.radio(key="source").set_value("Upload images").run()
    assert "Upload one or more images" in texts(app.info)
    app.file_uploader(key="uploads").set_value([("nine.jpg", buffer.getvalue(), "image/jpeg"),
                                                ("notes.txt", b"not a picture", "text/plain")]).run()
    assert not app.exception
    assert any(w.value.startswith("notes.txt: not an image") for w in app.warning)
    assert app.image[0].proto.imgs[0].caption == "1 uploaded: nine.jpg"
    assert len(sample_grids(app, media)) == 6


def test_drawn_nines_are_the_examples(app, media):
    app.sidebar.radio(key="source").set_value("Draw them").run()
    assert "Draw a 9 on the black pad" in texts(app.info)
    assert app.button(key="add-drawing").disabled  # nothing drawn yet
    app.session_state["drawn-9s"] = list(load_mnist("test").held_out().images[:3].numpy())  # as the pad adds them
    app.run()
    assert not app.exception
    assert app.image[0].proto.imgs[0].caption == "3 drawn by you"
    assert len(sample_grids(app, media)) == 6
    app.button(key="undo-drawing").click().run()
    assert app.image[0].proto.imgs[0].caption == "2 drawn by you"
    app.button(key="clear-drawings").click().run()
    assert "Draw a 9 on the black pad" in texts(app.info)


def test_broken_checkpoints_disable_only_what_needs_them(broken_checkpoints, media):
    at = page_test(PAGE, 120)
    at.run()
    assert not at.exception
    assert any("needs the flow checkpoint" in w.value for w in at.warning)
    assert any("classifier" in e.value for e in at.error)
    assert len(at.dataframe[0].value) == 4  # pixel, copies, the continuous flow and the VAE still run


def test_the_stored_sweep_for_the_served_weights_is_charted(tiny_checkpoints, tmp_path, monkeypatch, media):
    import shutil

    import streamlit as st

    from explorer import checkpoints, sweep

    folder = tmp_path / "checkpoints"
    shutil.copytree(tiny_checkpoints, folder)
    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(folder))
    st.cache_resource.clear()
    shas = {name: checkpoints.load(name, folder).sha256 for name in sweep.MODELS}
    rows = [{"method": m, "k": k, "seed": s, "share_nine": 0.1 * k, "diversity": 1.0}
            for m in ("pixel", "flow") for k in (1, 5) for s in (0, 1)]
    sweep.write(rows, shas)
    at = run_page(PAGE)
    assert len(at.get("arrow_vega_lite_chart")) >= 2 or len(at.get("vega_lite_chart")) >= 2
    assert "No sweep for these weights" not in texts(at.caption)
