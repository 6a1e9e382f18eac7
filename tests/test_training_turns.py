"""Fine-tunes in the app take turns for a training slot, and a user who waits is told so."""

import threading
import time

from explorer import ui


def test_a_fine_tune_waits_for_a_free_slot_and_says_so(monkeypatch):
    monkeypatch.setattr(ui, "training_slots", threading.BoundedSemaphore(1))
    told, finished = [], []
    inside, release = threading.Event(), threading.Event()

    def first():
        with ui.training_turn(lambda: told.append("first")):
            inside.set()
            release.wait(5)
            finished.append("first")

    def second():
        with ui.training_turn(lambda: told.append("second")):
            finished.append("second")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert inside.wait(5)
    threads[1].start()
    time.sleep(0.2)
    assert told == ["second"] and finished == []  # the second waits, and was told so before waiting
    release.set()
    for thread in threads:
        thread.join(5)
    assert finished == ["first", "second"]
    assert ui.training_slots.acquire(blocking=False)  # the slot is free again


def test_a_failed_fine_tune_gives_its_slot_back(monkeypatch):
    monkeypatch.setattr(ui, "training_slots", threading.BoundedSemaphore(1))
    try:
        with ui.training_turn(lambda: None):
            raise RuntimeError("diverged")
    except RuntimeError:
        pass
    assert ui.training_slots.acquire(blocking=False)
