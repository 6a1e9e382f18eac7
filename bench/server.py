"""Server-side latency: for every page, from a control change sent over the websocket to the finished script and
its images fetched, without a browser drawing anything (bench/session.py speaks the protocol).

Set beside ``latency`` it splits an update's time between the server and the browser. Controls and walks are
``latency``'s: a slider steps one way to its end and turns, a radio takes its next option; the yardstick is
the same trivial page, served the same way.
"""

from __future__ import annotations

from pathlib import Path

from .harness import running_app, running_script
from .session import Session

from .latency import Radio, Slider, pages, report

QUICK_CHANGES = 3


def walk(control: Slider | Radio, widget, changes: int) -> list:
    """The values ``changes`` changes give ``widget`` (its Slider or Radio proto), walked as ``latency`` walks it."""
    if isinstance(control, Radio):
        return [widget.options[(widget.default + 1 + i) % len(widget.options)] for i in range(changes)]
    value, values = (list(widget.value) or list(widget.default))[0], []
    for _ in range(changes):
        control.up = value < widget.max if control.up else value <= widget.min
        value = round(value + (widget.step if control.up else -widget.step), 6)
        values.append(value)
    return values


def measure(url: str, path: str, control: Slider | Radio, changes: int) -> tuple[list[float], float, int]:
    """Seconds of each change, seconds to open the page, and the problems (exceptions, errors) seen."""
    with Session(url) as session:
        run = session.open("" if path == "trivial page" else path)
        opened, problems, times = run.seconds, len(run.problems), []
        for value in walk(control, run.widgets[control.label][1], changes):
            run = session.set(control.label, value)
            times.append(run.seconds)
            problems += len(run.problems)
    return times, opened, problems


def run(device: str | None = None, quick: bool = False, changes: int = 20) -> str:
    changes = min(changes, QUICK_CHANGES) if quick else changes
    (trivial_name, trivial_control), *app_pages = controls = pages()
    with running_script(Path(__file__).with_name("trivial_app.py")) as url:  # one server at a time
        results = [measure(url, trivial_name, trivial_control, changes)]
    with running_app({"LATENT_EXPLORER_DEVICE": device} if device else None) as url:
        results += [measure(url, path, control, changes) for path, control in app_pages]
    return report(f"Server-side latency over the websocket (no browser), {changes} changes a page: from sending the "
                  "change to the finished script with its images fetched", controls, results, "problems")
