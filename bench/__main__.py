"""``python -m bench [NAME ...] [--quick] [--changes N]``: run the named benchmarks (default: all), print their tables.

Each full run also writes its table to ``bench/results/NAME.md`` with the date, the machine and the command, so
every measured number in the project has one file that says when, where and how it was measured.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import inspect
import os
import platform
import shlex
import sys
from pathlib import Path

import torch

from explorer.device import cpu

BENCHMARKS = ("models", "pages", "embeddings", "training", "flow_designs", "flow_growth", "flow_levels", "flow_prior", "cnf_designs", "gan_designs",
              "cnf_steps", "temperature", "likelihood", "dequantization", "finetune", "latency", "server", "floor")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: best available)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer images, steps and changes")
    parser.add_argument("--changes", type=int, default=20, help="latency: control changes per page")
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="flow_designs, flow_growth, cnf_designs: training minutes per design")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; choose from {', '.join(BENCHMARKS)}")
    return args


def options(run, args: argparse.Namespace) -> dict:
    """The options a benchmark's ``run`` takes, from the command line (not every benchmark has a quick mode)."""
    return {k: v for k, v in vars(args).items() if k in inspect.signature(run).parameters}


RESULTS = Path(__file__).parent / "results"


def machine() -> str:
    """The hardware and software a number was measured on."""
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no GPU"
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    return (f"{cpu()}, {os.cpu_count()} CPU cores{gpu}; OMP_NUM_THREADS={threads}; "
            f"Python {platform.python_version()}, torch {torch.__version__}; "
            f"load average {os.getloadavg()[0]:.1f} as it finished (0 is an idle machine)")


def record(name: str, table: str, argv: list[str]) -> Path:
    """Write ``table`` to bench/results/NAME.md under a header saying when, where and how it was measured."""
    RESULTS.mkdir(exist_ok=True)
    command = shlex.join(["python", "-m", "bench", name, *[a for a in argv if a not in BENCHMARKS]])
    path = RESULTS / f"{name}.md"
    path.write_text(f"# bench {name}\n\nMeasured {datetime.datetime.now():%Y-%m-%d %H:%M} on {machine()}.\n"
                    f"Command: `{command}`\n\n{table}\n")
    return path


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    for name in args.names or BENCHMARKS:
        run = importlib.import_module(f"bench.{name}").run
        table = run(**options(run, args))
        print(table, end="\n\n", flush=True)
        if not args.quick:
            print(f"(written to {record(name, table, argv)})", end="\n\n", flush=True)


if __name__ == "__main__":
    main()
