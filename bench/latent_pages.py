"""Timings of the Interpolation, Samples and Few-shot 9 pages on the CPU: their cached work, then whole reruns.

    python bench/latent_pages.py [CHECKPOINT_DIR] [--threads N] [--pages]

Prints wall-clock and process CPU seconds: on a busy machine the CPU seconds (with --threads 1) estimate
the wall time on an idle core. ``--pages`` also times AppTest reruns after each control change, which adds
Streamlit's own work (images, charts, messages). Speed does not depend on training, so checkpoints with the
shipped architectures but untrained weights measure the same.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from explorer import checkpoints, fewshot, latent, metrics
from explorer.data import HELD_OUT_DIGIT, few_shot, load_mnist, pick


PAGES = Path(__file__).resolve().parent.parent / "pages"


def timed(label: str, fn, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.inference_mode():
        out = fn(*args, **kwargs)
    print(f"{label:48s} wall {time.perf_counter() - wall:6.2f} s   cpu {time.process_time() - cpu:6.2f} s", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", nargs="?", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--pages", action="store_true", help="also time whole page reruns with AppTest")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    m = {n: checkpoints.load(n, args.directory).model for n in ("flow", "vae", "gan", "classifier")}
    print(f"torch threads {torch.get_num_threads()}; configs: " +
          "; ".join(f"{n} {c.card['config']}" for n, c in ((n, checkpoints.load(n, args.directory)) for n in m)))
    test, train = load_mnist("test"), load_mnist("train")
    x = torch.cat([pick(test, 2, 0), pick(test, 8, 0)])
    for name in ("flow", "vae", "gan"):
        frames = timed(f"interpolation: walk {name}, 10 steps (18 frames)", latent.walk, m[name], x[:1], x[1:], 10)
    timed("interpolation: classifier on 10 frames", metrics.predict_proba, m["classifier"], frames[:10])
    for name in ("flow", "vae", "gan"):
        for n in (64, 256):
            timed(f"samples: {name} n={n}", m[name].sample, n, 1.0, torch.Generator().manual_seed(0))
    timed("samples: classifier labels for 256", metrics.predict_proba, m["classifier"], torch.rand(256, 1, 28, 28))
    nines = test.held_out().as_float()
    ref = timed(f"few-shot: reference, {len(nines)} test 9s (once per server)", fewshot.reference, nines,
                m["classifier"], m["flow"])
    examples = few_shot(train, HELD_OUT_DIGIT, 10, 0).as_float()
    wall = time.perf_counter()
    for method in ("pixel", "flow", "vae"):
        timed(f"few-shot: {method}, k=10, n=64", fewshot.run, method, examples, ref, flow=m["flow"], vae=m["vae"],
              classifier=m["classifier"], n=64)
    print(f"{'few-shot: pixel + flow + vae':48s} wall {time.perf_counter() - wall:6.2f} s")
    timed("few-shot: fine-tune 60 steps + test 9s' bits/dim", fewshot.transfer, m["flow"], examples, ref, steps=60)
    if args.pages:
        if args.directory:
            os.environ["LATENT_EXPLORER_CHECKPOINTS"] = args.directory
        page_reruns()


def page_reruns() -> None:
    """Each control change as a browser would make it; the first run of a page includes loading its models."""
    from streamlit.testing.v1 import AppTest

    def rerun(label: str, at) -> None:
        timed(label, at.run)
        assert not at.exception, at.exception

    at = AppTest.from_file(str(PAGES / "1_Interpolation.py"), default_timeout=600)
    rerun("page interpolation: first run", at)
    at.sidebar.slider(key="steps").set_value(12)
    rerun("page interpolation: steps 10 -> 12", at)
    at.sidebar.radio(key="path").set_value("spherical")
    rerun("page interpolation: spherical path", at)
    at.sidebar.selectbox(key="digit-1").set_value(3)
    rerun("page interpolation: end digit 8 -> 3", at)
    at.sidebar.selectbox(key="digit-1").set_value(8)
    rerun("page interpolation: back to 8 (cached)", at)
    at.sidebar.segmented_control(key="mode").set_value("Analogy")
    rerun("page interpolation: analogy", at)
    at = AppTest.from_file(str(PAGES / "2_Samples.py"), default_timeout=600)
    rerun("page samples: first run (flow, 64)", at)
    at.sidebar.number_input(key="seed").set_value(1)
    rerun("page samples: seed 0 -> 1", at)
    at.sidebar.slider(key="temperature").set_value(0.7)
    rerun("page samples: temperature 0.7", at)
    at.toggle(key="labels").set_value(True)
    rerun("page samples: labels on", at)
    at.sidebar.select_slider(key="n").set_value(256)
    rerun("page samples: n = 256, labels on", at)
    at.sidebar.selectbox(key="model").set_value("vae")
    rerun("page samples: vae, n = 256, labels on", at)
    at = AppTest.from_file(str(PAGES / "6_Few-shot_9.py"), default_timeout=600)
    rerun("page few-shot: first run (reference + 3 methods)", at)
    at.sidebar.number_input(key="sample-seed").set_value(1)
    rerun("page few-shot: sampling seed 1, k = 10, 3 methods", at)
    at.sidebar.number_input(key="example-seed").set_value(3)
    rerun("page few-shot: example seed 3, k = 10, 3 methods", at)
    at.sidebar.slider(key="dim").set_value(5)
    rerun("page few-shot: d = 5", at)
    at.sidebar.multiselect(key="methods").set_value(list(fewshot.METHODS))
    rerun("page few-shot: + fine-tune, 60 steps", at)
    at.sidebar.slider(key="temperature").set_value(0.8)
    rerun("page few-shot: temperature 0.8 (no retraining)", at)


if __name__ == "__main__":
    main()
