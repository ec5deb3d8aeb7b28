"""Small painted icons for what QStyle's standard set lacks (dice, lock, model)."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QApplication

SIZE = 32  # painted at 2x for crisp small icons


def _canvas() -> tuple[QPixmap, QPainter]:
    pixmap = QPixmap(SIZE, SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    return pixmap, painter


def _text_color() -> QColor:
    return QApplication.palette().buttonText().color()


def dice_icon() -> QIcon:
    pixmap, p = _canvas()
    color = _text_color()
    p.setPen(QPen(color, 2.2))
    p.drawRoundedRect(QRectF(4, 4, 24, 24), 5, 5)
    p.setBrush(color)
    p.setPen(Qt.PenStyle.NoPen)
    for x, y in ((10, 10), (22, 10), (16, 16), (10, 22), (22, 22)):
        p.drawEllipse(QRectF(x - 2.3, y - 2.3, 4.6, 4.6))
    p.end()
    return QIcon(pixmap)


def lock_icon(locked: bool) -> QIcon:
    pixmap, p = _canvas()
    color = QColor("#ffb84d") if locked else _text_color()
    p.setPen(QPen(color, 2.6))
    shackle = QPainterPath()
    right = 22 if locked else 27  # an open lock swings its shackle right
    shackle.moveTo(10, 15)
    shackle.lineTo(10, 10)
    shackle.arcTo(QRectF(10, 4, right - 10, 12), 180, -180)
    if locked:
        shackle.lineTo(right, 15)
    p.drawPath(shackle)
    p.setBrush(color)
    p.setPen(Qt.PenStyle.NoPen)
    p.drawRoundedRect(QRectF(6, 15, 20, 14), 3, 3)
    p.end()
    return QIcon(pixmap)


def model_icon(hue: int = 210) -> QIcon:
    """A generic model thumbnail: a small mosaic in one hue."""
    pixmap, p = _canvas()
    p.setPen(Qt.PenStyle.NoPen)
    for i in range(4):
        for j in range(4):
            p.setBrush(QColor.fromHsv(hue, 90 + 30 * ((i + j) % 3), 120 + 35 * ((i * 3 + j) % 4)))
            p.drawRect(QRectF(2 + 7 * i, 2 + 7 * j, 6.5, 6.5))
    p.end()
    return QIcon(pixmap)
