"""The shared training loop's options reach the modules a training step calls."""

import argparse

import pytest
import torch

from explorer import checkpoints
from explorer.train import flow as train_flow
from explorer.train import loop
from explorer.train.loop import _unwrap, make_context
from explorer.train.schedules import warmup_cosine


def context(**options):
    args = argparse.Namespace(device="cpu", seed=0, amp=False, compile=False)
    vars(args).update(options)
    return make_context(args)


def test_compile_option_compiles_what_the_step_calls_and_leaves_the_module_plain():
    module = torch.nn.Linear(3, 2)
    compiled = context(compile=True).wrap(module)
    assert isinstance(compiled, torch._dynamo.eval_frame.OptimizedModule) and _unwrap(compiled) is module
    assert context().wrap(module) is module


@pytest.mark.parametrize("native", [True, False])
def test_amp_autocasts_only_where_bf16_is_native(native, monkeypatch, capsys):
    monkeypatch.setattr(loop, "fast_bf16", lambda device: native)
    ctx = context(amp=True)
    assert ctx.amp is native and ("training in float32" in capsys.readouterr().out) is not native
    with ctx.autocast():
        assert torch.is_autocast_enabled("cpu") is native
    assert ("bfloat16 autocast" in loop.hardware(ctx)) is native


def test_new_cycle_warms_up_again_where_a_finished_run_is_trained_further(tmp_path):
    tiny = ["--steps-per-level", "2", "--hidden-channels", "16", "--batch-size", "8", "--epochs", "1",
            "--out", str(tmp_path), "--runs", str(tmp_path), "--snapshot-minutes", "1000"]
    train_flow.main(tiny + ["--steps", "3"])
    train_flow.main(tiny + ["--steps", "6", "--new-cycle"])
    lr = checkpoints.load_history(checkpoints.read_card("flow", tmp_path), tmp_path)["lr"].tolist()
    assert len(lr) == 6 and lr[3] == pytest.approx(lr[0]) and lr[1] < lr[0] and lr[4] < lr[3]
    recipe = "python -m explorer train flow --steps-per-level 2 --hidden-channels 16 --batch-size 8 --epochs 1"
    assert checkpoints.read_card("flow", tmp_path)["command"] == f"{recipe} --steps 3 && {recipe} --steps 6 --new-cycle"


def test_max_minutes_counts_this_invocation_not_the_time_a_resumed_run_already_took(tmp_path):
    tiny = ["--steps-per-level", "2", "--hidden-channels", "16", "--batch-size", "8", "--epochs", "1",
            "--out", str(tmp_path), "--runs", str(tmp_path), "--snapshot-minutes", "1000"]
    train_flow.main(tiny + ["--steps", "3"])
    snapshot = tmp_path / "flow" / "snapshot.pt"
    saved = torch.load(snapshot, weights_only=False)
    saved["state"]["elapsed"] = 10 * 3600.0  # ten hours of earlier training
    torch.save(saved, snapshot)
    train_flow.main(tiny + ["--steps", "6", "--max-minutes", "30"])
    card = checkpoints.read_card("flow", tmp_path)
    assert card["steps"] == 6 and card["train_time_s"] > 10 * 3600


def test_a_resumed_run_trains_the_rest_of_its_epoch_and_ends_its_schedule_at_its_last_step(tmp_path):
    tiny = ["--steps-per-level", "2", "--hidden-channels", "16", "--batch-size", "4096", "--epochs", "2",
            "--out", str(tmp_path), "--runs", str(tmp_path), "--snapshot-minutes", "1000"]  # 13 batches an epoch
    train_flow.main(tiny + ["--steps", "16"])  # stopped 3 batches into the second epoch
    train_flow.main(tiny)
    card = checkpoints.read_card("flow", tmp_path)
    lr = checkpoints.load_history(card, tmp_path)["lr"].tolist()
    assert card["epochs"] == 2 and card["steps"] == 26 and len(lr) == 26
    assert lr[-1] < 0.01 * max(lr)  # the cosine reaches zero where the run ends


def test_a_run_resumed_on_another_machine_names_both_on_its_card(tmp_path, monkeypatch):
    tiny = ["--steps-per-level", "2", "--hidden-channels", "16", "--batch-size", "8", "--epochs", "1",
            "--out", str(tmp_path), "--runs", str(tmp_path), "--max-minutes", "1e-9"]  # stops after a step
    for machine in ("machine A", "machine B"):  # the same command, resumed from its snapshot elsewhere
        monkeypatch.setattr(loop, "hardware", lambda ctx, machine=machine: machine)
        train_flow.main(tiny)
    card = checkpoints.read_card("flow", tmp_path)
    assert card["steps"] == 2 and card["hardware"] == f"machine A{loop.THEN}machine B"


