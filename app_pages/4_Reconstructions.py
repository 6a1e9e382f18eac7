"""Reconstructions: test digits beside what a model rebuilds from their codes; a 2-D latent space decoded as a map."""

from functools import partial

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer import catalogue, embed, images, plots, recon, ui, wording
from explorer.data import HELD_OUT_DIGIT

ui.page_setup(__file__)
st.title("Reconstructions")
st.markdown(
    "Each test digit is encoded to a code and decoded back; the number under each reconstruction is its error. "
    "A VAE must squeeze every digit through a small code, so look at what it keeps (the digit, the slant) and what "
    "it loses (thin strokes, odd loops) — and at the **9s**, a digit none of the models was trained on."
)
SCALE = 3


# -- choices --------------------------------------------------------------------------------------

def examples_ui() -> tuple[list[int], int, str, int]:
    digits = ui.linked(st.sidebar.multiselect, "Digits", list(range(10)), default=list(range(10)), key="digits",
                       help=f"{HELD_OUT_DIGIT} is the digit no model saw in training.")
    per_digit = ui.linked(st.sidebar.slider, "Images per digit", 1, 12, 4, key="per_digit")
    metric = ui.linked(st.sidebar.radio, "Error", list(recon.METRICS), key="metric", horizontal=True,
                              format_func=str.upper, help=" · ".join(f"{k.upper()}: {v}" for k, v in recon.METRICS.items()))
    return sorted(digits), per_digit, metric, ui.seed_input(key="test-seed", label="Seed (which test images)")


def plane_ui() -> tuple[int, float, bool]:
    st.sidebar.subheader("Latent plane")
    n = ui.linked(st.sidebar.slider, "Grid size", 8, 30, 20, key="grid", help="Digits per side of the decoded plane.")
    coverage = ui.linked(st.sidebar.select_slider, "Prior mass covered", (0.8, 0.9, 0.95, 0.99, 0.999), 0.99, key="coverage",
                                        format_func=lambda c: f"central {c * 100:g}%",
                                        help="The plane spans this central share of the Gaussian prior along each axis.")
    codes = ui.linked(st.sidebar.toggle, "Show the test codes", value=False, key="codes")
    return n, coverage, codes


# -- cached work (keyed by checkpoint hash and choices, never by tensors) ----------------------------

