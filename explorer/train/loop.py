"""The training loop every trainer shares: resident data, batches, progress, snapshots, DDP, the final checkpoint.

A trainer describes one ``Task`` (its modules, optimisers and one training step); this module does the rest.
Data stays on the training device as tensors and batches are index slices, so no per-image Python runs.
Run under ``torchrun --nproc_per_node=N`` the same command trains with DistributedDataParallel:
each rank takes its shard of every epoch's permutation, and rank 0 alone writes snapshots and checkpoints.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from .. import checkpoints
from ..cards import THEN
from ..data import SEEN_DIGITS, load_mnist
from ..device import cpu, describe, fast_bf16, pick_device

DRY_RUN_IMAGES = 256
# Options a card's command leaves out: where files go and when one invocation stops, never what the weights become.
NOT_THE_RECIPE = ("--out", "--runs", "--snapshot-minutes", "--max-minutes")


@dataclass
class Task:
    """What a trainer hands the loop. ``step`` trains on one batch and returns numbers to show and log."""

    name: str
    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    classes: tuple[int, ...] = SEEN_DIGITS
    history: dict[str, list[float]] = field(default_factory=dict)  # per-step numbers, stored with the checkpoint
    artifacts: dict[str, torch.Tensor] = field(default_factory=dict)  # e.g. the GAN's per-epoch sample grids
    total_steps: int = 0  # set by ``fit`` before training, for learning-rate schedules
    cycle_start: int = 0  # the step where this learning-rate cycle began (``--new-cycle``), 0 for most runs

    def prepare(self, train_x: torch.Tensor) -> None:
        """Called before the first step of a run, resumed or not, with the whole training set: set-up the weights
        need from all of it (the flow fits a new mixture prior to the training digits' codes)."""

    def step(self, x: torch.Tensor, y: torch.Tensor, step: int) -> dict[str, float]:
        raise NotImplementedError

    def end_epoch(self, epoch: int) -> None:
        """Called on rank 0 after each epoch (the GAN renders its fixed-noise grid here)."""

    def shipped(self) -> nn.Module:
        """The model that goes into the checkpoint."""
        return next(iter(self.modules.values()))

    def adopt(self, model: nn.Module) -> None:
        """Take a saved checkpoint's weights (``--continue-checkpoint``); tasks that train a copy of what they ship
        load it into both."""
        _unwrap(self.shipped()).load_state_dict(model.state_dict())

    def evaluate(self, test_x: torch.Tensor, test_y: torch.Tensor) -> dict[str, float]:
        """Quick held-out metrics for the card; ``python -m explorer evaluate`` computes the full set."""
        return {}

    def log(self, **values: float) -> None:
        for key, value in values.items():
            self.history.setdefault(key, []).append(float(value))


def set_learning_rate(lr: float, *optimizers: torch.optim.Optimizer) -> float:
    """Give every parameter group of ``optimizers`` the rate ``lr`` (a schedule's value for this step); returns it."""
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            group["lr"] = lr
    return lr


@torch.no_grad()
def update_average(average: nn.Module, current: nn.Module, decay: float, step: int) -> None:
    """Move ``average``'s weights toward ``current``'s (an exponential moving average, buffers copied); the decay
    ramps up as (1 + step) / (10 + step) so early averages do not lag far behind."""
    decay = min(decay, (1 + step) / (10 + step))
    for a, c in zip(average.parameters(), current.parameters()):
        a.lerp_(c, 1 - decay)
    for a, c in zip(average.buffers(), current.buffers()):
        a.copy_(c)


def add_common_args(parser: argparse.ArgumentParser, *, epochs: int, batch_size: int, lr: float) -> None:
    parser.add_argument("--name", help="checkpoint name (default: the model kind)")
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: best available)")
    parser.add_argument("--out", type=Path, default=None, help="checkpoint folder (default: checkpoints/)")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="folder for resumable snapshots")
    parser.add_argument("--snapshot-minutes", type=float, default=5.0)
    parser.add_argument("--max-minutes", type=float, default=None, help="stop (and save) after this many minutes of this invocation")
    parser.add_argument("--fresh", action="store_true", help="ignore an existing snapshot instead of resuming")
    parser.add_argument("--continue-checkpoint", action="store_true",
                        help="without a snapshot, start from the checkpoint of this --name in --out (its weights, "
                             "epochs, steps, minutes and history; a fresh optimiser) and train it further in a new "
                             "learning-rate cycle, as --new-cycle does")
    parser.add_argument("--new-cycle", action="store_true",
                        help="train a finished run further: resume, then warm up and decay the learning rate again "
                             "over the steps up to --epochs (schedules that support it: the flows')")
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast where the device runs it natively (float32 elsewhere)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the training modules")
    parser.add_argument("--dry-run", action="store_true", help="tiny data, a few steps, seconds; writes to --out")
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps (dry runs)")