def test_a_run_resumed_with_another_time_limit_is_the_same_run_on_its_card(tmp_path):
    tiny = ["--steps-per-level", "2", "--hidden-channels", "16", "--batch-size", "8", "--epochs", "1",
            "--out", str(tmp_path), "--runs", str(tmp_path), "--snapshot-minutes", "1000"]
    train_flow.main(tiny + ["--max-minutes", "1e-9"])  # stops after a step
    train_flow.main(tiny + ["--max-minutes", "30"])
    card = checkpoints.read_card("flow", tmp_path)
    assert card["command"] == "python -m explorer train flow --steps-per-level 2 --hidden-channels 16 --batch-size 8 --epochs 1"


def test_a_committed_checkpoint_is_trained_further_without_its_snapshot(tmp_path):
    tiny = ["--steps-per-level", "2", "--hidden-channels", "16", "--batch-size", "8", "--epochs", "1",
            "--out", str(tmp_path / "out"), "--snapshot-minutes", "1000"]
    train_flow.main(tiny + ["--steps", "3", "--runs", str(tmp_path / "first")])
    first = checkpoints.load("flow", tmp_path / "out")
    train_flow.main(tiny + ["--steps", "6", "--runs", str(tmp_path / "elsewhere"), "--continue-checkpoint"])
    card = checkpoints.read_card("flow", tmp_path / "out")
    lr = checkpoints.load_history(card, tmp_path / "out")["lr"].tolist()
    assert card["steps"] == 6 and card["train_time_s"] >= first.card["train_time_s"]
    assert len(lr) == 6 and lr[3] == pytest.approx(lr[0])  # its history carried on, in a new cycle
    assert card["weights_sha256"] != first.sha256
    recipe = "python -m explorer train flow --steps-per-level 2 --hidden-channels 16 --batch-size 8 --epochs 1"
    assert card["command"] == f"{recipe} --steps 3 && {recipe} --steps 6 --continue-checkpoint"  # every run, no paths


def test_a_snapshot_of_another_model_is_refused_with_what_to_do(tmp_path):
    tiny = ["--steps-per-level", "2", "--batch-size", "8", "--epochs", "1", "--out", str(tmp_path),
            "--runs", str(tmp_path), "--snapshot-minutes", "1000", "--steps", "2"]
    train_flow.main(tiny + ["--hidden-channels", "16"])
    with pytest.raises(SystemExit, match="snapshot of another model.*own --runs folder, or --fresh"):
        train_flow.main(tiny + ["--hidden-channels", "24", "--steps", "4"])
    train_flow.main(tiny + ["--hidden-channels", "24", "--fresh"])  # the way out it names
    assert checkpoints.load("flow", tmp_path).model.config.hidden_channels == 24


@pytest.mark.parametrize("kind", ["cnf", "gan"])
def test_tasks_that_train_a_copy_take_a_checkpoint_into_both(kind, tiny_checkpoints):
    from explorer.train import cnf as train_cnf, gan as train_gan

    saved = checkpoints.load(kind, tiny_checkpoints).model
    config = saved.config
    args = argparse.Namespace(lr=1e-3, betas=(0.5, 0.999), ema=0.999, dry_run=True, seed=0)
    task = (train_cnf.CNFTask if kind == "cnf" else train_gan.GANTask)(config, args, context())
    task.adopt(saved)
    trained = task.modules["cnf" if kind == "cnf" else "generator"]
    shipped = task.shipped() if kind == "cnf" else task.shipped().generator
    for module in (trained, shipped):
        reference = saved.state_dict() if kind == "cnf" else saved.generator.state_dict()
        assert all(torch.equal(v, reference[k]) for k, v in module.state_dict().items())


def test_warmup_cosine_ramps_then_decays_to_zero():
    assert warmup_cosine(1.0, 0, 100, 10) == pytest.approx(0.1) and warmup_cosine(1.0, 9, 100, 10) == 1.0
    assert warmup_cosine(1.0, 55, 100, 10) == pytest.approx(0.5) and warmup_cosine(1.0, 100, 100, 10) == 0.0
    assert warmup_cosine(1.0, 0, 50, 10) == pytest.approx(0.2)  # the warm-up is at most a tenth of the run


@pytest.mark.parametrize("earlier,expected", [(None, "B"), ("B", "B"), ("A", "A · then B"),
                                              ("A · then B", "A · then B"), ("B · then A", "B · then A · then B")])
def test_a_card_names_each_change_of_hardware_once(earlier, expected):
    assert loop.hardware_so_far(earlier, "B") == expected