@st.cache_data(max_entries=32, show_spinner="Encoding and decoding...")
def reconstructions(name: str, sha: str, digits: tuple, per_digit: int, seed: int,
                    _model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Test indices, originals and reconstructions (float32, (N, 1, 28, 28) each) of the chosen examples; from the
    test set's shipped codes where there are some (the GAN's inversion is then computed already)."""
    test = ui.mnist("test")
    index = recon.examples(test, list(digits), per_digit, seed).tolist()
    x_hat = embed.decoded(_model, name, sha, index, run=ui.on_device)
    return np.array(index), test.numbered(index).as_float().numpy(), x_hat.numpy()


@st.cache_data(max_entries=8, show_spinner="Decoding the latent plane...")
def plane(sha: str, n: int, coverage: float, _model) -> np.ndarray:
    return images.grid(recon.latent_plane(_model, n, coverage, run=ui.on_device), ncols=n, pad=0)


@ui.cache_figure(max_entries=8, show_spinner="Encoding the test set...")
def plane_figure(name: str, sha: str, n: int, coverage: float, show_codes: bool, _model) -> tuple[go.Figure, float | None]:
    """The decoded plane (dimmed under the dots) with the test codes over it, and the share of codes outside it."""
    lo, hi = (1 - coverage) / 2, (1 + coverage) / 2
    u, labels, outside = np.zeros((0, 2)), np.zeros(0, int), None
    if show_codes:
        u = recon.to_plane(embed.codes(_model, name, sha, run=ui.on_device))
        labels = ui.mnist("test").labels[:len(u)].numpy()
        outside = float(((u < lo) | (u > hi)).any(1).mean())
    figure = plots.digit_scatter(u, labels, size=3, opacity=0.55, height=720, axis_titles=("z₁", "z₂"))
    plots.add_picture(figure, plane(sha, n, coverage, _model) * (0.6 if show_codes else 1.0), (lo, hi), (lo, hi))
    positions, ticks = recon.plane_ticks(coverage)
    figure.update_xaxes(tickvals=positions, ticktext=ticks)
    figure.update_yaxes(tickvals=positions, ticktext=ticks)
    return figure, outside


# -- the page ---------------------------------------------------------------------------------------

def pairs_picture(index: np.ndarray, x: np.ndarray, x_hat: np.ndarray, errs: np.ndarray, per_digit: int) -> np.ndarray:
    """One row per digit of (original, reconstruction) pairs; test number under each original, error under each copy."""
    pictures = np.stack([x, x_hat], 1).reshape(-1, 28, 28)  # originals and copies alternate
    captions = [c for i, e in zip(index, errs) for c in (f"#{i}", f"{e:.3g}")]
    return images.labelled_grid(pictures, captions, ncols=2 * per_digit, scale=SCALE)


def error_chart(labels: np.ndarray, errs: np.ndarray, metric: str) -> go.Figure:
    return plots.digit_bars(recon.per_digit_error(labels, errs), text=".3g", y_title=f"mean {metric.upper()}",
                            exponentformat="e")


def reconstructions_section(ckpt, digits: list[int], per_digit: int, metric: str, seed: int) -> None:
    st.caption(wording.INVERSION_NOTES[ckpt.model.inversion])
    if not digits:
        st.info("Choose at least one digit in the sidebar.")
        return
    index, x, x_hat = reconstructions(ckpt.name, ckpt.sha256, tuple(digits), per_digit, seed, ckpt.model)
    errs = recon.errors(x, x_hat, metric)
    labels = ui.mnist("test").labels[index].numpy()
    left, right = st.columns([3, 2])
    with left:
        picture = pairs_picture(index, x, x_hat, errs, per_digit)
        st.image(picture, output_format="PNG", clamp=True,
                 caption=f"Pairs of test image (its number in the test set below) and {ckpt.name}'s reconstruction "
                         f"({metric.upper()} below); one row per digit, drawn with seed {seed}.")
        st.download_button("Download PNG", partial(images.png_bytes, picture), on_click="ignore", mime="image/png",
                           file_name=f"reconstructions_{ckpt.name}_seed{seed}.png", key="download-pairs")
    with right:
        st.plotly_chart(error_chart(labels, errs, metric), key="errors", width="stretch")
        st.caption(f"Each bar: the {recon.METRICS[metric]}, averaged over the {per_digit} images of that digit shown.")


def plane_section(ckpt, n: int, coverage: float, show_codes: bool) -> None:
    st.markdown(
        f"**{ckpt.name}** has a 2-D latent space, so it can be seen whole: each cell decodes the code at that point, "
        "on a grid spaced by the prior's quantiles (every cell holds the same prior mass). The dots are the codes of "
        "the test digits; look for how digits morph into each other across the plane and where the unseen 9s sit."
    )
    figure, outside = plane_figure(ckpt.name, ckpt.sha256, n, coverage, show_codes, ckpt.model)
    st.plotly_chart(figure, key="plane", width="stretch")
    note = f"{n} × {n} decoded codes over the central {coverage * 100:g}% of the prior on each axis (tick labels are z)."
    if outside is not None:
        note += f" {outside:.1%} of the test codes fall outside this square."
    st.caption(note)
    picture = images.upscale(plane(ckpt.sha256, n, coverage, ckpt.model), SCALE)
    st.download_button("Download the plane as PNG", partial(images.png_bytes, picture), on_click="ignore",
                       mime="image/png", file_name=f"latent_plane_{ckpt.name}_{n}x{n}.png", key="download-plane")


ckpt = ui.select_model(names=catalogue.generative(first="vae"))  # the VAEs first: theirs are worth studying
if ckpt is None:
    st.stop()
digits, per_digit, metric, seed = examples_ui()
grid_n, coverage, show_codes = plane_ui()
reconstructions_section(ckpt, digits, per_digit, metric, seed)

st.header("The 2-D latent plane")
planar = catalogue.with_latent_dim(2)
flat = ckpt if ckpt.name in planar else next(iter(ui.usable(planar).values()), None)
if flat:
    plane_section(flat, grid_n, coverage, show_codes)
else:
    problems = [f"{n}: {ui.status()[n]}" for n in planar]
    st.info("No model with a 2-D latent space is available" + (f" ({'; '.join(problems)})" if problems else "."),
            icon=":material/info:")
st.caption(ui.device_caption())
