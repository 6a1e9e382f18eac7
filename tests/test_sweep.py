import json

import pytest

from explorer import checkpoints, fewshot, sweep
from explorer.data import load_mnist


@pytest.fixture(scope="module")
def models(tiny_checkpoints):
    return {name: checkpoints.load(name, tiny_checkpoints).model for name in ("flow", "vae", "classifier")}


def test_one_row_per_method_k_and_seed_leaving_out_methods_without_their_checkpoint(models):
    ref = fewshot.reference(load_mnist("test").held_out().as_float()[:100], models["classifier"], models["flow"])
    rows = sweep.measure(models, ref, load_mnist("train"), methods=("pixel", "copy", "cnf", "vae"), ks=(1, 3),
                         seeds=(0, 1), n=8)
    assert [(r["method"], r["k"], r["seed"]) for r in rows][:4] == [("pixel", 1, 0), ("pixel", 1, 1), ("pixel", 3, 0),
                                                                   ("pixel", 3, 1)]
    assert {r["method"] for r in rows} == {"pixel", "copy", "vae"} and len(rows) == 12
    assert all(0 <= r["share_nine"] <= 1 and r["diversity"] >= 0 for r in rows)
    copies = [r for r in rows if r["method"] == "copy" and r["k"] == 1]
    assert all(r["diversity"] == pytest.approx(0, abs=1e-6) for r in copies)  # one example, copied


def test_a_stored_sweep_belongs_to_its_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(tmp_path))
    shas = {"flow": "a" * 64, "cnf": None, "vae": "b" * 64, "classifier": "c" * 64}
    sweep.write([{"method": "pixel", "k": 1}], {**shas, "flow": "0" * 64})
    path = sweep.write([{"method": "copy", "k": 2}], shas)
    assert [p.name for p in (tmp_path / "fewshot").iterdir()] == [path.name]  # the older weights' sweep is gone
    assert sweep.stored(shas) == [{"method": "copy", "k": 2}]
    assert sweep.stored({**shas, "vae": "d" * 64}) is None
    assert json.loads(path.read_text())["weights"] == shas


def test_new_weights_of_one_model_keep_the_rows_that_do_not_depend_on_it(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(tmp_path))
    shas = {"flow": "a" * 64, "cnf": "e" * 64, "vae": "b" * 64, "classifier": "c" * 64}
    rows = [{"method": m, "k": 1} for m in ("pixel", "flow", "cnf", "vae")]
    sweep.write(rows, shas)
    assert [r["method"] for r in sweep.reusable({**shas, "cnf": "f" * 64})] == ["pixel", "flow", "vae"]
    assert [r["method"] for r in sweep.reusable({**shas, "flow": "f" * 64})] == []  # the reference changes
    assert sweep.reusable(shas) == rows


def test_a_new_fine_tuning_rule_invalidates_only_the_fine_tune_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(tmp_path))
    shas = {"flow": "a" * 64, "cnf": "e" * 64, "vae": "b" * 64, "classifier": "c" * 64}
    sweep.write([{"method": m, "k": 1} for m in ("pixel", "finetune")], shas)
    monkeypatch.setattr(sweep, "FINETUNE", {**sweep.FINETUNE, "steps": sweep.FINETUNE["steps"] + 10})
    assert sweep.stored(shas) is None  # the page never shows rows of another rule
    assert [r["method"] for r in sweep.reusable(shas)] == ["pixel"]


def test_a_change_in_the_methods_code_invalidates_every_row(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(tmp_path))
    shas = {"flow": "a" * 64, "cnf": "e" * 64, "vae": "b" * 64, "classifier": "c" * 64}
    rows = [{"method": m, "k": 1} for m in ("pixel", "flow")]
    sweep.write(rows, shas)
    assert sweep.reusable(shas) == rows
    monkeypatch.setattr(sweep, "methods_code", lambda: "0" * 12)
    assert sweep.reusable(shas) == []
    assert sweep.stored(shas) == rows  # the page still shows the stored sweep of these weights
