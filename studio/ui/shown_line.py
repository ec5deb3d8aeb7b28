"""The line under the canvas that says what the view shows, from the request of the
result on screen (studio.core.shown), and "changed: Generate to update" when the panel
now holds settings that result was not made with (issue 13, point 3). It elides: a long
recipe never widens the window (the whole of it is in the tooltip)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QWidget

from studio.core import shown
from studio.core.params import OpSpec
from studio.core.requests import Request

CHANGED = "changed: Generate to update"


class ShownLine(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QLabel("")
        self.text.setObjectName("caption")
        # Ignored: the label takes what the row has left, and elides to it
        self.text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.changed = QLabel(CHANGED)
        self.changed.setObjectName("changedMark")
        self.changed.hide()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 0, 2, 2)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.changed)
        self._full = ""

    def show_request(self, request: Request | None, spec: OpSpec | None,
                     changed: list[str]) -> None:
        """`request` made what is shown (None: nothing is); `changed`: the labels of the
        settings that now differ from it."""
        if request is None or spec is None:
            self._full = ""
            self.text.setToolTip("")
            self.changed.hide()
        else:
            self._full = "Shown: " + shown.caption(request, spec)
            self.text.setToolTip(self._full.replace(" · ", "\n"))
            self.changed.setVisible(bool(changed))
            self.changed.setToolTip("Changed since this was made: " + ", ".join(changed)
                                    + ". Generate (Ctrl+Enter) renders it with them.")
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(0, self.text.width())
        self.text.setText(self.text.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, width))
