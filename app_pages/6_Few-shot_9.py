"""Few-shot 9: make the digit no model has seen from k examples, several ways side by side, scored alike."""

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from explorer import catalogue, data, fewshot, images, plots, sweep, ui, upload, wording

ui.page_setup(__file__)
st.title("Few-shot: the digit 9")
st.markdown(
    "No generative model here ever saw a 9. Show them **k** examples and ask for more: a Gaussian fitted to the "
    "examples' pixels (the baseline), the examples themselves (what copying scores), the same Gaussian fitted to "
    "their codes in the flow's, the continuous flow's or the VAE's latent space (the transfer-learning experiment "
    "this app grew from), a Bayesian update of a standard normal over the flow's codes, or a copy of the flow "
    "fine-tuned on them, its Gaussian prior learned with it. Compare the grids and the numbers: does the classifier "
    "see 9s, how close are they to real 9s, and do they merely copy the examples?"
)
GALLERY = 48
PER_ROW = 4  # sample grids side by side
MAX_K = 50
DRAWN = "drawn-9s"  # session state: the 9s this user drew, uint8 (28, 28) each
PICKS = "picks"  # session state and address: the gallery numbers picked, on any page


# -- choices --------------------------------------------------------------------------------------

def examples_ui(train: data.Digits) -> tuple:
    """The k example 9s: (a key that identifies them, images (k, 1, 28, 28), a description)."""
    source = ui.linked(st.sidebar.radio, "Which 9s", ["Random", "Pick from a gallery", "Upload images", "Draw them"],
                       key="source", help="From the MNIST training split, or your own: uploaded or drawn here.")
    if source == "Random":
        k = ui.linked(st.sidebar.slider, "k, the number of examples", 1, MAX_K, 10, key="k")
        seed = ui.seed_input(key="example-seed", label="Example seed")
        return f"random:{k}:{seed}", data.few_shot(train, data.HELD_OUT_DIGIT, k, seed).as_float(), \
            f"{k} training 9s drawn with seed {seed}"
    if source == "Pick from a gallery":
        nines = train.held_out()
        picked = gallery_ui(nines)
        return f"gallery:{','.join(map(str, picked))}", nines.numbered(picked).as_float(), \
            f"{len(picked)} training 9s picked by hand (numbers {', '.join(map(str, picked))})"
    if source == "Upload images":
        return uploads_ui()
    return drawings_ui()


def gallery_ui(nines: data.Digits) -> list[int]:
    """Pages of training 9s with a tick box under each. The picks are kept across pages and in the address
    (``picks=3,17,...``); returns them (at most MAX_K)."""
    page = ui.linked(st.sidebar.number_input, "Gallery page", 0, len(nines) // GALLERY - 1, 0, key="gallery-page",
                     help=f"{GALLERY} of the {len(nines)} training 9s per page; picks on other pages are kept.")
    if PICKS not in st.session_state:
        st.session_state[PICKS] = linked_picks(len(nines))
    numbers = range(page * GALLERY, (page + 1) * GALLERY)
    with st.expander("Gallery: tick the 9s to learn from, then press *Use these 9s*", expanded=True):
        with st.form(f"gallery-{page}"):
            for row in range(0, GALLERY, 12):
                for column, i in zip(st.columns(12), numbers[row: row + 12]):
                    column.image(images.upscale(images.to_numpy(nines.images[i]), 2), output_format="PNG")
                    column.checkbox(f"{i}", key=f"pick-{i}", value=i in st.session_state[PICKS])
            if st.form_submit_button("Use these 9s", type="primary"):
                ticked = {i for i in numbers if st.session_state.get(f"pick-{i}")}
                st.session_state[PICKS] = sorted(set(st.session_state[PICKS]) - set(numbers) | ticked)
    picked = st.session_state[PICKS]
    st.query_params[PICKS] = ",".join(map(str, picked))
    elsewhere = [i for i in picked if i not in numbers]
    if elsewhere:
        st.caption(f"Also picked on other gallery pages: {', '.join(map(str, elsewhere))}.")
    if len(picked) > MAX_K:
        st.warning(f"{len(picked)} ticked; the first {MAX_K} are used (k is at most {MAX_K}).")
        picked = picked[:MAX_K]
    if not picked:
        st.warning("Tick at least one 9 in the gallery.")
        st.stop()
    return picked


