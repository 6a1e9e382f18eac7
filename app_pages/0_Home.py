"""Home: what Latent Explorer is, how to use each page, the models it loaded with their cards, and the device."""

import numpy as np
import streamlit as st

from explorer import cards, catalogue, data, images, latent, ui
from explorer.data import HELD_OUT_DIGIT

INTRO = (
    "Generative models of handwritten digits, opened up. A normalizing flow, a continuous flow, two variational "
    "autoencoders and a GAN each learned to draw MNIST digits by mapping them to and from a space of Gaussian codes. "
    "Every model was trained "
    f"on the digits 0-8 only: **the {HELD_OUT_DIGIT} is held out everywhere**, so each page can also ask what a model "
    f"makes of a digit it has never seen. Pick a page in the sidebar; every random picture shows its seed, so the "
    "same seed gives the same picture again, and every page's address holds its settings, so a link shares the view."
)

LESSON = f"""
1. **Samples** (5 min): draw 64 digits from each model at temperature 1, then 0.5 and 0. Which model draws the
   best digits? Turn on the labels: how many does the classifier call a {HELD_OUT_DIGIT}, a digit none of them saw?
   Pick the continuous flow and watch noise become a digit, step by step: the idea behind diffusion models.
2. **Interpolation** (10 min): walk from a 2 to an 8 in each model. Where along the path does the classifier change
   its mind? Try an analogy: 2 is to 8 as another 2 is to ...?
3. **Embeddings** (5 min): the test digits' codes on a map. Which digits form islands, which blur together, where do
   the {HELD_OUT_DIGIT}s land? Select a cluster and look at its digits. Then set UMAP's neighbours to 100, or
   t-SNE's perplexity to 5: what does the map keep, what does it lose?
4. **Reconstructions** (5 min): what each model keeps of a digit; the 2-D VAE's whole latent space as one picture.
5. **Few-shot {HELD_OUT_DIGIT}** (10 min): show the models ten {HELD_OUT_DIGIT}s, or let students draw their own,
   and compare the ways of making more on one chart, recognizability against diversity. Which one makes
   {HELD_OUT_DIGIT}s, and which merely copies?
6. **Likelihood** (5 min): let students draw a digit and read its bits/dim. Then a blank image, a blurred digit:
   which does the flow find more likely, and what does that say about likelihood?
7. **GAN training** (5 min): two networks in a contest, epoch by epoch.
"""
GLOSSARY = {
    "latent code, Z": "the list of numbers a model uses to describe a digit; here drawn from a Gaussian (for "
                      "the flow's coarse half of the code, from one of a few Gaussians fitted where the digits' codes "
                      "lie), so any random code can be decoded into a picture.",
    "encode, decode": "image to code, code to image. The flow does both exactly; the continuous flow solves an ODE "
                      "one way or the other (exact up to its solver's steps); the VAE encodes to the most likely "
                      "code; the GAN has no encoder and searches for a code (inversion).",
    "temperature": "how far from the centre of their Gaussian codes are drawn: 0 is the centre itself, 1 the "
                   "model's own prior, above 1 stranger codes.",
    "bits/dim": "how many bits the flow needs per pixel to store an image with its probability model: lower means "
                "the model finds the image more likely. Likelihood is not meaning: a model can find simple, "
                "smooth images likely even if they are not digits it learned.",
    "nats": "the same kind of measure with natural logarithms (1 nat = 1.44 bits), used for the VAEs' bounds.",
    "ELBO": "evidence lower bound: what a VAE maximises, a lower bound on the log-likelihood of a digit.",
    "Fréchet distance": "how far the classifier's view of a set of samples is from its view of real digits "
                        "(the recipe of FID); lower is closer, and two sets of real digits score the floor.",
    "static": "an image rougher than every handwritten digit in MNIST (measured by its total variation): a model "
              "decoding a code it cannot handle. The app gives static no digit label.",
    "inversion": "finding the code a model would decode into a given image.",
    "guidance": "the continuous flow follows its own field pushed away from a small, briefly trained copy's, whose "
                "mistakes are the same kind but worse (autoguidance): cleaner digits, a little less variety; 1 is the "
                "model alone. Image generators use the same idea (classifier-free guidance) to follow a prompt.",
}


GLANCE_SAMPLES, GLANCE_STEPS, GLANCE_COLUMNS = 8, 10, 3


@st.cache_data(max_entries=16, show_spinner=False)
def glance_samples(sha: str, _model) -> np.ndarray:
    return images.to_numpy(ui.on_device(_model.sample, GLANCE_SAMPLES, 1.0, 0))


@st.cache_data(max_entries=4, show_spinner=False)
def glance_walk(sha: str, _model) -> np.ndarray | None:
    """The first test 2 to the first test 8 and back through the model's codes; None without MNIST (Home must still
    show the models' cards)."""
    try:
        test = data.load_mnist("test")
    except data.DataUnavailableError:
        return None
    x = data.picks(test, [(2, 0), (8, 0)])
    return images.to_numpy(ui.on_device(latent.walk, _model, x[:1], x[1:], GLANCE_STEPS))


def glance() -> None:
    """What the app is about, in pictures: a 2 becoming an 8 in a latent space, and what each model draws."""
    models = ui.usable(catalogue.generative(first="cnf"))
    if not models:
        return
    name, first = next(iter(models.items()))
    left, right = st.columns([1, 3])
    walk = glance_walk(first.sha256, first.model)
    if walk is not None:
        with left:
            ui.show_animation(walk, scale=5, frame_ms=160,
                              caption=f"2 → Z → 8 → Z → 2 in {name}'s latent space (Interpolation)")
    with right:
        rows = [st.columns(GLANCE_COLUMNS) for _ in range(-(-len(models) // GLANCE_COLUMNS))]
        for column, (model_name, ckpt) in zip([c for row in rows for c in row], models.items()):
            column.image(images.grid(glance_samples(ckpt.sha256, ckpt.model), ncols=GLANCE_SAMPLES // 2, scale=2),
                         caption=model_name, clamp=True)
        st.caption(f"{GLANCE_SAMPLES} samples from each model at temperature 1, seed 0 (Samples)")


def pages_section() -> None:
    for path, title, icon, what in ui.PAGES[1:]:
        left, right = st.columns([1, 3], vertical_alignment="center")
        left.page_link(path, label=title, icon=icon, query_params=ui.link_params())
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
glance()
st.header("Pages")
pages_section()
with st.expander("A 45-minute lesson", expanded=False, icon=":material/school:"):
    st.markdown(LESSON)
with st.expander("Glossary", expanded=False, icon=":material/menu_book:"):
    st.markdown("\n".join(f"- **{term}**: {meaning}" for term, meaning in GLOSSARY.items()))
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
