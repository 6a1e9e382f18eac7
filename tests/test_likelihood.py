import numpy as np
import pytest
import torch

from explorer import checkpoints, likelihood, metrics
from explorer.data import load_mnist
from explorer.models.flow import Flow


@pytest.fixture(scope="module")
def models(tiny_checkpoints):
    return {name: checkpoints.load(name, tiny_checkpoints) for name in ("flow", "cnf", "vae")}


@pytest.fixture(scope="module")
def digit():
    return load_mnist("test").as_float()[:1]


@pytest.mark.parametrize("name", ["flow", "cnf", "vae"])
def test_one_image_always_gets_one_reading(models, digit, name):
    model = models[name].model
    first, again = likelihood.read(model, digit), likelihood.read(model, digit)
    assert first == again and np.isfinite(first.bits_per_dim)
    assert first.code_bytes == pytest.approx(first.bits_per_dim * 784 / 8)
    assert 0 <= first.round_trip_levels <= 255


def test_the_vae_bound_is_the_evaluated_bound_of_the_black_and_white_image(models, digit):
    vae = models["vae"].model
    nats = metrics.vae_iwae_nll(vae, (digit > 0.5).float(), k=likelihood.VAE_BOUND_SAMPLES)
    assert likelihood.bits_per_dim(vae, digit).item() == pytest.approx(nats / (784 * np.log(2)), rel=1e-5)


def test_the_flow_returns_every_grey_level(models, digit):
    assert likelihood.read(models["flow"].model, digit).round_trip_levels == 0


@pytest.mark.parametrize("name", ["flow", "cnf"])
def test_an_image_reads_the_same_alone_and_in_a_batch(models, name):
    x = load_mnist("test").as_float()[:3]
    model = models[name].model
    assert likelihood.bits_per_dim(model, x[1:2]).item() == pytest.approx(likelihood.bits_per_dim(model, x)[1].item(),
                                                                        rel=1e-5)


@pytest.mark.parametrize("name", ["flow", "cnf"])
def test_sensitivity_is_the_gradient_of_bits_per_dim(models, digit, name):
    model = models[name].model
    grad = likelihood.sensitivity(model, digit)
    assert grad.shape == (28, 28) and np.isfinite(grad).all()
    i, j = np.unravel_index(np.abs(grad).argmax(), grad.shape)
    y, probes = likelihood.fixed_draws(digit)
    brighter = y.clone()
    brighter[0, 0, i, j] += 1e-3
    if name == "flow":
        cost = lambda image: -model.log_prob_from(*model(image)).item()  # noqa: E731
    else:
        cost = lambda image: -model.log_density(image, probes, likelihood.CNF_STEPS).item()  # noqa: E731
        assert cost(y) / (784 * np.log(2)) == pytest.approx(likelihood.bits_per_dim(model, digit).item(), rel=1e-5)
    with torch.no_grad():
        change = cost(brighter) - cost(y)
    assert change / (784 * np.log(2)) == pytest.approx(grad[i, j] * 256 * 1e-3, rel=0.05)


def test_the_vae_pixel_costs_split_its_decoding_cost(models, digit):
    vae = models["vae"].model
    costs = likelihood.pixel_costs(vae, digit)
    binary = (digit > 0.5).float()
    with torch.no_grad():
        logits = vae.decoder_logits(vae.encode(binary))
        nats = torch.nn.functional.binary_cross_entropy_with_logits(logits, binary, reduction="sum").item()
    assert costs.shape == (28, 28) and (costs >= 0).all()
    assert costs.sum() == pytest.approx(nats / np.log(2), rel=1e-4)


def test_png_size_counts_bytes_and_simple_images_are_small():
    assert likelihood.png_size(np.zeros((28, 28))) < likelihood.png_size(np.random.default_rng(0).random((28, 28)))


def test_measurements_are_made_once_then_read_back(models, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path))
    monkeypatch.setattr(likelihood, "REFERENCE_IMAGES", 150)
    flow = models["flow"]
    calls = []
    made = likelihood.measure(flow.model, "flow", flow.sha256, progress=calls.append)
    assert made.test.shape == (150,) and calls[-1] == 1.0
    assert list(made.gallery) == list(likelihood.gallery(load_mnist("test")))
    again = likelihood.stored("flow", flow.sha256)
    assert np.array_equal(again.test, made.test) and again.gallery == pytest.approx(made.gallery)
    blank = likelihood.bits_per_dim(flow.model, likelihood.special("blank")).item()
    assert made.gallery["blank"] == pytest.approx(blank, rel=1e-5)  # measured as a single image is
    assert likelihood.share_less_likely(float(np.median(made.test)), made.test) == pytest.approx(0.5, abs=0.01)


def test_precompute_writes_only_likelihood_models_and_removes_stale_files(models, tiny_checkpoints, tmp_path,
                                                                        monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(tiny_checkpoints))
    monkeypatch.setattr(likelihood, "REFERENCE_IMAGES", 20)
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "cache"))
    stale = tmp_path / "flow-000000000000-likelihood-n20.npz"
    np.savez(stale, test=np.zeros(2))
    logged = []
    written = likelihood.precompute(["flow", "gan"], out=tmp_path, log=logged.append)
    assert [p.name for p in written] == [likelihood.file_name("flow", models["flow"].sha256)]
    assert not stale.exists() and any("gan" in line and "no likelihood" in line for line in logged)


@pytest.mark.parametrize("how", likelihood.TRANSFORMS)
def test_transforms_keep_the_frame_and_the_range(digit, how):
    changed = likelihood.transformed(digit, how)
    assert changed.shape == digit.shape and 0 <= changed.min() and changed.max() <= 1
    assert not torch.equal(changed, digit)


def test_the_gallery_holds_digits_specials_and_changed_digits():
    items = likelihood.gallery(load_mnist("test"))
    assert len(items) == 3 + len(likelihood.SPECIALS) + len(likelihood.TRANSFORMS)
    assert all(x.shape == (1, 1, 28, 28) for x in items.values())
