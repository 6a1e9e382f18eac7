"""``python -m bench [NAME ...]``: run the named benchmarks (default: all) and print their tables."""

from __future__ import annotations

import argparse
import importlib

BENCHMARKS = ("models",)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; choose from {', '.join(BENCHMARKS)}")
    for name in args.names or BENCHMARKS:
        print(importlib.import_module(f"bench.{name}").run(args.device), end="\n\n", flush=True)


if __name__ == "__main__":
    main()
