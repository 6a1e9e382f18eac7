"""Fine-tuning the flow on a few 9s: which rate, steps and frozen parts generalise, judged without the test 9s.

For several draws of k training 9s, the flow is fine-tuned on all but ``HELD`` of them and scored on the held-out
ones (bits/dim) at a few steps, with the share of 64 fixed samples the classifier calls 9 beside it. The copy's
learned prior always trains (at ``fewshot.PRIOR_RATE``); the rate is the flow steps'. Of the settings whose samples
are mostly (at least half) called 9, the one with the lowest held-out bits/dim is the rule the app uses
(``fewshot.FROZEN``, ``FINETUNE_RATE``, ``FINETUNE_STEPS``); the report names it. The test 9s are never looked at.
"""

from __future__ import annotations

import torch

from explorer import checkpoints, fewshot, judge, metrics
from explorer.data import HELD_OUT_DIGIT, few_shot, load_mnist
from explorer.device import describe, pick_device

from .timing import table

K, HELD, DRAWS = 10, 3, 3
RATES = (1e-4, 3e-4, 1e-3)
WHOLE_FLOW = ("level1", "factor_out", "level2")
FROZEN = {"first level": ("level1",), "the whole flow (prior only)": WHOLE_FLOW, "nothing": ()}
STEPS = (0, 20, 60, 100, 200)


def run(device: str | None = None, quick: bool = False) -> str:
    device = pick_device(device)
    flow = checkpoints.load("flow", device=device).model
    classifier = checkpoints.load("classifier", device=device).model
    train = load_mnist("train")
    codes = flow.sample_latent(64, 1.0, torch.Generator().manual_seed(0))
    draws, rates, steps = (1, RATES[-2:], STEPS[:2]) if quick else (DRAWS, RATES, STEPS)
    rows, candidates = [], []  # candidates: (held-out bits/dim, setting) of those making mostly 9s
    # with every flow step frozen only the prior trains, at its own rate: one row set, not one per rate
    settings = [(name, frozen, lr) for name, frozen in FROZEN.items() for lr in (rates[:1] if frozen == WHOLE_FLOW else rates)]
    for frozen_name, frozen, lr in settings:
        held_bpd = {s: [] for s in steps}
        called = {s: [] for s in steps}
        for draw in range(draws):
            examples = few_shot(train, HELD_OUT_DIGIT, K, seed=draw).as_float()
            fit, held = examples[:K - HELD], examples[K - HELD:]

            def watch(step: int, tuned) -> None:
                held_bpd[step].append(metrics.mean_bits_per_dim(tuned, held))
                with torch.no_grad():
                    samples = tuned.decode(codes).float().cpu().nan_to_num(0.0)
                probs = metrics.predict_proba(classifier, samples)
                called[step].append(float(judge.called(probs, samples, HELD_OUT_DIGIT).float().mean()))

            fewshot.finetune(flow, fit, steps=max(steps), lr=lr, frozen=frozen, watch=watch, watch_at=frozenset(steps))
        for s in steps:
            rate = "-" if frozen == WHOLE_FLOW else f"{lr:g}"
            bpd, share = sum(held_bpd[s]) / draws, sum(called[s]) / draws
            rows.append([frozen_name, rate, s, f"{bpd:.3f}", f"{100 * share:.0f}%"])
            if share >= 0.5:
                candidates.append((bpd, f"{frozen_name} frozen, rate {rate}, {s} steps ({bpd:.3f} bits/dim, {share:.0%} called 9)"))
    return (f"Fine-tuning the flow on {K - HELD} of {K} training 9s, scored on the other {HELD}; {describe(device)}, "
            f"flow weights {checkpoints.read_card('flow')['weights_sha256'][:12]}, mean of {draws} draws\n\n"
            + table(["frozen", "rate", "step", "held-out 9s, bits/dim", "samples called 9"], rows)
            + "\n\nThe rule (mostly 9s, then the best held-out bits/dim): "
            + (min(candidates)[1] if candidates else "no setting makes mostly 9s"))
