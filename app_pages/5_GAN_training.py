"""GAN training: the stored losses and discriminator outputs of the GAN's run, and its fixed-noise grid epoch by epoch."""

from functools import partial

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer import catalogue, checkpoints, curves, plots, ui

ui.page_setup(__file__)
st.title("GAN training")
st.markdown(
    "A GAN trains two networks against each other: the generator G draws digits from noise z, the discriminator D "
    "tells them from real ones. These are the curves recorded while the shipped GAN trained, and the same 64 noise "
    "vectors drawn by G at the end of every epoch. Look for a balance — neither network winning for good — and for "
    "grids that keep many different digits (a generator that draws only a few is *mode-collapsed*)."
)
MAX_POINTS = 2000
COLOURS = {"d_loss": "#4e79a7", "g_loss": "#f28e2b", "d_real": "#59a14f", "d_fake": "#e15759"}
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759")  # for series without a colour of their own
HEALTH_NOTES = """
**Healthy (standard, non-saturating GAN).** The two losses oscillate around a level instead of running away;
D(x) stays somewhat above D(G(z)) and neither is pinned at 1 or 0 (at the ideal equilibrium both are 0.5 and the
discriminator loss is 2 ln 2 ≈ 1.39). The grid sharpens from blobs into varied digits and then changes little.

**The discriminator wins.** D(x) → 1, D(G(z)) → 0, the discriminator loss falls towards 0 and the generator loss
climbs. Real and generated digits no longer overlap in D's eyes, so there is no small step that improves G: its
gradient vanishes and the grid stops improving. Training longer can make it worse.

**Mode collapse.** G finds a few digits that fool D and draws them for every z: the grid fills with copies of one or
two shapes while the losses may look calm. The diversity curve above drops; D then learns to reject those shapes
and G hops to others, so the losses oscillate widely.

**WGAN-GP.** The critic's scores are not probabilities: D(x) and D(G(z)) drift freely and only their gap matters.
The Wasserstein estimate (the gap) should shrink as G improves and tracks sample quality, unlike the standard
losses; the gradient penalty should stay small, spikes mean the critic has left its 1-Lipschitz constraint.

**Hinge loss with a spectrally normalised D.** D's outputs are raw scores, kept in scale because each of its
layers may stretch its input by at most 1. D is pushed to score real digits above +1 and generated ones below
-1, G to raise its own digits' scores. When D(x) and D(G(z)) stay close together and the discriminator loss
stays near 2, neither network wins: the healthy state. A gap that keeps widening is the discriminator winning.
"""


# -- choices --------------------------------------------------------------------------------------

def checkpoint_ui() -> str | None:
    """The GAN checkpoints (the shipped GAN first); None without any."""
    runs = catalogue.gans()
    if not runs:
        return None
    return ui.linked(st.sidebar.selectbox, "Training run", runs, key="run",
                     help="Every GAN checkpoint: the shipped GAN, and any you trained beside it.")


def unreadable_cards() -> list[str]:
    """Why each card that cannot be read cannot (one of them may be a GAN's)."""
    problems = []
    for entry in catalogue.entries():
        if entry.kind is None:
            try:
                checkpoints.read_card(entry.name)
            except checkpoints.CheckpointError as err:
                problems.append(str(err))
    return problems


def smoothing_ui() -> float:
    return ui.linked(st.sidebar.slider, "Smoothing", 0.0, 0.99, 0.9, 0.01, key="smoothing",
                             help="Exponential moving average over steps: the weight of the past. "
                                  "Raw values stay faint behind.")


# -- cached work ----------------------------------------------------------------------------------

@st.cache_resource(max_entries=8, show_spinner="Reading the training history...")
def history(name: str, weights_sha256: str, directory: str) -> dict[str, np.ndarray]:
    """One read-only copy per server, shared by every session (``st.cache_data`` would unpickle a private copy of
    the epoch grids and every series on each rerun, and a fragment would keep it for as long as the page is open)."""
    card = checkpoints.read_card(name, directory)
    arrays = {k: v.numpy() for k, v in checkpoints.load_history(card, directory).items()}
    for array in arrays.values():
        array.flags.writeable = False
    return arrays


@st.cache_data(max_entries=8, show_spinner=False)
def diversity(weights_sha256: str, _grids: np.ndarray) -> np.ndarray:
    return curves.diversity(_grids)


@st.cache_data(show_spinner=False)
def real_diversity() -> float:
    """The grid diversity of the first 64 test digits 0-8: the reference line."""
    return float(curves.diversity(ui.mnist("test").seen().images[:64].numpy()[None])[0])


@st.cache_data(max_entries=64, show_spinner=False)
def smoothed(weights_sha256: str, key: str, smoothing: float, _values: np.ndarray) -> tuple[np.ndarray, ...]:
    """Thinned steps, raw values and smoothed values of one series."""
    keep = curves.thin(len(_values), MAX_POINTS)
    return keep, _values[keep], curves.ema(_values, smoothing)[keep]


# -- the page ---------------------------------------------------------------------------------------

