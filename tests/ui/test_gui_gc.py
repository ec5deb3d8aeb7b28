"""Garbage collected on the GUI thread only (studio/ui/gui_gc.py): a cycle that holds a
widget is destroyed by the window's collector, never by a worker thread that allocates
past the thresholds (a pytest worker died that way: a closed window collected on the
engine's thread while it built a UNet)."""

from __future__ import annotations

import gc
import threading

from PySide6.QtWidgets import QWidget

from studio.core import engine as engine_module


class Finalised(QWidget):
    threads: list[int] = []

    def __del__(self) -> None:
        Finalised.threads.append(threading.get_ident())


def test_a_widget_in_a_cycle_is_destroyed_on_the_gui_thread_not_a_worker(gui_thread_collector):
    assert not gc.isenabled()  # the session's collector took over, as the app's does
    Finalised.threads.clear()
    widget = Finalised()
    widget.me = widget  # a cycle: only the collector frees it
    del widget
    kept: list[list[int]] = []

    def allocate() -> None:  # far past every threshold, as building a model does
        for index in range(200_000):
            kept.append([index])

    worker = threading.Thread(target=allocate)
    worker.start()
    worker.join(60)
    assert Finalised.threads == []  # nothing was collected on the worker
    for _ in range(3):  # the timer's checks: the oldest generation due, then younger
        gui_thread_collector.check()
    gc.collect()  # what the next checks reach in the end
    assert Finalised.threads == [threading.get_ident()]


def test_the_collector_follows_pythons_thresholds(gui_thread_collector):
    gc.collect()
    assert gui_thread_collector.check() is None  # nothing new since
    held = [[i] for i in range(gc.get_threshold()[0] + 10)]
    assert gui_thread_collector.check() in (0, 1, 2)
    assert gc.get_count()[0] < gc.get_threshold()[0]
    del held


def test_the_engine_only_freezes_when_the_window_collects(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(engine_module.gc, "collect", lambda *a: calls.append("collect"))
    monkeypatch.setattr(engine_module.gc, "freeze", lambda: calls.append("freeze"))
    engine_module._collect_and_freeze()  # automatic collection is off in this session
    assert calls == ["freeze"]
    monkeypatch.setattr(engine_module.gc, "isenabled", lambda: True)
    engine_module._collect_and_freeze()  # the CLI and the server: no window, collect here
    assert calls == ["freeze", "collect", "freeze"]
