"""Likelihood: what the models with a likelihood think of any image, and why a likely image need not be a digit."""

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from explorer import catalogue, data, images, likelihood, plots, ui, upload

ui.page_setup(__file__)
st.title("Likelihood")
st.markdown(
    "A flow gives every image an exact probability, a VAE a bound on it. **Bits/dim** turns it into a cost: how "
    "many bits per pixel the model would need to store the image, so lower means *more likely*. Pick, change, draw "
    "or upload an image and see what each model thinks of it, where that falls among real test digits, and what the number means as a file "
    "size. Then open the gallery below: images that are not digits at all can look more likely than digits."
)
SOURCES = ("A test digit", "A changed digit", "Not a digit", "Draw one", "Upload one")


# -- choices --------------------------------------------------------------------------------------

def image_ui(test: data.Digits) -> tuple[str, np.ndarray, str]:
    """The image to measure: (a key naming it, float (28, 28) in [0, 1], a description)."""
    source = ui.linked(st.sidebar.radio, "Image", SOURCES, key="image")
    if source in SOURCES[:2]:
        digit = ui.linked(st.sidebar.selectbox, "Digit", list(range(10)), index=3, key="digit",
                          help=f"Any test digit, the {data.HELD_OUT_DIGIT}s included: no generative model ever saw one.")
        count = len(test.rows_of(digit))
        index = ui.linked(st.sidebar.number_input, f"Which {digit} (0 to {count - 1})", 0, count - 1, 0, key="index")
        x = data.pick(test, digit, index)
        if source == SOURCES[0]:
            return f"test:{digit}:{index}", images.to_numpy(x)[0], f"test {digit} #{index}"
        how = ui.linked(st.sidebar.radio, "Change", likelihood.TRANSFORMS, key="change", horizontal=True)
        return (f"changed:{digit}:{index}:{how}", images.to_numpy(likelihood.transformed(x, how))[0],
                f"test {digit} #{index}, {how}")
    if source == SOURCES[2]:
        kind = ui.linked(st.sidebar.radio, "Which", likelihood.SPECIALS, key="special")
        return f"special:{kind}", images.to_numpy(likelihood.special(kind))[0], kind
    if source == SOURCES[3]:
        with st.expander("Draw a digit with the mouse (or a finger); the answer follows each stroke", expanded=True):
            drawn = ui.draw_digit("likelihood-pad", "Your drawing")
        if drawn is None:
            st.info("Draw on the black pad: your digit is cropped, scaled and centred like MNIST, as an upload is.")
            st.stop()
        return own("drawn", drawn, "your drawing")
    file = st.file_uploader("An image of a digit (PNG, JPEG, ...; one digit)", key="upload")
    if file is None:
        st.info("Upload an image: dark ink on light paper and transparent backgrounds are fine; it is cropped, "
                "scaled and centred like MNIST.")
        st.stop()
    try:
        return own("upload", upload.load_digit(file.getvalue(), file.name), file.name)
    except upload.UploadError as err:
        st.warning(str(err), icon=":material/warning:")
        st.stop()


def own(kind: str, pixels: np.ndarray, described: str) -> tuple[str, np.ndarray, str]:
    """A user's image (uint8 (28, 28)), keyed by its pixels."""
    return f"{kind}:{hashlib.sha256(pixels.tobytes()).hexdigest()}", pixels.astype(np.float32) / 255, described


# -- cached work (keyed by checkpoint hashes and the image's key, never by tensors) -------------------

@st.cache_data(max_entries=256, show_spinner=False)
def reading(sha: str, key: str, _model, _picture: np.ndarray) -> likelihood.Reading:
    return ui.on_device_with_gradients(likelihood.read, _model, data.examples_of(_picture[None] * 255))


@st.cache_data(max_entries=64, show_spinner=False)
def cost_map(sha: str, key: str, _model, _picture: np.ndarray) -> np.ndarray:
    return ui.on_device_with_gradients(likelihood.cost_map, _model, data.examples_of(_picture[None] * 255))


def measured(ckpt) -> likelihood.Measured:
    """The test digits' and the gallery's bits/dim under this model: shipped, cached, or measured once with
    progress shown."""
    found = likelihood.stored(ckpt.name, ckpt.sha256)
    if found is not None:
        return found
    with st.status(f"Measuring {likelihood.REFERENCE_IMAGES:,} test digits under {ckpt.name} (only the first "
                   "time)...", expanded=True) as box:
        bar = st.progress(0.0)
        values = likelihood.measure(ckpt.model, ckpt.name, ckpt.sha256, progress=bar.progress,
                                    run=ui.on_device_with_gradients)
        box.update(label="Measured and stored for next time.", state="complete", expanded=False)
    return values


# -- the page ---------------------------------------------------------------------------------------

def readings_table(models: dict, picture: np.ndarray, key: str, measures: dict) -> pd.DataFrame:
    """One column per model (narrow enough for a projector), one row per measure."""
    columns = {}
    for name, ckpt in models.items():
        r = reading(ckpt.sha256, key, ckpt.model, picture)
        columns[name] = {"bits/dim": f"{r.bits_per_dim:.3f}",
                         "more likely than": f"{likelihood.share_less_likely(r.bits_per_dim, measures[name].test):.0%} "
                                             "of test digits",
                         "coded size": f"{r.code_bytes:.0f} bytes",
                         "round trip": f"{r.round_trip_levels} grey levels"}
    return pd.DataFrame(columns)


