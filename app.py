"""Home: what Latent Explorer is, how to use each page, the models it loaded with their cards, and the device."""

import streamlit as st

from explorer import cards, ui
from explorer.data import HELD_OUT_DIGIT

INTRO = (
    "Generative models of handwritten digits, opened up. A normalizing flow, two variational autoencoders and a GAN "
    "each learned to draw MNIST digits by mapping them to and from a space of Gaussian codes. Every model was trained "
    f"on the digits 0-8 only: **the {HELD_OUT_DIGIT} is held out everywhere**, so each page can also ask what a model "
    f"makes of a digit it has never seen. Pick a page in the sidebar; every random picture shows its seed, so the "
    "same seed gives the same picture again, and every page's address holds its settings, so a link shares the view."
)


def pages_section() -> None:
    for path, title, icon, what in ui.PAGES[1:]:
        left, right = st.columns([1, 3], vertical_alignment="center")
        left.page_link(path, label=title, icon=icon)
        right.markdown(what)


def model_card(name: str, found) -> None:
    """One checkpoint: its facts, metrics and the command that reproduces it, or why it cannot be used."""
    with st.container(border=True):
        st.subheader(name)
        if isinstance(found, str):
            st.error(found, icon=":material/error:")
            st.caption("Pages that need this model say so and keep working with the others.")
            return
        st.markdown("\n".join(f"- **{label}:** {text}" for label, text in cards.facts(found.card, found.model)))
        metrics = cards.metric_rows(found.card["metrics"])
        if metrics:
            st.table(metrics, hide_index=True, border="horizontal")
        else:
            st.caption("No metrics recorded yet: `python -m explorer evaluate` measures them.")
        st.markdown("Reproduce:")
        st.code(found.card["command"], language="bash", wrap_lines=True)
        resident = ("in memory: unchanged since loading" if found.unchanged()
                    else ":red[in memory: **changed since loading**; restart the server]")
        st.caption(f"weights sha256 {found.sha256[:12]}…, {resident}")


ui.page_setup(__file__)
st.title("Latent Explorer")
st.markdown(INTRO)
st.header("Pages")
pages_section()
st.header("Models")
models = ui.status()
unusable = [n for n, m in models.items() if isinstance(m, str)]
if unusable:
    st.warning(f"Not available: {', '.join(unusable)}. Their messages below say why and how to fix it.",
               icon=":material/warning:")
names = list(models)
for pair in (names[i:i + 2] for i in range(0, len(names), 2)):  # rows of two cards, read left to right
    for column, name in zip(st.columns(2), pair):
        with column:
            model_card(name, models[name])
st.caption(ui.device_caption())
