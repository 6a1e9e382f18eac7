"""A classroom on one server: LOAD_USERS browser sessions at once, each working through every page LOAD_ROUNDS
times (default 2: a warm round, then a measured one), the few-shot fine-tune included, each with its own seeds so
that little is shared. The suite runs 3 users; a classroom is ``LOAD_USERS=20 ./test.sh tests/e2e/test_load.py``.
Every user runs its own Chromium: on the 2-core project machine (with a training job on one core) 3 users took
4.5 minutes, and 20 users did not finish two rounds in 25 minutes.

Passes when no session sees an exception or an error message, the Home page says every model's weights in
memory are unchanged since loading, and the server's memory after the last round is within 10% of its level
after the first (warm) round. Prints p50 and p95 of each page's open and update times (artifacts/load.txt).
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from .harness import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, exceptions, nudge_slider, rss_mib, running_server, \
    wait_for_run

USERS = int(os.environ.get("LOAD_USERS", 3))
ROUNDS = int(os.environ.get("LOAD_ROUNDS", 2))
FEWSHOT = "methods=Pixel+Gaussian+(baseline)&methods=Flow+latent+Gaussian+(seed)&methods=Fine-tuned+flow&steps=20"
FINGERPRINT = """() => { const main = document.querySelector("[data-testid='stMain']");
    return main.innerText + [...main.querySelectorAll('img')].map(i => i.src).join(); }"""


def click(label: str):
    return lambda page: page.locator("[data-testid='stSidebar'] label").filter(has_text=label).first.click()


def slider(label: str, key: str):
    return lambda page: nudge_slider(page, label, key)


def visits(seed: int) -> list[tuple[str, str, object]]:
    """(page, path with this user's link, the control change) for one round through the app."""
    return [
        ("Interpolation", f"Interpolation?random=true&image-seed={seed}", slider("Steps from start to end", "ArrowRight")),
        ("Samples", f"Samples?seed={seed}", slider("Temperature", "ArrowLeft")),
        ("Embeddings", "Embeddings", click("PCA")),
        ("Reconstructions", f"Reconstructions?seed={seed}", slider("Images per digit", "ArrowRight")),
        ("GAN training", "GAN_training", slider("Epoch", "ArrowLeft")),
        ("Few-shot 9", f"Few-shot_9?example-seed={seed}&{FEWSHOT}", slider("k, the number of examples", "ArrowRight")),
    ]


def problems(page) -> list[str]:
    errors = page.locator("[data-testid='stAlertContentError']").all_inner_texts()
    return [f"exception: {e[:200]}" for e in exceptions(page)] + [f"error: {e[:200]}" for e in errors]


def weights_unchanged(browser, url: str) -> bool:
    page = browser.new_page()
    page.set_default_timeout(300_000)
    page.goto(url)
    wait_for_run(page)
    text = page.locator("[data-testid='stMain']").inner_text()
    page.close()
    return text.count("in memory: unchanged since loading") == 5 and "changed since loading" not in text.replace(
        "unchanged since loading", "")


class Classroom:
    """The users' threads, their timings and failures, and the server's memory at each round's end."""

    def __init__(self, url: str, pid: int):
        self.url, self.pid = url, pid
        self.times: dict[tuple[str, str], list[float]] = {}
        self.failures: list[str] = []
        self.memory: list[float] = []
        self.lock = threading.Lock()
        self.round_end = threading.Barrier(USERS, action=lambda: self.memory.append(rss_mib(pid)))

    def record(self, page: str, what: str, seconds: float) -> None:
        with self.lock:
            self.times.setdefault((page, what), []).append(seconds)

    def user(self, number: int) -> None:
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.set_default_timeout(600_000)
                for round_ in range(ROUNDS):
                    for name, path, change in visits(1000 * number + round_):
                        self.visit(page, name, path, change, f"user {number} round {round_}")
                    self.round_end.wait(timeout=1800)
                browser.close()
        except Exception as err:  # a failed user stops the others' barrier instead of hanging them
            with self.lock:
                self.failures.append(f"user {number}: {type(err).__name__}: {err}")
            self.round_end.abort()

    def visit(self, page, name: str, path: str, change, who: str) -> None:
        started = time.perf_counter()
        page.goto(f"{self.url}/{path}")
        wait_for_run(page, timeout=600_000)
        self.record(name, "open", time.perf_counter() - started)
        before = page.evaluate(FINGERPRINT)
        started = time.perf_counter()
        change(page)
        page.wait_for_function(f"before => ({FINGERPRINT})() !== before", arg=before, timeout=600_000)
        wait_for_run(page, timeout=600_000)
        self.record(name, "update", time.perf_counter() - started)
        with self.lock:
            self.failures += [f"{who} on {name}: {p}" for p in problems(page)]
            with open(ARTIFACTS.parent / "load-progress.log", "a") as log:  # how far a long run got
                log.write(f"{time.strftime('%H:%M:%S')} {who} {name} done\n")

    def report(self) -> str:
        from bench.timing import percentile, table

        rows = [[page, what, len(t), f"{percentile(t, 50):.2f}", f"{percentile(t, 95):.2f}"]
                for (page, what), t in sorted(self.times.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
        memory = ", ".join(f"{m:.0f}" for m in self.memory)
        return (f"{USERS} users x {ROUNDS} rounds; server memory at each round's end (MiB): {memory}\n\n"
                + table(["page", "what", "n", "p50 s", "p95 s"], rows))


@pytest.mark.skipif(USERS < 1, reason="LOAD_USERS=0")
def test_a_classroom_of_users_at_once(browser):
    with running_server() as (url, process):
        assert weights_unchanged(browser, url)
        room = Classroom(url, process.pid)
        threads = [threading.Thread(target=room.user, args=(u,)) for u in range(USERS)]
        for thread in threads:
            thread.start()
            time.sleep(0.5)  # students arrive over a few seconds, not in the same millisecond
        for thread in threads:
            thread.join()
        report = room.report()
        print("\n" + report)
        ARTIFACTS.parent.joinpath("load.txt").write_text(report + "\n")
        assert room.failures == []
        assert weights_unchanged(browser, url)
        assert len(room.memory) == ROUNDS
        if ROUNDS > 1:
            assert room.memory[-1] <= 1.1 * room.memory[0], f"memory grew: {room.memory} MiB"
