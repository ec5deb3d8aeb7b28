"""Shared test setup: headless Qt, offline hub, a temporary user data folder."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("LATENT_STUDIO_DEVICE", "cpu")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def studio_home(tmp_path_factory, monkeypatch):
    """Every test gets its own user data folder; nothing touches the real one."""
    home = tmp_path_factory.mktemp("studio-home")
    monkeypatch.setenv("LATENT_STUDIO_HOME", str(home))
    return home


@pytest.fixture(scope="session", autouse=True)
def gui_thread_collector(qapp):
    """Garbage collected on the GUI thread, as in the app (studio/ui/gui_gc.py): a test's
    closed window collected on an engine's worker thread crashed a pytest worker."""
    from studio.ui.gui_gc import GuiThreadCollector

    collector = GuiThreadCollector(qapp)
    yield collector
    collector.uninstall()


@pytest.fixture(autouse=True)
def _collect_between_tests(gui_thread_collector):
    """Tests that never run Qt's event loop (its timer checks) collect here, after each."""
    yield
    gui_thread_collector.check()
