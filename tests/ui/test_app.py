"""The GUI entry point's preflight: a clear message instead of Qt's abort."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from studio.app import XCB_PACKAGES, main, preflight


def no_libraries(name):
    return None


def all_libraries(name):
    return f"lib{name}.so.0"


def test_no_display_says_how_to_run_headless():
    message = preflight({}, "linux", all_libraries)
    assert "no display" in message and "xvfb-run -a make run" in message
    assert "QT_QPA_PLATFORM=offscreen" in message


def test_offscreen_needs_nothing():
    assert preflight({"QT_QPA_PLATFORM": "offscreen"}, "linux", no_libraries) is None
    assert preflight({}, "darwin", no_libraries) is None


def test_missing_xcb_libraries_name_the_packages():
    message = preflight({"DISPLAY": ":0"}, "linux", no_libraries)
    assert f"apt-get install {XCB_PACKAGES}" in message
    assert XCB_PACKAGES == "libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1"
    assert preflight({"DISPLAY": ":0"}, "linux", all_libraries) is None
    # Wayland does not use the xcb plugin
    assert preflight({"WAYLAND_DISPLAY": "wayland-0"}, "linux", no_libraries) is None


def test_main_returns_2_without_a_display(monkeypatch, capsys):
    if not sys.platform.startswith("linux"):
        return
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    assert main([]) == 2
    assert "xvfb-run" in capsys.readouterr().err


def test_the_window_modules_do_not_import_torch():
    code = ("import sys, studio.app, studio.ui.main_window, studio.wiring; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_main_shows_the_window_and_shuts_down(tmp_path):
    # in a child process: an app.exec() that returned leaves this process's Qt unusable
    script = (
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        "import studio.app\n"
        "app = QApplication([])\n"
        "def look():\n"
        "    print([w.windowTitle() for w in app.topLevelWidgets()\n"
        "           if w.isVisible() and w.inherits('QMainWindow')], flush=True)\n"
        "    app.quit()\n"
        "QTimer.singleShot(300, look)\n"
        "raise SystemExit(studio.app.main([]))\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "LATENT_STUDIO_HOME": str(tmp_path / "home"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert "Latent Studio" in out.stdout
