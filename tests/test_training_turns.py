"""Fine-tunes in the app take turns for a training slot, first come first served, and a user who waits is told
their place in line as it changes; they train behind the pages' work, and the pages' model calls use every core."""

import os
import threading
import time

import pytest
import torch

from explorer import ui


def test_a_fine_tune_waits_for_a_free_slot_and_says_so(monkeypatch):
    monkeypatch.setattr(ui, "training_slots", threading.BoundedSemaphore(1))
    told, finished = [], []
    inside, release = threading.Event(), threading.Event()

    def first():
        with ui.training_turn(lambda place: told.append(("first", place))):
            inside.set()
            release.wait(5)
            finished.append("first")

    def second():
        with ui.training_turn(lambda place: told.append(("second", place))):
            finished.append("second")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert inside.wait(5)
    threads[1].start()
    time.sleep(0.2)
    assert told == [("second", 1)] and finished == []  # the second waits, told it is next
    release.set()
    for thread in threads:
        thread.join(5)
    assert finished == ["first", "second"]
    assert ui.training_slots.acquire(blocking=False)  # the slot is free again


def test_a_failed_fine_tune_gives_its_slot_back(monkeypatch):
    monkeypatch.setattr(ui, "training_slots", threading.BoundedSemaphore(1))
    try:
        with ui.training_turn(lambda place: None):
            raise RuntimeError("diverged")
    except RuntimeError:
        pass
    assert ui.training_slots.acquire(blocking=False)


def test_the_line_moves_in_order_of_arrival_and_each_waiter_sees_its_place(monkeypatch):
    monkeypatch.setattr(ui, "training_slots", threading.BoundedSemaphore(1))
    places, order = {}, []
    release = threading.Event()

    def user(name: str, hold: bool = False):
        with ui.training_turn(lambda place: places.setdefault(name, []).append(place)):
            order.append(name)
            if hold:
                release.wait(5)

    first = threading.Thread(target=user, args=("a", True))
    first.start()
    time.sleep(0.1)
    waiting = []
    for name in ("b", "c", "d"):
        waiting.append(threading.Thread(target=user, args=(name,)))
        waiting[-1].start()
        time.sleep(0.1)
    time.sleep(0.5)
    assert places == {"b": [1], "c": [2], "d": [3]} and order == ["a"]
    release.set()
    for thread in (first, *waiting):
        thread.join(5)
    assert order == ["a", "b", "c", "d"]
    for name, first_place in (("c", 2), ("d", 3)):  # told its place, then each move it saw, down to next
        seen = places[name]
        assert seen[0] == first_place and seen[-1] == 1 and seen == sorted(seen, reverse=True)
    assert ui.training_slots.acquire(blocking=False)


def test_a_fine_tune_runs_behind_the_pages_and_hands_back_its_result():
    def work(x, *, y):
        return x + y, os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), threading.get_ident()

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    value, nice, thread = ui.at_low_priority(work, 1, y=2)
    assert value == 3 and thread != threading.get_ident()
    assert nice == max(before, min(19, ui.BACKGROUND_NICE))  # the OS never raises a thread above where it was
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before  # the page's thread is untouched


def test_a_failed_low_priority_run_raises_in_the_callers_thread():
    def diverge():
        raise FloatingPointError("bits/dim is nan")

    with pytest.raises(FloatingPointError, match="nan"):
        ui.at_low_priority(diverge)


def test_model_calls_use_every_core_on_the_cpu(monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_DEVICE", "cpu")
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert ui.model_call_slots() == 4
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert ui.model_call_slots() == 2
