"""The GUI entry point: check the display, show the window first, then load a model.

torch is never imported on the GUI thread: the engine's worker imports it while the
window is already on screen.
"""

from __future__ import annotations

import ctypes.util
import os
import signal
import sys
from collections.abc import Sequence

HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc")
XCB_LIBRARIES = ("xcb-cursor", "xcb-icccm", "xcb-keysyms")
XCB_PACKAGES = "libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1"


def preflight(environ: os._Environ | dict | None = None, platform: str | None = None,
              find_library=ctypes.util.find_library) -> str | None:
    """What stops Qt from opening a window here, as a message with the fix; None if
    nothing does. (Qt itself would abort with a terse error.)"""
    env = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux"):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip()
    if qpa in HEADLESS_PLATFORMS:
        return None
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return ("no display: run under `xvfb-run -a make run`, or set QT_QPA_PLATFORM=offscreen "
                "(DISPLAY and WAYLAND_DISPLAY are both unset).")
    uses_xcb = qpa == "xcb" or (not qpa and not env.get("WAYLAND_DISPLAY"))
    if uses_xcb:
        missing = [name for name in XCB_LIBRARIES if not find_library(name)]
        if missing:
            return ("Qt's xcb platform needs system libraries that are missing ("
                    + ", ".join(f"lib{name}" for name in missing) + ").\n"
                    f"Install them with: apt-get install {XCB_PACKAGES}\n"
                    "or run headless under `xvfb-run -a make run`.")
    return None


def main(argv: Sequence[str] | None = None) -> int:
    problem = preflight()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from studio.ui.icons import model_icon
    from studio.ui.main_window import APP_TITLE, MainWindow
    from studio.wiring import build_services

    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl+C in the terminal quits
    app = QApplication.instance() or QApplication([sys.argv[0], *(argv or [])])
    app.setOrganizationName("LatentStudio")
    app.setApplicationName(APP_TITLE)
    app.setWindowIcon(model_icon(210))
    services = build_services()
    window = MainWindow(services.engine, services.library, services.registry, services.history,
                        settings=QSettings())
    window.show()
    for problem in services.library.problems:
        window.show_error(problem)
    # after the first paint: the engine's thread imports torch and loads the model
    QTimer.singleShot(0, window.start)
    try:
        return app.exec()
    finally:
        services.close()


if __name__ == "__main__":
    raise SystemExit(main())
