"""The benchmark command's registry and options, and the README's links to what it records (no timings: benchmarks are
run by hand, see bench/README.md)."""

import importlib
from pathlib import Path

import pytest

from bench.__main__ import BENCHMARKS, options, parse


def test_every_registered_benchmark_has_a_run_function():
    for name in BENCHMARKS:
        assert callable(importlib.import_module(f"bench.{name}").run)


def test_options_go_only_to_the_benchmarks_that_take_them():
    args = parse(["latency", "models", "--quick", "--changes", "5"])
    assert args.names == ["latency", "models"]
    assert options(importlib.import_module("bench.latency").run, args) == {"device": None, "quick": True, "changes": 5}
    assert options(importlib.import_module("bench.models").run, args) == {"device": None}


def test_an_unknown_benchmark_is_refused():
    with pytest.raises(SystemExit):
        parse(["nonsense"])


def test_a_full_run_records_its_table_with_when_where_and_how(tmp_path, monkeypatch):
    import bench.__main__ as command

    monkeypatch.setattr(command, "RESULTS", tmp_path)
    path = command.record("models", "| a | b |", ["models", "--changes", "5"])
    text = path.read_text()
    assert path.name == "models.md" and "| a | b |" in text
    assert "Command: `python -m bench models --changes 5`" in text and "CPU cores" in text and "Measured 20" in text


@pytest.mark.parametrize("name", ["training", "likelihood"])
def test_quick_runs_measure_every_checkpoint_of_the_kinds_they_time(name, checkpoint_env):
    """A smoke run on the tiny checkpoints: the benchmark still builds and calls what the app and trainers do."""
    from explorer import catalogue

    report = importlib.import_module(f"bench.{name}").run(quick=True)
    kinds = {"training": catalogue.ORDER, "likelihood": catalogue.LIKELIHOOD_KINDS}[name]
    measured = [e.name for e in catalogue.entries() if e.kind in kinds]
    assert all(f"| {model} " in report for model in measured)


def test_the_fine_tune_benchmark_times_a_prior_only_fine_tune_once_not_once_per_flow_rate(checkpoint_env):
    from bench import finetune

    report = finetune.run(quick=True)
    prior_only = [line for line in report.splitlines() if line.startswith("| the whole flow")]
    assert len(prior_only) == 2 and all(line.split("|")[2].strip() == "-" for line in prior_only)  # steps 0 and 20
    assert sum(line.startswith("| nothing") for line in report.splitlines()) == 2 * 2  # two rates, two steps


def test_the_dequantization_bounds_tighten_with_draws(checkpoint_env):
    """A smoke run on the tiny flow: each row is a bound per draw count, tighter (lower bits/dim) with more draws."""
    from bench import dequantization

    report = dequantization.run(quick=True)
    rows = {line.split("|")[1].strip(): [float(v) for v in line.split("|")[2:-1]]
            for line in report.splitlines() if line.startswith(("| uniform", "| learned"))}
    assert set(rows) == {"uniform", "learned"}
    assert all(bits[-1] < bits[0] for bits in rows.values())


def test_the_readme_links_every_recorded_result():
    root = Path(__file__).parent.parent
    readme = (root / "README.md").read_text()
    recorded = sorted(p.relative_to(root).as_posix() for p in (root / "bench" / "results").glob("*.md"))
    assert recorded and [p for p in recorded if f"]({p})" not in readme] == []
