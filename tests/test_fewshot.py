"""Few-shot methods: shapes and ranges, seeds, the shared flow left untouched, scores that mean what they say."""

import hashlib
import json

import numpy as np
import pytest
import torch

from explorer import checkpoints, fewshot, metrics
from explorer.__main__ import main as cli
from explorer.data import HELD_OUT_DIGIT, few_shot, load_mnist
from explorer.models.flow import standard_normal_log_prob


@pytest.fixture(scope="module")
def models(tiny_checkpoints):
    return {name: checkpoints.load(name, tiny_checkpoints).model for name in ("flow", "cnf", "vae", "classifier")}


@pytest.fixture(scope="module")
def examples():
    return few_shot(load_mnist("train"), HELD_OUT_DIGIT, 10, seed=0).as_float()


@pytest.fixture(scope="module")
def ref(models):
    nines = load_mnist("test").held_out().as_float()[:200]
    return fewshot.reference(nines, models["classifier"], models["flow"])


def weights_digest(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@pytest.mark.parametrize("method", fewshot.METHODS)
def test_each_method_returns_n_images_in_unit_range_with_scores(method, models, examples, ref):
    result = fewshot.run(method, examples, ref, **models, n=12, dim=5, seed=0, steps=3)
    assert result.method == method
    assert result.samples.shape == (12, 28, 28) and result.samples.dtype == np.float32
    assert result.samples.min() >= 0 and result.samples.max() <= 1
    s = result.scores
    assert 0 <= s.share_nine <= 1 and s.frechet >= 0 and s.copy_distance >= 0 and s.real_distance > 0
    assert (s.likelihood is None) == (method in ("copy", "cnf", "vae"))


@pytest.mark.parametrize("method", fewshot.METHODS)
def test_the_same_seed_gives_the_same_samples(method, models, examples, ref):
    def samples(seed):
        return fewshot.run(method, examples, ref, **models, n=6, dim=4, seed=seed, steps=2).samples

    first = samples(3)
    assert np.array_equal(first, samples(3))
    assert not np.array_equal(first, samples(4))


def test_finetune_leaves_the_shared_flow_untouched(models, examples):
    flow = models["flow"]
    before = weights_digest(flow)
    flags = [p.requires_grad for p in flow.parameters()]
    steps = []
    tuned = fewshot.finetune(flow, examples, steps=4, seed=0, progress=lambda step, bpd: steps.append((step, bpd)))
    assert weights_digest(flow) == before
    assert [p.requires_grad for p in flow.parameters()] == flags and not flow.training
    assert [s for s, _ in steps] == [1, 2, 3, 4] and all(np.isfinite(b) for _, b in steps)
    original, changed = dict(flow.named_parameters()), dict(tuned.flow.named_parameters())
    frozen = [n for n in original if n.startswith(fewshot.FROZEN)]
    trained = [n for n in original if not n.startswith(fewshot.FROZEN)]
    assert frozen and all(torch.equal(original[n], changed[n]) for n in frozen)
    assert any(not torch.equal(original[n], changed[n]) for n in trained)
    assert tuned.shift.abs().sum() > 0 and tuned.log_scale.abs().sum() > 0  # the prior learned too


def test_a_kept_fine_tune_shares_the_frozen_level_and_holds_no_gradients(models, examples):
    """A class keeps one fine-tune a student: each holds only what it trained, not a copy of the frozen level, the
    dequantizer or the flow's own prior."""
    flow = models["flow"]
    tuned = fewshot.finetune(flow, examples, steps=2, seed=0)
    # it trains on uniform noise, so the learned dequantizer stays shared; its learned prior replaces the flow's
    shared = (*fewshot.FROZEN, "dequantizer", "prior")
    assert flow.dequantizer is not None and flow.prior is not None
    for name in shared:
        assert getattr(tuned.flow, name) is getattr(flow, name)
    assert all(p.grad is None and not p.requires_grad for p in tuned.parameters())
    assert all(getattr(tuned.flow, name) is not module for name, module in flow.named_children()
               if name not in shared)


def test_finetune_lowers_the_examples_bits_per_dim(models, examples):
    flow = models["flow"]
    tuned = fewshot.finetune(flow, examples, steps=15, lr=1e-3, seed=0)
    assert metrics.mean_bits_per_dim(tuned, examples) < metrics.mean_bits_per_dim(flow, examples)


def test_pixel_gaussian_is_fitted_to_the_examples(examples):
    samples, gaussian = fewshot.pixel_gaussian(examples, 5, 8, seed=0)
    assert torch.allclose(gaussian.mean, examples.flatten(1).double().mean(0))
    assert gaussian.dim == 5
    centre, _ = fewshot.pixel_gaussian(examples, 5, 2, seed=0, temperature=0.0)
    assert torch.allclose(centre[0], examples.mean(0).clamp(0, 1), atol=1e-6)


class Pixels:
    """A stand-in model whose codes are the pixels themselves, so the drawn codes can be read back."""
    device = torch.device("cpu")
    far_codes_decode_to_static = True

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)

    def draw(self, z: torch.Tensor) -> torch.Tensor:
        return z


