import json
import pickle

import pytest
import torch

from explorer import checkpoints
from explorer.checkpoints import CardMismatch, CheckpointCorrupt, CheckpointMissing, UnsupportedFormat
from explorer.models.flow import Flow, FlowConfig
from model_checks import CARD


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = Flow(FlowConfig(steps_per_level=1, hidden_channels=8))
    checkpoints.save(model, CARD, "flow", tmp_path, history={"loss": torch.arange(5.0)})
    return model, tmp_path


def test_round_trip_keeps_weights_card_and_history(saved):
    model, folder = saved
    ckpt = checkpoints.load("flow", folder)
    for key, value in model.state_dict().items():
        assert torch.equal(ckpt.model.state_dict()[key], value)
    assert ckpt.card["kind"] == "flow" and ckpt.card["config"]["hidden_channels"] == 8
    assert ckpt.sha256 == checkpoints.sha256_file(folder / "flow.safetensors") == ckpt.card["weights_sha256"]
    assert torch.equal(checkpoints.load_history(ckpt.card, folder)["loss"], torch.arange(5.0))
    assert checkpoints.available(folder) == ["flow"]


def test_resident_hash_notices_any_change_to_the_weights_in_memory(saved):
    _, folder = saved
    ckpt = checkpoints.load("flow", folder)
    assert ckpt.unchanged() and ckpt.resident_at_load == checkpoints.resident_sha256(ckpt.model)
    with torch.no_grad():
        next(ckpt.model.parameters()).view(-1)[0] += 1e-6
    assert not ckpt.unchanged()


def test_missing_card_and_missing_weights(saved, tmp_path):
    _, folder = saved
    with pytest.raises(CheckpointMissing, match="no card"):
        checkpoints.load("vae", folder)
    (folder / "flow.safetensors").unlink()
    with pytest.raises(CheckpointMissing, match="weights .* missing"):
        checkpoints.load("flow", folder)


def test_truncated_weights(saved):
    _, folder = saved
    weights = folder / "flow.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(CheckpointCorrupt, match="truncated or corrupt"):
        checkpoints.load("flow", folder)


def test_malicious_pickle_is_refused_without_running(saved, tmp_path):
    _, folder = saved
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (folder / "flow.safetensors").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(CheckpointCorrupt):
        checkpoints.load("flow", folder)
    assert not marker.exists()


def test_card_of_other_weights(saved):
    _, folder = saved
    other = Flow(FlowConfig(steps_per_level=1, hidden_channels=8))
    checkpoints.save(other, CARD, "other", folder)
    (folder / "other.safetensors").replace(folder / "flow.safetensors")
    with pytest.raises(CardMismatch, match="sha256"):
        checkpoints.load("flow", folder)


def test_card_config_contradicting_weights(saved):
    _, folder = saved
    card = json.loads((folder / "flow.json").read_text())
    card["config"]["hidden_channels"] = 16
    (folder / "flow.json").write_text(json.dumps(card))
    with pytest.raises(CardMismatch, match="do not fit"):
        checkpoints.load("flow", folder)


@pytest.mark.parametrize("edit,error,message", [
    (lambda card: card.update(format_version=99), UnsupportedFormat, "version 99"),
    (lambda card: card.update(kind="transformer"), CardMismatch, "unknown model kind"),
    (lambda card: card.pop("metrics"), CheckpointCorrupt, "lacks metrics"),
])
def test_bad_cards(saved, edit, error, message):
    _, folder = saved
    card = json.loads((folder / "flow.json").read_text())
    edit(card)
    (folder / "flow.json").write_text(json.dumps(card))
    with pytest.raises(error, match=message):
        checkpoints.load("flow", folder)


def test_card_that_is_not_json(saved):
    _, folder = saved
    (folder / "flow.json").write_text("{ nope")
    with pytest.raises(CheckpointCorrupt, match="not valid JSON"):
        checkpoints.read_card("flow", folder)
