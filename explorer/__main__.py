"""Command line: ``python -m explorer VERB ...``; ``--help`` lists the verbs, and each verb has its own ``--help``."""

from __future__ import annotations

import argparse
import importlib
import sys

TRAINERS = ("flow", "cnf", "vae", "gan", "classifier")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["train"]:
        if len(argv) < 2 or argv[1] not in TRAINERS:
            sys.exit(f"usage: python -m explorer train {{{','.join(TRAINERS)}}} [options]  (--help for options)")
        importlib.import_module(f"explorer.train.{argv[1]}").main(argv[2:])
        return
    if argv[:1] == ["serve"]:
        from .serve import main as serve

        serve(argv[1:])
        return
    parser = argparse.ArgumentParser(prog="python -m explorer", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    verbs.add_parser("serve", help="start the app: serve [SCRIPT (default app.py)] [streamlit run options]")
    verbs.add_parser("train", help=f"train a model: train {{{','.join(TRAINERS)}}} --help")
    cards = verbs.add_parser("cards", help="print the shipped checkpoints' cards as a Markdown table")
    cards.add_argument("--readme", action="store_true", help="write the table into README.md instead")
    cards.set_defaults(run=_cards)
    data = verbs.add_parser("data", help="fetch MNIST into the local cache and print where it is")
    data.set_defaults(run=_data)
    sample = verbs.add_parser("sample", help="draw samples from a checkpoint into an (N, 28, 28) float32 .npy file")
    sample.add_argument("name", help="checkpoint name, e.g. vae")
    sample.add_argument("--n", type=int, default=64)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--temperature", type=float, default=1.0)
    sample.add_argument("--out", required=True, help="output .npy file")
    sample.set_defaults(run=_sample)
    evaluate = verbs.add_parser("evaluate", help="recompute the metrics of shipped checkpoints and write them into their cards")
    evaluate.add_argument("--names", nargs="+", default=None, help="checkpoints to evaluate (default: every card)")
    evaluate.add_argument("--samples", type=int, default=10_000, help="samples per generative model for the Frechet distance")
    evaluate.add_argument("--iwae-samples", type=int, default=None, help="importance samples per image for the VAE bound")
    evaluate.add_argument("--test-images", type=int, default=None, help="use only the first N test images (quick checks)")
    evaluate.add_argument("--device", default=None)
    evaluate.add_argument("--json", action="store_true", help="print one JSON object per checkpoint")
    evaluate.set_defaults(run=_evaluate)
    fewshot = verbs.add_parser("fewshot", help="generate 9s from k training examples (the few-shot page) into a .npy file")
    lab = importlib.import_module("explorer.fewshot")
    fewshot.add_argument("--method", choices=lab.METHODS, default="flow")
    fewshot.add_argument("--k", type=int, default=10, help="number of training 9s to learn from")
    fewshot.add_argument("--seed", type=int, default=0, help="draws the k examples and the samples")
    fewshot.add_argument("--n", type=int, default=64)
    fewshot.add_argument("--dim", type=int, default=10, help="dimensions of the fitted Gaussian")
    fewshot.add_argument("--temperature", type=float, default=1.0)
    fewshot.add_argument("--steps", type=int, default=lab.FINETUNE_STEPS, help="fine-tuning steps (method finetune)")
    fewshot.add_argument("--json", "--score", dest="score", action="store_true",
                         help="also print the page's scores as JSON, the real test 9s' recognizability and diversity "
                              "beside them (needs the classifier)")
    fewshot.add_argument("--out", required=True, help="output .npy file, (N, 28, 28) float32 in [0, 1]")
    fewshot.set_defaults(run=_fewshot)
    embed = verbs.add_parser("embed", help="compute the Embeddings page's shipped maps into checkpoints/embeddings/")
    embed.add_argument("--precompute", action="store_true", required=True,
                       help="UMAP, t-SNE and PCA of every generative checkpoint's test-set codes, "
                            "at the default settings and the lesson's")
    embed.add_argument("--names", nargs="+", default=None, help="checkpoints (default: every generative model)")
    embed.add_argument("--methods", nargs="+", default=None, choices=("umap", "tsne", "pca"))
    embed.add_argument("--device", default=None)
    embed.set_defaults(run=_embed)
    verbs.add_parser("sweep", help="score every few-shot method over k and example seeds for the Few-shot page, "
                                   "stored in checkpoints/fewshot/").set_defaults(run=_sweep)
    references = verbs.add_parser("likelihood", help="compute the Likelihood page's test-digit bits/dim and store "
                                                     "them in checkpoints/likelihood/")
    references.add_argument("--names", nargs="+", default=None, help="checkpoints (default: every flow and cnf)")
    references.set_defaults(run=_likelihood)
    args = parser.parse_args(argv)
    args.run(args)


def _data(args: argparse.Namespace) -> None:
    from .data import DataUnavailableError, cache_file, load_mnist

    try:
        train, test = load_mnist("train"), load_mnist("test")
    except DataUnavailableError as err:
        sys.exit(str(err))
    print(f"MNIST ready at {cache_file()}: {len(train)} training and {len(test)} test images")


def _sample(args: argparse.Namespace) -> None:
    import numpy as np

    from . import checkpoints
    from .device import pick_device
    from .evaluate import generate
    from .models.base import GenerativeModel

    try:
        model = checkpoints.load(args.name, device=pick_device()).model
    except checkpoints.CheckpointError as err:
        sys.exit(str(err))
    if not isinstance(model, GenerativeModel):
        sys.exit(f"Checkpoint '{args.name}' is a {model.kind}, not a generative model: it cannot be sampled.")
    images = generate(model, args.n, temperature=args.temperature, seed=args.seed)  # (N, 1, 28, 28)
    np.save(args.out, images[:, 0].numpy().astype(np.float32))
    print(f"wrote {args.n} samples of {args.name} (seed {args.seed}, temperature {args.temperature}) to {args.out}")


def _evaluate(args: argparse.Namespace) -> None:
    import json

    from .evaluate import IWAE_SAMPLES, evaluate, table

    result = evaluate(args.names, samples=args.samples, iwae_samples=args.iwae_samples or IWAE_SAMPLES,
                      test_images=args.test_images, device=args.device)
    for name, why in result.skipped.items():
        print(f"skipped {name}: {why}", file=sys.stderr)
    for note in result.notes:
        print(note, file=sys.stderr)
    if args.json:
        for name, metrics in result.metrics.items():
            print(json.dumps({"name": name, "kind": result.kinds[name], "metrics": metrics}))
    elif result.metrics:
        print(table(result))


def _fewshot(args: argparse.Namespace) -> None:
    import dataclasses
    import json

    import numpy as np

    from . import checkpoints, fewshot
    from .data import HELD_OUT_DIGIT, few_shot, load_mnist
    from .device import pick_device

    def load(name: str):
        try:
            return checkpoints.load(name, device=pick_device()).model
        except checkpoints.CheckpointError as err:
            sys.exit(str(err))

    need = fewshot.NEEDS[args.method]
    models = {"flow": None, "cnf": None, "vae": None, "classifier": load("classifier") if args.score else None}
    if need:
        models[need] = load(need)
    examples = few_shot(load_mnist("train"), HELD_OUT_DIGIT, args.k, args.seed).as_float()
    nines = load_mnist("test").held_out().as_float()
    ref = fewshot.reference(nines, models["classifier"], models["flow"])  # a fine-tune scores the 9s through the flow
    result = fewshot.run(args.method, examples, ref, **models, n=args.n, dim=args.dim, seed=args.seed,
                         temperature=args.temperature, steps=args.steps)
    np.save(args.out, result.samples.astype(np.float32))
    print(f"wrote {args.n} few-shot 9s ({args.method}, k={args.k}, seed {args.seed}) to {args.out}", file=sys.stderr)
    if args.score:
        real = {"recognizability": ref.share_nine, "diversity": ref.diversity}
        print(json.dumps({"method": args.method, "k": args.k, "seed": args.seed, **dataclasses.asdict(result.scores),
                          "real_test_nines": real}))


def _cards(args: argparse.Namespace) -> None:
    from pathlib import Path

    from . import cards, checkpoints

    table = cards.markdown_table({name: checkpoints.read_card(name) for name in checkpoints.available()})
    if not args.readme:
        print(table)
        return
    readme = Path(__file__).parent.parent / "README.md"
    readme.write_text(cards.with_table(readme.read_text(), table))


def _embed(args: argparse.Namespace) -> None:
    from . import catalogue, embed
    from .device import pick_device

    embed.precompute(args.names or catalogue.generative(), methods=args.methods or tuple(embed.METHODS),
                     device=pick_device(args.device))


def _sweep(args: argparse.Namespace) -> None:
    from . import sweep

    sweep.main()


def _likelihood(args: argparse.Namespace) -> None:
    from . import catalogue, likelihood

    likelihood.precompute(args.names or catalogue.with_likelihood())


if __name__ == "__main__":
    main()