def test_latent_codes_lie_no_farther_out_than_the_farthest_example_where_far_codes_are_static(examples):
    codes, gaussian = fewshot.latent_gaussian(Pixels(), examples, 5, 500, seed=0, temperature=1.5)
    farthest = examples.flatten(1).norm(dim=1).max()
    free = gaussian.sample(500, torch.Generator().manual_seed(0), temperature=1.5)
    assert (free.norm(dim=1) > farthest).any() and (codes.norm(dim=1) <= farthest + 1e-4).all()
    model = Pixels()
    model.far_codes_decode_to_static = False
    assert torch.equal(fewshot.latent_gaussian(model, examples, 5, 500, seed=0, temperature=1.5)[0], free)


def test_reference_prior_bits_per_dim_agrees_with_metrics(models, ref):
    assert ref.flow_prior_bpd == pytest.approx(metrics.mean_bits_per_dim(models["flow"], ref.nines, seed=0), abs=1e-4)


def test_flow_likelihood_uses_the_fitted_gaussian(models, examples, ref):
    result = fewshot.run("flow", examples, ref, flow=models["flow"], n=4, dim=5)
    assert result.scores.likelihood_unit == "bits/dim"
    assert result.scores.likelihood != pytest.approx(ref.flow_prior_bpd)


def test_copying_the_examples_has_distance_zero(examples):
    assert fewshot.nearest_distance(examples, examples) == 0
    assert fewshot.nearest_distance(examples[:3] + 0.1, examples) > 0


def test_methods_without_their_checkpoint_say_so(examples, ref):
    with pytest.raises(ValueError, match="vae checkpoint"):
        fewshot.run("vae", examples, ref, n=4)
    with pytest.raises(ValueError, match="method"):
        fewshot.run("magic", examples, ref, n=4)


def test_scores_without_a_classifier_leave_its_numbers_out(examples, ref):
    result = fewshot.run("pixel", examples, ref, n=4)
    assert result.scores.share_nine is None and result.scores.frechet is None


@pytest.mark.parametrize("score", [False, True])
@pytest.mark.parametrize("method", fewshot.METHODS)
def test_cli_writes_the_samples_of_every_method(method, score, tiny_checkpoints, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(tiny_checkpoints))
    out = tmp_path / "nines.npy"
    cli(["fewshot", "--method", method, "--k", "5", "--seed", "2", "--n", "6", "--steps", "2", "--out", str(out)]
        + (["--json"] if score else []))
    samples = np.load(out)
    assert samples.shape == (6, 28, 28) and samples.dtype == np.float32
    assert samples.min() >= 0 and samples.max() <= 1
    printed, told = capsys.readouterr()
    assert "wrote 6 few-shot 9s" in told
    if score:
        row = json.loads(printed)
        assert row["method"] == method and 0 <= row["share_nine"] <= 1 and row["frechet"] >= 0
        assert (row["likelihood"] is None) == (method in ("copy", "cnf", "vae"))
        assert row["diversity"] >= 0 and set(row["real_test_nines"]) == {"recognizability", "diversity"}
    else:
        assert printed == ""


