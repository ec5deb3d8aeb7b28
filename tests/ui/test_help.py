"""Help: the welcome view (first run, one click opens a model) and About's versions."""

from __future__ import annotations

from importlib import metadata

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from studio import APP_NAME, __version__
from studio.ui.welcome import OFFLINE_NOTE
from studio.ui.window_help import WELCOME_SETTING, about_text
from tests.ui.conftest import make_window


def test_welcome_lists_every_family_from_the_registry(window, services):
    dialog = window.show_welcome()
    for info in services.registry:
        assert dialog.family_labels[info.name].text() == info.description
    assert set(dialog.open_buttons) == {e.id for e in services.library.entries()}
    assert OFFLINE_NOTE in dialog.offline_label.text()
    assert "locally and offline" in OFFLINE_NOTE


def test_one_click_in_the_welcome_view_opens_a_model_in_its_explorer(qtbot, gan_services, settings):
    window = make_window(qtbot, gan_services, settings, model_id="fake-model")
    assert window.session.model_id == "fake-model"
    dialog = window.show_welcome()
    qtbot.waitExposed(dialog)
    with qtbot.waitSignal(dialog.model_chosen) as chosen:
        QTest.mouseClick(dialog.open_buttons["fake-gan"], Qt.MouseButton.LeftButton)
    assert chosen.args == ["fake-gan"]
    assert window.session.model_id == "fake-gan"
    assert window.explorer is window._explorer_of("gan")  # the GAN's own explorer
    assert window.models.current_id() == "fake-gan"
    # loaded, and a first grid made from it
    qtbot.waitUntil(lambda: window.last_result is not None
                    and window.last_result.request.model_id == "fake-gan", timeout=10000)
    assert window.models.is_loaded("fake-gan")
    assert window.welcome_dialog is None  # closed itself (and was deleted)
    window.close()


def test_the_welcome_view_shows_on_the_first_run_only(qtbot, services, settings):
    window = make_window(qtbot, services, settings, start=False)
    assert not settings.value(WELCOME_SETTING, False, type=bool)
    assert window.show_welcome_on_first_run()
    assert window.welcome_dialog is not None and window.welcome_dialog.isVisible()
    window.welcome_dialog.close()
    assert not window.show_welcome_on_first_run()
    window.close()
    # Help ▸ Welcome shows it any time
    again = make_window(qtbot, services, settings, start=False)
    again.welcome_action.trigger()
    assert again.welcome_dialog is not None and again.welcome_dialog.isVisible()
    again.close()


def test_about_lists_the_versions_device_and_library_folder(window, services):
    box = window.about_action.trigger() or window.about_box
    assert box is not None and box.isVisible()
    text = box.text()
    assert f"{APP_NAME} {__version__}" in text
    assert metadata.version("torch") in text and metadata.version("diffusers") in text
    from PySide6.QtCore import qVersion

    assert qVersion() in text
    assert "cpu" in text  # the fake services' cache runs on the CPU
    assert str(window.user_home()) in text
    plain = about_text("cpu", window.user_home())
    assert "Device in use: cpu" in plain and "Library folder:" in plain


def test_about_before_a_model_is_loaded_says_so(qtbot, services, settings):
    window = make_window(qtbot, services, settings, start=False)
    assert "not chosen yet" in window.show_about().text()
    window.close()