def linked_picks(count: int) -> list[int]:
    """The picks a link asks for (numbers below ``count``), or the first ten 9s; a bad link is named in a warning."""
    asked = st.query_params.get(PICKS)
    if asked is None:
        return list(range(10))
    try:
        picks = sorted({int(p) for p in asked.split(",") if p.strip()})
        if all(0 <= p < count for p in picks):
            return picks
    except ValueError:
        pass
    st.sidebar.warning(f"The link's `{PICKS}={asked}` is not a list of gallery numbers (0 to {count - 1}); "
                       "it shows the first ten 9s instead.", icon=":material/link_off:")
    return list(range(10))


def uploads_ui() -> tuple:
    files = st.file_uploader(f"Images of a handwritten 9 (PNG, JPEG, ...; one digit per image; up to {MAX_K})",
                             accept_multiple_files=True, key="uploads")
    digits, names = [], []
    if files and len(files) > MAX_K:
        st.warning(f"{len(files)} files uploaded; the first {MAX_K} are used (k is at most {MAX_K}).")
    for file in (files or [])[:MAX_K]:
        try:
            digits.append(upload.load_digit(file.getvalue(), file.name))
            names.append(file.name)
        except upload.UploadError as err:
            st.warning(str(err), icon=":material/warning:")
    if not digits:
        st.info("Upload one or more images of a 9: dark ink on light paper and transparent backgrounds are fine; "
                "each is cropped, scaled and centred like MNIST.")
        st.stop()
    return own_examples("upload", digits, f"{len(digits)} uploaded: {', '.join(names)}")


def drawings_ui() -> tuple:
    """The 9s this user drew on the pad; they stay while the tab is open."""
    drawn = st.session_state.setdefault(DRAWN, [])
    with st.expander("Draw a 9 with the mouse (or a finger), press *Add this 9*, draw the next", expanded=True):
        drawing_pad()
    if not drawn:
        st.info("Draw a 9 on the black pad and add it: it is cropped, scaled and centred like MNIST, as an upload is.")
        st.stop()
    return own_examples("drawn", drawn, f"{len(drawn)} drawn by you")


@st.fragment
def drawing_pad() -> None:
    """The pad, the drawing as the models will see it, and the buttons. Only this part reruns while the user draws;
    adding or removing a 9 reruns the page."""
    drawn, pads = st.session_state[DRAWN], st.session_state.setdefault("pads", 0)
    pad, controls = st.columns([2, 3])
    with pad:  # a new key gives a clean pad after each change
        digit = ui.draw_digit(f"pad-{pads}", f"Drawing {len(drawn) + 1}")
    with controls:
        if digit is not None:
            st.image(images.upscale(digit, 3), caption="As the models will see it: 28 x 28, framed like MNIST.")
        st.caption(f"{len(drawn)} of at most {MAX_K} drawn so far; they are the examples below.")
        if st.button("Add this 9", type="primary", disabled=digit is None or len(drawn) >= MAX_K, key="add-drawing"):
            drawn.append(digit)
            st.session_state["pads"] = pads + 1
            st.rerun()
        if st.button("Remove the last", disabled=not drawn, key="undo-drawing"):
            drawn.pop()
            st.rerun()
        if st.button("Remove all", disabled=not drawn, key="clear-drawings"):
            drawn.clear()
            st.rerun()


def own_examples(kind: str, digits: list[np.ndarray], described: str) -> tuple:
    """The user's own 9s (uint8 (28, 28) each) as examples, keyed by their pixels."""
    stacked = np.stack(digits)
    key = f"{kind}:" + hashlib.sha256(stacked.tobytes()).hexdigest()
    return key, data.examples_of(stacked), described


def methods_ui() -> dict:
    present = catalogue.names()
    default = [m for m in fewshot.METHODS if m != "finetune" and fewshot.NEEDS[m] in (None, *present)]  # seconds each
    methods = ui.linked(st.sidebar.multiselect, "Methods", fewshot.METHODS, default=default,
                        key="methods", format_func=lambda m: wording.FEWSHOT_METHODS[m],
                        help="Fine-tuning trains a copy of the flow for a few seconds.")
    dim = ui.linked(st.sidebar.slider, "d, the Gaussian's dimensions", 1, 50, 10, key="dim",
                    help="Principal directions kept (the original experiment used 10); at most k - 1 are available.")
    n = ui.linked(st.sidebar.select_slider, "Samples per method", [16, 32, 64, 128], value=64, key="per-method")
    temperature = ui.linked(st.sidebar.slider, "Temperature", 0.0, 1.5, 1.0, 0.05, key="temperature",
                          help="Scales every method's sampling noise; 1 samples the fitted model itself.")
    steps = ui.linked(st.sidebar.slider, "Fine-tuning steps", 10, 200, fewshot.FINETUNE_STEPS, 10, key="tune-steps",
                    help="Adam steps on the k examples: the copy's Gaussian prior and its later steps learn, "
                         "its first level stays frozen.")
    seed = ui.seed_input(key="sample-seed", label="Sampling seed")
    return {"methods": methods, "dim": dim, "n": n, "temperature": temperature, "steps": steps, "seed": seed}