def spread_panel(ckpt, bpd: float, values: np.ndarray, labels: np.ndarray) -> None:
    st.markdown(f"**{ckpt.name}**: the image among the test digits")
    st.plotly_chart(plots.class_spread(values, labels, marked=bpd, marked_text=f"this image: {bpd:.3f}",
                                       y_title="bits/dim"), key=f"spread-{ckpt.name}")


def cost_map_panel(name: str, ckpt, key: str, picture: np.ndarray) -> None:
    vae = ckpt.card["kind"] == "vae"
    st.markdown(f"**{name}**: " + ("bits each pixel costs" if vae else "how the cost reacts to each pixel"))
    with st.spinner(f"Mapping {name}..."):
        values = cost_map(ckpt.sha256, key, ckpt.model, picture)
    st.plotly_chart(plots.pixel_map(values, title="bits" if vae else "bits/dim per step", diverging=not vae),
                    key=f"map-{name}")


def gallery_panel(models: dict, measures: dict) -> None:
    items = likelihood.gallery(ui.mnist("test"))
    st.image(images.labelled_grid(np.stack([images.to_numpy(x)[0] for x in items.values()]), list(items), ncols=6,
                                  scale=3), output_format="PNG", clamp=True)
    rows, beaters = [], {}
    for name, ckpt in models.items():
        bits, median = measures[name].gallery, float(np.median(measures[name].test))
        for item, value in bits.items():
            rows.append({"image": item, "model": name, "bits/dim": round(value, 3),
                         "more likely than (test digits)": f"{likelihood.share_less_likely(value, measures[name].test):.0%}"})
        beaters[name] = [item for item in list(items)[3:] if bits[item] < median]
    st.dataframe(pd.DataFrame(rows).pivot(index="image", columns="model", values="bits/dim").loc[list(items), list(models)],
                 width="stretch")
    for name, found in beaters.items():
        if found:
            st.markdown(f"Under **{name}**, more likely than the median test digit: **{', '.join(found)}**.")
        else:
            st.markdown(f"Under **{name}**, none of the non-digits or changed digits beats the median test digit.")
    st.caption("Measured on the weights served here (`python -m explorer likelihood` stores it with them), the same "
               "way as the image above. A flow's bits/dim rewards "
               "images whose pixels are easy to predict from their neighbours, such as large flat areas, more than "
               "it rewards being a digit: likelihood measures compressibility, not meaning (Nalisnick et al. 2019, "
               "\"Do deep generative models know what they don't know?\").")


key, picture, described = image_ui(ui.mnist("test"))
models = ui.usable(catalogue.with_likelihood())
if not models:
    st.error("No model with a likelihood could be loaded; see the Home page.")
    st.stop()
measures = {name: measured(ckpt) for name, ckpt in models.items()}
labels = likelihood.reference_labels()

left, right = st.columns([1, 3])
with left:
    st.image(images.upscale(picture, 6), caption=f"{described}: 28 x 28, as the models see it", clamp=True)
    st.markdown(f"As a PNG file: **{likelihood.png_size(picture)} bytes** (the usual way to store it)")
with right:
    table = readings_table(models, picture, key, measures)
    st.table(table.rename(columns={n: f"{n} (bound)" for n, c in models.items() if c.card["kind"] == "vae"}))
    st.caption("**Bits/dim**: the negative log-likelihood per pixel, in bits (lower = more likely); the flows "
               "spread each pixel over its grey level's bin by one fixed uniform draw, the bound their cards report first "
               "(the flow's card adds a tighter one, from its learned dequantizer). "
               f"**More likely than**: the share of the first {likelihood.REFERENCE_IMAGES:,} test digits (all ten) "
               "with higher bits/dim. **Coded size**: likelihood is compression: an arithmetic coder driven by the "
               "model stores the image in about bits/dim x 784 / 8 bytes, to compare with the PNG. **Round trip**: "
               "image -> code -> image, saved as 8 bits again: the largest change of a pixel's grey level (0-255). The flow inverts "
               "exactly; the continuous flow's changes come from its solver. **The VAEs** score the image made black "
               "and white (a plain file of it needs 1 bit a pixel) by an upper bound (importance-weighted, "
               f"{likelihood.VAE_BOUND_SAMPLES} draws from the encoder): compare them with each other and with where the test digits fall, not with the "
               "flows' numbers. Their round trip is lossy by design.")

names = list(models)
for row in range(0, len(names), 2):
    for column, name in zip(st.columns(2), names[row:row + 2]):
        with column:
            spread_panel(models[name], float(table.loc["bits/dim", name]), measures[name].test, labels)

st.subheader("Where the cost sits")
slow = [name for name, ckpt in models.items() if ckpt.card["kind"] in likelihood.MAPS_ON_REQUEST]
with_slow = bool(slow) and ui.linked(st.toggle, f"Also map {', '.join(slow)} (seconds: back through every solver "
                                     "step)", False, key="slow_maps")
shown = [name for name in names if name not in slow or with_slow]
for row in range(0, len(shown), 2):
    for column, name in zip(st.columns(2), shown[row:row + 2]):
        with column:
            cost_map_panel(name, models[name], key, picture)
st.caption("**Flows**: how the bits/dim would change if each pixel were one grey level brighter: red pixels would "
           "make the image cost more, blue ones less. It is the gradient of the cost, a sensitivity: it says where "
           "the model is most particular, not how the bits are split among the pixels. **VAEs**: what each "
           "black-or-white pixel costs the decoder at the encoder's code, in bits: a true split of the bound's "
           "reconstruction part; the code's own cost (its KL term) belongs to no pixel.")

with st.expander("Likelihood is not meaning: a gallery", expanded=False):
    gallery_panel(models, measures)
st.caption(ui.device_caption())