@dataclass
class Context:
    """Everything a task needs to know about where it runs."""

    device: torch.device
    rank: int = 0
    world_size: int = 1
    amp: bool = False
    compile: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, module: nn.Module) -> nn.Module:
        """The module as the training step should call it: DDP-wrapped when distributed, compiled with --compile.
        The module itself stays as it is, so checkpoints and snapshots store plain weights."""
        if self.world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            module = nn.parallel.DistributedDataParallel(module, device_ids=ids)
        return torch.compile(module) if self.compile else module

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)


def make_context(args: argparse.Namespace) -> Context:
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    rank = int(os.environ.get("RANK", 0))
    device = pick_device(args.device)
    if world_size > 1:
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cpu":
        torch.set_flush_denormal(True)
    torch.manual_seed(args.seed)
    amp = args.amp and fast_bf16(device)
    if args.amp and not amp and rank == 0:
        print(f"--amp: {describe(device)} has no native bfloat16 (emulated, it is many times slower); "
              "training in float32")
    return Context(device=device, rank=rank, world_size=world_size, amp=amp, compile=args.compile)


def resident_data(classes, device: torch.device, dry_run: bool):
    """Train and test images (float, N x 1 x 28 x 28 in [0, 1]) and labels of ``classes``, on ``device``."""
    train, test = load_mnist("train").of_classes(classes), load_mnist("test").of_classes(classes)
    if dry_run:
        train, test = train.where(torch.arange(len(train)) < DRY_RUN_IMAGES), test.where(torch.arange(len(test)) < DRY_RUN_IMAGES)
    return train.as_float(device), train.labels.to(device), test.as_float(device), test.labels.to(device)


def epoch_batches(n: int, batch_size: int, epoch: int, seed: int, ctx: Context):
    """This rank's batches of indices for ``epoch``: one shared permutation, sharded across ranks, full batches only."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
    order = order[ctx.rank::ctx.world_size]
    return [order[i:i + batch_size] for i in range(0, len(order) - batch_size + 1, batch_size)]


def hardware(ctx: Context) -> str:
    where = describe(ctx.device)
    if ctx.world_size > 1:
        where = f"{ctx.world_size} x {where}"
    precision = "bfloat16 autocast" if ctx.amp else "float32"
    return f"{where}; {cpu()}, {os.cpu_count()} CPU cores; {precision}; torch {torch.__version__}"


def fit(task: Task, args: argparse.Namespace, ctx: Context) -> Path | None:
    """Train ``task`` for ``args.epochs`` (resuming from its snapshot), then write its checkpoint on rank 0."""
    name = args.name or task.name
    train_x, train_y, test_x, test_y = resident_data(task.classes, ctx.device, args.dry_run)
    snapshot = args.runs / name / "snapshot.pt"
    state = {"epoch": 0, "step": 0, "elapsed": 0.0}
    this_hardware = hardware(ctx)
    if snapshot.exists() and not (args.fresh or args.dry_run):
        state = _restore(task, snapshot, ctx.device)
        if state.get("command", args.command) != args.command:  # another run's snapshot: the card names that run too
            state["earlier_command"] = " && ".join(filter(None, [state.get("earlier_command"), state["command"]]))
        if "hardware" in state:  # and the machine it ran on, where the resumed part runs on another
            state["earlier_hardware"] = hardware_so_far(state.get("earlier_hardware"), state["hardware"])
        if ctx.is_main:
            print(f"resumed {name} from {snapshot} at epoch {state['epoch']}, step {state['step']}", file=sys.stderr)
    elif args.continue_checkpoint:
        state = _continue(task, name, args.out, ctx.device)
        if ctx.is_main:
            print(f"continuing checkpoint {name} from epoch {state['epoch']}, step {state['step']}", file=sys.stderr)
    # Steps to the end of --epochs from here; a resumed run skips the batches its epoch has trained on.
    per_epoch = len(train_x) // (args.batch_size * ctx.world_size)
    task.total_steps = state["step"] + (args.epochs - state["epoch"]) * per_epoch - state.get("batch", 0)
    if args.steps:
        task.total_steps = min(task.total_steps, args.steps)
    if (args.new_cycle or args.continue_checkpoint) and state.get("cycle_total") != task.total_steps:
        state.update(cycle_start=state["step"], cycle_total=task.total_steps)
    task.cycle_start = state.get("cycle_start", 0)
    this_run = {"command": args.command, "hardware": this_hardware}  # in each snapshot, for the runs resuming it
    started, last_snapshot = time.time() - state["elapsed"], time.time()  # started: the whole run's, resumes included
    task.prepare(train_x)
    deadline = time.time() + 60 * args.max_minutes if args.max_minutes else None  # this invocation's
    out_of_time = False
    for epoch in range(state["epoch"], args.epochs):
        batches = epoch_batches(len(train_x), args.batch_size, epoch, args.seed, ctx)
        done = state.get("batch", 0)  # this epoch's batches trained before a resume
        bar = tqdm(batches[done:], desc=f"{name} epoch {epoch + 1}/{args.epochs}", disable=not ctx.is_main,
                   initial=done, total=len(batches), mininterval=2.0, file=sys.stderr, dynamic_ncols=True)
        tick, seen = time.time(), 0
        for idx in bar:
            numbers = task.step(train_x[idx], train_y[idx], state["step"])
            state["step"] += 1
            state["batch"] = state.get("batch", 0) + 1
            seen += len(idx) * ctx.world_size
            bar.set_postfix({**{k: f"{v:.4g}" for k, v in numbers.items()},
                             "img/s": f"{seen / max(time.time() - tick, 1e-9):.0f}"}, refresh=False)
            if args.steps and state["step"] >= args.steps:
                break
            if deadline and time.time() > deadline:
                out_of_time = True
                break
            if ctx.is_main and time.time() - last_snapshot > 60 * args.snapshot_minutes and not args.dry_run:
                _store(task, snapshot, {**state, "elapsed": time.time() - started, **this_run})
                last_snapshot = time.time()
        bar.close()
        finished_epoch = not out_of_time and not (args.steps and state["step"] >= args.steps)
        if finished_epoch:
            state["epoch"], state["batch"] = epoch + 1, 0
        if ctx.is_main:
            task.end_epoch(epoch)
            print(f"{name}: epoch {epoch + 1} {'done' if finished_epoch else 'stopped'}, step {state['step']}, "
                  f"{seen / (time.time() - tick):.0f} img/s", file=sys.stderr)
            if not args.dry_run:
                _store(task, snapshot, {**state, "elapsed": time.time() - started, **this_run})
        if not finished_epoch:
            break
    if not ctx.is_main:
        return None
    model = task.shipped()
    model.eval()
    with torch.no_grad():
        metrics = task.evaluate(test_x, test_y)
    card = {
        "classes": list(task.classes),
        "train_size": len(train_x),
        "epochs": state["epoch"],
        "steps": state["step"],
        "batch_size": args.batch_size,
        "train_time_s": round(time.time() - started, 1),
        "hardware": hardware_so_far(state.get("earlier_hardware"), this_hardware),
        "metrics": metrics,
        "command": " && ".join(filter(None, [state.get("earlier_command"), args.command])),
        "data": f"MNIST training split, digits {', '.join(map(str, task.classes))}" + (" (dry run subset)" if args.dry_run else ""),
    }
    history = {k: torch.tensor(v, dtype=torch.float32) for k, v in task.history.items()}
    history.update(task.artifacts)
    return checkpoints.save(model, card, name, args.out, history=history or None)


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse a trainer's arguments; ``args.command`` is the recipe for its card: the command without the options
    that only say where files go or when this invocation stops."""
    args = parser.parse_args(argv)
    words, kept = sys.argv[1:] if argv is None else argv, []
    for i, word in enumerate(words):
        if word.split("=")[0] in NOT_THE_RECIPE or (i and words[i - 1] in NOT_THE_RECIPE):
            continue
        kept.append(word)
    args.command = " ".join([parser.prog, *map(shlex.quote, kept)])
    return args


