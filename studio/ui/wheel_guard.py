"""The mouse wheel scrolls a panel; it changes a value only in the box being edited.

In a scrolling panel (the parameters, the Animator, the Train view) the wheel that scrolls
it landed on whatever number box, list or slider passed under the pointer and changed its
value: scrolling the Animator changed its easing (seen on a 1024×700 screen). Guarded
editors take the wheel only once they have the focus (a click or Tab); until then the
event goes on to the scroll area, which scrolls.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractSlider, QAbstractSpinBox, QComboBox, QScrollBar, QWidget

_EDITORS = (QAbstractSpinBox, QComboBox, QAbstractSlider)


class _WheelGuard(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget)
                and not watched.hasFocus()):
            # ignored and filtered: Qt hands an ignored wheel event on to the parents
            event.ignore()
            return True
        return False


_guard: _WheelGuard | None = None


def guard_wheel(container: QWidget) -> None:
    """Guard every number box, list and slider inside `container` (scroll bars excepted)."""
    global _guard
    if _guard is None:
        _guard = _WheelGuard()
    for editor in container.findChildren(QWidget):
        if isinstance(editor, _EDITORS) and not isinstance(editor, QScrollBar):
            # the wheel no longer gives them the focus either: a click or Tab does
            editor.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            editor.installEventFilter(_guard)
