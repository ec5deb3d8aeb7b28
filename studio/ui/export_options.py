"""What File ▸ Export PNG writes: the whole grid or the picked image, and at which scale
(1×, 2×, 4×, 8× or a pixel size). A panel under the save dialog's file list; the name it
suggests follows the choice, so the file name carries the seed of what the file shows.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QGridLayout,
    QLabel,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from studio.core import export
from studio.core.export_scale import (
    FACTORS,
    MAX_PIXELS,
    MIN_PIXELS,
    NEAREST,
    ExportScale,
    ScaleError,
)
from studio.core.requests import Result

PIXEL_SIZE = "Pixel size"


class ExportOptions(QWidget):
    """The choice of what and how big; `index()` and `scale()` read it back."""

    changed = Signal()

    def __init__(self, result: Result, picked: int | None, picked_seed: int | None = None,
                 scale: str = "1x", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result, self.picked, self.picked_seed = result, picked, picked_seed
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        count = result.count
        self.grid_button = QRadioButton(f"Whole grid ({count} images)" if count > 1 else "The image")
        what = f"seed {picked_seed}" if picked_seed is not None else (
            f"image {picked + 1}" if picked is not None else "click one in the view first")
        self.picked_button = QRadioButton(f"Picked image ({what})")
        self.picked_button.setEnabled(picked is not None and count > 1)
        group = QButtonGroup(self)
        for button in (self.grid_button, self.picked_button):
            group.addButton(button)
            button.toggled.connect(self._on_option_changed)
        # a pick is what the user is looking at; without one, the grid
        (self.picked_button if self.picked_button.isEnabled() else self.grid_button).setChecked(True)

        self.scale_box = QComboBox()
        self.scale_box.addItems([f"{f}×" for f in FACTORS] + [PIXEL_SIZE])
        self.scale_box.setToolTip("Each image is enlarged; a grid keeps its 1-pixel gaps")
        self.pixels = QSpinBox()
        self.pixels.setRange(MIN_PIXELS, MAX_PIXELS)
        self.pixels.setSingleStep(64)
        self.pixels.setSuffix(" px")
        self.pixels.setValue(512)
        self.pixels.setToolTip("The longer side of each image, in pixels")
        self.size_label = QLabel()
        self._set_scale(scale)
        self.scale_box.currentIndexChanged.connect(self._on_option_changed)
        self.pixels.valueChanged.connect(self._on_option_changed)

        layout.addWidget(QLabel("Export:"), 0, 0)
        layout.addWidget(self.grid_button, 0, 1)
        layout.addWidget(self.picked_button, 0, 2, 1, 2)
        layout.addWidget(QLabel("Scale:"), 1, 0)
        layout.addWidget(self.scale_box, 1, 1)
        layout.addWidget(self.pixels, 1, 2)
        layout.addWidget(self.size_label, 1, 3)
        layout.setColumnStretch(3, 1)
        self._on_option_changed()

    def _set_scale(self, text: str) -> None:
        try:
            scale = ExportScale.parse(text)
        except ScaleError:
            scale = ExportScale()
        if scale.pixels is not None:
            self.scale_box.setCurrentText(PIXEL_SIZE)
            self.pixels.setValue(scale.pixels)
        elif scale.factor in FACTORS:
            self.scale_box.setCurrentIndex(FACTORS.index(scale.factor))

    # -- the choice ------------------------------------------------------------------------
    def index(self) -> int | None:
        """The image to write, or None for the whole grid."""
        return self.picked if self.picked_button.isChecked() else None

    def scale(self) -> ExportScale:
        if self.scale_box.currentText() == PIXEL_SIZE:
            return ExportScale(pixels=self.pixels.value())
        return ExportScale(factor=FACTORS[self.scale_box.currentIndex()])

    def select(self, picked: bool | None = None, scale: str | None = None) -> None:
        """Choose as a user would (the tests answer the dialog with it)."""
        if picked is not None:
            (self.picked_button if picked else self.grid_button).setChecked(True)
        if scale is not None:
            self._set_scale(scale)

    def file_name(self, suffix: str = ".png") -> str:
        return export.suggested_name(self.result, suffix, self.index(), self.picked_seed
                                     if self.index() is not None else None)

    def size_text(self) -> str:
        scale = self.scale()
        height, width = export.export_size(self.result, self.index(), scale)
        method = "" if scale.identity else (
            " · nearest-neighbour" if scale.resample_for(*self.result.images.shape[1:3]) == NEAREST
            else " · Lanczos")
        return f"→ {width} × {height} px{method}"

    def _on_option_changed(self, *_args: object) -> None:
        if not hasattr(self, "size_label"):  # still building
            return
        self.pixels.setEnabled(self.scale_box.currentText() == PIXEL_SIZE)
        self.size_label.setText(self.size_text())
        self.changed.emit()
