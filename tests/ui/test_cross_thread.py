"""Emits from plain threads onto a QObject the GUI thread may delete (studio/ui/cross_thread):
close() waits for an emit in flight and turns the later ones away, so the window can be
deleted after its closeEvent while the engine's worker is still telling it things."""

from __future__ import annotations

import threading

import shiboken6
from PySide6.QtCore import QObject, Signal

from studio.ui.bridge import EngineBridge
from studio.ui.cross_thread import ThreadGate


class SlowSignal:
    """A signal whose emit, on a worker thread, holds until let go."""

    def __init__(self) -> None:
        self.inside, self.let_go = threading.Event(), threading.Event()
        self.emitted: list[tuple] = []

    def emit(self, *args) -> None:
        self.inside.set()
        assert self.let_go.wait(10)
        self.emitted.append(args)


def test_close_waits_for_the_emit_in_flight_and_stops_the_next():
    gate, signal = ThreadGate(), SlowSignal()
    results: list[bool] = []
    worker = threading.Thread(target=lambda: results.append(gate.emit(signal, "first")))
    worker.start()
    assert signal.inside.wait(10)
    closed = threading.Event()
    closer = threading.Thread(target=lambda: (gate.close(), closed.set()))
    closer.start()
    assert not closed.wait(0.2)  # still emitting: close() waits for it
    signal.let_go.set()
    assert closed.wait(10)
    worker.join(10)
    closer.join(10)
    assert results == [True] and signal.emitted == [("first",)]
    later: list[bool] = []
    thread = threading.Thread(target=lambda: later.append(gate.emit(signal, "second")))
    thread.start()
    thread.join(10)
    assert later == [False] and signal.emitted == [("first",)]
    gate.reopen()
    assert gate.emit(signal, "third") and signal.emitted[-1] == ("third",)


def test_an_emit_on_the_gui_thread_does_not_wait_for_the_lock():
    """Its slots run at once and may wait for a worker that waits for the lock."""
    gate, signal = ThreadGate(), SlowSignal()
    worker = threading.Thread(target=lambda: gate.emit(signal, "worker"))
    worker.start()
    assert signal.inside.wait(10)  # the worker holds the lock

    class Direct:
        emitted: list[tuple] = []

        def emit(self, *args) -> None:
            self.emitted.append(args)

    direct = Direct()
    assert gate.emit(direct, "gui")  # returns while the worker still holds the lock
    assert direct.emitted == [("gui",)]
    signal.let_go.set()
    worker.join(10)


class Sender(QObject):
    told = Signal(str)


def test_a_deleted_object_closes_the_gate_instead_of_raising_on_the_worker(qapp):
    sender = Sender()
    gate = ThreadGate()
    shiboken6.delete(sender)  # deleted without close()
    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(gate.emit(sender.told, "late")))
    thread.start()
    thread.join(10)
    assert results == [False] and not gate.is_open


def test_a_detached_bridge_relays_nothing_a_stale_listener_call_brings(qtbot):
    """The engine calls its listeners from a snapshot: one removed at close may still be
    called. After detach it relays nothing, from the worker's thread or the GUI's."""

    class Engine:
        def __init__(self) -> None:
            self.listeners: list = []

        def add_listener(self, listener) -> None:
            self.listeners.append(listener)

        def remove_listener(self, listener) -> None:
            if listener in self.listeners:
                self.listeners.remove(listener)

    engine = Engine()
    bridge = EngineBridge(engine)
    queued: list = []
    bridge.job_queued.connect(queued.append)
    stale = engine.listeners[0]
    worker = threading.Thread(target=lambda: stale("queued", "job 1", None))
    worker.start()
    worker.join(10)
    qtbot.waitUntil(lambda: queued == ["job 1"])
    bridge.detach()
    assert engine.listeners == []
    worker = threading.Thread(target=lambda: stale("queued", "job 2", None))
    worker.start()
    worker.join(10)
    stale("queued", "job 3", None)
    qtbot.wait(50)
    assert queued == ["job 1"]
    bridge.attach(engine)  # back on an engine: relays again
    engine.listeners[0]("queued", "job 4", None)
    assert queued == ["job 1", "job 4"]


def test_closing_the_window_closes_every_gate_a_thread_emits_through(qtbot, services, settings):
    """After closeEvent the window may be deleted: the engine's events, the file loader's
    files and the history writer's problems no longer reach it."""
    from tests.ui.conftest import make_window

    window = make_window(qtbot, services, settings)
    assert window.bridge._gate.is_open and window.file_loader._gate.is_open
    assert services.history.on_problem is not None
    window.close()
    assert not window.bridge._gate.is_open and not window.file_loader._gate.is_open
    assert services.history.on_problem is None
    assert window.bridge._on_engine_event not in services.engine._listeners
