"""Interpolation: walk through a model's latent space from one digit to another and back; latent analogies."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer import analogies, data, embed, images, judge, latent, plots, ui

ui.page_setup(__file__)
st.title("Interpolation")
st.markdown(
    "Each model turns a digit into a code, a point in its latent space. Here we encode two test images, walk in a "
    "straight line (or along the sphere) from one code to the other and back — the **2 → Z → 8 → Z → 2** loop — "
    "and decode every step. Look for where the classifier stops seeing the first digit and starts seeing "
    "the second, and whether the frames in between still look like handwriting."
)

INTRO_ANALOGY = (
    "**a : b :: c : ?** — the change from *a* to *b* is a direction in latent space, b − a. Adding it to *c* "
    "asks the model to make the same change to *c*: with a = one 2, b = an 8 and c = another 2, a good latent "
    "space answers with an 8 in c's handwriting."
)


# -- choices --------------------------------------------------------------------------------------

def mode_ui() -> str:
    return ui.linked(st.sidebar.segmented_control, "Mode", ["Interpolation", "Analogy"], default="Interpolation",
                                        required=True, key="mode")


def random_ui() -> int | None:
    """The seed that draws the test images, or None when they are picked by number."""
    if ui.linked(st.sidebar.toggle, "Random test images", key="random", help="Draw every image with the seed below."):
        return ui.seed_input(key="image-seed", label="Image seed")
    return None


def image_ui(label: str, default: tuple[int, int], slot: int, seed: int | None, test: data.Digits) -> tuple[int, int]:
    """One test image: its digit and its number among that digit's test images (``default`` is both)."""
    left, right = st.sidebar.columns(2)
    digit = ui.linked(left.selectbox, label, range(10), index=default[0], key=f"digit-{slot}")
    count = len(test.rows_of(digit))
    if seed is None:
        index = ui.linked(right.number_input, f"{digit} number", 0, count - 1, value=min(default[1], count - 1),
                                   key=f"index-{slot}-{digit}", help=f"Which of the {count} test images of {digit}.")
    else:
        index = data.random_index(count, seed, slot)
        right.number_input(f"{digit} number", value=index, disabled=True, key=f"drawn-{slot}-{seed}-{digit}")
    return digit, int(index)


def path_ui() -> tuple[str, int]:
    path = ui.linked(st.sidebar.radio, "Path", latent.PATHS, horizontal=True, key="path",
                            help="Spherical keeps every code about as long as the endpoints' codes, where the "
                                 "prior puts its mass; a straight line passes through shorter codes in the middle.")
    steps = ui.linked(st.sidebar.slider, "Steps from start to end", 3, 24, 10, key="steps")
    return path, steps


# -- cached work (keyed by checkpoint hashes and choices, never by tensors) --------------------------

@st.cache_data(max_entries=64, show_spinner="Encoding the test digits...")
def codes(name: str, sha: str, picks: tuple, _model):
    """The picked test digits' codes, kept while the path and its steps change: the test set's shipped codes where
    there are some (the GAN's are a slow optimisation), else encoded now."""
    rows = [data.row_of(ui.mnist("test"), digit, index) for digit, index in picks]
    return embed.encoded(_model, name, sha, rows, run=ui.on_device).cpu()


@st.cache_data(max_entries=64, show_spinner="Walking through latent space...")
def walk(sha: str, picks: tuple, steps: int, path: str, _model, _codes) -> tuple[np.ndarray, int]:
    """The round trip's frames and how many failed to decode to finite pixels."""
    frames, failed = images.finite(ui.on_device(latent.walk_codes, _model, _codes[0], _codes[1], steps, path))
    return images.to_numpy(frames), failed


@st.cache_data(max_entries=64, show_spinner="Solving the analogy...")
def analogy(sha: str, picks: tuple, _model, _codes) -> tuple[np.ndarray, int]:
    """The model's a, b, c and the answer, and how many of them failed to decode to finite pixels."""
    answer, failed = images.finite(ui.on_device(latent.analogy_from_codes, _model, _codes.to(_model.device)))
    return images.to_numpy(answer), failed


@st.cache_data(max_entries=16, show_spinner="Scoring the model's analogies...")
def analogy_success(name: str, sha: str, classifier_sha: str, _model, _classifier, _test) -> float:
    return ui.on_device(analogies.success_rate, _model, _classifier, _test,
                        codes_of=lambda rows: embed.encoded(_model, name, sha, rows))


# -- showing --------------------------------------------------------------------------------------

def show_digits(pictures: np.ndarray, captions: list[str], scale: int = 4) -> None:
    for column, picture, caption in zip(st.columns(len(pictures)), pictures, captions):
        column.image(images.upscale(picture, scale), caption=caption, output_format="PNG", clamp=True)


def probability_chart(probs: np.ndarray, start: int, end: int, cross: int | None) -> go.Figure:
    """Class probabilities along the path: the start and end digits in colour, others that ever reach 5% in grey."""
    figure = go.Figure()
    colours = {start: "#1f77b4", end: "#d62728"}
    for digit in range(10):
        if digit in colours or probs[:, digit].max() >= 0.05:
            figure.add_scatter(y=probs[:, digit], mode="lines+markers", name=str(digit),
                               line={"color": colours.get(digit, "#9e9e9e"), "width": 3 if digit in colours else 1.5,
                                     "dash": "solid" if digit in colours else "dot"})
    if cross is not None:
        plots.add_guide(figure, x=cross, dash="dash", text=f" {end} from step {cross}")
    figure.update_layout(height=320, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend_title_text="digit",
                         xaxis_title="step", yaxis_title="classifier probability", yaxis_range=[0, 1.02])
    return figure


