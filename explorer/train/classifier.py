"""Train the digit classifier on all ten digits, with small random affine jitter of the training images.

    python -m explorer train classifier --epochs 5

It is the one model that sees digit 9 in training: it judges samples of the generative models, so it
must know what a 9 looks like. The jitter (rotation, scale, shift) runs on tensors, batched on the device.
"""

from __future__ import annotations

import argparse
import math

import torch
import torch.nn.functional as F

from ..models.classifier import Classifier, ClassifierConfig
from .loop import Context, Task, add_common_args, fit, make_context, parse, set_learning_rate
from .schedules import cosine

MAX_ROTATION_DEG, MAX_SCALE_CHANGE, MAX_SHIFT_PX = 10.0, 0.1, 2.0


def jitter(x: torch.Tensor) -> torch.Tensor:
    """Images (N, 1, 28, 28) each rotated, scaled and shifted by a small random amount (bilinear resampling)."""
    n = len(x)
    angle = (torch.rand(n, device=x.device) * 2 - 1) * math.radians(MAX_ROTATION_DEG)
    scale = 1 + (torch.rand(n, device=x.device) * 2 - 1) * MAX_SCALE_CHANGE
    shift = (torch.rand(n, 2, device=x.device) * 2 - 1) * MAX_SHIFT_PX * 2 / 28  # in [-1, 1] grid units
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)  # (N, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


class ClassifierTask(Task):
    def __init__(self, config: ClassifierConfig, args: argparse.Namespace, ctx: Context):
        model = Classifier(config).to(ctx.device)
        super().__init__(name="classifier", modules={"classifier": model}, classes=tuple(range(10)),
                         optimizers={"adam": torch.optim.Adam(model.parameters(), lr=args.lr)})
        self.model, self.net, self.ctx, self.args = model, ctx.wrap(model), ctx, args

    def step(self, x: torch.Tensor, y: torch.Tensor, step: int) -> dict[str, float]:
        opt = self.optimizers["adam"]
        set_learning_rate(cosine(self.args.lr, step, self.total_steps), opt)
        with self.ctx.autocast():
            logits = self.net(jitter(x))
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        accuracy = (logits.argmax(1) == y).float().mean().item()
        self.log(loss=loss.item(), accuracy=accuracy)
        return {"loss": loss.item(), "acc": accuracy}

    def evaluate(self, test_x: torch.Tensor, test_y: torch.Tensor) -> dict[str, float]:
        predicted = torch.cat([self.model(test_x[i:i + 1000]).argmax(1) for i in range(0, len(test_x), 1000)])
        return {"test_accuracy": round((predicted == test_y).float().mean().item(), 5)}


TASK = ClassifierTask  # this kind's trainer, for tools that drive any kind's training step


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m explorer train classifier", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = ClassifierConfig()
    parser.add_argument("--channels", type=int, nargs=2, default=list(defaults.channels), metavar=("C1", "C2"))
    parser.add_argument("--hidden", type=int, default=defaults.hidden)
    parser.add_argument("--dropout", type=float, default=defaults.dropout)
    add_common_args(parser, epochs=5, batch_size=128, lr=2e-3)
    args = parse(parser, argv)
    if args.dry_run:
        args.channels, args.hidden, args.steps = [8, 16], 32, args.steps or 30
    config = ClassifierConfig(channels=tuple(args.channels), hidden=args.hidden, dropout=args.dropout)
    ctx = make_context(args)
    fit(ClassifierTask(config, args, ctx), args, ctx)


if __name__ == "__main__":
    main()
