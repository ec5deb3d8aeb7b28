"""A dismissible message bar over the canvas: errors stay until closed, notes fade."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QStyle, QToolButton, QWidget

INFO_SECONDS = 6


class MessageBar(QFrame):
    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self._icon = QLabel()
        self._text = QLabel()
        self._text.setWordWrap(True)
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton))
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.dismiss)
        layout.addWidget(self._icon)
        layout.addWidget(self._text, 1)
        layout.addWidget(close)
        self._timer = QTimer(self, singleShot=True, timeout=self.dismiss)
        self.hide()

    def show_error(self, text: str) -> None:
        self._show(text, "error", QStyle.StandardPixmap.SP_MessageBoxWarning)

    def show_info(self, text: str, sticky: bool = False) -> None:
        self._show(text, "info", QStyle.StandardPixmap.SP_MessageBoxInformation)
        if not sticky:
            self._timer.start(INFO_SECONDS * 1000)

    def _show(self, text: str, level: str, icon: QStyle.StandardPixmap) -> None:
        self._timer.stop()
        self.setProperty("level", level)
        self.style().unpolish(self)  # re-read the [level=...] style rule
        self.style().polish(self)
        self._icon.setPixmap(self.style().standardIcon(icon).pixmap(18, 18))
        self._text.setText(text)
        self.show()

    def text(self) -> str:
        """The message shown, or "" when the bar is hidden."""
        return "" if self.isHidden() else self._text.text()

    def level(self) -> str:
        return str(self.property("level") or "")

    def dismiss(self) -> None:
        self._timer.stop()
        self.hide()
        self.dismissed.emit()
