"""Embeddings: every test digit's latent code on a 2-D map (UMAP, t-SNE or PCA); select points to see them decoded."""

from functools import partial

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer import catalogue, embed, images, plots, ui, wording
from explorer.data import HELD_OUT_DIGIT, TEST_SIZE

ui.page_setup(__file__)
st.title("Embeddings")
st.markdown(
    "Each dot is one of the 10,000 MNIST test digits, placed by a 2-D map of the code the model gives it; "
    "colour is the true digit, and the **9s** — a digit no model was trained on — are the outlined diamonds. "
    "Look for whether each digit forms its own island, which digits blur into each other, and where the unseen "
    "9s land. Click a dot, or drag a box or a lasso, to see those digits and what the model decodes from their codes."
)
MAX_SHOWN = 48
MIN_DIST = (0.0, 0.05, 0.1, 0.25, 0.5, 0.8, 0.99)
PERPLEXITY = (5, 10, 20, 30, 50, 100)
SETTINGS_TEXT = {"umap": lambda s: f"{s['n_neighbors']:g} neighbours with minimum distance {s['min_dist']:g}",
                 "tsne": lambda s: f"perplexity {s['perplexity']:g}"}
SLOW_ENCODERS = {"optimised": "by optimisation", "ode": "by solving an ODE for every image"}
SHOWN = "map-shown"  # session state: which map was shown last (model, weights, method, settings, seed)


# -- choices --------------------------------------------------------------------------------------

def method_ui(name: str, sha: str) -> str:
    """The projection method; on first visit, the first one already computed for this model (so the page opens at once)."""
    ready = [m for m in embed.METHODS if embed.stored(name, sha, m, embed.settings_for(m))]
    default = (ready or ["pca"])[0]
    return ui.linked(st.sidebar.radio, "Projection", list(embed.METHODS), index=list(embed.METHODS).index(default),
                            format_func=embed.METHODS.get, key="method", horizontal=True,
                            help="UMAP and t-SNE keep neighbours together (distances between far clusters mean little); "
                                 "PCA is a linear view along the two directions of largest variance.")


def settings_ui(method: str) -> tuple[dict, int]:
    """The method's settings and seed; UMAP and t-SNE are random, PCA is not."""
    if method == "umap":
        settings = {"n_neighbors": ui.linked(st.sidebar.slider, "Neighbours", 5, 100, 15, key="n_neighbors",
                                                     help="How many neighbours shape each point's place: "
                                                          "small values show local detail, large values global layout."),
                    "min_dist": ui.linked(st.sidebar.select_slider, "Minimum distance", MIN_DIST, 0.1, key="min_dist",
                                                         help="How tightly UMAP may pack points together.")}
    elif method == "tsne":
        perplexity = ui.linked(st.sidebar.select_slider, "Perplexity", PERPLEXITY, 30, key="perplexity",
                                              help="Roughly the number of neighbours each point attends to.")
        settings = {"perplexity": float(perplexity)}
    else:
        return {}, 0
    ready = " or ".join(SETTINGS_TEXT[method](s) for s in embed.shipped_settings(method))
    st.sidebar.caption(f"Ready at once (map seed 0): {ready}. Other settings compute a new map of 10,000 points, "
                       "minutes on a laptop CPU, kept afterwards.")
    return settings, ui.seed_input(key="map-seed", label="Map seed")


# -- cached work (keyed by checkpoint hash, method, settings; never by tensors) ---------------------

def projection(ckpt, method: str, settings: dict, seed: int) -> embed.Projection:
    """The stored map, or compute it once (encode the test set, project) with progress shown."""
    found = embed.lookup(ckpt.name, ckpt.sha256, method, settings, seed)
    if found:
        return found
    with st.status(f"Computing the {embed.METHODS[method]} map of {TEST_SIZE:,} test codes (only the first time)...",
                   expanded=True) as box:
        if ckpt.model.inversion in SLOW_ENCODERS:
            st.caption(f"This model encodes {SLOW_ENCODERS[ckpt.model.inversion]}: encoding the test set takes "
                       "several minutes on a CPU.")
        bar = st.progress(0.0)
        result = embed.projection(ckpt.model, ckpt.name, ckpt.sha256, method, settings, seed, run=ui.on_device,
                                  progress=lambda fraction, text: bar.progress(fraction, text=text))
        box.update(label=f"Computed in {result.seconds:.0f} s and stored for next time.", state="complete", expanded=False)
    return result


@ui.cache_figure(max_entries=16)
def figure(path: str, _projection: embed.Projection) -> go.Figure:
    return plots.digit_scatter(_projection.coords, _projection.labels)


@st.cache_data(max_entries=16, show_spinner=False)
def neighbours(path: str, _projection: embed.Projection) -> np.ndarray:
    return embed.neighbour_mix(_projection.coords, _projection.labels)


@st.cache_data(max_entries=64, show_spinner="Decoding the selection...")
def decoded(name: str, sha: str, rows: tuple, _model) -> np.ndarray:
    return images.to_numpy(embed.decoded(_model, name, sha, list(rows), run=ui.on_device))


# -- the page ---------------------------------------------------------------------------------------

