import json
import shutil

from explorer import catalogue, checkpoints


def test_the_shipped_models_by_role():
    assert catalogue.names() == ["flow", "cnf", "vae", "vae2", "gan", "classifier"]
    assert catalogue.generative() == ["flow", "cnf", "vae", "vae2", "gan"]
    assert catalogue.generative(first="vae") == ["vae", "vae2", "flow", "cnf", "gan"]
    assert catalogue.judge() == "classifier" and catalogue.with_latent_dim(2) == ["vae2"]
    assert catalogue.gans() == ["gan"] and catalogue.with_likelihood() == ["flow", "cnf", "vae", "vae2"]


def test_a_new_card_adds_a_model_and_an_unreadable_one_keeps_its_name(tiny_checkpoints, tmp_path):
    directory = tmp_path / "checkpoints"
    shutil.copytree(tiny_checkpoints, directory)
    for suffix in (".safetensors", ".json"):
        shutil.copy(directory / f"vae{suffix}", directory / f"vae-beta4{suffix}")
    card = json.loads((directory / "vae-beta4.json").read_text())
    (directory / "vae-beta4.json").write_text(json.dumps({**card, "name": "vae-beta4"}))
    checkpoints.paths("gan", directory)[1].write_text("{ not json")
    checkpoints.paths("vae2", directory)[1].unlink()
    assert catalogue.generative(directory) == ["flow", "cnf", "vae", "vae-beta4"]
    assert catalogue.names(directory)[-2:] == ["gan", "vae2"]  # listed, so their errors can be shown
    assert catalogue.gans(directory) == []  # an unreadable card has no kind: no page replays its training
