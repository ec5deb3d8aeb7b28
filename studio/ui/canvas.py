"""The canvas: one image or a grid, crisply upscaled, with zoom, pan, fit and drops.

One pixmap item is reused for every update (`setPixmap`), so scrubbing stays cheap.
Pixels are scaled nearest-neighbour: small model outputs stay sharp, not blurred.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QMimeData, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QToolTip,
    QWidget,
)

from studio.ui import images as imgs
from studio.ui.file_loader import local_path

MIN_ZOOM, MAX_ZOOM = 0.1, 64.0
SELECTION_COLORS = (QColor("#4aa3ff"), QColor("#ff9f43"))  # endpoint A, endpoint B
SELECTION_NAMES = ("A", "B")
ROW_LABEL_GUTTER = 56  # screen pixels left of a grid for its row labels


def _checker_tile(dark: bool = True) -> QPixmap:
    a, b = (QColor("#1f2023"), QColor("#25262a")) if dark else (QColor("#d8d8d8"), QColor("#e6e6e6"))
    tile = QPixmap(16, 16)
    tile.fill(a)
    painter = QPainter(tile)
    painter.fillRect(0, 0, 8, 8, b)
    painter.fillRect(8, 8, 8, 8, b)
    painter.end()
    return tile


def local_files(mime: QMimeData) -> list[str]:
    if not mime.hasUrls():
        return []
    return [local_path(url) for url in mime.urls() if url.isLocalFile()]


class Canvas(QGraphicsView):
    files_dropped = Signal(object)  # [path, ...]; not `list`: QStringList loses undecodable bytes
    cell_clicked = Signal(int, object)  # index, Qt.KeyboardModifier
    point_pressed = Signal(float, float)  # x, y as fractions of the image
    point_dragged = Signal(float, float)
    content_updated = Signal()  # after the pixmap changed

    def __init__(self, parent: QWidget | None = None, placeholder: str = "") -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.FastTransformation)
        self._item.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self.scene().addItem(self._item)
        self._highlights: list[QGraphicsRectItem] = []
        self._marker = self._make_marker()
        self.placeholder = placeholder
        self.drop_text = "Drop to encode"  # shown while files hover over the canvas
        self._count, self._columns, self._cell = 0, 1, (0, 0)
        self._labels: tuple[str, ...] = ()
        self._row_labels: list[QGraphicsSimpleTextItem] = []
        self._size = (0, 0)  # (H, W) of the shown pixmap
        self._auto_fit = True  # until the user zooms or pans
        self._point_mode = False
        self._pressing_point = False
        self._pan_from: QPointF | None = None
        self._drop_hover = False
        self._dark = True
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        self.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(120, 90)
        self._background = QBrush(_checker_tile(True))
        self._strip = False  # a filmstrip: fit to the height, scroll sideways
        self._focus: QRectF | None = None  # the part a strip keeps in view

    def make_strip(self) -> None:
        """Show a long row of frames as a filmstrip: Fit fills the height (whole-number
        zooms, so small models' frames are enlarged square, not ~30 px smudges) and a
        scroll bar runs along it; a picked frame is scrolled into view."""
        self._strip = True
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)

    # -- content -------------------------------------------------------------------
    def set_images(self, images: np.ndarray, columns: int = 0,
                   labels: tuple[str, ...] | list[str] = ()) -> None:
        """Show (N, H, W, C) uint8 images as a grid (or one image when N is 1); `labels`
        become the cells' tooltips."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        self._labels = tuple(labels)
        self._focus = None  # a strip's marked frame was of the old images
        self._count, self._columns = len(images), imgs.grid_columns(len(images), columns)
        self._cell = (images.shape[1], images.shape[2])
        self._set_pixmap(imgs.to_pixmap(imgs.grid_image(images, self._columns)))

    def set_image(self, image: np.ndarray) -> None:
        self.set_images(np.asarray(image)[None])

    def clear(self) -> None:
        self._count = 0
        self.set_row_labels([])
        self.set_selection([])
        self.clear_marker()
        self._set_pixmap(QPixmap())

    def _set_pixmap(self, pixmap: QPixmap) -> None:
        size = (pixmap.height(), pixmap.width())
        self._item.setPixmap(pixmap)
        if size != self._size:
            self._size = size
            h, w = size
            # room to pan a little past the edges (a strip's is set by fit)
            self.setSceneRect(QRectF(-w, -h, 3 * w, 3 * h) if w else QRectF())
            self.set_selection([])
            if self._auto_fit:
                self.fit()
        self.viewport().update()
        self.content_updated.emit()

    def has_content(self) -> bool:
        return self._count > 0

    @property
    def count(self) -> int:
        return self._count

    def pixmap(self) -> QPixmap:
        return self._item.pixmap()

    # -- selection and marker --------------------------------------------------------
    def set_selection(self, indices: list[int]) -> None:
        """Outline cells: the first as endpoint A, the second as B."""
        for item in self._highlights:
            self.scene().removeItem(item)
        self._highlights = []
        if self._count <= 1:
            return
        for slot, index in enumerate(indices[:2]):
            if not 0 <= index < self._count:
                continue
            x, y, w, h = imgs.cell_rect(index, self._count, self._columns, self._cell)
            rect = QGraphicsRectItem(QRectF(x - 0.5, y - 0.5, w + 1, h + 1))
            pen = QPen(SELECTION_COLORS[slot], 2.5)
            pen.setCosmetic(True)
            rect.setPen(pen)
            # a badge in screen pixels at the cell's corner: "A" or "B"
            badge = QGraphicsRectItem(QRectF(0, 0, 15, 15), rect)
            badge.setBrush(SELECTION_COLORS[slot])
            badge.setPen(QPen(Qt.PenStyle.NoPen))
            badge.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
            badge.setPos(x - 0.5, y - 0.5)
            tag = QGraphicsSimpleTextItem(SELECTION_NAMES[slot], badge)
            tag.setBrush(QColor("white"))
            font = tag.font()
            font.setBold(True)
            font.setPixelSize(11)
            tag.setFont(font)
            tag.setPos((15 - tag.boundingRect().width()) / 2, (15 - tag.boundingRect().height()) / 2)
            self.scene().addItem(rect)
            self._highlights.append(rect)
        if self._strip:
            self._show_selected()

    def keep_in_view(self, rect: QRectF) -> None:
        """A strip keeps this part (a marked frame) scrolled into view, now and after a
        resize or a re-fit."""
        self._focus = QRectF(rect)
        self._show_selected()

    def _show_selected(self) -> None:
        """A strip scrolls its marked or first picked frame into view (else its start)."""
        focus = self._focus if self._focus is not None else (
            self._highlights[0].rect() if self._highlights else None)
        if focus is not None:
            shown = self.mapToScene(self.viewport().rect()).boundingRect()
            if focus.left() < shown.left() or focus.right() > shown.right():
                # sideways only: the strip stays centred on its height
                self.centerOn(focus.center().x(), self.sceneRect().center().y())
        else:
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().minimum())

    def _make_marker(self) -> QGraphicsEllipseItem:
        marker = QGraphicsEllipseItem(-7, -7, 14, 14)
        marker.setPen(QPen(QColor("white"), 2))
        marker.setBrush(QColor(255, 159, 67, 160))
        marker.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        marker.setZValue(10)
        marker.hide()
        self.scene().addItem(marker)
        return marker

    def set_point_mode(self, enabled: bool) -> None:
        """In point mode a press/drag reports a point (the latent map) instead of a cell."""
        self._point_mode = enabled
        self.setCursor(Qt.CursorShape.CrossCursor if enabled else Qt.CursorShape.ArrowCursor)

    def set_marker(self, x_frac: float, y_frac: float) -> None:
        h, w = self._size
        self._marker.setPos(x_frac * w, y_frac * h)
        self._marker.show()

    def clear_marker(self) -> None:
        self._marker.hide()

    def marker_visible(self) -> bool:
        return self._marker.isVisible()

    def grid_position(self, x_frac: float, y_frac: float) -> tuple[float, float]:
        """A point as (column, row) in cell units, with cell centres at whole numbers."""
        h, w = self._cell
        gap = imgs.GRID_GAP
        x, y = x_frac * self._size[1], y_frac * self._size[0]
        return (x - w / 2) / (w + gap), (y - h / 2) / (h + gap)

    def frac_of_grid_position(self, column: float, row: float) -> tuple[float, float]:
        h, w = self._cell
        gap = imgs.GRID_GAP
        H, W = self._size
        return (column * (w + gap) + w / 2) / max(1, W), (row * (h + gap) + h / 2) / max(1, H)

    # -- zoom, pan, fit ----------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        target = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom() * factor))
        self._auto_fit = False
        self.scale(target / self.zoom(), target / self.zoom())

    def zoom_in(self) -> None:
        self.zoom_by(1.25)

    def zoom_out(self) -> None:
        self.zoom_by(0.8)

    def fit(self) -> None:
        """Fit the content to the view; whole-number zooms above 1 keep pixels square."""
        self._auto_fit = True
        h, w = self._size
        if not w or not h:
            return
        view = self.viewport().rect()
        gutter = ROW_LABEL_GUTTER if self._row_labels else 0  # room for row labels, left
        if self._strip:  # the height decides; the scroll bar's room is kept for it
            bar = self.horizontalScrollBar().sizeHint().height()
            scale = (view.height() + (bar if self.horizontalScrollBar().isVisible() else 0)
                     - 16 - bar) / h
        else:
            scale = min((view.width() - 24 - gutter) / w, (view.height() - 24) / h)
        if scale >= 1:
            scale = math.floor(scale)
        scale = min(MAX_ZOOM, max(MIN_ZOOM, scale))
        self.setTransform(QTransform.fromScale(scale, scale))
        if self._strip:  # just the strip (and its row labels) to scroll along
            left, margin = (gutter + 8) / scale, 8 / scale
            self.setSceneRect(QRectF(-left, -margin, w + left + margin, h + 2 * margin))
            self._show_selected()
        else:
            self.centerOn(w / 2 - gutter / 2 / scale, h / 2)

    def set_row_labels(self, labels: list[str] | tuple[str, ...]) -> None:
        """Names left of each grid row (a traversal's directions), in screen pixels."""
        for item in self._row_labels:
            self.scene().removeItem(item)
        self._row_labels = []
        h = self._cell[0]
        for row, text in enumerate(labels):
            item = QGraphicsSimpleTextItem(text)
            item.setBrush(QColor(170, 170, 170) if self._dark else QColor(70, 70, 70))
            item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
            box = item.boundingRect()
            # right-aligned against the grid, centred on the row, whatever the zoom
            item.setTransform(QTransform.fromTranslate(-box.width() - 8, -box.height() / 2))
            item.setPos(0, row * (h + imgs.GRID_GAP) + h / 2)
            self.scene().addItem(item)
            self._row_labels.append(item)
        if self._auto_fit:
            self.fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._auto_fit:
            self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(1.25 ** steps)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_F:
            self.fit()
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_in()
        elif key == Qt.Key.Key_Minus:
            self.zoom_out()
        elif key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)  # space + drag pans
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.setDragMode(QGraphicsView.DragMode.NoDrag)
        else:
            super().keyReleaseEvent(event)

    # -- mouse ---------------------------------------------------------------------------
    def _frac_at(self, event: QMouseEvent) -> tuple[float, float] | None:
        h, w = self._size
        if not w or not h:
            return None
        point = self.mapToScene(event.position().toPoint())
        return (min(1.0, max(0.0, point.x() / w)), min(1.0, max(0.0, point.y() / h)))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton:
            self._pan_from = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if (event.button() == Qt.MouseButton.LeftButton and self._count
                and self.dragMode() == QGraphicsView.DragMode.NoDrag):
            if self._point_mode:
                frac = self._frac_at(event)
                if frac is not None:
                    self._pressing_point = True
                    self.set_marker(*frac)
                    self.point_pressed.emit(*frac)
                event.accept()
                return
            point = self.mapToScene(event.position().toPoint())
            index = imgs.cell_at(point.x(), point.y(), self._count, self._columns, self._cell)
            if index >= 0:
                self.cell_clicked.emit(index, event.modifiers())
                event.accept()
                return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self._auto_fit = False
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
            return
        if self._pressing_point:
            frac = self._frac_at(event)
            if frac is not None:
                self.set_marker(*frac)
                self.point_dragged.emit(*frac)
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and event.button() == Qt.MouseButton.MiddleButton:
            self._pan_from = None
            self.set_point_mode(self._point_mode)  # restore the cursor
            return
        self._pressing_point = False
        super().mouseReleaseEvent(event)

    def cell_label(self, index: int) -> str:
        return self._labels[index] if 0 <= index < len(self._labels) else ""

    def viewportEvent(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip and self._labels:
            point = self.mapToScene(event.pos())
            index = imgs.cell_at(point.x(), point.y(), self._count, self._columns, self._cell)
            text = self.cell_label(index)
            if text:
                QToolTip.showText(event.globalPos(), text, self.viewport())
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton:
            self.fit()
        else:
            super().mouseDoubleClickEvent(event)

    # -- drops ---------------------------------------------------------------------------
    def handle_drop(self, mime: QMimeData) -> bool:
        """Emit `files_dropped` for the local files in `mime`; False when there are none."""
        files = local_files(mime)
        if files:
            self.files_dropped.emit(files)
        return bool(files)

    def dragEnterEvent(self, event) -> None:
        if local_files(event.mimeData()):
            self._drop_hover = True
            self.viewport().update()
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if local_files(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:
        self._drop_hover = False
        self.viewport().update()

    def dropEvent(self, event) -> None:
        self._drop_hover = False
        self.viewport().update()
        if self.handle_drop(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    # -- painting --------------------------------------------------------------------------
    def set_dark(self, dark: bool) -> None:
        self._dark = dark
        self._background = QBrush(_checker_tile(dark))
        self.viewport().update()

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        # a screen-space checkerboard: it must not scale with the zoom
        painter.save()
        painter.resetTransform()
        painter.fillRect(self.viewport().rect(), self._background)
        painter.restore()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self._count and not self._drop_hover:
            return
        painter.save()
        painter.resetTransform()
        area = self.viewport().rect().adjusted(12, 12, -12, -12)
        color = QColor("#4aa3ff") if self._drop_hover else QColor(150, 150, 150, 140 if self._dark else 200)
        if self._drop_hover:
            pen = QPen(color, 2, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawRoundedRect(area, 10, 10)
        if not self._count or self._drop_hover:
            painter.setPen(color)
            text = self.drop_text if self._drop_hover else self.placeholder
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)
        painter.restore()
