"""Helpers for the AppTests of pages: what an image element shows, where an AppTest keeps only its URL."""

from __future__ import annotations

import io
import json
from pathlib import Path, PurePosixPath

from PIL import Image

def served(media: dict, url: str):
    """The file (content, mimetype, filename) behind a media ``url``, from the ``media`` fixture's recording."""
    return media[PurePosixPath(url).stem]


def served_image(media: dict, element) -> Image.Image:
    """The picture an ``st.image`` element shows."""
    return Image.open(io.BytesIO(served(media, element.proto.imgs[0].url).content))


def downloads(at, media: dict, deferred: dict) -> list[str]:
    """File names of the page's download buttons, in order, whether their data was given or is made on click."""
    return [served(media, b.proto.url).filename if b.proto.url else deferred[b.proto.deferred_file_id][1]
            for b in at.get("download_button")]


def frame_count(image: Image.Image) -> int:
    return getattr(image, "n_frames", 1)


def plotly_figure(at, key: str) -> dict:
    """The figure JSON of the ``st.plotly_chart`` with ``key``."""
    (chart,) = [e for e in at.get("plotly_chart") if e.proto.id.endswith(f"-{key}")]
    return json.loads(chart.proto.spec)


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def series(trace: dict, axis: str = "y"):
    """A trace's values, whether plotly wrote them as a list or as a base64 typed array."""
    import base64

    import numpy as np

    values = trace[axis]
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
    return np.asarray(values)


def clicked_download(at, deferred: dict, label: str) -> tuple[bytes, str]:
    """(content, file name) that a download button with deferred data (a callable) serves when clicked."""
    (button,) = [b for b in at.get("download_button") if b.proto.label == label]
    make, filename = deferred[button.proto.deferred_file_id]
    return make(), filename


APP = Path(__file__).resolve().parent.parent / "app.py"


def page_test(path: str, timeout: float = 120):
    """An AppTest of the app switched to the page at ``path`` (not yet run): the page runs inside the app,
    as it does in the browser, so its links to the other pages resolve."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=timeout)
    return at.switch_page(Path(path).resolve().relative_to(APP.parent).as_posix())


def run_page(path: str):
    """The page at ``path`` after a first run, as a user first opens it; fails on any exception."""
    at = page_test(path)
    at.run()
    assert not at.exception
    return at