def describe(picks, seed: int | None) -> list[str]:
    drawn = f" (seed {seed})" if seed is not None else ""
    return [f"test {digit} #{index}{drawn}" for digit, index in picks]


def model_versions(model, pictures: np.ndarray, labels: list[str], readings: list[str] | None = None,
                   ends: str = "The path starts and ends here, not at the real images.") -> None:
    """Where the model cannot invert exactly, show what it made of the real images, side by side, with the
    classifier's reading of each where there is one: the chart beside reads these, not the real images."""
    if model.model.inversion != "exact":
        st.caption(f"The model's versions — approximate: {model.model.inversion} inversion. {ends}")
        readings = readings or [""] * len(labels)
        show_digits(pictures, [f"model's {label}" + (f": reads {r}" if r else "") for label, r in zip(labels, readings)])


# -- the page -------------------------------------------------------------------------------------

model = ui.select_model()
if model is None:
    st.stop()
test = ui.mnist("test")
mode = mode_ui()
seed = random_ui()
classifier = ui.load("classifier")
if classifier is None:
    st.info("Without the classifier the page still walks and animates, but cannot say which digit each frame shows.")

if mode == "Interpolation":
    picks = (image_ui("Start digit", (2, 0), 0, seed, test), image_ui("End digit", (8, 0), 1, seed, test))
    path, steps = path_ui()
    x = data.picks(test, picks)
    frames, failed = walk(model.sha256, picks, steps, path, model.model,
                          codes(model.name, model.sha256, picks, model.model))
    if failed:
        st.warning(f"{failed} frames have pixels that did not decode to finite values (the model's inverse "
                   "overflowed); those pixels are shown black.")
    (start, _), (end, _) = picks
    labels = describe(picks, seed)

    probs = readings = None
    if classifier is not None:
        key = ("path", model.sha256, picks, steps, path)
        probs = ui.probabilities(classifier.sha256, key, classifier.model, frames[:steps])
        readings = judge.readings(probs[[0, steps - 1]], frames[[0, steps - 1]])
    left, middle, right = st.columns([1.1, 1, 2.2])
    with left:
        st.subheader("Endpoints")
        show_digits(images.to_numpy(x), labels)
        model_versions(model, frames[[0, steps - 1]], labels, readings)
        if probs is not None and model.model.inversion != "exact":
            lost = [f"the {d}" for d, p in zip((start, end), probs[[0, steps - 1]]) if p.argmax() != d]
            if lost:
                st.warning(f"{model.name} does not keep {' and '.join(lost)}: its own version reads as another "
                           "digit, so the path and the chart start or end there.", icon=":material/info:")
    with middle:
        st.subheader(f"{start} → Z → {end} → Z → {start}")
        ui.show_animation(frames, frame_ms=max(40, 2400 // len(frames)),
                          caption=f"{len(frames)} frames, {path} path, {model.name}",
                          download=f"roundtrip_{model.name}_{start}to{end}_{path}_{steps}.gif")
    with right:
        st.subheader("What the classifier sees along the way")
        if probs is not None:
            cross = latent.crossing(probs, start, end)
            st.plotly_chart(probability_chart(probs, start, end, cross), key="probabilities")
            st.caption(f"The classifier prefers {end} to {start} from step {cross} of {steps - 1}."
                       if cross is not None else f"The classifier never prefers {end} to {start} on this path.")
    st.subheader("The path, step by step")
    ui.show_grid(frames[:steps], ncols=steps, scale=3, caption=f"{start} → {end}: {steps} steps, {path} path",
                 download=f"interpolation_{model.name}_{start}to{end}_{path}_{steps}.png")
else:
    st.markdown(INTRO_ANALOGY)
    picks = (image_ui("a", (2, 0), 2, seed, test), image_ui("b", (8, 0), 3, seed, test),
             image_ui("c", (2, 1), 4, seed, test))
    x = data.picks(test, picks)
    answer, failed = analogy(model.sha256, picks, model.model, codes(model.name, model.sha256, picks, model.model))
    if failed:
        st.warning("The answer has pixels that did not decode to finite values (the model's inverse overflowed "
                   "far from its data); those pixels are shown black.")
    pictures = np.concatenate([images.to_numpy(x), answer[3:]])
    labels = [f"{name}: {label}" for name, label in zip("abc", describe(picks, seed))]
    show_digits(pictures, labels + ["? = c + (b − a)"])
    if classifier is not None:
        probs = ui.probabilities(classifier.sha256, ("analogy", model.sha256, picks), classifier.model, answer[3:])[0]
        reading = judge.readings(probs[None], answer[3:])[0]
        st.caption("The answer is static, noisier than any handwritten digit: not a digit, so no reading."
                   if reading == judge.STATIC else
                   f"The classifier reads the answer as {probs.argmax()} ({probs.max():.0%} sure).")
    model_versions(model, answer[:3], list("abc"), ends="The answer is computed from these, not from the real images.")
    if classifier is not None:
        rate = analogy_success(model.name, model.sha256, classifier.sha256, model.model, classifier.model, test)
        st.info(f"How good are analogies in {model.name}? Of {analogies.TRIALS} random analogies between test digits "
                f"(a and c two images of one digit, b another digit), **{rate:.0%}** come out as b's digit.",
                icon=":material/analytics:")
    st.download_button("Download PNG", images.png_bytes(images.grid(pictures, ncols=4, scale=4)),
                       file_name=f"analogy_{model.name}.png", mime="image/png", on_click="ignore")
st.caption(ui.device_caption())
