import pytest
import torch

from explorer import checkpoints
from explorer.data import load_mnist
from explorer.models.classifier import Classifier, ClassifierConfig
from explorer.train import classifier as train_classifier
from explorer.train.classifier import jitter

CARD = {"classes": list(range(10)), "train_size": 0, "epochs": 0, "steps": 0, "train_time_s": 0.0,
        "hardware": "test", "metrics": {}, "command": "test"}


@pytest.fixture(scope="module")
def digits():
    return load_mnist("test").as_float()[:32]


@pytest.fixture(scope="module")
def classifier():
    torch.manual_seed(0)
    return Classifier(ClassifierConfig(channels=(4, 8), hidden=16)).eval()


def test_shapes_finite_and_deterministic(classifier, digits):
    logits, feats = classifier(digits), classifier.features(digits)
    assert logits.shape == (32, 10) and feats.shape == (32, 16)
    assert torch.isfinite(logits).all() and torch.isfinite(feats).all()
    assert torch.equal(classifier(digits), logits)


def test_seeded_construction_is_reproducible(digits):
    torch.manual_seed(3)
    a = Classifier(ClassifierConfig(channels=(4, 8), hidden=16)).eval()
    torch.manual_seed(3)
    b = Classifier(ClassifierConfig(channels=(4, 8), hidden=16)).eval()
    assert torch.equal(a(digits), b(digits))


def test_save_load_identity(classifier, digits, tmp_path):
    checkpoints.save(classifier, CARD, "classifier", tmp_path)
    ckpt = checkpoints.load("classifier", tmp_path)
    assert ckpt.card["kind"] == "classifier" and not ckpt.model.training
    assert torch.equal(ckpt.model(digits), classifier(digits))
    assert torch.equal(ckpt.model.features(digits), classifier.features(digits))


def test_jitter_moves_digits_a_little(digits):
    torch.manual_seed(0)
    moved = jitter(digits)
    assert moved.shape == digits.shape and moved.min() >= 0 and moved.max() <= 1
    assert not torch.equal(moved, digits)
    ink_ratio = moved.sum((1, 2, 3)) / digits.sum((1, 2, 3))  # rotation, +-10% scale and 2 px keep the digit in frame
    assert ((ink_ratio > 0.7) & (ink_ratio < 1.3)).all()


def test_dry_run_trains_on_all_ten_digits_and_loss_goes_down(tmp_path):
    train_classifier.main(["--dry-run", "--epochs", "15", "--steps", "30", "--out", str(tmp_path), "--runs", str(tmp_path)])
    ckpt = checkpoints.load("classifier", tmp_path)
    assert ckpt.card["classes"] == list(range(10)) and 0 <= ckpt.card["metrics"]["test_accuracy"] <= 1
    loss = checkpoints.load_history(ckpt.card, tmp_path)["loss"]
    assert len(loss) == 30 and loss[-5:].mean() < loss[:5].mean() - 0.3