def selection_panel(ckpt, rows: list[int], labels: np.ndarray) -> None:
    """The selected test images beside what the model decodes from their codes."""
    if not rows:
        st.info("Select points on the map — click one, or use the box or lasso tool at its top right — to see "
                "those test digits and the model's decodings of their codes.", icon=":material/touch_app:")
        return
    shown = sorted(rows)[:MAX_SHOWN]  # test-set order is shuffled, so these are a fair sample of the selection
    counts = np.bincount(labels[rows], minlength=10)
    mix = ", ".join(f"{c} × {plots.digit_label(d)}" for d, c in enumerate(counts) if c)
    more = f"; showing the first {MAX_SHOWN} in test-set order" if len(rows) > MAX_SHOWN else ""
    st.markdown(f"**{len(rows)} selected** ({mix}){more}.")
    x = ui.mnist("test").images[shown].unsqueeze(1).float() / 255  # (n, 1, 28, 28)
    captions = [f"#{r} · {labels[r]}" for r in shown]
    left, right = st.columns(2)
    with left:
        st.markdown("**Test images**")
        show_labelled(x, captions, f"selection_{ckpt.name}_originals.png")
    with right:
        st.markdown(f"**Decoded from their codes** ({ckpt.model.inversion} inversion)")
        show_labelled(decoded(ckpt.name, ckpt.sha256, tuple(shown), ckpt.model), captions,
                      f"selection_{ckpt.name}_decoded.png")
    st.caption(wording.INVERSION_NOTES[ckpt.model.inversion])


def show_labelled(pictures, captions: list[str], filename: str) -> None:
    picture = images.labelled_grid(pictures, captions, ncols=8, scale=2)
    st.image(picture, output_format="PNG", clamp=True)
    st.download_button("Download PNG", partial(images.png_bytes, picture), file_name=filename, mime="image/png",
                       on_click="ignore", key=f"download-{filename}")


def map_caption(ckpt, method: str, settings: dict, seed: int, result: embed.Projection) -> str:
    """What the map shows, with every setting and the seed that reproduce it."""
    text = f"{embed.METHODS[method]} of {ckpt.name}'s {ckpt.model.latent_dim}-D codes of {len(result.labels):,} test digits"
    if method != "pca":
        described = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in settings.items())
        text += f" ({described}, seed {seed})"
        if ckpt.model.latent_dim > embed.PCA_DIMS:
            text += f", through their first {embed.PCA_DIMS} principal components"
    return text + ". Click a legend entry to hide a digit, double-click it to show that digit alone."


def clustering_note(mix: np.ndarray) -> str:
    share = mix[HELD_OUT_DIGIT, HELD_OUT_DIGIT]
    others = [d for d in np.argsort(-mix[HELD_OUT_DIGIT]) if d != HELD_OUT_DIGIT][:2]
    rest = " and ".join(f"{d}s ({mix[HELD_OUT_DIGIT, d]:.0%})" for d in others)
    return (f"In this map, {share:.0%} of the {embed.NEIGHBOURS} nearest neighbours of a held-out {HELD_OUT_DIGIT} are "
            f"also {HELD_OUT_DIGIT}s; the rest are mostly {rest}.")


def clustering_chart(mix: np.ndarray) -> go.Figure:
    return plots.digit_bars(dict(enumerate(np.diag(mix))), text=".0%", y_title="neighbours of the same digit",
                            range=[0, 1.15], tickformat=".0%")


ckpt = ui.select_model(names=catalogue.generative(first="vae"))  # the VAEs first: their codes are trained to be compact
if ckpt is None:
    st.stop()
method = method_ui(ckpt.name, ckpt.sha256)
settings, seed = settings_ui(method)
chosen = (ckpt.name, ckpt.sha256, method, settings, seed)
slot = st.empty()  # the map; while a new one is computed, the one shown before stays here
if embed.lookup(*chosen) is None and (previous := embed.lookup(*st.session_state.get(SHOWN, chosen))) is not None:
    with slot.container():
        st.plotly_chart(figure(str(previous.path), previous), key="map-previous", width="stretch")
        st.caption("The map shown before, while the new one is computed below.")
result = projection(ckpt, method, settings, seed)
st.session_state[SHOWN] = chosen
labels = result.labels
with slot.container():
    event = st.plotly_chart(figure(str(result.path), result), on_select="rerun",
                            selection_mode=("points", "box", "lasso"), key=f"map-{result.path.stem}", width="stretch")
st.caption(map_caption(ckpt, method, settings, seed, result))
mix = neighbours(str(result.path), result)
st.markdown(clustering_note(mix))
clustering = st.expander("How well does each digit cluster in this map?", key="clustering-open", on_change="rerun")
if clustering.open:  # made and sent only when opened, not with every new map while the expander is closed
    clustering.plotly_chart(clustering_chart(mix), key="clustering", width="stretch")
    clustering.caption(f"For each digit, the share of its points' {embed.NEIGHBOURS} nearest neighbours on the map "
                       "that show the same digit.")
selection_panel(ckpt, embed.selected_rows(event.selection.points, plots.trace_rows(labels)), labels)
st.caption(ui.device_caption())
