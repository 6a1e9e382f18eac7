"""Samples: a grid of random digits from a model, reproducible from its seed."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer import images, judge, ui
from explorer.data import HELD_OUT_DIGIT

ui.page_setup(__file__)
COMPARED = 16  # samples per model side by side
SOLVER_STEPS = (1, 2, 4, 8, 16, 32)
GUIDANCE = (1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)
PATH_SAMPLES, PATH_FRAMES = 4, 9
st.title("Samples")
st.markdown(
    "A model makes a new digit by drawing a random code from its Gaussian prior (the flow's: a mixture of "
    "Gaussians over the coarse half of its code) and decoding it. **Temperature** scales the codes' spread around "
    "their Gaussian's centre: below 1 the digits get cleaner and more typical, above 1 more varied and stranger. "
    "The models never saw a 9 in training: ask the classifier how many it finds anyway."
)


def settings_ui() -> tuple[int, float, int]:
    n = ui.linked(st.sidebar.select_slider, "Samples", [16, 32, 64, 128, 256], value=64, key="n")
    temperature = ui.linked(st.sidebar.slider, "Temperature", 0.0, 1.5, 1.0, 0.05, key="temperature",
                                    help="Spread of the Gaussian the codes are drawn from, around its centre; "
                                         "1 is the prior itself.")
    return n, temperature, ui.seed_input()


def solver_ui(model) -> dict:
    """For a model that decodes by solving an ODE, the number of solver steps and, where it has a guide, the
    guidance; other models decode in one pass."""
    if model.inversion != "ode":
        return {}
    steps = ui.linked(st.sidebar.select_slider, "Solver steps", SOLVER_STEPS, value=model.config.steps,
                      key="solver-steps", help="Runge-Kutta steps from the code at t = 0 to the digit at t = 1, "
                                               "four network calls each: fewer is faster and rougher.")
    if getattr(model, "guide", None) is None:
        return {"steps": steps}
    guidance = ui.linked(st.sidebar.select_slider, "Guidance", GUIDANCE, value=model.config.guidance, key="guidance",
                         help="Autoguidance: the model's field pushed away from the field of a small, briefly trained "
                              "copy, whose mistakes are the same kind but worse. 1 is the trained model alone; more "
                              "gives cleaner, more typical digits and less variety.")
    return {"steps": steps, "guidance": guidance}


@st.cache_data(max_entries=64, show_spinner="Sampling...")
def samples(sha: str, n: int, temperature: float, seed: int, _model, **options) -> tuple[np.ndarray, int]:
    """The samples (n, 28, 28) and how many failed to decode to finite pixels; ``options`` go to ``sample``."""
    pictures, failed = images.finite(ui.on_device(_model.sample, n, temperature, seed, **options))
    return images.to_numpy(pictures), failed


@st.cache_data(max_entries=16, show_spinner="Following the path...")
def path(sha: str, n: int, temperature: float, seed: int, _model, steps: int,
         guidance: float | None = None) -> tuple[list[float], np.ndarray]:
    """The first PATH_SAMPLES samples at up to PATH_FRAMES of the solver's times from t = 0 to 1, so the last frame
    is the grid's sample: (the times, frames (frames, samples, 28, 28))."""
    z = _model.sample_latent(n, temperature, seed)[:PATH_SAMPLES]  # the grid's own first codes
    times, frames = ui.on_device(_model.path, z, min(PATH_FRAMES, steps + 1), steps, guidance)
    return times, np.stack([images.to_numpy(f) for f in frames])


def path_panel(model, n: int, temperature: float, seed: int, solver: dict) -> None:
    """How the continuous flow makes a digit: the grid's first samples along the ODE, as frames and an animation."""
    times, frames = path(model.sha256, n, temperature, seed, model.model, **solver)
    count = len(frames)
    left, right = st.columns([3, 1])
    with left:
        rows = frames.transpose(1, 0, 2, 3).reshape(-1, 28, 28)  # one row per sample, one column per time
        st.image(images.labelled_grid(rows, [f"t = {t:.2f}" for t in times] * PATH_SAMPLES, ncols=count, scale=2),
                 output_format="PNG", clamp=True,
                 caption=f"The first {PATH_SAMPLES} samples on their way from the Gaussian code (left, t = 0) to the "
                         "digit (right, t = 1), at the solver's times: its steps shorten toward the digit, where the "
                         "paths bend most. The last frame is the grid's sample.")
    with right:
        ui.show_animation(frames[:, 0], scale=6, frame_ms=250, caption="The first sample, t = 0 to 1.",
                          download=f"path_{model.name}_t{temperature:.2f}_seed{seed}.gif")


