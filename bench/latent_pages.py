"""Timings of the work behind the Interpolation, Samples and Few-shot 9 pages, on the CPU.

    python bench/latent_pages.py [CHECKPOINT_DIR] [--threads N]

Prints wall-clock and process CPU seconds of each cached computation: on a busy machine the CPU seconds
(with --threads 1) estimate the wall time on an idle core. Speed does not depend on training, so
checkpoints with the shipped architectures but untrained weights measure the same.
"""

from __future__ import annotations

import argparse
import time

import torch

from explorer import checkpoints, fewshot, latent, metrics
from explorer.data import HELD_OUT_DIGIT, few_shot, load_mnist, pick


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


if __name__ == "__main__":
    main()