def hardware_so_far(earlier: str | None, this: str) -> str:
    """Where the weights were trained: the earlier runs' hardware (a continued checkpoint's), then this run's."""
    if earlier is None:
        return this
    return earlier if earlier.split(THEN)[-1] == this else earlier + THEN + this


def _store(task: Task, path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"state": state, "history": task.history,
               "modules": {k: _unwrap(m).state_dict() for k, m in task.modules.items()},
               "optimizers": {k: o.state_dict() for k, o in task.optimizers.items()},
               "artifacts": task.artifacts}
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def _restore(task: Task, path: Path, device: torch.device) -> dict:
    """Load the snapshot at ``path`` into ``task``; refuse, saying what to do, one that another model or optimiser
    left there (a finished run's snapshot stays in its folder)."""
    payload = torch.load(path, map_location=device, weights_only=True)
    try:
        for k, m in task.modules.items():
            _unwrap(m).load_state_dict(payload["modules"][k])
        for k, o in task.optimizers.items():
            o.load_state_dict(payload["optimizers"][k])
    except (KeyError, RuntimeError, ValueError) as error:
        raise SystemExit(f"{path} holds a snapshot of another model or optimiser than this command trains "
                         f"({type(error).__name__}: {str(error).splitlines()[0]}); give this run its own --runs "
                         "folder, or --fresh to start over") from error
    task.history = payload["history"]
    task.artifacts = payload["artifacts"]
    return payload["state"]


def _continue(task: Task, name: str, directory: Path | None, device: torch.device) -> dict:
    """Load checkpoint ``name``'s weights into ``task`` and its history; the state where its training stopped, with
    the runs that led there, so the new card names every run."""
    ckpt = checkpoints.load(name, directory, device)
    task.adopt(ckpt.model)
    saved = checkpoints.load_history(ckpt.card, directory)
    task.history = {k: v.tolist() for k, v in saved.items() if v.dim() == 1}
    task.artifacts = {k: v for k, v in saved.items() if v.dim() > 1}
    card = ckpt.card
    return {"epoch": card["epochs"], "step": card["steps"], "elapsed": card["train_time_s"],
            "earlier_command": card["command"], "earlier_hardware": card["hardware"]}


def _unwrap(module: nn.Module) -> nn.Module:
    return getattr(module, "module", getattr(module, "_orig_mod", module))
