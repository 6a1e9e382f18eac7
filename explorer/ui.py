"""The only module of ``explorer`` that imports Streamlit: cached model loading and the widgets pages share.

Models load once per server process (``st.cache_resource``) onto the best device, in eval mode with
frozen weights, and are shared by every session: pages read them, never train, move or modify them.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import streamlit as st
import torch
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from . import catalogue, checkpoints, data, images, metrics, upload
from .device import describe, pick_device, serving_layout
from .models.base import GenerativeModel
from .serve import half_the_cores

# The app's pages in sidebar order: (script, title, icon, what it is for). app.py hands them to st.navigation with
# its own menu hidden: the sidebar's links are drawn by page_setup, so that they carry presenter mode to every page.
PAGES = (
    ("app_pages/0_Home.py", "Home", ":material/explore:", "What the app is, the loaded models and their cards."),
    ("app_pages/1_Interpolation.py", "Interpolation", ":material/timeline:",
     "Walk from one digit's code to another's and back, and solve latent analogies."),
    ("app_pages/2_Samples.py", "Samples", ":material/grid_view:",
     "Random digits from each model, with a temperature dial and the classifier's reading."),
    ("app_pages/3_Embeddings.py", "Embeddings", ":material/scatter_plot:",
     "All 10,000 test digits' codes on a 2-D map; select points to see them decoded."),
    ("app_pages/4_Reconstructions.py", "Reconstructions", ":material/compare:",
     "Test digits beside their reconstructions and errors; the 2-D VAE's latent plane."),
    ("app_pages/5_GAN_training.py", "GAN training", ":material/monitoring:",
     "The GAN's training curves and its fixed-noise grid epoch by epoch."),
    ("app_pages/6_Few-shot_9.py", f"Few-shot {data.HELD_OUT_DIGIT}", ":material/exposure_plus_1:",
     f"Make new {data.HELD_OUT_DIGIT}s from a handful of examples: MNIST's, uploaded or drawn by you."),
    ("app_pages/7_Likelihood.py", "Likelihood", ":material/functions:",
     "What the flows and VAEs think of any image, drawn, uploaded or picked: bits/dim, rank, bytes; why likely is "
     "not digit."),
)
ROOT = Path(__file__).resolve().parent.parent
PAD, PEN = 280, 20  # the drawing pad and its pen, in screen pixels: ten times MNIST's frame and strokes
PRESENT = "present"  # the address's key for presenter mode
PRESENTER_CSS = "<style>html { font-size: 22px; }</style>"  # Streamlit sizes its type in rem


def model_call_slots() -> int:
    """How many model calls run at once: one on an accelerator, where sessions sampling at once queue instead of
    multiplying its memory; on the CPU one per group of torch's threads, so every core works and none is
    oversubscribed."""
    with contextlib.suppress(ValueError):  # a device that is not there: loading a model says so
        if pick_device().type == "cpu":
            return max(1, (os.cpu_count() or 1) // torch.get_num_threads())
    return 1


model_calls = threading.BoundedSemaphore(model_call_slots())

# Fine-tunes train outside the model calls' slots (seconds each, so other sessions' pages are not held up) but take
# turns, on half the cores and behind every page's work (``at_low_priority``): each holds a copy of the flow with
# its optimiser and activations, so a class fine-tuning at once stays within a bounded memory, the first in the
# queue finish first, and every other page keeps answering.
training_slots = threading.BoundedSemaphore(half_the_cores())
BACKGROUND_NICE = 10  # the operating system's priority of a fine-tune's thread: 0 is a page's, 19 the lowest
_line: list[object] = []  # the fine-tunes waiting for a slot, in order of arrival
_line_lock = threading.Lock()


def navigation() -> list[st.Page]:
    """The pages for ``st.navigation``: Home at the root address, every other page at its title's address
    (``/Samples``, ``/Few-shot_9``), so links keep working whatever the scripts are called."""
    return [st.Page(str(ROOT / script), title=title, icon=icon, default=i == 0,
                    url_path=None if i == 0 else title.replace(" ", "_"))
            for i, (script, title, icon, _) in enumerate(PAGES)]


def page_setup(script: str) -> None:
    """Tab title, icon and wide layout for the page in ``script`` (its ``__file__``), the sidebar's page links, and
    presenter mode: larger type for a projector, the sidebar folded away, kept in the address and in every link."""
    path = Path(script).resolve().relative_to(ROOT).as_posix()
    _, title, icon, _ = next(page for page in PAGES if page[0] == path)
    presenting = link_params() is not None
    st.set_page_config(page_title="Latent Explorer" if path == PAGES[0][0] else f"{title} · Latent Explorer",
                       page_icon=icon, layout="wide", initial_sidebar_state="collapsed" if presenting else "auto")
    for file, label, page_icon, _ in PAGES:
        st.sidebar.page_link(file, label=label, icon=page_icon, query_params=link_params())
    if linked(st.sidebar.toggle, "Presenter mode", key=PRESENT,
              help="Larger type for a projector, and the sidebar folded away when a page opens."):
        st.html(PRESENTER_CSS)
    st.sidebar.divider()


def link_params() -> dict[str, str] | None:
    """What a link to another page carries from this page's address: presenter mode, when it is on."""
    return {PRESENT: "true"} if st.query_params.get(PRESENT, "").lower() == "true" else None


