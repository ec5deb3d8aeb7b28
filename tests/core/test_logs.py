"""The rotating log file in the user data folder."""

from __future__ import annotations

import logging

import pytest

from studio.core import logs


@pytest.fixture
def logged(studio_home):
    path = logs.setup_logging(max_bytes=2_000, backups=2)
    yield path
    logs.teardown_logging()


def test_the_log_lives_in_the_user_data_folder(logged, studio_home):
    assert logged == studio_home / "logs" / "studio.log"
    logging.getLogger("studio.test").info("hello from the test")
    assert "hello from the test" in logged.read_text(encoding="utf-8")
    assert "studio.test" in logged.read_text(encoding="utf-8")


def test_the_log_rotates_and_keeps_a_bounded_number_of_files(logged):
    log = logging.getLogger("studio.test")
    for index in range(200):
        log.info("line %03d %s", index, "x" * 40)
    files = sorted(p.name for p in logged.parent.glob("studio.log*"))
    assert files == ["studio.log", "studio.log.1", "studio.log.2"]
    assert all(p.stat().st_size <= 2_200 for p in logged.parent.glob("studio.log*"))
    assert "line 199" in logged.read_text(encoding="utf-8")  # the newest is in the live file


def test_setting_up_twice_adds_one_handler(logged):
    logs.setup_logging(max_bytes=2_000)
    logging.getLogger("studio.test").warning("once")
    assert logged.read_text(encoding="utf-8").count("once") == 1


def test_an_exception_is_written_with_its_traceback(logged):
    try:
        raise RuntimeError("written down")
    except RuntimeError:
        logging.getLogger("studio.test").exception("it failed")
    text = logged.read_text(encoding="utf-8")
    assert "it failed" in text and "Traceback" in text and "RuntimeError: written down" in text


def test_a_fatal_report_is_taken_once(studio_home):
    assert logs.take_fatal_report() == ""
    (logs.log_dir() / logs.FATAL_NAME).write_text("Fatal Python error: Segmentation fault\n")
    assert "Segmentation fault" in logs.take_fatal_report()
    assert logs.take_fatal_report() == ""


@pytest.mark.parametrize("before", [True, False])
def test_faulthandler_is_handed_back_as_it_was(studio_home, before):
    """The app's fatal.log takes faulthandler for the session; a host that had it on
    (pytest, a script) has it on again afterwards, so a later crash there is not silent
    (a pytest worker that ran the app in-process went on with it off)."""
    import faulthandler
    import sys

    was = faulthandler.is_enabled()
    try:
        if before:
            faulthandler.enable(sys.__stderr__)
        else:
            faulthandler.disable()
        logs.setup_logging(fatal=True)
        assert faulthandler.is_enabled()  # to fatal.log
        logs.setup_logging(fatal=True)  # again: still what the host had before the first
        logs.teardown_logging()
        assert faulthandler.is_enabled() is before
    finally:
        logs.teardown_logging()
        if was:
            faulthandler.enable(sys.__stderr__)
        else:
            faulthandler.disable()


def test_the_environment_line_names_the_versions_without_importing_torch():
    import subprocess
    import sys

    code = ("import sys; from studio.core.logs import describe_environment; "
            "line = describe_environment(); print(line); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    line, imported = out.stdout.strip().splitlines()
    assert "Latent Studio" in line and "torch 2." in line
    assert imported == "False"
