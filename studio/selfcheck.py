"""`studio --self-check`: start the real window offscreen and prove the install works.

    studio --self-check [--timeout SECONDS]

It opens the window (offscreen unless QT_QPA_PLATFORM says otherwise), then, for every
built-in model, clicks its button in the welcome view (which opens the model in its
family's explorer, loads it on the engine's thread and makes a first grid), generates one
small image, exports it as a PNG, reads the recipe back from the file, renders that recipe
again and checks that the pixels are the same. It prints the time from process start to
the window on screen and exits 0 when everything passed, 1 otherwise.

`make package-test` runs it in the frozen bundle; tests/e2e/test_self_check.py runs it
in-process against the source tree. It works in a fresh temporary user data folder, so it
never touches the user's library, history or settings.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

_IMPORTED_AT = time.time()


class SelfCheckError(Exception):
    pass


def process_started_at() -> float:
    """When this process started (epoch seconds): from /proc on Linux, which includes the
    frozen bootloader and Python's own start; else when this module was imported."""
    try:
        stat = Path("/proc/self/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()
        started_ticks = int(fields[19])  # field 22, starttime, counted after "pid (comm)"
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        age = uptime - started_ticks / os.sysconf("SC_CLK_TCK")
        return time.time() - age
    except (OSError, ValueError, IndexError):
        return _IMPORTED_AT


def _wait_until(predicate: Callable[[], bool], timeout: float, what: str,
                errors: list[str]) -> None:
    """Run the Qt event loop until `predicate()` holds; raise on timeout or a fault."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    deadline = time.monotonic() + timeout
    timer = QTimer()
    timer.setInterval(10)

    def check() -> None:
        if errors or predicate() or time.monotonic() > deadline:
            loop.quit()

    timer.timeout.connect(check)
    timer.start()
    if not (errors or predicate()):
        loop.exec()
    timer.stop()
    if errors:
        raise SelfCheckError(f"{what}: {errors[0]}")
    if not predicate():
        raise SelfCheckError(f"{what}: not done after {timeout:.0f} s")


def small_request(registry: Any, entry: Any, seed: int = 1234) -> Any:
    """One small image from the model's family: its sample op with count 1."""
    from studio.core.requests import Request

    info = registry.get(entry.family)
    op = info.op("sample") if "sample" in info.op_names else info.ops[0]
    params = {"seed": seed} if any(p.name == "seed" for p in op.params) else {}
    if any(p.name == "count" for p in op.params):
        params["count"] = 1
    return Request(entry.id, op.name, params)


def run_self_check(home: Path, *, started: float | None = None, builtin_dir: Path | None = None,
                   timeout: float = 300.0, say: Callable[[str], None] = print) -> int:
    """The self-check in this process (a QApplication must exist). Returns the exit code."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from studio import APP_NAME, __version__
    from studio.core.versions import package_version
    from studio.ui.main_window import MainWindow
    from studio.wiring import build_services, explorer_table

    app = QApplication.instance()
    assert app is not None, "run_self_check needs a QApplication"
    started = started if started is not None else time.time()
    errors: list[str] = []
    hooks = (sys.excepthook, threading.excepthook)

    def unhandled(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        # a fault in a slot or a thread fails the check instead of scrolling past
        traceback.print_exception(exc_type, exc, tb)
        errors.append(f"unhandled {exc_type.__name__}: {exc}")

    sys.excepthook = unhandled
    threading.excepthook = lambda args: unhandled(args.exc_type, args.exc_value, args.exc_traceback)
    # as the app does: the worker (and torch's import) starts once the window is shown
    services = build_services(home=home, builtin_dir=builtin_dir, start_engine=False)
    settings = QSettings(str(home / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(services.engine, services.library, services.registry, services.history,
                        settings=settings, explorers=explorer_table())
    window.bridge.job_failed.connect(lambda job, message: errors.append(f"{job.label}: {message}"))
    failed = 0
    try:
        window.resize(1280, 800)
        window.show()
        _wait_until(lambda: window.windowHandle() is not None and window.windowHandle().isExposed(),
                    30, "showing the window", errors)
        say(f"self-check: {APP_NAME} {__version__}, window shown {time.time() - started:.2f} s "
            "after the process started")
        services.engine.start()
        if __version__.startswith("0+"):
            raise SelfCheckError("no version: the package metadata is missing")
        torch_version = package_version("torch")
        if torch_version not in window.show_about().text():
            raise SelfCheckError("Help ▸ About does not show torch's version")
        if services.library.problems:
            raise SelfCheckError("the library: " + "; ".join(services.library.problems))
        builtins = [e for e in services.library.entries() if e.builtin]
        if not builtins:
            raise SelfCheckError(f"no built-in models in {services.library.builtin_dir}")
        for entry in builtins:
            # a click closes the welcome view (as a user's would): open it for each model
            welcome = window.show_welcome()
            try:
                _check_model(window, welcome, entry, services, home, errors, timeout, say)
            except SelfCheckError as exc:
                failed += 1
                say(f"self-check: FAILED {entry.id}: {exc}")
                errors.clear()
    except SelfCheckError as exc:
        say(f"self-check: FAILED: {exc}")
        return 1
    finally:
        window.close()
        services.close()
        sys.excepthook, threading.excepthook = hooks
    if failed:
        say(f"self-check: {failed} of {len(builtins)} built-in models failed")
        return 1
    say(f"self-check: OK ({len(builtins)} built-in model{'s' if len(builtins) != 1 else ''}, "
        f"torch {torch_version}, {time.time() - started:.1f} s in all)")
    return 0


def _check_model(window: Any, welcome: Any, entry: Any, services: Any, home: Path,
                 errors: list[str], timeout: float, say: Callable[[str], None]) -> None:
    import numpy as np

    from studio.core import media
    from studio.core.export import export_png, open_recipe, result_grid

    t0 = time.perf_counter()
    button = welcome.open_buttons.get(entry.id)
    if button is None:
        raise SelfCheckError("the welcome view has no button for it")
    button.click()  # opens it in its explorer, loads it, makes a first grid
    explorer_kind = services.registry.get(entry.family).explorer
    if window.session.model_id != entry.id or window.explorer is not window._explorer_of(explorer_kind):
        raise SelfCheckError("the welcome view did not open it in its explorer")
    _wait_until(lambda: window.models.is_loaded(entry.id) and not window.busy(), timeout,
                "loading", errors)
    loaded = time.perf_counter()
    request = small_request(services.registry, entry)
    job = window.run_request(request, to_history=False)  # shown on the canvas, as a user's
    _wait_until(lambda: job.state.finished and window.last_result is job.result
                and not window.busy(), timeout, "generating", errors)
    result = job.result
    made = time.perf_counter()
    if result.images.ndim != 4 or result.images.shape[0] < 1:
        raise SelfCheckError(f"no image (shape {result.images.shape})")
    path = home / f"self-check-{entry.id}.png"
    export_png(path, result, index=0, family=entry.family)
    recipe = open_recipe(path)
    if (recipe.model_id, recipe.op) != (request.model_id, request.op) or \
            recipe.params.get("seed") != result.request.params.get("seed"):
        raise SelfCheckError(f"the recipe read back from {path.name} is not the request")
    again: list[Any] = []
    window.jobs.submit(recipe, label="self-check again", on_result=lambda _j, r: again.append(r))
    _wait_until(lambda: bool(again), timeout, "rendering the recipe again", errors)
    image = result_grid(result, 0)  # (H, W, C); load_image reads RGB
    image = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]
    if not np.array_equal(media.load_image(path), image):
        raise SelfCheckError(f"{path.name} does not hold the image that was made")
    if not np.array_equal(again[0].images, result.images):
        raise SelfCheckError("the recipe did not render the same pixels")
    say(f"self-check: ok {entry.id} ({entry.family}): loaded in {loaded - t0:.2f} s, "
        f"1 image {result.images.shape[1]}×{result.images.shape[2]} in "
        f"{(made - loaded) * 1000:.0f} ms, PNG recipe read back, same pixels again")


def main(argv: Sequence[str] | None = None) -> int:
    started = process_started_at()
    parser = argparse.ArgumentParser(prog="studio --self-check", description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per step")
    parser.add_argument("--keep", action="store_true", help="keep the temporary user data folder")
    args = parser.parse_args(list(argv or []))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="studio-self-check-"))
    os.environ["LATENT_STUDIO_HOME"] = str(home)  # the user's own folder stays untouched
    from PySide6.QtWidgets import QApplication

    from studio.ui.gui_gc import GuiThreadCollector

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("Latent Studio self-check")
    collector = GuiThreadCollector(app)  # as the app runs: garbage collected on this thread
    try:
        return run_self_check(home, started=started, timeout=args.timeout)
    finally:
        collector.uninstall()
        if args.keep:
            print(f"self-check: kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
