"""The window against a real server (Engine ▸ Connect to Server…): generate, cancel, a
server restart it reconnects after, and back to this machine; the widgets are the same."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from studio.core.engine import run_sync
from studio.server.remote import RemoteEngine
from studio.server.serve import ServerThread
from tests.fakes import FakeGANModel, FakeModel
from tests.server.conftest import make_engine
from tests.ui.conftest import Services, generate, make_window


@pytest.fixture
def local_services(tmp_path):
    made = Services(tmp_path / "home")
    yield made
    made.engine.shutdown()
    FakeModel.step_delay, FakeModel.fail_with, FakeModel.gate = 0.0, None, None
    FakeGANModel.step_delay, FakeGANModel.gate = 0.0, None


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


class Server:
    """A server that can be stopped and started again on its port."""

    def __init__(self) -> None:
        self.engine, self.library = make_engine()
        self.thread = ServerThread(self.engine, self.library).start()

    def restart(self) -> None:
        self.stop()
        self.engine, self.library = make_engine()
        self.thread = ServerThread(self.engine, self.library, port=self.thread.port).start()

    def stop(self) -> None:
        self.thread.stop()
        self.engine.shutdown()


@pytest.fixture
def server():
    made = Server()
    yield made
    made.stop()


@pytest.fixture
def window(qtbot, local_services, settings):
    made = make_window(qtbot, local_services, settings, model_id="fake-model")
    yield made
    made.remote_link.disconnect()
    made.close()


def test_the_window_generates_and_cancels_on_the_server(qtbot, window, server):
    link = window.remote_link
    assert window.connect_server_action.text() == "&Connect to Server…"
    assert link.connect_to(server.thread.url)
    assert isinstance(window.engine, RemoteEngine) and window.jobs.engine is window.engine
    assert link.label.isVisible() and link.label.text() == f"Server: 127.0.0.1:{server.thread.port}"
    assert "training" in window.message_bar.text() and "stay on this machine" in window.message_bar.text()

    result = generate(qtbot, window)
    expected = run_sync(make_engine(synchronous=True)[0], result.request)
    assert np.array_equal(result.images, expected.images)
    assert server.engine.cache.loaded_ids() == ["fake-model"]  # it ran there
    assert server.thread.app.state.clients.get(window.engine.client_id) is not None

    FakeModel.gate = threading.Event()
    window.generate()
    qtbot.waitUntil(lambda: window.engine.running_job is not None, timeout=10000)
    assert window.busy()
    window.cancel_action.trigger()
    FakeModel.gate.set()
    qtbot.waitUntil(lambda: not window.busy(), timeout=10000)
    assert window.last_result is result  # the cancelled run showed nothing

    link.disconnect()  # back to this machine
    assert window.engine is link.local and not link.label.isVisible()
    again = generate(qtbot, window)
    assert np.array_equal(again.images, run_sync(make_engine(True)[0], again.request).images)
    assert link.local.cache.loaded_ids() == ["fake-model"]  # this time it ran here


def test_the_interpolation_scrubs_through_the_server(qtbot, window, server):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    assert window.remote_link.connect_to(server.thread.url)
    generate(qtbot, window)
    explorer = window.explorer
    explorer.samples.pick(0)
    explorer.samples.pick(1, as_b=True)
    explorer.set_view("interpolate")
    slider = explorer.interpolate.slider
    assert slider.isEnabled()
    for key in (Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_End):  # a short drag
        QTest.keyClick(slider, key)
    qtbot.waitUntil(lambda: explorer.scrub_result is not None and window.engine.idle()
                    and not window.busy(), timeout=10000)
    frame = explorer.scrub_result
    assert frame.request.model_id == "fake-model" and frame.request.op == "decode"
    assert np.array_equal(frame.images, run_sync(make_engine(True)[0], frame.request).images)
    jobs = server.thread.app.state.clients.get(window.engine.client_id).jobs.values()
    assert any(sjob.lane == "scrub" for sjob in jobs)  # the frames were rendered there


def test_the_model_dock_lists_the_servers_models(qtbot, window, server, tmp_path):
    link = window.remote_link
    assert sorted(window.models.model_ids()) == ["fake-model", "fake-other"]  # this machine's
    assert link.connect_to(server.thread.url)
    assert sorted(window.models.model_ids()) == ["fake-gan", "fake-model"]  # the server's
    assert window.library.get("fake-model").card.name == "Fake fake-model"  # its card
    assert window.library.get("fake-model").folder == link.local_library.get("fake-model").folder
    assert window.import_folder(str(tmp_path)) is None  # imports are the server's own
    assert "imports its own models" in window.message_bar.text()

    window.models.select("fake-gan")  # a model only the server has
    window.select_model("fake-gan")
    result = generate(qtbot, window)
    assert result.request.model_id == "fake-gan" and result.images.shape[-1] == 3
    assert np.array_equal(result.images, run_sync(make_engine(True)[0], result.request).images)

    window.models.select("fake-model")
    window.select_model("fake-model")
    link.disconnect()
    assert sorted(window.models.model_ids()) == ["fake-model", "fake-other"]
    assert window.library is link.local_library


def test_the_window_reconnects_after_the_server_restarts(qtbot, window, server):
    link = window.remote_link
    assert link.connect_to(server.thread.url)
    server.thread.stop()
    qtbot.waitUntil(lambda: "reconnecting" in link.label.text(), timeout=10000)
    server.restart()
    qtbot.waitUntil(lambda: link.label.text() == f"Server: 127.0.0.1:{server.thread.port}",
                    timeout=15000)
    result = generate(qtbot, window)
    assert result.request.model_id == "fake-model"
    assert np.array_equal(result.images, run_sync(make_engine(True)[0], result.request).images)


def test_an_unreachable_server_is_reported_and_the_window_stays_local(qtbot, window):
    before = window.engine
    assert not window.remote_link.connect_to("http://127.0.0.1:9")
    assert "cannot connect" in window.message_bar.text()
    assert not window.remote_link.connect_to("not a url")
    assert window.engine is before
