"""The welcome view: what each family is, in one line, and one click to open a model.

Shown on the first run and from Help ▸ Welcome. The list is built from the registry's
FamilyInfo labels and descriptions and from the library, so a new family or model shows
up here with no change to this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio import APP_NAME

OFFLINE_NOTE = ("Everything runs locally and offline. The models run on this computer, on its "
                "GPU when it has one and otherwise on the CPU; nothing is uploaded or "
                "downloaded, and no account is needed.")
MODELS_PER_FAMILY = 4


class WelcomeDialog(QDialog):
    model_chosen = Signal(str)  # a model id; the dialog closes itself

    def __init__(self, registry: Any, library: Any, home: Path | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Welcome to {APP_NAME}")
        self.setModal(False)
        self.open_buttons: dict[str, QPushButton] = {}  # model id → its button
        self.family_labels: dict[str, QLabel] = {}  # family name → its description

        title = QLabel(f"<h2>Welcome to {APP_NAME}</h2>")
        intro = QLabel("A studio for seeing how generative image models work. Each family of "
                       "models has its own explorer; open a model to start.")
        intro.setWordWrap(True)
        self.offline_label = QLabel(f"<b>{OFFLINE_NOTE}</b>")
        self.offline_label.setObjectName("offlineNote")
        self.offline_label.setWordWrap(True)

        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(10)
        grid.setColumnStretch(1, 1)
        entries = list(library.entries())
        for row, info in enumerate(registry):
            name = QLabel(f"<b>{info.label}</b>")
            description = QLabel(info.description)
            description.setWordWrap(True)
            self.family_labels[info.name] = description
            grid.addWidget(name, row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(description, row, 1, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(self._model_buttons(info.name, entries), row, 2, Qt.AlignmentFlag.AlignTop)
        families = QWidget()
        families.setLayout(grid)
        scroll = QScrollArea()
        scroll.setWidget(families)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)

        where = QLabel(f"Your library, history and logs live in {home}." if home else "")
        where.setWordWrap(True)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        later = QLabel("Help ▸ Welcome shows this again; Help ▸ Keyboard Shortcuts lists the keys.")
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addWidget(later, 1)
        bottom.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addWidget(self.offline_label)
        layout.addSpacing(6)
        layout.addWidget(scroll, 1)
        layout.addWidget(where)
        layout.addLayout(bottom)
        self.resize(820, 420)

    def _model_buttons(self, family: str, entries: list[Any]) -> QWidget:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        mine = sorted((e for e in entries if e.family == family), key=lambda e: not e.builtin)
        for entry in mine[:MODELS_PER_FAMILY]:
            button = QPushButton(f"Open {entry.card.name}")
            button.setToolTip(f"{entry.id}: {entry.card.resolution}px"
                              + (", built in" if entry.builtin else ", from your library"))
            button.clicked.connect(lambda _=False, model_id=entry.id: self._choose(model_id))
            self.open_buttons[entry.id] = button
            column.addWidget(button)
        if not mine:
            none = QLabel("No model of this family yet")
            none.setEnabled(False)
            column.addWidget(none)
        return box

    def _choose(self, model_id: str) -> None:
        self.model_chosen.emit(model_id)
        self.close()
