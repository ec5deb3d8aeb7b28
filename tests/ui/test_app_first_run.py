"""The GUI entry point's first run (a user data folder, a log, the welcome view) and its
refusal to exit silently."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import studio.app
from studio.core import logs

ROOT = Path(__file__).resolve().parents[2]
LOOK = (
    "from PySide6.QtCore import QTimer\n"
    "from PySide6.QtWidgets import QApplication\n"
    "import studio.app\n"
    "app = QApplication([])\n"
    "def look():\n"
    "    print(sorted(w.windowTitle() for w in app.topLevelWidgets() if w.isVisible()), flush=True)\n"
    "    app.quit()\n"
    "QTimer.singleShot(600, look)\n"
    "raise SystemExit(studio.app.main([]))\n")


def launch(tmp_path: Path) -> str:
    # in a child process: an app.exec() that returned leaves this process's Qt unusable
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "LATENT_STUDIO_HOME": str(tmp_path / "home"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", LOOK], capture_output=True, text=True, env=env,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_first_run_makes_the_folder_logs_and_welcomes_once(tmp_path):
    home = tmp_path / "home"
    assert not home.exists()
    first = launch(tmp_path)
    assert "Welcome to Latent Studio" in first
    log = (home / "logs" / "studio.log").read_text(encoding="utf-8")
    assert "starting: Latent Studio" in log and "torch" in log
    assert "quit with exit code 0" in log
    second = launch(tmp_path)
    assert "Welcome to Latent Studio" not in second and "Latent Studio" in second


def test_a_failed_start_is_logged_and_said_not_silent(qapp, monkeypatch, capsys, studio_home):
    def broken(**_kwargs):
        raise RuntimeError("the engine could not start")

    monkeypatch.setattr("studio.wiring.build_services", broken)
    sigint = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(RuntimeError, match="could not start"):
            studio.app.main([])
    finally:
        logs.teardown_logging()
        signal.signal(signal.SIGINT, sigint)  # main() hands Ctrl+C to the default action
    err = capsys.readouterr().err
    assert "stopped with an error" in err and "studio.log" in err
    text = (studio_home / "logs" / "studio.log").read_text(encoding="utf-8")
    assert "the engine could not start" in text and "Traceback" in text
    import sys as _sys
    import threading

    # the crash hooks were handed back
    assert _sys.excepthook.__module__ != "studio.ui.crash"
    assert threading.excepthook.__module__ != "studio.ui.crash"


def test_sigterm_closes_the_window_and_logs_it(tmp_path):
    script = (
        "import os, signal\n"
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        "import studio.app\n"
        "app = QApplication([])\n"
        "QTimer.singleShot(400, lambda: os.kill(os.getpid(), signal.SIGTERM))\n"
        "raise SystemExit(studio.app.main([]))\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "LATENT_STUDIO_HOME": str(tmp_path / "home"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    log = (tmp_path / "home" / "logs" / "studio.log").read_text(encoding="utf-8")
    assert f"signal {int(signal.SIGTERM)} received: closing" in log
    assert "quit with exit code 0" in log
    # saved as on a normal close, in the user data folder (issue 13: not ~/.config)
    assert "geometry" in (tmp_path / "home" / "settings.ini").read_text()
    assert not list((tmp_path / "config").rglob("*.conf"))


def test_the_window_starts_past_a_bad_card_in_the_library_and_names_it(tmp_path):
    import json

    import numpy as np
    from safetensors.numpy import save_file

    folder = tmp_path / "bad-model"
    folder.mkdir()
    save_file({"w": np.zeros(2, np.float32)}, str(folder / "model.safetensors"))
    card = {"id": "bad-model", "name": 12345, "family": "vae", "resolution": 8, "channels": 1}
    (folder / "card.json").write_text(json.dumps(card))
    home = tmp_path / "home"
    home.mkdir()
    (home / "library.json").write_text(json.dumps(
        {"version": 1, "models": [{"id": "bad-model", "folder": str(folder)}]}))
    assert "Latent Studio" in launch(tmp_path)  # it used to die sorting the names
    log = (home / "logs" / "studio.log").read_text(encoding="utf-8")
    assert f"{folder / 'card.json'}: name must be a string" in log


def test_a_fresh_home_is_a_first_run_whatever_the_user_config_holds(tmp_path):
    """Layout and first-run state live under LATENT_STUDIO_HOME: another home's state in
    ~/.config (the welcome seen, a squeezed panel) is not inherited."""
    stale = tmp_path / "config" / "LatentStudio"
    stale.mkdir(parents=True)
    (stale / "Latent Studio.conf").write_text("[welcome]\nshown=true\n")
    first = launch(tmp_path)
    assert "Welcome to Latent Studio" in first
    saved = (tmp_path / "home" / "settings.ini").read_text()
    assert "shown=true" in saved and "geometry" in saved
