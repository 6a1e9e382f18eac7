import json

import numpy as np
import pytest
import torch

from explorer import checkpoints
from explorer.__main__ import main
from explorer.evaluate import evaluate

EXPECTED = {
    "vae": {"test_neg_elbo_nats_digits_0_8", "test_iwae_nll_nats_digits_0_8", "iwae_samples", "classifier_fd",
            "classifier_fd_floor", "share_called_9", "share_confident_0_8", "largest_share_gap_0_8",
            "fd_samples"},
    "classifier": {"test_accuracy"},
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Dry-run checkpoints of a VAE and the classifier, as `evaluate` finds them in a checkpoint folder."""
    path = tmp_path_factory.mktemp("checkpoints")
    for kind in ("vae", "classifier"):
        main(["train", kind, "--dry-run", "--steps", "5", "--out", str(path), "--runs", str(path / "runs")])
    return path


@pytest.fixture
def env(folder, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(folder))
    return folder


def test_sample_writes_seeded_images(env, tmp_path):
    def sample(seed: int) -> np.ndarray:
        out = tmp_path / f"s{seed}.npy"
        main(["sample", "vae", "--n", "6", "--seed", str(seed), "--temperature", "0.8", "--out", str(out)])
        return np.load(out)

    first = sample(3)
    assert first.shape == (6, 28, 28) and first.dtype == np.float32
    assert first.min() >= 0 and first.max() <= 1
    assert np.array_equal(first, sample(3)) and not np.array_equal(first, sample(4))
    model = checkpoints.load("vae").model  # the CLI draws exactly what the model interface draws
    expected = model.sample(6, temperature=0.8, generator=torch.Generator().manual_seed(3))[:, 0].numpy()
    assert np.allclose(first, expected, atol=1e-6)


def test_sample_refuses_a_classifier(env, tmp_path):
    with pytest.raises(SystemExit):
        main(["sample", "classifier", "--out", str(tmp_path / "x.npy")])


def test_evaluate_prints_and_stores_the_metrics(env, capsys):
    weights_before = checkpoints.sha256_file(env / "vae.safetensors")
    main(["evaluate", "--json", "--samples", "100", "--iwae-samples", "5", "--test-images", "100"])
    out, _ = capsys.readouterr()
    rows = {row["name"]: row for row in map(json.loads, out.splitlines())}
    assert set(rows) == set(EXPECTED)  # the models whose cards are in the folder, and no others
    for name, keys in EXPECTED.items():
        assert set(rows[name]["metrics"]) == keys
        assert checkpoints.read_card(name)["metrics"].items() >= rows[name]["metrics"].items()
    vae = rows["vae"]["metrics"]
    assert vae["test_iwae_nll_nats_digits_0_8"] > 0 and vae["classifier_fd"] >= 0
    assert 0 <= vae["share_called_9"] <= 1 and 0 <= vae["share_confident_0_8"] <= 1
    assert 0 <= vae["largest_share_gap_0_8"] <= 1
    assert checkpoints.sha256_file(env / "vae.safetensors") == weights_before
    checkpoints.load("vae")  # the card still matches the weights

    main(["evaluate", "--names", "vae", "--samples", "100", "--iwae-samples", "5", "--test-images", "100"])
    table = capsys.readouterr().out
    assert "classifier_fd" in table and "(floor" in table and "test_iwae_nll_nats_digits_0_8" in table


def test_evaluate_reproduces_its_own_numbers(tiny_checkpoints):
    """Every random draw in evaluation is seeded: a second run on the same weights writes the same numbers."""
    def measure():
        return evaluate(["flow", "cnf", "vae", "gan"], directory=tiny_checkpoints, samples=64, iwae_samples=3,
                        test_images=40, write=False).metrics

    first = measure()
    assert set(first) == {"flow", "cnf", "vae", "gan"} and all(first.values())
    assert first["flow"]["dequantizer_draws"] == 8  # the flow's learned dequantizer has its importance-weighted bound
    assert first["flow"]["test_bpd_learned_digits_0_8"] > 0
    assert measure() == first
