"""``python -m bench [NAME ...] [--quick] [--changes N]``: run the named benchmarks (default: all), print their tables."""

from __future__ import annotations

import argparse
import importlib
import inspect

BENCHMARKS = ("models", "pages", "embeddings", "training", "flow_designs", "finetune", "latency", "server", "floor")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: best available)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer images, steps and changes")
    parser.add_argument("--changes", type=int, default=20, help="latency: control changes per page")
    parser.add_argument("--minutes", type=float, default=10.0, help="flow_designs: training minutes per design")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; choose from {', '.join(BENCHMARKS)}")
    return args


def options(run, args: argparse.Namespace) -> dict:
    """The options a benchmark's ``run`` takes, from the command line (not every benchmark has a quick mode)."""
    return {k: v for k, v in vars(args).items() if k in inspect.signature(run).parameters}


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    for name in args.names or BENCHMARKS:
        run = importlib.import_module(f"bench.{name}").run
        print(run(**options(run, args)), end="\n\n", flush=True)


if __name__ == "__main__":
    main()
