"""A classroom on one server: LOAD_USERS sessions at once (default 20), each working through every page LOAD_ROUNDS
times (default 3: a warm round, then measured ones), the few-shot fine-tune included, each user with their own
model, seeds and settings so that little is shared. Users speak the browser's websocket protocol
(``bench.session.Session``) and fetch every image shown, so the server does all a classroom makes it do.

Passes when no session sees an exception or an error message, every change of a control changes what is shown,
Home says every model's weights in memory are unchanged since loading, and the server's memory after the last
round is within 10% of its level after the first (warm) round, each read once the class is quiet and the server
has had time to give freed memory back (``explorer.serve.TIDY_SECONDS``). Prints p50 and p95 of each page's open
and update times and writes them to artifacts/load.txt. ``LOAD_USERS=30 ./test.sh tests/load`` is a bigger class.

Users act as fast as the server answers unless ``LOAD_THINK`` gives the seconds a student spends looking at what a
page showed before the next action (each pause drawn from 0.5 to 1.5 times it, so the class drifts out of step):
0 is a stress test, a class that never reads; a class that reads puts far less load on the server at once.
"""

from __future__ import annotations

import os
import random
import threading
import time

import pytest

from bench.harness import ROOT, rss_mib, running_server
from bench.session import Run, Session
from explorer import catalogue
from explorer.serve import TIDY_SECONDS

USERS = int(os.environ.get("LOAD_USERS", 20))
ROUNDS = int(os.environ.get("LOAD_ROUNDS", 3))
THINK = float(os.environ.get("LOAD_THINK", 0))
MODELS = catalogue.generative()
FEWSHOT = "methods=Pixel+Gaussian+(baseline)&methods=Flow+latent+Gaussian&methods=Fine-tuned+flow&tune-steps=20"


def visits(user: int, round_: int) -> list[tuple[str, str, str, object]]:
    """(page, URL path, this user's link, (control, new value)) for one round through the app."""
    seed, model = 1000 * user + round_, MODELS[(user + round_) % len(MODELS)]
    return [
        ("Interpolation", "Interpolation", f"model={model}&random=true&image-seed={seed}",
         ("Steps from start to end", 11 + (user + round_) % 8)),
        ("Samples", "Samples", f"model={model}&seed={seed}", ("Temperature", round(0.05 * ((user + round_) % 20), 2))),
        ("Embeddings", "Embeddings", f"model={model}", ("Projection", ("PCA", "t-SNE")[(user + round_) % 2])),
        ("Reconstructions", "Reconstructions", f"test-seed={seed}", ("Images per digit", 5 + (user + round_) % 8)),
        ("GAN training", "GAN_training", "", ("Epoch", 1 + (user + round_) % 10)),
        # new examples: a novel fine-tune on opening (it shows its place in line); then a resample, which is not
        ("Few-shot 9", "Few-shot_9", f"example-seed={seed}&{FEWSHOT}", ("Sampling seed", seed + 1)),
        # a test digit of the user's own, then the same place among another digit's: both new to the server
        ("Likelihood", "Likelihood", f"digit={(user + round_) % 10}&index={seed % 800}",
         ("Digit", (user + round_ + 1) % 10)),
    ]


NOVEL_FINE_TUNE = {"Few-shot 9"}  # pages whose opening trains a fine-tune no one asked for before: timed apart


def shown(run: Run) -> tuple:
    """What a person sees change: the images, the charts and the text."""
    charts = [element.spec for kind, element in run.elements if kind == "plotly_chart"]
    return tuple(run.images), tuple(charts), tuple(run.texts())


def weights_unchanged(url: str) -> bool:
    with Session(url) as session:
        texts = " ".join(session.open("").texts())
    return texts.count("in memory: unchanged since loading") == len(catalogue.names()) and "changed since loading" not in texts.replace(
        "unchanged since loading", "")


class Classroom:
    """The users' threads, their timings and failures, and the server's memory at each round's end."""

    def __init__(self, url: str, pid: int):
        self.url, self.pid = url, pid
        self.times: dict[tuple[str, str], list[float]] = {}
        self.failures: list[str] = []
        self.memory: list[float] = []
        self.busy_memory: list[float] = []  # the same, the moment the round's last user is done
        self.lock = threading.Lock()
        self.round_end = threading.Barrier(USERS, action=self.read_memory)

    def read_memory(self) -> None:
        self.busy_memory.append(rss_mib(self.pid))
        time.sleep(3 * TIDY_SECONDS)
        self.memory.append(rss_mib(self.pid))

    def user(self, number: int) -> None:
        pause = random.Random(number)
        try:
            with Session(self.url) as session:  # one browser tab per user, kept open through every round
                for round_ in range(ROUNDS):
                    for page, path, link, change in visits(number, round_):
                        self.visit(session, page, path, link, change, f"user {number} round {round_}",
                                   think=lambda: time.sleep(THINK * pause.uniform(0.5, 1.5)))
                    self.round_end.wait(timeout=3600)
        except Exception as err:  # a failed user releases the others' barrier instead of hanging them
            with self.lock:
                self.failures.append(f"user {number}: {type(err).__name__}: {err}")
            self.round_end.abort()

    def visit(self, session: Session, page: str, path: str, link: str, change, who: str, think) -> None:
        opened = session.open(path, link)
        think()
        updated = session.set(*change)
        think()
        with self.lock:
            self.times.setdefault((page, "open, novel fine-tune" if page in NOVEL_FINE_TUNE else "open"),
                                  []).append(opened.seconds)
            self.times.setdefault((page, "update"), []).append(updated.seconds)
            self.failures += [f"{who} on {page}: {p}" for p in opened.problems + updated.problems]
            if shown(updated) == shown(opened):
                self.failures.append(f"{who} on {page}: setting {change} changed nothing")
            with open(ROOT / "artifacts" / "load-progress.log", "a") as log:  # how far a long run got
                log.write(f"{time.strftime('%H:%M:%S')} {who} {page}: {opened.seconds:.1f} + {updated.seconds:.1f} s\n")

    def report(self) -> str:
        from bench.timing import percentile, table

        rows = [[page, what, len(t), f"{percentile(t, 50):.2f}", f"{percentile(t, 95):.2f}"]
                for (page, what), t in sorted(self.times.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
        memory, busy = (", ".join(f"{m:.0f}" for m in values) for values in (self.memory, self.busy_memory))
        return (f"{USERS} users x {ROUNDS} rounds, {THINK:g} s to look at each page's answer; "
                f"server memory at each round's end (MiB): {memory} "
                f"(when the last user was done: {busy})\n\n"
                + table(["page", "what", "n", "p50 s", "p95 s"], rows))


@pytest.mark.skipif(USERS < 1, reason="LOAD_USERS=0")
def test_a_classroom_of_users_at_once():
    (ROOT / "artifacts").mkdir(exist_ok=True)
    with running_server() as (url, process):
        assert weights_unchanged(url)
        room = Classroom(url, process.pid)
        threads = [threading.Thread(target=room.user, args=(u,)) for u in range(USERS)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
            time.sleep(0.5)  # students arrive over a few seconds, not in the same millisecond
        for thread in threads:
            thread.join()
        report = room.report() + f"\nwall time {time.perf_counter() - started:.0f} s\n" + "\n".join(room.failures)
        print("\n" + report)
        (ROOT / "artifacts" / "load.txt").write_text(report)
        assert room.failures == []
        assert weights_unchanged(url)
        assert len(room.memory) == ROUNDS
        if ROUNDS > 1:
            assert room.memory[-1] <= 1.1 * room.memory[0], f"memory grew: {room.memory} MiB"
