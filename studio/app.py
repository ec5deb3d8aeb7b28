"""The GUI entry point: check the display, show the window first, then load a model.

torch is never imported on the GUI thread: the engine's worker imports it while the
window is already on screen.
"""

from __future__ import annotations

import ctypes.util
import logging
import os
import signal
import sys
from collections.abc import Sequence

HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc")
XCB_LIBRARIES = ("xcb-cursor", "xcb-icccm", "xcb-keysyms")
XCB_PACKAGES = "libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1"
SETTINGS_FILE = "settings.ini"  # in the user data folder (studio_home)


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


def app_icon():
    """The app's icon, from the one SVG (resources/icons/); Qt picks the size it needs."""
    from PySide6.QtGui import QIcon

    from studio.core.paths import resources_dir

    return QIcon(str(resources_dir() / "icons" / "latent-studio.svg"))


def main(argv: Sequence[str] | None = None) -> int:
    problem = preflight()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    import logging

    from studio.core.logs import describe_environment, setup_logging
    from studio.core.paths import studio_home

    home = studio_home()  # made on the first run
    log_path = setup_logging(home, fatal=True)
    log = logging.getLogger("studio.app")
    log.info("starting: %s", describe_environment())
    try:
        code = _run(list(argv or []), home, log_path)
    except Exception as exc:  # no silent exits: whatever stopped it is in the log and shown
        log.exception("the app stopped with an error")
        message = (f"Latent Studio stopped with an error: {type(exc).__name__}: {exc}\n"
                   f"The details are in {log_path}")
        print(message, file=sys.stderr)
        _alert(message)
        raise
    log.info("quit with exit code %s", code)
    return code


def _alert(message: str) -> None:
    """A last word on screen when the app cannot go on (launched from a menu, nobody reads
    stderr). Offscreen, nobody could see it and a modal box would only hang."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    if QApplication.instance() is not None and QApplication.platformName() != "offscreen":
        QMessageBox.critical(None, "Latent Studio", message)


def launch_files(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split the GUI's arguments into Qt's own options and the files to open at launch
    (`studio PATH`, a desktop entry's %F): an argument that names an existing file."""
    from pathlib import Path

    files = [arg for arg in argv if not arg.startswith("-") and Path(arg).is_file()]
    return [arg for arg in argv if arg not in files], files


def start_window(window, files: Sequence[str]) -> None:
    """Select and load the first model; then open `files` as a drop would: a recipe
    restores its model and settings and renders, a plain image goes to the current
    model's explorer. With files, no first grid of the default model is made."""
    window.start(sample=not files)
    if files:
        window.open_files(list(files))


def _run(argv: list[str], home, log_path) -> int:
    from PySide6.QtWidgets import QApplication

    from studio import APP_ID, APP_NAME
    from studio.ui.crash import CrashReporter
    from studio.ui.gui_gc import GuiThreadCollector
    from studio.wiring import build_services

    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl+C in the terminal quits
    qt_args, files = launch_files(argv)
    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setOrganizationName("LatentStudio")
    app.setApplicationName(APP_NAME)
    app.setDesktopFileName(APP_ID)  # the .desktop entry's id
    app.setWindowIcon(app_icon())
    reporter = CrashReporter(log_path.parent, app)
    reporter.install()
    collector = GuiThreadCollector(app)  # Qt objects in garbage are destroyed on this thread
    services = None
    try:
        # the engine's worker imports torch when it starts: only once the window is up
        services = build_services(start_engine=False)
        return _show(app, services, reporter, home, files)
    finally:
        collector.uninstall()
        reporter.uninstall()
        if services is not None:
            services.close()


def _show(app, services, reporter, home, files: Sequence[str] = ()) -> int:
    from PySide6.QtCore import QTimer

    from studio import APP_NAME
    from studio.core.logs import take_fatal_report
    from studio.ui.main_window import MainWindow
    from studio.wiring import explorer_table

    window = MainWindow(services.engine, services.library, services.registry, services.history,
                        settings=user_settings(home), explorers=explorer_table())
    reporter.watch(window.bridge)
    window.show()
    for problem in services.library.problems:  # a skipped model is named, not fatal
        logging.getLogger("studio.app").warning("library: %s", problem)
        window.show_error(problem)
    fatal = take_fatal_report(home)
    if fatal:
        reporter.report("The last session ended with a fatal error",
                        f"The previous run of {APP_NAME} stopped abruptly. What it wrote:\n\n"
                        + fatal)
    _quit_on_sigterm(app, window)
    # after the first paint: the engine's thread imports torch and loads the model
    QTimer.singleShot(0, services.engine.start)
    QTimer.singleShot(0, lambda: start_window(window, files))
    QTimer.singleShot(0, window.show_welcome_on_first_run)
    return app.exec()


def user_settings(home):
    """The window's layout and first-run state, in the user data folder beside the
    library and history: a fresh LATENT_STUDIO_HOME is a first run, with the welcome and
    the default layout, whatever another home left in ~/.config."""
    from pathlib import Path

    from PySide6.QtCore import QSettings

    return QSettings(str(Path(home) / SETTINGS_FILE), QSettings.Format.IniFormat)


def _quit_on_sigterm(app, window) -> None:
    """A logout or `kill` closes the window as the user would (settings saved, jobs
    cancelled, the log told) instead of ending the process mid-write."""
    import logging

    from PySide6.QtCore import QTimer

    def closing(signum: int, _frame) -> None:
        logging.getLogger("studio.app").info("signal %s received: closing", signum)
        window.close()
        app.quit()

    signal.signal(signal.SIGTERM, closing)
    # Python runs signal handlers only between bytecodes: wake it now and then while Qt
    # waits for events
    wake = QTimer(app)
    wake.timeout.connect(lambda: None)
    wake.start(300)


if __name__ == "__main__":
    raise SystemExit(main())