def test_transfer_curve_starts_at_the_shared_flow_and_ends_at_the_tuned_copy(models, examples, ref):
    tuned = fewshot.transfer(models["flow"], examples, ref, steps=10, lr=1e-3, classifier=models["classifier"])
    steps = [step for step, _, _ in tuned.curve]
    assert steps == sorted(set(steps)) and steps[0] == 0 and steps[-1] == 10 and len(steps) == fewshot.CURVE_POINTS
    first = fewshot.reference(ref.nines[:fewshot.CURVE_NINES], flow=models["flow"])
    standard = fewshot.bits_per_dim(standard_normal_log_prob(first.flow_z.double()), first.flow_log_det)
    assert tuned.curve[0][2] == pytest.approx(standard, abs=1e-4)  # before training: the flow with an N(0, I) prior
    assert tuned.curve[-1][2] != tuned.curve[0][2]
    assert all(0 <= share <= 1 for _, share, _ in tuned.curve)


def test_transfer_records_its_training_and_scores_the_test_nines(models, examples, ref):
    tuned = fewshot.transfer(models["flow"], examples, ref, steps=5)
    assert len(tuned.history) == 5 and all(np.isfinite(tuned.history))
    assert tuned.test_bpd == pytest.approx(metrics.mean_bits_per_dim(tuned.flow, ref.nines, seed=0), abs=1e-4)
    again = fewshot.run("finetune", examples, ref, flow=models["flow"], n=4, tuned=tuned)
    assert again.scores.likelihood == tuned.test_bpd


def test_static_samples_are_counted_and_never_called_nine(models, examples, ref):
    noise = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    scores = fewshot.score(torch.cat([noise, examples[:4]]), examples, ref, models["classifier"])
    assert scores.static == 6
    called = (metrics.predict_proba(models["classifier"], examples[:4]).argmax(1) == HELD_OUT_DIGIT).sum().item()
    assert scores.share_nine == pytest.approx(called / 10)


def test_copies_are_the_examples_and_sit_at_distance_zero(models, examples, ref):
    result = fewshot.run("copy", examples, ref, classifier=models["classifier"], n=16, seed=0)
    pool = examples[:, 0].numpy()
    assert all(any(np.array_equal(sample, e) for e in pool) for sample in result.samples)
    assert result.scores.copy_distance < 1e-6 and result.scores.likelihood is None


def test_the_bayesian_update_shrinks_the_codes_mean_towards_zero(models, examples):
    flow = models["flow"]
    _, mean, std = fewshot.bayesian_update(flow, examples, n=4, seed=0)
    z = flow.encode(examples).double()
    assert torch.allclose(mean, z.sum(0) / (len(z) + 1)) and std == pytest.approx((1 + 1 / 11) ** 0.5)


def test_the_updated_prior_scores_the_test_nines_as_a_gaussian_with_that_mean_and_spread(models, ref):
    zeros, one = torch.zeros(784, dtype=torch.float64), 1.0
    value, unit = fewshot.bayesian_likelihood(zeros, one, ref)
    assert unit == "bits/dim" and value == pytest.approx(
        fewshot.bits_per_dim(standard_normal_log_prob(ref.flow_z.double()), ref.flow_log_det))  # N(0, I) itself
    wider, _ = fewshot.bayesian_likelihood(zeros, 2.0, ref)
    assert wider != pytest.approx(value)


def test_diversity_is_zero_for_copies_of_one_image_and_the_reference_has_both_axes(models, examples, ref):
    assert fewshot.diversity(np.ones((5, 3))) == 0.0
    assert fewshot.diversity(np.array([[0.0], [2.0]])) == pytest.approx(1.0)
    assert 0 <= ref.share_nine <= 1 and ref.diversity > 0
    one = fewshot.run("copy", examples[:1], ref, classifier=models["classifier"], n=8, seed=0)
    assert one.scores.diversity == pytest.approx(0.0, abs=1e-6)
