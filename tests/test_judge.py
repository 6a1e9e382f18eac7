import numpy as np
import torch

from explorer import judge
from explorer.data import load_mnist


def test_the_static_threshold_is_the_noisiest_test_digit():
    tv = judge.total_variation(load_mnist("test").as_float())
    assert abs(tv.max().item() - judge.MNIST_MAX_TV) < 0.01
    assert not judge.is_static(load_mnist("test").as_float()).any()


def test_noise_is_static_and_digits_and_blanks_are_not():
    noise = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    digits = load_mnist("train").as_float()[:100]
    assert judge.is_static(noise).all()
    assert not judge.is_static(digits).any() and not judge.is_static(np.zeros((2, 28, 28))).any()


def test_static_gets_no_digit_label():
    images = torch.zeros(2, 1, 28, 28)
    images[1] = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(1))
    probs = torch.tensor([[0.0] * 8 + [0.99, 0.01], [0.0] * 8 + [0.99, 0.01]])
    assert judge.readings(probs, images) == ["8  99%", judge.STATIC]


def test_the_stroke_threshold_is_the_faintest_training_digit():
    train = load_mnist("train").as_float()
    assert ((train >= 0.5).flatten(1).sum(1).min().item()) == judge.MNIST_MIN_STROKE
    assert judge.has_stroke(train).all() and not judge.has_stroke(torch.full((1, 28, 28), 0.2)).any()
