"""The real main window over real services and a built-in model (the VAE unless told),
warmed up: the state a user is in a few seconds after `make run`."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings

from benchmarks.qt_harness import app, process_until
from studio.ui.main_window import MainWindow
from studio.wiring import Services, build_services

MODEL = "vae-glyphs"


@dataclass
class Studio:
    services: Services
    window: MainWindow
    home: Path

    def close(self) -> None:
        self.window.close()
        self.services.close()


def open_studio(model: str = MODEL, builtin_dir: Path | None = None) -> Studio:
    app()
    home = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    services = build_services(home=home, device="cpu", builtin_dir=builtin_dir)
    settings = QSettings(str(home / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(services.engine, services.library, services.registry, services.history,
                        settings=settings)
    window.resize(1400, 900)
    window.show()
    window.start(model, sample=True)  # loads on the engine's thread, then samples a grid
    if not process_until(lambda: window.explorer.result() is not None
                         and services.engine.idle() and not window.busy()
                         and services.engine.warmed_up.is_set(), timeout=300):
        raise RuntimeError(f"the studio did not load the built-in {model} within 300 s")
    return Studio(services, window, home)