def counts_chart(predicted: np.ndarray, static: np.ndarray) -> go.Figure:
    """Samples per digit the classifier reads, static (no reading) in its own grey bar."""
    counts = [*np.bincount(predicted[~static], minlength=10), int(static.sum())]
    colours = ["#d62728" if d == HELD_OUT_DIGIT else "#1f77b4" for d in range(10)] + ["#7f7f7f"]
    figure = go.Figure(go.Bar(x=[str(d) for d in range(10)] + [judge.STATIC], y=counts, marker_color=colours,
                              text=counts, textposition="outside"))
    figure.update_layout(height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                         xaxis={"type": "category", "title": "reading"},
                         yaxis={"title": "samples", "range": [0, max(max(counts), 1) * 1.2]})
    return figure


@st.fragment
def grid_panel(pictures: np.ndarray, key: tuple, caption: str, stem: str) -> None:
    """The grid, or with the toggle on the classifier's reading under every sample; a fragment, so toggling
    the labels redraws only this panel and never resamples."""
    ncols, scale = (8, 3) if len(pictures) <= 64 else (16, 2)
    labelled = ui.linked(st.toggle, "Label each sample with the classifier's reading", key="labels")
    classifier = ui.load("classifier") if labelled else None
    if classifier is None:
        ui.show_grid(pictures, ncols=ncols, scale=scale, caption=caption, download=f"{stem}.png")
        return
    probs = ui.probabilities(classifier.sha256, key, classifier.model, pictures)
    predicted = probs.argmax(1)
    left, right = st.columns([3, 1])
    with left:
        # eight columns at triple size whatever n is, so every label stays readable
        picture = images.labelled_grid(pictures, judge.readings(probs, pictures), ncols=8, scale=3)
        st.image(picture, caption=caption + " Under each: the digit the classifier reads, and its confidence, "
                 "or 'static' where the image is noisier than any handwritten digit.",
                 output_format="PNG", clamp=True)
        st.download_button("Download PNG", images.png_bytes(picture), file_name=f"{stem}_labelled.png",
                           mime="image/png", on_click="ignore", key="download-labelled")
    with right:
        static = judge.is_static(pictures).numpy()
        st.plotly_chart(counts_chart(predicted, static), key="counts")
        nines = int(judge.called(probs, pictures, HELD_OUT_DIGIT).sum())
        st.caption(f"{nines} of {len(predicted)} samples read as {HELD_OUT_DIGIT}, a digit this model never saw."
                   + (f" {static.sum()} are static, noisier than any handwritten digit: no reading." if static.any() else ""))


def side_by_side(temperature: float, seed: int) -> None:
    """Sixteen samples from each usable generative model, same temperature and seed: the comparison for the board."""
    models = ui.usable()
    for column, (name, ckpt) in zip(st.columns(len(models)), models.items()):
        with column:
            pictures, _ = samples(ckpt.sha256, COMPARED, temperature, seed, ckpt.model)
            ui.show_grid(pictures, ncols=4, scale=2, caption=name)


model = ui.select_model()
if model is None:
    st.stop()
n, temperature, seed = settings_ui()
solver = solver_ui(model.model)
pictures, failed = samples(model.sha256, n, temperature, seed, model.model, **solver)
if failed:
    st.warning(f"{failed} of {n} samples have pixels that did not decode to finite values (the model's inverse "
               "overflowed); those pixels are shown black. Lower the temperature to stay nearer the data.",
               icon=":material/warning:")
centres = model.model.prior_centres
if temperature > 0:
    caption = (f"{n} samples from {model.name} at temperature {temperature:.2f}, seed {seed}: "
               "the same seed always gives the same grid.")
elif centres == 1:
    caption = (f"{n} samples from {model.name} at temperature 0: every code is the centre of the prior, z = 0, so "
               "every tile is the same image, the one digit the model finds most typical.")
else:
    caption = (f"{n} samples from {model.name} at temperature 0, seed {seed}: every code is the centre of one of the "
               f"prior's {centres} Gaussians, drawn by its weight, so the grid holds at most {centres} different "
               "images, the digits the model finds most typical.")
grid_panel(pictures, ("samples", model.sha256, n, temperature, seed, *solver.values()), caption,
           f"samples_{model.name}_n{n}_t{temperature:.2f}_seed{seed}")
if solver:
    with st.expander("How the continuous flow draws: from noise to digit", expanded=True):
        path_panel(model, n, temperature, seed, solver)
if ui.linked(st.toggle, "Every model side by side, same seed and temperature", key="compare"):
    side_by_side(temperature, seed)
st.caption(ui.device_caption())
