"""What you type is what runs (issue 13, point 1), through the real window: a seed typed
in the field and not yet committed is the seed Ctrl+Enter renders, and it locks."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QSpinBox

from tests.ui.conftest import make_window


def seed_field(window) -> QSpinBox:
    row = window.params._rows["seed"]
    return row.editor.findChild(QSpinBox) if not isinstance(row.editor, QSpinBox) else row.editor


def test_a_typed_seed_then_ctrl_enter_renders_that_seed_and_locks_it(qtbot, services, settings):
    window = make_window(qtbot, services, settings)
    assert not window.session.seed_locked
    field = seed_field(window)
    field.setFocus()
    field.lineEdit().selectAll()
    QTest.keyClicks(field.lineEdit(), "4242")  # typed, not committed: no Enter, focus stays
    assert window.session.seed_locked  # typing a seed locks it
    before = window.last_result
    QTest.keyClick(field.lineEdit(), Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.last_result is not before and not window.busy(), timeout=10000)
    assert window.last_result.request.seed == 4242
    assert field.value() == 4242 and window.session.value("seed") == 4242
    window.close()


def test_a_typed_count_is_committed_by_the_generate_button(qtbot, services, settings):
    window = make_window(qtbot, services, settings)
    row = window.params._rows["count"]
    spin = row.editor.findChild(QSpinBox) if not isinstance(row.editor, QSpinBox) else row.editor
    spin.setFocus()
    spin.lineEdit().selectAll()
    QTest.keyClicks(spin.lineEdit(), "3")
    window.generate_action.trigger()  # the menu's Generate: the field still has the focus
    qtbot.waitUntil(lambda: window.last_result is not None and not window.busy(), timeout=10000)
    assert window.last_result.count == 3
    window.close()


def test_unlocked_the_field_shows_the_seed_the_next_run_uses(qtbot, services, settings):
    window = make_window(qtbot, services, settings)
    field = seed_field(window)
    shown = []
    for _ in range(3):
        shown.append(field.value())
        before = window.last_result
        QTest.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda before=before: window.last_result is not before and not window.busy(),
                        timeout=10000)
        assert window.last_result.request.seed == shown[-1]  # what the field showed ran
        assert field.value() != shown[-1]  # and the next seed is drawn already
    assert len(set(shown)) == 3 and not window.session.seed_locked
    window.close()
