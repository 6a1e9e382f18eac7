"""Bad input as a user meets it in the browser: odd uploads, links with impossible values, and a server
whose checkpoints are broken and whose data is missing. Each gets a message; nothing else is lost."""

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from explorer.data import load_mnist

from bench.harness import ROOT, exceptions, image_sources, running_app, screenshot, wait_for_run


def warnings(page) -> list[str]:
    return page.locator("[data-testid='stAlertContentWarning']").all_inner_texts()


def errors(page) -> list[str]:
    return page.locator("[data-testid='stAlertContentError']").all_inner_texts()


def png(image: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def a_nine(size: int = 112) -> np.ndarray:
    """A real test 9 as a person would photograph it: dark ink on white paper, larger than MNIST."""
    nine = load_mnist("test").held_out().images[0].numpy()
    return 255 - np.asarray(Image.fromarray(nine).resize((size, size), Image.Resampling.NEAREST))


def upload_files() -> tuple[list[dict], list[str]]:
    """Files a class might upload (Playwright's file payloads), and the names of those that are not digits."""
    ink = a_nine()
    rgba = np.zeros((*ink.shape, 4), np.uint8)
    rgba[..., 3] = 255 - ink  # black strokes on a transparent canvas
    files = {
        "photo.png": png(Image.fromarray(ink)),
        "transparent.png": png(Image.fromarray(rgba, "RGBA")),
        "sixteen_bit.png": png(Image.fromarray(ink.astype(np.uint16) * 257)),  # mode I;16
        "cmyk.jpg": png(Image.fromarray(ink).convert("CMYK"), "JPEG"),
        "narrow.png": png(Image.fromarray(ink[:, 50:58])),  # 112 x 8 pixels
        "notes.png": b"these are my lecture notes, not a picture",
        "huge.png": png(Image.new("L", (9000, 9000), 255)),  # 81 megapixels of white paper, 0.1 MB
    }
    payloads = [{"name": name, "mimeType": "image/png", "buffer": data} for name, data in files.items()]
    return payloads, ["notes.png", "huge.png"]


def test_uploads_keep_the_digits_and_name_the_files_that_are_not(page, app_url):
    page.goto(f"{app_url}/Few-shot_9?source=Upload+images")
    wait_for_run(page)
    payloads, bad = upload_files()
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(payloads)
    page.get_by_text("5 uploaded").first.wait_for(timeout=120_000)
    wait_for_run(page)
    screenshot(page, "bad_uploads")
    assert exceptions(page) == []
    shown = warnings(page)
    for name in bad:
        assert any(name in w for w in shown), f"no message names {name}: {shown}"
    assert not any(name in w for w in shown for name in ("photo", "transparent", "sixteen", "cmyk", "narrow"))
    assert len(image_sources(page)) >= 4  # the examples and a grid per method


def test_a_link_with_impossible_values_shows_the_defaults_and_says_why(page, app_url):
    page.goto(f"{app_url}/Samples?temperature=9&n=17&seed=-3&model=nonsense")
    wait_for_run(page)
    assert exceptions(page) == []
    shown = " ".join(warnings(page))
    for asked in ("temperature=9", "n=17", "seed=-3", "model=nonsense"):
        assert asked in shown
    assert "64 samples from flow at temperature 1.00, seed 0" in page.locator("[data-testid='stMain']").inner_text()
    assert "temperature" not in page.url  # the URL now says what is shown


def test_a_link_reproduces_the_view_and_follows_the_controls(page, app_url):
    page.goto(f"{app_url}/Samples?model=vae&n=16&temperature=0.5&seed=7")
    wait_for_run(page)
    main = page.locator("[data-testid='stMain']")
    assert "16 samples from vae at temperature 0.50, seed 7" in main.inner_text()
    slider = page.locator("[data-testid='stSlider']").filter(has_text="Temperature").locator("input[type='range']")
    slider.first.focus()
    slider.first.press("ArrowRight")
    page.wait_for_url("**temperature=0.55**", timeout=60_000)
    wait_for_run(page)
    assert "temperature 0.55, seed 7" in main.inner_text() and "seed=7" in page.url


@pytest.fixture(scope="module")
def broken_app(tmp_path_factory):
    """A server whose flow weights are truncated, whose VAE has no card, whose GAN weights are a pickle that
    would run code, and which has no MNIST and may not fetch it."""
    folder = tmp_path_factory.mktemp("broken-checkpoints")
    for file in (ROOT / "checkpoints").glob("*.*"):
        shutil.copy(file, folder / file.name)
    flow = (folder / "flow.safetensors").read_bytes()
    (folder / "flow.safetensors").write_bytes(flow[: len(flow) // 2])
    (folder / "vae.json").unlink()
    marker = tmp_path_factory.mktemp("marker") / "pwned"
    (folder / "gan.safetensors").write_bytes(
        b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")  # a classic malicious pickle
    env = {"LATENT_EXPLORER_CHECKPOINTS": str(folder), "LATENT_EXPLORER_CACHE": str(tmp_path_factory.mktemp("cache")),
           "LATENT_EXPLORER_OFFLINE": "1", "LATENT_EXPLORER_MNIST_DIR": ""}
    with running_app(env=env) as url:
        yield url, marker


def test_broken_checkpoints_and_missing_data_leave_the_rest_working(page, broken_app):
    url, marker = broken_app
    page.goto(url)
    wait_for_run(page)
    screenshot(page, "broken_home")
    assert exceptions(page) == []
    messages = " ".join(errors(page))
    for name in ("flow", "vae", "gan"):
        assert name in messages
    assert not marker.exists(), "the pickle ran"

    page.goto(f"{url}/Samples")  # needs no data; the continuous flow, first of those that load, still draws
    wait_for_run(page)
    assert exceptions(page) == [] and image_sources(page)
    assert "samples from cnf" in page.locator("[data-testid='stMain']").inner_text()

    page.goto(f"{url}/Interpolation")  # needs the test digits
    wait_for_run(page)
    screenshot(page, "broken_interpolation")
    assert exceptions(page) == []
    assert "MNIST could not be loaded" in " ".join(errors(page))
