"""The History dock: a gallery strip of every result, oldest on the left.

It reads the persisted History at start, so results survive a restart. A click emits
`entry_activated(entry)`; the window restores that entry's parameters and image. Each
item is a square thumbnail (the picture centred in it, so every item lines up) over a
caption: the model, the op and the seed.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.cross_thread import ThreadGate
from studio.ui.images import to_pixmap

THUMB = 72
CELL_WIDTH = THUMB + 56  # room for a caption line such as "sample · vae-glyphs"
ENTRY_ROLE = Qt.ItemDataRole.UserRole


def caption(entry: Any) -> str:
    """Op and model, then the seed: two short lines under the thumbnail, each elided in
    the middle when too long (the tooltip has everything)."""
    seed = entry.recipe.get("params", {}).get("seed")
    return f"{entry.op} · {entry.model_id}" + ("" if seed is None else f"\nseed {seed}")


def _square(pixmap: QPixmap) -> QPixmap:
    """The picture centred on a transparent THUMB × THUMB square: items of any shape
    line up in the strip."""
    square = QPixmap(THUMB, THUMB)
    square.fill(Qt.GlobalColor.transparent)
    painter = QPainter(square)
    painter.drawPixmap((THUMB - pixmap.width()) // 2, (THUMB - pixmap.height()) // 2, pixmap)
    painter.end()
    return square


def _thumbnail(entry: Any) -> QIcon:
    # a new entry still holds its images (its PNG may not be written yet); older ones
    # are read from disk
    picture = getattr(entry, "picture", None)
    if picture is not None:
        pixmap = to_pixmap(picture)
    else:
        pixmap = QPixmap(str(entry.image_path))
    if pixmap.isNull():
        return QIcon()
    # nearest-neighbour keeps 32-px results crisp at thumbnail size
    mode = (Qt.TransformationMode.FastTransformation if min(pixmap.width(), pixmap.height()) < THUMB
            else Qt.TransformationMode.SmoothTransformation)
    if pixmap.width() > 2 * pixmap.height():
        # a strip of frames: show its start at a readable height, not a sliver
        return QIcon(_square(pixmap.scaledToHeight(THUMB // 2, mode).copy(0, 0, THUMB, THUMB // 2)))
    return QIcon(_square(pixmap.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, mode)))


def describe(entry: Any) -> str:
    params = entry.recipe.get("params", {})
    lines = [f"<b>{entry.op}</b> · {entry.model_id}",
             time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.created))]
    shown = ", ".join(f"{k} {v}" for k, v in params.items() if v is not None)
    if shown:
        lines.append(shown)
    lines.append("<i>Click to restore these settings</i>")
    return "<br>".join(lines)


class HistoryStrip(QWidget):
    entry_activated = Signal(object)  # HistoryEntry
    problem_raised = Signal(str)  # a background write failed (emitted from its thread)

    def __init__(self, history: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self._gate = ThreadGate()  # the history's writer may outlive the window
        if hasattr(history, "on_problem"):
            # Qt queues a signal emitted on the writer thread onto the GUI thread
            history.on_problem = self._gate.emitter(self.problem_raised)
        self.list = QListWidget()
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setFlow(QListView.Flow.LeftToRight)
        self.list.setWrapping(False)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setIconSize(QSize(THUMB, THUMB))
        line = self.list.fontMetrics().height()
        self.cell = QSize(CELL_WIDTH, THUMB + 2 * line + 10)  # the thumbnail, two caption lines
        self.list.setGridSize(self.cell)
        self.list.setUniformItemSizes(True)
        self.list.setWordWrap(False)  # one line each: a wrapped seed would be cut off
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.list.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setMinimumHeight(self.cell.height() + self.list.horizontalScrollBar().sizeHint().height() + 4)
        self.list.itemClicked.connect(self._on_list_item_clicked)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._on_list_context_menu_requested)
        self.list.itemActivated.connect(self._on_list_item_clicked)

        self.clear_button = QToolButton()
        self.clear_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TrashIcon))
        self.clear_button.setToolTip("Clear the history (deletes its thumbnails)")
        self.clear_button.setAutoRaise(True)
        self.clear_button.clicked.connect(self._on_clear_button_clicked)
        side = QVBoxLayout()
        side.addWidget(self.clear_button)
        side.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addLayout(side)
        self.reload()

    def release(self) -> None:
        """The window is closing: the writer's problems no longer come here."""
        self._gate.close()
        if getattr(self.history, "on_problem", None) is not None:
            self.history.on_problem = None

    def reload(self) -> None:
        self.list.clear()
        for entry in self.history.entries():
            self._append(entry)
        self.list.scrollToBottom()

    def add(self, entry: Any) -> None:
        self._append(entry)
        self.list.scrollToItem(self.list.item(self.list.count() - 1))

    def _append(self, entry: Any) -> None:
        item = QListWidgetItem(_thumbnail(entry), caption(entry))
        item.setData(ENTRY_ROLE, entry)
        item.setToolTip(describe(entry))
        item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        item.setSizeHint(QSize(self.cell.width() - 4, self.cell.height() - 4))
        self.list.addItem(item)

    def show_entry(self, entry: Any) -> None:
        """Point at an entry already in the strip (an identical re-run adds none)."""
        for row in range(self.list.count()):
            if self.entry(row).id == entry.id:
                self.list.setCurrentRow(row)
                self.list.scrollToItem(self.list.item(row))
                return

    def count(self) -> int:
        return self.list.count()

    def entry(self, row: int) -> Any:
        return self.list.item(row).data(ENTRY_ROLE)

    def clear(self) -> None:
        self.history.clear()
        self.list.clear()

    def remove(self, row: int) -> None:
        """Forget one entry (its image file too)."""
        entry = self.entry(row)
        self.history.remove(entry.id)
        self.list.takeItem(row)

    def _on_list_context_menu_requested(self, pos: Any) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        menu = QMenu(self)
        menu.addAction("Restore these settings", lambda: self.entry_activated.emit(item.data(ENTRY_ROLE)))
        menu.addAction(self.style().standardIcon(QStyle.StandardPixmap.SP_TrashIcon),
                       "Remove from history", lambda: self.remove(self.list.row(item)))
        menu.exec(self.list.viewport().mapToGlobal(pos))

    def _confirm_clear(self) -> bool:
        """Ask before deleting (a separate method so tests can answer for the user)."""
        answer = QMessageBox.question(self, "Clear history",
                                      f"Delete all {self.count()} history entries and their images?")
        return answer == QMessageBox.StandardButton.Yes

    def _on_clear_button_clicked(self) -> None:
        if self.count() and self._confirm_clear():
            self.clear()

    def _on_list_item_clicked(self, item: QListWidgetItem) -> None:
        self.entry_activated.emit(item.data(ENTRY_ROLE))
