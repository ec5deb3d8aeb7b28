"""The welcome view: what each family is, in one line, and one click to open a model.

Shown on the first run and from Help ▸ Welcome. The list is built from the registry's
FamilyInfo labels and descriptions and from the library, so a new family or model shows
up here with no change to this file. Every family is in sight without scrolling (the
dialog is as tall as its rows, up to the screen), and a family with no model yet offers
Import: a file when the family converts one (its importers), else a folder.
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
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from studio import APP_NAME

OFFLINE_NOTE = ("Everything runs locally and offline. The models run on this computer, on its "
                "GPU when it has one and otherwise on the CPU; nothing is uploaded or "
                "downloaded, and no account is needed.")
MODELS_PER_FAMILY = 4
WIDTH = 900  # wide enough that each family's description takes two or three lines


class WelcomeDialog(QDialog):
    model_chosen = Signal(str)  # a model id; the dialog closes itself
    import_requested = Signal(str)  # "file" or "folder": what the family's models come as

    def __init__(self, registry: Any, library: Any, home: Path | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Welcome to {APP_NAME}")
        self.setModal(False)
        self.open_buttons: dict[str, QPushButton] = {}  # model id → its button
        self.family_labels: dict[str, QLabel] = {}  # family name → its description
        self.import_buttons: dict[str, QPushButton] = {}  # empty family → its Import button

        title = QLabel(f"<h2>Welcome to {APP_NAME}</h2>")
        intro = QLabel("A studio for seeing how generative image models work. Each family of "
                       "models has its own explorer; open a model to start.")
        intro.setWordWrap(True)
        self.offline_label = QLabel(f"<b>{OFFLINE_NOTE}</b>")
        self.offline_label.setObjectName("offlineNote")
        self.offline_label.setWordWrap(True)

        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(6)
        grid.setColumnStretch(1, 1)
        entries = list(library.entries())
        for row, info in enumerate(registry):
            name = QLabel(f"<b>{info.label}</b>")
            description = QLabel(info.description)
            description.setWordWrap(True)
            self.family_labels[info.name] = description
            grid.addWidget(name, row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(description, row, 1, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(self._model_buttons(info, entries), row, 2, Qt.AlignmentFlag.AlignTop)
        families = QWidget()
        families.setLayout(grid)
        # a scroll area only for a screen too short for every row; sized below so that
        # none is needed otherwise
        self.scroll = QScrollArea()
        self.scroll.setWidget(families)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self._families = families

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
        layout.addWidget(self.scroll, 1)
        layout.addWidget(where)
        layout.addLayout(bottom)
        self._fit_rows(WIDTH)

    def _fit_rows(self, width: int) -> None:
        screen = self.screen().availableGeometry() if self.screen() else None
        if screen is not None:
            width = min(width, screen.width())
        self.resize(width, self.sizeHint().height())

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.grow_to_fit()

    def grow_to_fit(self) -> None:
        """Grow until no family row is scrolled out of sight (the wrapped descriptions'
        height is only known once laid out at the dialog's width), up to the screen."""
        screen = self.screen().availableGeometry() if self.screen() else None
        limit = screen.height() - 40 if screen is not None else 10_000
        for _ in range(4):  # each pass re-wraps at the new size; two are usually enough
            hidden = self.scroll.verticalScrollBar().maximum()
            if hidden <= 0 or self.height() >= limit:
                return
            self.resize(self.width(), min(limit, self.height() + hidden))

    def _model_buttons(self, info: Any, entries: list[Any]) -> QWidget:
        family = info.name
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
            # a family converts model files (a network pickle) when it has importers
            kind = "file" if getattr(info, "importers", ()) else "folder"
            button = QPushButton(f"Import a model {kind}…")
            button.setToolTip(f"No {info.label} model yet: add one from this computer "
                              f"(Model ▸ Import Model {kind.title()}…)")
            button.clicked.connect(lambda _=False, kind=kind: self._import(kind))
            self.import_buttons[family] = button
            column.addWidget(button)
        return box

    def _import(self, kind: str) -> None:
        self.close()
        self.import_requested.emit(kind)

    def _choose(self, model_id: str) -> None:
        self.model_chosen.emit(model_id)
        self.close()
