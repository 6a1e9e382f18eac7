import torch

from explorer import analogies, checkpoints
from explorer.data import load_mnist


class Oracle(torch.nn.Module):
    """A stand-in classifier that reads every image as ``digit``."""

    def __init__(self, digit: int):
        super().__init__()
        self.digit, self.weight = digit, torch.nn.Parameter(torch.zeros(1))

    def features(self, x):
        return torch.zeros(len(x), 2)

    def head(self, f):
        logits = torch.full((len(f), 10), -10.0)
        logits[:, self.digit] = 10.0
        return logits


def test_success_is_the_share_answered_with_the_digit_of_b(tiny_checkpoints):
    vae, test = checkpoints.load("vae", tiny_checkpoints).model, load_mnist("test")
    rates = {d: analogies.success_rate(vae, Oracle(d), test, trials=90) for d in (0, 4, 9)}
    assert rates[9] == 0  # a 9 is never right: b is always one of 0-8
    assert 0 < rates[0] < 0.25 and 0 < rates[4] < 0.25  # each digit is b in about one trial in nine
    assert analogies.success_rate(vae, Oracle(4), test, trials=90) == rates[4]  # seeded


def test_known_codes_give_the_same_rate_without_encoding(tiny_checkpoints):
    vae, test = checkpoints.load("vae", tiny_checkpoints).model, load_mnist("test")
    asked = []

    def codes_of(rows):
        asked.append(len(rows))
        return vae.encode(test.numbered(rows).as_float())

    assert analogies.success_rate(vae, Oracle(4), test, trials=30, codes_of=codes_of) == \
        analogies.success_rate(vae, Oracle(4), test, trials=30)
    assert asked == [90]  # a, b and c of each trial, asked for once
