"""The Models dock: the library grouped by family, load/unload/import, device and memory.

Long names are elided in the middle (the start and the end tell models apart) and the
full name is in the tooltip; the loaded dots have a legend; a family with no model yet is
listed last with an Import row, so every family is found here.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPixmap
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QStyle,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.ui import icons
from studio.ui.flow_layout import FlowLayout

ID_ROLE = Qt.ItemDataRole.UserRole
THUMBNAIL = "thumbnail.png"
COL_NAME, COL_RES, COL_SIZE, COL_LOADED = range(4)
LOADED_COLOR = QColor("#5fd068")
IMPORT_ROLE = Qt.ItemDataRole.UserRole + 1  # on an empty family's Import row: "file" / "folder"
LEGEND = "● loaded  ○ not loaded"
# below this tree width the Res and Size columns go (they are in each tooltip), so that
# the names stay readable in a narrow dock
NARROW_TREE = 280


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def model_thumbnail(folder: Path, family: str) -> QIcon:
    path = Path(folder) / THUMBNAIL
    if path.is_file():
        pixmap = QPixmap(str(path))
        if not pixmap.isNull():
            # nearest-neighbour: tiny model outputs stay crisp
            return QIcon(pixmap.scaled(32, 32, Qt.AspectRatioMode.KeepAspectRatio,
                                       Qt.TransformationMode.FastTransformation))
    return icons.model_icon(zlib.crc32(family.encode()) % 360)


class ModelPanel(QWidget):
    model_selected = Signal(str)
    load_requested = Signal(str)
    unload_requested = Signal(str)
    import_requested = Signal()  # the window asks the user for a folder
    import_file_requested = Signal()  # ... for a model file (a family with importers)
    model_imported = Signal(str)
    error_raised = Signal(str)

    def __init__(self, library: Any, registry: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.registry = registry
        self._loaded: set[str] = set()
        self._busy = False
        self._items: dict[str, QTreeWidgetItem] = {}

        self.tree = QTreeWidget()
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["Model", "Res", "Size", ""])
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(10)
        self.tree.setIconSize(QSize(28, 28))
        self.tree.setUniformRowHeights(False)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.headerItem().setToolTip(COL_LOADED, LEGEND)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        for col in (COL_RES, COL_SIZE, COL_LOADED):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.currentItemChanged.connect(self._on_tree_current_changed)
        self.tree.itemDoubleClicked.connect(self._on_tree_double_clicked)

        style = self.style()
        self.load_button = _tool("Load", style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay),
                                 "Load the selected model onto the device")
        self.unload_button = _tool("Unload", style.standardIcon(QStyle.StandardPixmap.SP_MediaStop),
                                   "Free the selected model's memory")
        self.import_button = _tool("Import…", style.standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon),
                                   "Add a model folder (card.json + safetensors weights)")
        self.load_button.clicked.connect(lambda: self._request(self.load_requested))
        self.unload_button.clicked.connect(lambda: self._request(self.unload_requested))
        self.import_button.clicked.connect(self.import_requested)
        buttons = FlowLayout(spacing=4)  # wraps in a narrow dock instead of widening it
        for button in (self.load_button, self.unload_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.import_button)

        self.problems_label = QLabel()
        self.problems_label.setWordWrap(True)
        self.problems_label.setStyleSheet("color: #ffb84d;")
        self.legend_label = QLabel(LEGEND)
        self.legend_label.setObjectName("caption")
        self.legend_label.setToolTip("The dot beside each model: whether its weights are in memory")
        self.device_label = QLabel("Device: starting…")
        self.device_label.setObjectName("caption")
        self.device_label.setToolTip("Where models run, and the memory their weights use")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.legend_label)
        layout.addWidget(self.device_label)
        self.refresh()

    # -- contents ---------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the library (after an import) and rebuild the tree."""
        current = self.current_id()
        self.tree.clear()
        self._items.clear()
        by_family: dict[str, list[Any]] = {}
        for entry in self.library.entries():
            by_family.setdefault(entry.card.family, []).append(entry)
        for family, entries in by_family.items():
            # a pipeline's own VAE (<pipeline-id>-vae) is listed under its pipeline
            nested = [e for e in entries if (e.card.config or {}).get("parent") in self._items]
            for entry in nested:
                parent = self._items[entry.card.config["parent"]]
                self._items[entry.id] = self._make_item(parent, entry)
                parent.setExpanded(True)
            entries = [e for e in entries if e not in nested]
            if not entries:
                continue
            label = self.registry.get(family).label if family in self.registry else family
            group = QTreeWidgetItem(self.tree, [label])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            group.setFirstColumnSpanned(True)
            font = QFont(group.font(0))
            font.setBold(True)
            group.setFont(0, font)
            if family in self.registry:
                group.setToolTip(0, self.registry.get(family).description)
            for entry in sorted(entries, key=lambda e: e.card.name.lower()):
                self._items[entry.id] = self._make_item(group, entry)
            group.setExpanded(True)
        for info in self.registry:  # the families with no model yet, last
            if info.name not in by_family:
                self._make_empty_family(info)
        problems = list(getattr(self.library, "problems", []))
        self.problems_label.setText("\n".join(f"⚠ {p}" for p in problems))
        self.problems_label.setVisible(bool(problems))
        if current in self._items:
            self.select(current)
        self._update_buttons()

    def _make_empty_family(self, info: Any) -> None:
        group = QTreeWidgetItem(self.tree, [info.label])
        group.setFlags(Qt.ItemFlag.ItemIsEnabled)
        group.setFirstColumnSpanned(True)
        group.setToolTip(0, info.description)
        kind = "file" if getattr(info, "importers", ()) else "folder"
        row = QTreeWidgetItem(group, [f"Import a {kind}…"])
        row.setFirstColumnSpanned(True)
        row.setData(COL_NAME, IMPORT_ROLE, kind)
        row.setForeground(COL_NAME, QBrush(QColor("#8a8a8a")))
        row.setIcon(COL_NAME, self.style().standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon))
        row.setToolTip(COL_NAME, f"No {info.label} model yet: double-click to add one "
                                 f"from this computer (a {kind})")
        group.setExpanded(True)

    def import_rows(self) -> dict[str, QTreeWidgetItem]:
        """The Import rows of the families with no model, by family label."""
        rows = {}
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            child = group.child(0)
            if child is not None and child.data(COL_NAME, IMPORT_ROLE):
                rows[group.text(0)] = child
        return rows

    def _make_item(self, group: QTreeWidgetItem, entry: Any) -> QTreeWidgetItem:
        card = entry.card
        item = QTreeWidgetItem(group, [card.name, f"{card.resolution}px",
                                       human_size(entry.size_bytes), ""])
        item.setData(COL_NAME, ID_ROLE, entry.id)
        item.setIcon(COL_NAME, model_thumbnail(entry.folder, card.family))
        channels = {1: "grayscale", 3: "colour"}.get(card.channels, f"{card.channels} channels")
        tip = [f"<b>{card.name}</b> <span>({entry.id})</span>",
               f"{card.resolution}×{card.resolution} {channels}"]
        if card.description:
            tip.append(card.description)
        if card.dataset:
            tip.append(f"Trained on: {card.dataset}")
        tip.append(human_size(entry.size_bytes))
        tip.append("Built-in" if getattr(entry, "builtin", False) else f"Folder: {entry.folder}")
        for col in range(4):
            item.setToolTip(col, "<br>".join(tip))
        item.setTextAlignment(COL_RES, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        item.setTextAlignment(COL_SIZE, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._paint_loaded(item, entry.id in self._loaded)
        return item

    def _paint_loaded(self, item: QTreeWidgetItem, loaded: bool) -> None:
        item.setText(COL_LOADED, "●" if loaded else "○")
        item.setForeground(COL_LOADED, QBrush(LOADED_COLOR if loaded else QColor("#777777")))
        item.setToolTip(COL_LOADED, "Loaded" if loaded else "Not loaded")

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        narrow = self.tree.width() < NARROW_TREE
        for column in (COL_RES, COL_SIZE):
            self.tree.setColumnHidden(column, narrow)

    def model_ids(self) -> list[str]:
        return list(self._items)

    def current_id(self) -> str | None:
        item = self.tree.currentItem() if hasattr(self, "tree") else None
        return None if item is None else item.data(COL_NAME, ID_ROLE)

    def select(self, model_id: str) -> None:
        item = self._items.get(model_id)
        if item is not None and self.tree.currentItem() is not item:
            self.tree.setCurrentItem(item)

    # -- state from the engine -----------------------------------------------------------
    def set_loaded(self, model_ids: list[str]) -> None:
        self._loaded = set(model_ids)
        for model_id, item in self._items.items():
            self._paint_loaded(item, model_id in self._loaded)
        self._update_buttons()

    def is_loaded(self, model_id: str) -> bool:
        return model_id in self._loaded

    def set_device(self, device: str, memory_bytes: int) -> None:
        self.device_label.setText(f"Device: {device}  ·  {human_size(memory_bytes)} in use")

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.import_button.setEnabled(not busy)
        self._update_buttons()

    # -- actions -------------------------------------------------------------------------
    def import_folder(self, path: str) -> str | None:
        """Import a model folder into the library; returns its id, or None on error."""
        try:
            entry = self.library.import_folder(path)
        except (ValueError, OSError) as exc:  # LibraryError and CardError are ValueErrors
            self.error_raised.emit(str(exc))
            return None
        self.refresh()
        self.select(entry.id)
        self.model_imported.emit(entry.id)
        return entry.id

    def _request(self, signal: Any) -> None:
        model_id = self.current_id()
        if model_id is not None:
            signal.emit(model_id)

    def _update_buttons(self) -> None:
        model_id = self.current_id()
        idle = not self._busy
        self.load_button.setEnabled(idle and model_id is not None and model_id not in self._loaded)
        self.unload_button.setEnabled(idle and model_id is not None and model_id in self._loaded)

    def _on_tree_current_changed(self, current: QTreeWidgetItem | None, _previous: Any) -> None:
        self._update_buttons()
        model_id = None if current is None else current.data(COL_NAME, ID_ROLE)
        if model_id:
            self.model_selected.emit(model_id)

    def _on_tree_double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        kind = item.data(COL_NAME, IMPORT_ROLE)
        if kind:
            (self.import_file_requested if kind == "file" else self.import_requested).emit()
            return
        model_id = item.data(COL_NAME, ID_ROLE)
        if model_id and model_id not in self._loaded:
            self.load_requested.emit(model_id)


def _tool(text: str, icon: QIcon, tip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setIcon(icon)
    button.setToolTip(tip)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    return button
