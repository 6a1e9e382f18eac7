"""Command line: ``python -m explorer {train,sample,evaluate,data} ...``; each verb has its own ``--help``."""

from __future__ import annotations

import argparse
import importlib
import sys

TRAINERS = ("flow", "vae", "gan", "classifier")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["train"]:
        if len(argv) < 2 or argv[1] not in TRAINERS:
            sys.exit(f"usage: python -m explorer train {{{','.join(TRAINERS)}}} [options]  (--help for options)")
        importlib.import_module(f"explorer.train.{argv[1]}").main(argv[2:])
        return
    parser = argparse.ArgumentParser(prog="python -m explorer", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    verbs.add_parser("train", help=f"train a model: train {{{','.join(TRAINERS)}}} --help")
    data = verbs.add_parser("data", help="fetch MNIST into the local cache and print where it is")
    data.set_defaults(run=_data)
    args = parser.parse_args(argv)
    args.run(args)


def _data(args: argparse.Namespace) -> None:
    from .data import DataUnavailableError, cache_file, load_mnist

    try:
        train, test = load_mnist("train"), load_mnist("test")
    except DataUnavailableError as err:
        sys.exit(str(err))
    print(f"MNIST ready at {cache_file()}: {len(train)} training and {len(test)} test images")


if __name__ == "__main__":
    main()