# -- cached work (keyed by checkpoint hashes and choices, never by tensors) --------------------------

@st.cache_data(max_entries=8, show_spinner="Scoring the real test 9s once (features and flow codes)...")
def reference(classifier_sha: str | None, flow_sha: str | None, _nines, _classifier, _flow) -> fewshot.Reference:
    return ui.on_device(fewshot.reference, _nines, _classifier, _flow)


@st.cache_resource(max_entries=32, show_spinner=False)  # one a student: resampling needs no new fine-tune
def transfer(flow_sha: str, classifier_sha: str | None, examples_key: str, steps: int, _flow, _classifier, _examples,
             _ref) -> fewshot.Transfer:
    """A private fine-tuned copy of the flow, kept so that resampling it needs no retraining; trained in turn with
    other fine-tunes, outside the model-call slots and behind every page's work, so other sessions are not held up
    by its seconds of training."""
    bar = st.progress(0.0, text="Fine-tuning a copy of the flow...")
    with ui.training_turn(lambda place: bar.progress(0.0, text=f"In line to fine-tune: {place_in_line(place)} "
                                                                "(fine-tunes take turns, so that each finishes sooner)...")):
        tuned = ui.at_low_priority(fewshot.transfer, _flow, _examples, _ref, steps=steps, classifier=_classifier,
                                   progress=lambda step, bpd: bar.progress(
            step / steps, text=f"Fine-tuning: step {step}/{steps}, {bpd:.3f} bits/dim on the examples"))
    bar.progress(1.0, text=f"Fine-tuned a copy of the flow for {steps} steps on the {len(_examples)} examples "
                           f"(training noise seed {fewshot.FINETUNE_SEED}).")
    return tuned


def place_in_line(place: int) -> str:
    return "next" if place == 1 else f"{place - 1} ahead of you"


@st.cache_data(max_entries=64, show_spinner=False)
def generate(method: str, shas: dict, examples_key: str, settings: tuple, _examples, _ref, _models,
             _tuned) -> fewshot.Result:
    n, dim, temperature, seed, _ = settings
    return ui.on_device(fewshot.run, method, _examples, _ref, **_models, n=n, dim=dim, seed=seed,
                        temperature=temperature, tuned=_tuned)


# -- showing --------------------------------------------------------------------------------------

def show_result(result: fewshot.Result, settings: dict) -> None:
    s = result.scores
    st.markdown(f"**{wording.FEWSHOT_METHODS[result.method]}**")
    ui.show_grid(result.samples, ncols=8, scale=2,
                 download=f"fewshot9_{result.method}_seed{settings['seed']}.png", key=f"download-{result.method}")
    # one wrapping line of numbers, readable in a narrow column on a projector; the table below has them all
    numbers = [("called 9", "—" if s.share_nine is None else f"{s.share_nine:.0%}"),
               ("Fréchet", "—" if s.frechet is None else f"{s.frechet:.1f}"),
               ("to nearest example", f"{s.copy_distance:.2f}")]
    if s.likelihood is not None:
        numbers.append((f"test 9s, {s.likelihood_unit.split()[0]}", f"{s.likelihood:.3g}"))
    st.markdown(" · ".join(f"{label} **{value}**" for label, value in numbers))
    if s.invalid:
        st.caption(f":orange[{s.invalid} of {len(result.samples)} samples have pixels that did not decode to "
                   "finite values; those pixels are shown and scored as black.]")
    if s.static:
        st.caption(f":orange[{s.static} of {len(result.samples)} samples are static, noisier than any handwritten "
                   "digit: their codes lie too far from anything the model learned to trust. None counts as a 9.]")


def show_curve(tuned: fewshot.Transfer) -> None:
    """How the copy learns: the share of the same fixed codes' samples called 9, and the test 9s' bits/dim."""
    steps, shares, test_bpd = zip(*tuned.curve)
    st.caption(f"While it trains: the same {fewshot.CURVE_SAMPLES} codes decoded by the copy, the share called 9, "
               f"and the bits/dim of the first {fewshot.CURVE_NINES} real test 9s. The copy starts from the flow "
               "with N(0, I) as its prior, which it learns to shift and scale. Both improve while it learns what 9s "
               "share; when the test 9s' bits/dim turns up again, the copy is memorising its k examples.")
    if shares[0] is not None:
        st.line_chart(pd.DataFrame({"step": steps, "called 9 (%)": [100 * v for v in shares]}).set_index("step"),
                      height=140, x_label="step", y_label="called 9 (%)")
    st.line_chart(pd.DataFrame({"step": steps, "test 9s, bits/dim": test_bpd}).set_index("step"), height=140,
                  x_label="step", y_label="bits/dim")


