"""The mask canvas: a source image with an inpainting mask painted over it, and the
view built around it (the mask's tools, the source left, the results right) that the
diffusion explorer's Inpaint & img2img and the PixelCNN's Complete share.

The mask is uint8 (H, W) at the source's size: white (255) = repaint, black = keep, as
the diffusion families read it (≥ 128 repaints). The left button paints, the right one
(or the Erase toggle) erases, the middle one pans; `[` and `]` change the brush; Ctrl+Z /
Ctrl+Shift+Z undo and redo whole strokes (a stack of its own, apart from the parameter
undo of Edit ▸ Undo). The mask shows as a semi-transparent overlay.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QKeySequence, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPixmapItem,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.requests import Result
from studio.ui import images as imgs
from studio.ui.canvas import Canvas
from studio.ui.explorers.base import button, caption, counter_label
from studio.ui.flow_layout import FlowLayout

OVERLAY_RGB = (255, 70, 90)
UNDO_LIMIT = 50
MAX_BRUSH = 256


class MaskCanvas(Canvas):
    mask_changed = Signal()  # after a stroke, undo, redo, invert or clear
    brush_changed = Signal(int)  # the brush diameter in source pixels

    def __init__(self, parent: QWidget | None = None, placeholder: str = "") -> None:
        super().__init__(parent, placeholder)
        self.source: np.ndarray | None = None  # (H, W, C) uint8
        self._mask = np.zeros((0, 0), np.uint8)
        self._undo: list[np.ndarray] = []
        self._redo: list[np.ndarray] = []
        self._stroke_value: int | None = None  # 255 painting, 0 erasing, None idle
        self._last: QPointF | None = None
        self.erasing = False  # the Erase toggle: the left button erases too
        self.brush = 4
        self.overlay_opacity = 0.5
        self._overlay = QGraphicsPixmapItem()
        self._overlay.setTransformationMode(Qt.TransformationMode.FastTransformation)
        self._overlay.setZValue(1)
        self.scene().addItem(self._overlay)
        self._cursor = QGraphicsEllipseItem()
        pen = QPen(QColor("white"), 1.5)
        pen.setCosmetic(True)
        self._cursor.setPen(pen)
        self._cursor.setZValue(5)
        self._cursor.hide()
        self._cursor.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, False)
        self.scene().addItem(self._cursor)
        self.viewport().setMouseTracking(True)
        self.setCursor(Qt.CursorShape.CrossCursor)

    # -- source and mask ------------------------------------------------------------------
    def set_source(self, image: np.ndarray, keep_mask: bool = False) -> None:
        """A new image to paint on; the mask is cleared (or kept when the size matches)."""
        image = imgs.as_hwc(np.asarray(image))
        h, w = image.shape[:2]
        self.source = image
        self.set_image(image)
        if not (keep_mask and self._mask.shape == (h, w)):
            self._mask = np.zeros((h, w), np.uint8)
            self._undo, self._redo = [], []
            self.set_brush(max(1, round(max(h, w) / 8)))
        self._show_mask()
        self.mask_changed.emit()

    def mask(self) -> np.ndarray:
        """The mask, uint8 (H, W): 255 = repaint, 0 = keep."""
        return self._mask.copy()

    def set_mask(self, mask: np.ndarray) -> None:
        """Replace the mask (one undo step)."""
        mask = np.asarray(mask, np.uint8)
        assert mask.shape == self._mask.shape, (mask.shape, self._mask.shape)
        self._push()
        self._mask = np.where(mask >= 128, 255, 0).astype(np.uint8)
        self._changed()

    def has_mask(self) -> bool:
        return bool(self._mask.size and self._mask.any())

    def invert(self) -> None:
        if self.source is not None:
            self._push()
            self._mask = (255 - self._mask).astype(np.uint8)
            self._changed()

    def clear_mask(self) -> None:
        if self.source is not None and self._mask.any():
            self._push()
            self._mask = np.zeros_like(self._mask)
            self._changed()

    def clear(self) -> None:
        super().clear()
        self.source = None
        self._mask = np.zeros((0, 0), np.uint8)
        self._undo, self._redo = [], []
        self._show_mask()

    # -- undo ---------------------------------------------------------------------------------
    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> None:
        if self._undo:
            self._redo.append(self._mask)
            self._mask = self._undo.pop()
            self._changed()

    def redo(self) -> None:
        if self._redo:
            self._undo.append(self._mask)
            self._mask = self._redo.pop()
            self._changed()

    def _push(self) -> None:
        self._undo.append(self._mask.copy())
        del self._undo[:-UNDO_LIMIT]
        self._redo.clear()

    def _changed(self) -> None:
        self._show_mask()
        self.mask_changed.emit()

    # -- brush ---------------------------------------------------------------------------------
    def set_brush(self, size: int) -> None:
        size = int(min(MAX_BRUSH, max(1, size)))
        if size != self.brush:
            self.brush = size
            self.brush_changed.emit(size)
        self._update_cursor_size()

    def set_erasing(self, erasing: bool) -> None:
        self.erasing = erasing

    def set_overlay_opacity(self, opacity: float) -> None:
        self.overlay_opacity = opacity
        self._overlay.setOpacity(opacity)

    def _update_cursor_size(self) -> None:
        r = self.brush / 2
        self._cursor.setRect(-r, -r, 2 * r, 2 * r)

    # -- painting ---------------------------------------------------------------------------
    def _paint(self, start: QPointF, end: QPointF) -> None:
        h, w = self._mask.shape
        image = QImage(self._mask.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        value = self._stroke_value or 0
        pen = QPen(QColor(value, value, value), self.brush, Qt.PenStyle.SolidLine,
                   Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        if start == end:
            painter.drawPoint(start)
        else:
            painter.drawLine(start, end)
        painter.end()
        ptr = image.constBits()
        rows = np.frombuffer(ptr, np.uint8, image.bytesPerLine() * h).reshape(h, image.bytesPerLine())
        self._mask = np.where(rows[:, :w] >= 128, 255, 0).astype(np.uint8)
        self._show_mask()

    def _show_mask(self) -> None:
        if not self._mask.size:
            self._overlay.setPixmap(imgs.to_pixmap(np.zeros((1, 1, 4), np.uint8)))
            return
        h, w = self._mask.shape
        rgba = np.zeros((h, w, 4), np.uint8)
        rgba[..., :3] = OVERLAY_RGB
        rgba[..., 3] = self._mask
        self._overlay.setPixmap(imgs.to_pixmap(rgba))
        self._overlay.setOpacity(self.overlay_opacity)

    def _scene_point(self, event: QMouseEvent) -> QPointF:
        # pixel centres: a click in pixel (x, y) paints around (x + 0.5, y + 0.5)
        point = self.mapToScene(event.position().toPoint())
        return QPointF(point.x() - 0.5, point.y() - 0.5)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        if (self.source is not None and button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton)
                and self.dragMode() == self.DragMode.NoDrag):
            erase = button == Qt.MouseButton.RightButton or self.erasing
            self._push()
            self._stroke_value = 0 if erase else 255
            self._last = self._scene_point(event)
            self._paint(self._last, self._last)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        point = self.mapToScene(event.position().toPoint())
        if self.source is not None:
            self._cursor.setPos(point)
            self._cursor.show()
        if self._stroke_value is not None and self._last is not None:
            current = self._scene_point(event)
            self._paint(self._last, current)
            self._last = current
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._stroke_value is not None and event.button() in (Qt.MouseButton.LeftButton,
                                                                 Qt.MouseButton.RightButton):
            self._stroke_value, self._last = None, None
            self.mask_changed.emit()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def leaveEvent(self, event) -> None:
        self._cursor.hide()
        super().leaveEvent(event)

    def contextMenuEvent(self, event) -> None:
        event.accept()  # the right button erases

    # -- keys: [ ] brush, Ctrl+Z / Ctrl+Shift+Z strokes ------------------------------------
    def own_key(self, event: QKeyEvent) -> str:
        """The mask's action for a key press ("undo", "redo", "smaller", "larger"), or ""."""
        if event.matches(QKeySequence.StandardKey.Undo):
            return "undo"
        if event.matches(QKeySequence.StandardKey.Redo) or (
                event.key() == Qt.Key.Key_Z and event.modifiers()
                == (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)):
            return "redo"
        if event.key() == Qt.Key.Key_BracketLeft:
            return "smaller"
        if event.key() == Qt.Key.Key_BracketRight:
            return "larger"
        return ""

    def event(self, event: QEvent) -> bool:
        # take Ctrl+Z from the window's parameter undo while the canvas has the focus
        if event.type() == QEvent.Type.ShortcutOverride and self.own_key(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = self.own_key(event)
        if key == "undo":
            self.undo()
        elif key == "redo":
            self.redo()
        elif key in ("smaller", "larger"):
            step = max(1, round(self.brush * 0.2))
            self.set_brush(self.brush + (step if key == "larger" else -step))
        else:
            super().keyPressEvent(event)
            return
        event.accept()


# -- the view around it ------------------------------------------------------------------------
# What the brush does, said the same way wherever the mask is painted (the diffusion's
# Inpaint and the PixelCNN's Complete use the same brush on the same kind of mask): the
# brush marks the part to repaint; the view says only what its own op then does
BRUSH_HINT = ("Left drag marks the part to repaint (shown red), right drag unmarks · [ ] brush "
              "size · Ctrl+Z / Ctrl+Shift+Z undo/redo strokes")
NO_MASK = "Paint the part to repaint first (left drag on the image)."


def no_source(picked_in: str) -> str:
    """What to do when there is no image to paint on; `picked_in`: the tab to pick one in."""
    return (f"Pick an image in {picked_in} (click it) or drop an image file on the canvas "
            "first, then paint the part to repaint.")


class MaskPaintView(QWidget):
    """The source with its mask (left), the results made from them (right), and the mask's
    tools above: Erase, Brush, Invert, Clear, Undo, Redo, Overlay, then the view's own
    buttons (Use picked sample, Use result) and the running job's counter."""

    use_picked_requested = Signal()
    use_result_requested = Signal()

    def __init__(self, parent: QWidget | None = None, *, then: str, picked_in: str,
                 results_placeholder: str, use_result_tip: str, counter_tip: str) -> None:
        """`then`: what Generate does with the marked part (after BRUSH_HINT in the help
        line); `picked_in`: the tab where the image to paint on is picked."""
        super().__init__(parent)
        self.picked_in = picked_in
        self.mask_canvas = MaskCanvas(placeholder=f"Pick an image in {picked_in} (click it), "
                                                  "or drop an image file here, then paint the "
                                                  "part to repaint")
        self.canvas = Canvas(placeholder=results_placeholder)
        self.canvas.cell_clicked.connect(self._on_canvas_cell_clicked)
        self.caption = caption(f"{BRUSH_HINT} · {then}")
        self.use_picked = button("Use picked sample", f"Paint on the image picked in {picked_in}")
        self.use_result = button("Use result", use_result_tip)
        self.use_result.setEnabled(False)
        self.erase = QToolButton()
        self.erase.setText("Erase")
        self.erase.setCheckable(True)
        self.erase.setToolTip("Left drag erases the mask too, as right drag always does "
                              "(unmarks the part to repaint)")
        self.brush = QSlider(Qt.Orientation.Horizontal)
        self.brush.setRange(1, 64)
        self.brush.setFixedWidth(120)
        self.brush.setToolTip("Brush size in image pixels ([ smaller, ] larger)")
        self.brush_label = QLabel("")
        self.brush_label.setMinimumWidth(44)
        self.brush_label.setToolTip("Brush size in image pixels")
        self.invert = button("Invert", "Swap what is repainted and what is kept")
        self.clear_button = button("Clear", "Clear the mask (nothing is repainted)")
        self.undo = button("Undo", "Undo the last stroke (Ctrl+Z on the canvas)")
        self.redo = button("Redo", "Redo the stroke undone (Ctrl+Shift+Z on the canvas)")
        self.show_mask = QToolButton()
        self.show_mask.setText("Overlay")
        self.show_mask.setCheckable(True)
        self.show_mask.setChecked(True)
        self.show_mask.setToolTip("Show the mask over the image (semi-transparent red)")
        self.step = counter_label(counter_tip)

        self.tools = FlowLayout(spacing=6)  # wraps on a narrow window instead of widening it
        for widget in (self.erase, QLabel("Brush"), self.brush, self.brush_label, self.invert,
                       self.clear_button, self.undo, self.redo, self.show_mask):
            self.tools.addWidget(widget)
        self.tools.addStretch(1)
        self.tools.addWidget(self.step)
        top = QHBoxLayout()  # the view's own buttons by the help line, so the tools fit
        top.addWidget(self.caption, 1)
        top.addWidget(self.use_picked)
        top.addWidget(self.use_result)
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(self.mask_canvas)
        self.split.addWidget(self.canvas)
        self.split.setSizes([500, 500])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addLayout(self.tools)
        layout.addWidget(self.split, 1)

        self.result: Result | None = None
        self.selection: list[int] = []
        self.erase.toggled.connect(self.mask_canvas.set_erasing)
        self.brush.valueChanged.connect(self.mask_canvas.set_brush)
        self.mask_canvas.brush_changed.connect(self._on_mask_canvas_brush_changed)
        self.mask_canvas.mask_changed.connect(self._update_buttons)
        self.invert.clicked.connect(self.mask_canvas.invert)
        self.clear_button.clicked.connect(self.mask_canvas.clear_mask)
        self.undo.clicked.connect(self.mask_canvas.undo)
        self.redo.clicked.connect(self.mask_canvas.redo)
        self.show_mask.toggled.connect(lambda on: self.mask_canvas.set_overlay_opacity(0.5 if on else 0.0))
        self.use_picked.clicked.connect(self.use_picked_requested)
        self.use_result.clicked.connect(self.use_result_requested)
        self._on_mask_canvas_brush_changed(self.mask_canvas.brush)
        self._update_buttons()

    def set_source(self, image: np.ndarray, keep_mask: bool = False) -> None:
        self.mask_canvas.set_source(image, keep_mask)

    def missing(self, need_mask: bool = True) -> str:
        """What is missing before a run, in the same words in every view ("" if nothing)."""
        if self.mask_canvas.source is None:
            return no_source(self.picked_in)
        if need_mask and not self.mask_canvas.has_mask():
            return NO_MASK
        return ""

    def show_inputs(self, image: Any, mask: Any) -> None:
        """The source and mask a result was made from, on the mask canvas (the same after
        a run; the recorded ones after a History entry is restored)."""
        canvas = self.mask_canvas
        if image is not None and (canvas.source is None or not np.array_equal(canvas.source, image)):
            canvas.set_source(np.asarray(image), keep_mask=True)
        if mask is not None:
            mask = np.asarray(mask)
            mask = mask[..., 0] if mask.ndim == 3 else mask
            if mask.shape == canvas.mask().shape and not np.array_equal(mask >= 128, canvas.mask() >= 128):
                canvas.set_mask(mask)

    # the mask's keys work anywhere in this view (a tool button may have the focus), and
    # Ctrl+Z here undoes strokes, not the window's parameter edits
    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and self.mask_canvas.own_key(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self.mask_canvas.own_key(event):
            self.mask_canvas.keyPressEvent(event)
        else:
            super().keyPressEvent(event)

    def show_result(self, result: Result) -> None:
        self.result = result
        self.selection = []
        self.canvas.set_images(result.images, result.columns, result.labels)
        self.use_result.setEnabled(True)

    def show_previews(self, images: np.ndarray, count: int) -> None:
        self.canvas.set_images(imgs.pad_grid(images, count))

    def restore(self) -> None:
        """Take back a partial preview (a cancelled run)."""
        if self.result is not None:
            self.canvas.set_images(self.result.images, self.result.columns, self.result.labels)
        else:
            self.canvas.clear()

    def picked_result(self) -> np.ndarray | None:
        if self.result is None:
            return None
        return self.result.images[self.selection[0] if self.selection else 0]

    def take_picked_result(self) -> None:
        """Use result: the picked result becomes the source, keeping the mask, so that
        the region can be repainted again."""
        image = self.picked_result()
        if image is not None:
            self.set_source(image, keep_mask=True)

    def clear(self) -> None:
        self.result = None
        self.selection = []
        self.canvas.clear()
        self.mask_canvas.clear()
        self.use_result.setEnabled(False)
        self._update_buttons()

    def _on_canvas_cell_clicked(self, index: int, _modifiers: Any) -> None:
        if self.result is not None and 0 <= index < len(self.result.images):
            self.selection = [index]
            self.canvas.set_selection(self.selection)

    def _on_mask_canvas_brush_changed(self, size: int) -> None:
        self.brush.blockSignals(True)
        self.brush.setMaximum(max(64, min(MAX_BRUSH, size)))
        self.brush.setValue(size)
        self.brush.blockSignals(False)
        self.brush_label.setText(f"{size} px")

    def _update_buttons(self) -> None:
        has_source = self.mask_canvas.source is not None
        self.undo.setEnabled(self.mask_canvas.can_undo())
        self.redo.setEnabled(self.mask_canvas.can_redo())
        self.invert.setEnabled(has_source)
        self.clear_button.setEnabled(self.mask_canvas.has_mask())