def panel_chart(sha: str, panel: curves.Panel, series: dict, smoothing: float, per_epoch: int | None) -> go.Figure:
    """One panel's curves over training, in epochs (to read beside the epoch slider) when the card gives their length.

    The chart never depends on the epoch shown: a changed chart is drawn anew by the browser, so moving the epoch
    slider redraws only the grid.
    """
    figure = go.Figure()
    for i, key in enumerate(panel.keys):
        steps, raw, smooth = smoothed(sha, key, smoothing, series[key])
        steps = (steps + 1) / per_epoch if per_epoch else steps + 1
        colour = COLOURS.get(key, PALETTE[i % len(PALETTE)])
        label = curves.LABELS.get(key, key)
        if smoothing > 0:
            figure.add_trace(go.Scatter(x=steps, y=raw, mode="lines", line={"color": colour, "width": 1}, opacity=0.25,
                                        name=f"{label} (raw)", showlegend=False, hoverinfo="skip"))
        figure.add_trace(go.Scatter(x=steps, y=smooth, mode="lines", line={"color": colour, "width": 2}, name=label))
    figure.update_layout(title=panel.title, height=300, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         xaxis={"title": "epoch" if per_epoch else "step"}, legend={"orientation": "h", "y": -0.25})
    return figure


def diversity_chart(values: np.ndarray, reference: float) -> go.Figure:
    """The grids' diversity over training; the same whatever epoch is shown, so the browser never redraws it."""
    figure = go.Figure(go.Scatter(x=np.arange(1, len(values) + 1), y=values, mode="lines+markers", name="fixed-noise grid"))
    plots.add_guide(figure, y=reference, dash="dash", text="64 real test digits")
    figure.update_layout(height=300, margin={"l": 10, "r": 10, "t": 10, "b": 10}, showlegend=False,
                         xaxis={"title": "epoch", "dtick": max(1, len(values) // 10)},
                         yaxis={"title": "mean pixel distance between images", "rangemode": "tozero"})
    return figure


@st.fragment
def grids_section(card: dict, grids: np.ndarray) -> None:
    """The fixed-noise grid at a chosen epoch, its diversity over training, a GIF of them all; a fragment, so moving
    the epoch reruns this section only."""
    name, sha, epochs = card["name"], card["weights_sha256"], len(grids)
    epoch = ui.linked(st.slider, "Epoch", 1, epochs, epochs, key="epoch") if epochs > 1 else 1
    left, right = st.columns([1, 1])
    with left:
        ui.show_grid(grids[epoch - 1] / 255, ncols=8, scale=3, download=f"{name}_epoch{epoch}.png", key="download-grid",
                     caption=f"The same 64 noise vectors drawn by the generator {curves.grid_moment(card, epoch)}.")
    with right:
        values, reference = diversity(sha, grids), real_diversity()
        st.plotly_chart(diversity_chart(values, reference), key="diversity", width="stretch")
        st.caption("How different the 64 grid images are from each other (root-mean-square pixel difference); "
                   "a drop means the generator draws fewer distinct digits. The dashed line is the same measure "
                   f"for 64 real test digits 0-8. **Epoch {epoch}: {values[epoch - 1]:.3f}** "
                   f"(real digits {reference:.3f}).")
        st.download_button("Download all epochs as GIF", partial(curves.epochs_gif, grids), file_name=f"{name}_training.gif",
                           mime="image/gif", on_click="ignore", key="download-gif")


def curves_section(card: dict, series: dict, smoothing: float) -> None:
    per_epoch = curves.steps_per_epoch(card)
    panels = curves.panels(series)
    columns = st.columns(2)
    for i, panel in enumerate(panels):
        with columns[i % 2]:
            st.plotly_chart(panel_chart(card["weights_sha256"], panel, series, smoothing, per_epoch),
                            key=f"curve-{panel.title}", width="stretch")
    if per_epoch:
        st.caption(f"Time runs in epochs of {per_epoch:,} steps, as on the epoch slider above.")
    tail = curves.tail_means(series)
    summary = ", ".join(f"{curves.LABELS.get(k, k)} {v:.3g}" for k, v in tail.items())
    st.markdown(f"**Over the last 10% of training:** {summary}.")


def run_section(name: str, smoothing: float) -> None:
    """Everything stored about one training run, or why nothing can be shown."""
    directory = str(checkpoints.checkpoint_dir())
    try:
        card = checkpoints.read_card(name, directory)
        stored = history(name, card["weights_sha256"], directory)
    except checkpoints.CheckpointError as err:
        st.error(str(err), icon=":material/error:")
        return
    if not stored:
        st.info(f"The checkpoint '{name}' was saved without a training history, so there are no curves to show. "
                "Runs of `python -m explorer train ...` store one beside the checkpoint.", icon=":material/info:")
        return
    st.caption(f"{name}: {card['epochs']} epochs, {card['steps']:,} steps on {card['hardware']}. "
               f"Trained with `{card['command']}`.")
    grids = stored.get(curves.GRIDS)
    if grids is not None and len(grids):
        st.subheader("The fixed-noise grid, epoch by epoch")
        grids_section(card, grids)
    series = {k: v for k, v in stored.items() if k != curves.GRIDS}
    if series:
        st.subheader("Training curves")
        curves_section(card, series, smoothing)


name = checkpoint_ui()
smoothing = smoothing_ui()
if name is not None:
    run_section(name, smoothing)
else:
    st.error("No GAN training run can be shown: no GAN checkpoint could be read.",
             icon=":material/error:")
    for problem in unreadable_cards():
        st.error(problem, icon=":material/error:")
with st.expander("What healthy and failing GAN training look like", expanded=True):
    st.markdown(HEALTH_NOTES)
st.caption(ui.device_caption())