def sweep_panel() -> None:
    """Every method's scores against k, from the stored sweep for the weights being served."""
    shas = {name: getattr(ui.status().get(name), "sha256", None) for name in sweep.MODELS}
    rows = sweep.stored(shas)
    st.markdown("**As k grows** (mean over example seeds " + ", ".join(map(str, sweep.SEEDS)) + ")")
    if rows is None:
        st.caption("No sweep for these weights yet: `python -m explorer sweep` measures it (minutes on a CPU).")
        return
    table = pd.DataFrame(rows).assign(method=lambda t: t["method"].map(wording.FEWSHOT_METHODS),
                                      called=lambda t: 100 * t["share_nine"])
    means = table.groupby(["k", "method"])[["called", "diversity"]].mean().reset_index()
    left, right = st.columns(2)
    left.line_chart(means, x="k", y="called", color="method", height=260, x_label="k, examples",
                    y_label="called 9 (%)")
    right.line_chart(means, x="k", y="diversity", color="method", height=260, x_label="k, examples",
                     y_label="diversity")
    st.caption(f"{sweep.SAMPLES} samples per method, k and seed, at the page's default settings, measured on the "
               "weights served here.")


def plane_summary(results: list[fewshot.Result], ref: fewshot.Reference) -> str:
    """What the measured plane shows, in words: which method lands nearest the real 9s, and which copy."""
    def distance(s: fewshot.Scores) -> float:  # on the plane, both axes relative to the real 9s
        return float(np.hypot(s.diversity / ref.diversity - 1, s.share_nine / max(ref.share_nine, 1e-9) - 1))

    nearest = min(results, key=lambda r: distance(r.scores))
    narrow = [wording.FEWSHOT_METHODS[r.method] for r in results if r.scores.diversity < 0.5 * ref.diversity]
    text = (f"Boutin et al. (2022) judge one-shot generation on two axes: **recognizability**, here the share of "
            f"samples the classifier calls 9, and **diversity**, here the mean spread (standard deviation) of the "
            f"samples' classifier features. The real test 9s sit at {100 * ref.share_nine:.0f}% and "
            f"{ref.diversity:.2f}. Nearest to them now: **{wording.FEWSHOT_METHODS[nearest.method]}**.")
    if narrow:
        text += f" Less than half the real 9s' diversity: {', '.join(narrow)}: close to copying."
    return text


TABLE_FORMATS = {"called 9": "{:.0f}%", "diversity": "{:.2f}", "Fréchet distance": "{:.1f}", "to nearest example": "{:.2f}",
                 "real 9s to nearest example": "{:.2f}", "test 9s, bits/dim": "{:.3f}",
                 "test 9s, nats in PCA space": "{:.1f}", "static samples": "{:.0f}"}


def comparison(results: list[fewshot.Result]) -> pd.DataFrame:
    def likelihood(s: fewshot.Scores, unit: str) -> float | None:
        return s.likelihood if s.likelihood_unit and s.likelihood_unit.startswith(unit) else None

    return pd.DataFrame([{
        "method": wording.FEWSHOT_METHODS[r.method],
        "called 9": None if r.scores.share_nine is None else 100 * r.scores.share_nine,
        "Fréchet distance": r.scores.frechet,
        "diversity": r.scores.diversity,
        "to nearest example": r.scores.copy_distance,
        "real 9s to nearest example": r.scores.real_distance,
        "test 9s, bits/dim": likelihood(r.scores, "bits/dim"),
        "test 9s, nats in PCA space": likelihood(r.scores, "nats"),
        "static samples": r.scores.static,
    } for r in results])


# -- the page -------------------------------------------------------------------------------------

train = ui.mnist("train")
key, examples, described = examples_ui(train)
settings = methods_ui()
models = {name: ui.load(name) for name in
          dict.fromkeys(["flow", "classifier", *(fewshot.NEEDS[m] for m in settings["methods"] if fewshot.NEEDS[m])])}
if models["classifier"] is None:
    st.info("Without the classifier the grids still appear, but not the share of 9s or the Fréchet distance.")

st.subheader("The examples")
ui.show_grid(examples, ncols=min(len(examples), 25), scale=2, caption=described,
             download="fewshot9_examples.png", key="download-examples")