@st.cache_resource(show_spinner=False)
def device() -> torch.device:
    return pick_device()


@st.cache_resource(show_spinner="Loading model...")
def _load(name: str, directory: str) -> checkpoints.Checkpoint:
    checkpoint = checkpoints.load(name, directory, device())
    serving_layout(checkpoint.model, device())
    return checkpoint


def load(name: str) -> checkpoints.Checkpoint | None:
    """Checkpoint ``name`` from the shared cache, or None after showing why it cannot be used."""
    try:
        return _load(name, str(checkpoints.checkpoint_dir()))
    except checkpoints.CheckpointError as err:
        st.error(str(err), icon=":material/error:")
        return None


def status() -> dict[str, checkpoints.Checkpoint | str]:
    """Every checkpoint the cards list: the loaded checkpoint, or the message saying why it is unusable."""
    found = {}
    for name in catalogue.names():
        try:
            found[name] = _load(name, str(checkpoints.checkpoint_dir()))
        except checkpoints.CheckpointError as err:
            found[name] = str(err)
    return found


def usable(names: list[str] | None = None) -> dict[str, checkpoints.Checkpoint]:
    """The loaded checkpoints among ``names`` (default: every generative model), leaving out those that failed."""
    names = catalogue.generative() if names is None else names
    return {n: c for n in names if isinstance(c := status().get(n), checkpoints.Checkpoint)}


def select_model(label: str = "Model", names: list[str] | None = None,
                 key: str = "model") -> checkpoints.Checkpoint | None:
    """A selector over the usable models among ``names`` (default: every generative model); explains the missing
    ones; None if none is usable."""
    names = catalogue.generative() if names is None else names
    found = usable(names)
    broken = [n for n in names if n not in found]
    if broken:
        st.sidebar.caption("Unavailable: " + ", ".join(broken) + " (see the Home page for why).")
    if not found:
        st.error(f"None of the models {', '.join(names)} could be loaded; see the Home page.")
        return None
    name = linked(st.sidebar.selectbox, label, list(found), key=key)
    st.sidebar.caption(describe_model(found[name]))
    return found[name]


def describe_model(ckpt: checkpoints.Checkpoint) -> str:
    """'vae (vae, 16-D latent)': the name a selector shows."""
    if isinstance(ckpt.model, GenerativeModel):
        return f"{ckpt.name} ({ckpt.card['kind']}, {ckpt.model.latent_dim}-D latent)"
    return f"{ckpt.name} ({ckpt.card['kind']})"


def seed_input(key: str = "seed", label: str = "Seed") -> int:
    """A seed box; every random picture on a page is reproducible from the number shown here (and from the link)."""
    return int(linked(st.sidebar.number_input, label, min_value=0, max_value=2**31 - 1, value=0, step=1, key=key))


def linked(widget, *args, key: str, **kwargs):
    """``widget(*args, key=key, **kwargs)`` bound to the URL's query parameter ``key``, so a link reproduces the view.

    Streamlit quietly drops a link value the widget cannot take (out of range, not an option, not a number);
    this says so beside the widget, so a mistyped link is not mistaken for the view it meant.
    """
    asked = st.query_params.get_all(key) if key not in st.session_state else []  # only on the widget's first run
    value = widget(*args, key=key, bind="query-params", **kwargs)
    if asked and not _same(asked, value, kwargs.get("format_func", str)):
        widget.__self__.warning(f"The link's `{key}={'&'.join(asked)}` is not a value this control takes; "
                                "it shows its default instead.", icon=":material/link_off:")
    return value