runnable = [m for m in settings["methods"] if fewshot.NEEDS[m] is None or models[fewshot.NEEDS[m]] is not None]
for m in sorted(set(settings["methods"]) - set(runnable), key=fewshot.METHODS.index):
    st.warning(f"{wording.FEWSHOT_METHODS[m]} needs the {fewshot.NEEDS[m]} checkpoint, which could not be loaded.")
if not runnable:
    st.stop()

shas = {name: (c.sha256 if c else None) for name, c in models.items()}
model_objects = {name: getattr(c, "model", None) for name, c in models.items()}
ref = reference(shas["classifier"], shas["flow"], ui.mnist("test").held_out().as_float(),
                model_objects["classifier"], model_objects["flow"])
st.subheader("Generated 9s")
used = min(settings["dim"], len(examples) - 1)
st.caption(f"{settings['n']} samples per method, sampling seed {settings['seed']}, d = {settings['dim']}"
           + (f" (k = {len(examples)} examples span only {used} directions, so {used} are used)"
              if used < settings["dim"] else "") + f", temperature {settings['temperature']:.2f}.")
results = []
columns = [column for start in range(0, len(runnable), PER_ROW) for column in st.columns(PER_ROW)]
for column, method in zip(columns, runnable):
    with column:
        steps = settings["steps"] if method == "finetune" else None
        tuned = transfer(shas["flow"], shas["classifier"], key, steps, model_objects["flow"],
                         model_objects["classifier"], examples, ref) if steps else None
        config = (settings["n"], settings["dim"], settings["temperature"], settings["seed"], steps)
        result = generate(method, shas, key, config, examples, ref, model_objects, tuned)
        show_result(result, settings)
        if tuned is not None:
            st.caption(f"Bits/dim of the {len(examples)} examples while fine-tuning (training noise seed "
                       f"{fewshot.FINETUNE_SEED}); the test 9s' {tuned.test_bpd:.3f} bits/dim compares with "
                       f"{ref.flow_prior_bpd:.3f} under the shared flow with its own prior.")
            st.line_chart(pd.DataFrame({"bits/dim on the examples": tuned.history}), height=140,
                          x_label="step", y_label="bits/dim")
            show_curve(tuned)
        results.append(result)

st.subheader("Side by side")
st.dataframe(comparison(results).style.format(TABLE_FORMATS, na_rep="—"), hide_index=True)
if ref.features is not None:
    st.subheader("Diversity and recognizability")
    left, right = st.columns([3, 2])
    points = {wording.FEWSHOT_METHODS[r.method]: (r.scores.diversity, 100 * r.scores.share_nine) for r in results}
    with left:
        st.plotly_chart(plots.plane(points, ("real test 9s", ref.diversity, 100 * ref.share_nine),
                                    x_title="diversity (spread of classifier features)", y_title="called 9 (%)"),
                        key="plane")
    with right:
        st.markdown(plane_summary(results, ref))
    sweep_panel()
prior = ref.flow_prior_bpd
with st.expander("How to read the numbers", expanded=True):
    st.markdown(
        f"""
- **Called 9**: the share of samples that the classifier, trained on all ten digits, reads as 9.
- **Diversity**: the spread of the samples in the classifier's features (the mean over its feature dimensions of
  their standard deviation); the real test 9s have {ref.diversity if ref.diversity is not None else float("nan"):.2f}.
  Copies of one example have 0.
- **Fréchet distance**: between Gaussians fitted to the classifier's features of the samples and of all
  {len(ref.nines)} real test 9s; lower is closer. It shrinks as samples grow, so compare at equal n.
- **To nearest example**: mean pixel distance (L2) from each sample to the closest of the k examples. The real
  test 9s sit at *real 9s to nearest example*; samples much closer than that copy the examples.
- **Test 9s, bits/dim** (lower is better): the real test 9s under the flow with the fitted Gaussian as its prior
  (the fitted variances along its d directions, the flow's own unit variance in every other direction), and under
  the fine-tuned flow.{f" The flow's own prior gives {prior:.3f} bits/dim." if prior is not None else ""}
- **Static samples**: samples rougher than every handwritten digit in MNIST (total variation); none is counted
  as a 9. The flow's latent Gaussian keeps its codes no farther from the latent space's centre than the farthest
  example's code: the flow decodes most of its static from codes beyond it.
- **Test 9s, nats in PCA space** (higher is better): the pixel Gaussian's mean log-density of the test 9s'
  coordinates in its d-dimensional PCA space; not comparable with bits/dim. The VAE has no exact likelihood here.
"""
    )
st.caption(ui.device_caption())