def _same(asked: list[str], value, format_func) -> bool:
    """Whether the URL's strings ``asked`` say ``value`` (a number, flag, option or list of options)."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    return len(asked) == len(values) and all(_says(a, v, format_func) for a, v in zip(asked, values))


def _says(text: str, value, format_func) -> bool:
    if isinstance(value, bool):
        return text.lower() == str(value).lower()
    if isinstance(value, (int, float)):
        try:
            return float(text) == float(value)
        except ValueError:
            return text == format_func(value)
    return text in (str(value), format_func(value))


def show_grid(batch, *, ncols: int = 8, scale: int = 3, caption: str | None = None,
              download: str | None = None, key: str | None = None) -> None:
    """Show images (N, 1, 28, 28) as one crisp grid, with a PNG download when ``download`` names the file."""
    picture = images.grid(batch, ncols=ncols, scale=scale)
    st.image(picture, caption=caption, output_format="PNG", clamp=True)
    if download:
        st.download_button("Download PNG", partial(images.png_bytes, picture), file_name=download, mime="image/png",
                           on_click="ignore", key=key or f"download-{download}")


def cache_figure(max_entries: int, show_spinner: bool | str = False):
    """``st.cache_resource`` for functions that build plotly figures: the one object is kept, shown, never changed.

    ``st.cache_data`` would hand back a pickled copy whose layout keys come back reordered, so Streamlit takes it
    for a new chart and drops the user's selection; caching a dict instead makes ``st.plotly_chart`` validate it
    anew on every rerun, which is slow for a 10,000-point map.
    """
    return st.cache_resource(max_entries=max_entries, show_spinner=show_spinner)


def device_caption() -> str:
    return f"Models run on {describe(device())}."


@contextlib.contextmanager
def training_turn(on_wait: Callable[[int], None]):
    """Hold one of the ``training_slots``, first come first served. While every slot is taken, ``on_wait(place)``
    is called with the place in line (1: next) whenever it changes, so the user can see the queue move."""
    token = object()
    with _line_lock:
        got = not _line and training_slots.acquire(blocking=False)
        if not got:
            _line.append(token)
    try:
        told = None
        while not got:
            with _line_lock:
                place = _line.index(token) + 1
            if place != told:
                on_wait(place)
                told = place
            if place == 1:
                got = training_slots.acquire(timeout=0.25)
            else:
                time.sleep(0.25)
    finally:
        with _line_lock:
            if token in _line:
                _line.remove(token)
    try:
        yield
    finally:
        training_slots.release()


def at_low_priority(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` in a thread of its own that the operating system runs behind the pages' threads
    (``BACKGROUND_NICE``; Linux ranks threads, not only processes), so a fine-tune takes only the CPU time the
    class leaves over. The thread carries this session's context, so ``fn`` can update the page."""
    outcome: dict[str, object] = {}

    def work() -> None:
        with contextlib.suppress(OSError, AttributeError):  # AttributeError: no setpriority off Unix
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
        try:
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as err:  # Streamlit's stop and rerun requests too: raised again in the page's thread
            outcome["error"] = err

    worker = threading.Thread(target=work, name="low-priority", daemon=True)
    add_script_run_ctx(worker, get_script_run_ctx())
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def on_device(fn, *args, **kwargs):
    """Run ``fn`` in one of the ``model_calls`` slots and without autograd (thread-local, so set per call)."""
    with model_calls, torch.inference_mode():
        return fn(*args, **kwargs)


def on_device_with_gradients(fn, *args, **kwargs):
    """Run ``fn`` in one of the ``model_calls`` slots with autograd available, for work that differentiates
    (likelihoods of the continuous flow, sensitivity maps)."""
    with model_calls:
        return fn(*args, **kwargs)


def draw_digit(key: str, caption: str) -> np.ndarray | None:
    """A black drawing pad; what is drawn on it, cropped, scaled and centred like MNIST (uint8 (28, 28)), or None
    while it is empty."""
    from streamlit_drawable_canvas import st_canvas  # declares its component on import: inside a page run only

    canvas = st_canvas(stroke_width=PEN, stroke_color="#ffffff", background_color="#000000", height=PAD, width=PAD,
                       drawing_mode="freedraw", return_image_data=True, key=key)
    try:  # framed exactly as an upload is
        return upload.load_digit(canvas.image_bytes or b"", caption)
    except upload.UploadError:
        return None  # nothing drawn yet


@st.cache_resource(show_spinner="Loading MNIST...")
@st.cache_data(max_entries=128, show_spinner=False)
def probabilities(classifier_sha: str, pictures_key: tuple, _classifier, _pictures: np.ndarray) -> np.ndarray:
    """The classifier's probabilities (N, 10) for ``pictures`` (N, 28, 28), cached by its weights and a key the
    caller gives for the pictures (what made them), never by the pixels themselves."""
    return on_device(metrics.predict_proba, _classifier, torch.as_tensor(_pictures)[:, None]).numpy()


def _mnist(split: str) -> data.Digits:
    return data.load_mnist(split)


def mnist(split: str) -> data.Digits:
    """MNIST ``split``, loaded once per server and shared read-only; stops the page with the reason if unavailable."""
    try:
        return _mnist(split)
    except data.DataUnavailableError as err:
        st.error(str(err), icon=":material/error:")
        st.stop()


@st.cache_data(max_entries=32, show_spinner=False)
def _gif(frames: np.ndarray, scale: int, frame_ms: int) -> bytes:
    """Encoded once per frames (hashed by content), not on every rerun of the page that shows them."""
    return images.gif_bytes(frames, scale=scale, frame_ms=frame_ms)


def show_animation(frames, *, scale: int = 6, frame_ms: int = 120, caption: str | None = None,
                   download: str | None = None, key: str | None = None) -> None:
    """Frames (T, 28, 28) as a looping GIF that plays in the browser, with a GIF download when ``download`` names the file."""
    gif = _gif(images.to_numpy(frames), scale, frame_ms)
    st.image(gif, caption=caption)
    if download:
        st.download_button("Download GIF", gif, file_name=download, mime="image/gif",
                           on_click="ignore", key=key or f"download-{download}")
