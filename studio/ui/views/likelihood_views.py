"""Read-out views for the likelihood families (flow, PixelCNN): a grid of images and maps
on the left, the figures that matter on the right (bits per dimension large, the most
likely class, where the bits go), and a colour scale for the heatmaps.

`ReadoutView` shows and reports; what a result's figures *mean* is written by the
`Readout` functions below (one per op), so both explorers read the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from studio.core.heatmap import heatmap_rgb
from studio.core.requests import Result
from studio.ui import images as imgs
from studio.ui.canvas import Canvas
from studio.ui.explorers.base import button, caption

GREY_LEVEL_BITS = 8.0  # log2(256): the bin of one grey level, per dimension


@dataclass
class Readout:
    headline: str  # "1.234"
    unit: str  # "bits per dimension"
    details: str  # rich text
    legend: tuple[float, float, str] | None = None  # the heatmap's (dark, bright, unit)


# -- what the figures say ----------------------------------------------------------------------
def class_line(result: Result, classes: Sequence[str] | None) -> str:
    """The most likely class with its posterior and the next two; and the class the
    figures are read under, when Parameters ▸ Class fixed one."""
    extras = result.extras
    posterior = [float(p) for p in extras.get("class_posterior") or []]
    if extras.get("most_likely_class") is None or len(posterior) < 2:
        return ""  # an unconditional model
    names = list(classes or [])

    def name(k: int) -> str:
        return names[k] if k < len(names) else str(k)

    order = [int(k) for k in np.argsort(posterior)[::-1]]
    chosen = int(result.request.params.get("class_index", -1))
    best = extras["most_likely_class"]
    others = ", ".join(f"{name(k)} {100 * posterior[k]:.1f} %" for k in order[1:3])
    text = (f"<p>Most likely class: <b style='font-size:13pt'>{best}</b> "
            f"({100 * posterior[order[0]]:.1f} %)<br><span>then {others}</span></p>")
    if chosen >= 0:
        text += f"<p>Read under class <b>{name(chosen)}</b> (Parameters ▸ Class).</p>"
    return text


def flow_likelihood(result: Result, classes: Sequence[str] | None) -> Readout:
    extras = dict(result.extras)
    bpd = float(extras["bits_per_dim"])
    levels = [float(b) for b in extras.get("bits_per_level", [])]
    pixel_bits = np.asarray(extras.get("pixel_bits", np.zeros((1, 1))), dtype=np.float64)
    maps = extras.get("level_maps") or []
    dims = int(np.prod(result.images.shape[1:3])) * max(1, _channels(result))
    rows = [f"<tr><td>the bins of the 256 grey levels</td><td align='right'>"
            f"{GREY_LEVEL_BITS:.3f}</td></tr>"]
    for level, bits in enumerate(levels):
        shape = np.shape(maps[level]) if level < len(maps) else None
        name = f"scale {shape[0]}×{shape[1]}" if shape else f"scale {level + 1}"
        rows.append(f"<tr><td>{name}</td><td align='right'>{bits:+.3f}</td></tr>")
    total = GREY_LEVEL_BITS + sum(levels)
    rows.append(f"<tr><td><b>sum</b></td><td align='right'><b>{total:.3f}</b></td></tr>")
    # the maps are read under one class: the most likely, or the one Parameters fixed
    under = "" if extras.get("map_class") is None else f", under class {extras['map_class']}"
    details = (class_line(result, classes)
               + f"<p><b>Where the bits go</b> (bits per dimension{under}):</p>"
               + "<table cellspacing='0' cellpadding='2'>" + "".join(rows) + "</table>"
               + f"<p>{bpd * dims:,.0f} bits for the whole image ({dims} dimensions).</p>"
               + "<p style='color:gray'>The flow's density is exact; with the bins of the grey "
                 "levels it bounds the image's probability (a few seeded draws).</p>")
    return Readout(f"{bpd:.3f}", "bits per dimension", details,
                   (float(pixel_bits.min()), float(pixel_bits.max()),
                    "bits per pixel in the all-scales map (each scale's map has its own range)"))


def pixelcnn_likelihood(result: Result, classes: Sequence[str] | None) -> Readout:
    extras = dict(result.extras)
    bpd = float(extras["bits_per_dim"])
    pixel_bits = np.asarray(extras.get("pixel_bits", np.zeros((1, 1))), dtype=np.float64)
    worst = np.unravel_index(int(np.argmax(pixel_bits)), pixel_bits.shape)
    top = float(extras.get("max_pixel_bits", pixel_bits.max()))
    easy = float((pixel_bits < 1.0).mean())
    details = (class_line(result, classes)
               + f"<p><b>Per pixel</b>: the hardest costs <b>{top:.1f}</b> bits (row {worst[0] + 1}, "
                 f"column {worst[1] + 1}); {100 * easy:.0f} % of the pixels cost under one bit.</p>"
               + f"<p>{bpd * pixel_bits.size:,.0f} bits for the whole image "
                 f"({pixel_bits.size} pixels).</p>"
               + "<p style='color:gray'>Exact: each pixel's probability given the pixels before "
                 "it, in raster order.</p>")
    return Readout(f"{bpd:.3f}", "bits per dimension", details, (0.0, top, "bits per pixel"))


def flow_round_trip(result: Result, classes: Sequence[str] | None) -> Readout:
    extras = dict(result.extras)
    error = float(extras.get("max_abs_error", 0.0))
    images = np.asarray(result.images)
    same = int(np.all(images[0] == images[1], axis=-1).sum()) if len(images) >= 2 else 0
    total = int(np.prod(images.shape[1:3]))
    headline = "exact" if same == total else f"{total - same} off"
    details = (f"<p>max |decode(encode(x)) − x| = <b>{error:.2e}</b> in the flow's space, "
               f"where one grey level is 1/256 ≈ 3.9e-03.</p>"
               f"<p>Pixels identical after the round trip: <b>{same} of {total}</b>.</p>"
               f"<p style='color:gray'>Every layer of a flow is invertible, so the latent z "
               f"holds the whole image: nothing is lost, unlike a VAE.</p>")
    return Readout(headline, "round trip", details)


def _channels(result: Result) -> int:
    image = result.request.inputs.get("image")
    return int(np.asarray(image).shape[-1]) if image is not None and np.ndim(image) == 3 else 1


# -- the view ----------------------------------------------------------------------------------------
class HeatLegend(QWidget):
    """The heatmaps' colour scale: dark = few bits, bright = many."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QLabel()
        ramp = heatmap_rgb(np.linspace(0.0, 1.0, 128)[None].repeat(2, 0))
        self.bar.setPixmap(imgs.to_pixmap(np.ascontiguousarray(ramp)).scaled(
            180, 12, Qt.AspectRatioMode.IgnoreAspectRatio))
        self.low, self.high, self.unit = QLabel(""), QLabel(""), caption("")
        row = QHBoxLayout()
        row.setSpacing(6)
        row.addWidget(self.low)
        row.addWidget(self.bar)
        row.addWidget(self.high)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.unit)
        self.setToolTip("The colour scale of the per-pixel map: dark pixels cost few bits, "
                        "bright ones many")

    def set_range(self, low: float, high: float, unit: str) -> None:
        self.low.setText(f"{low:.1f}")
        self.high.setText(f"{high:.1f}")
        self.unit.setText(unit)


class ReadoutView(QWidget):
    """Images and maps (left), the read-out (right). `describe(result, classes)` writes
    the read-out; the image the next run reads is `source`."""

    use_picked_requested = Signal()

    def __init__(self, describe: Callable[[Result, Sequence[str] | None], Readout], *,
                 hint: str, placeholder: str, drop_text: str, use_picked_tip: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.describe = describe
        self.classes: Sequence[str] | None = None
        self.canvas = Canvas(placeholder=placeholder)
        self.canvas.drop_text = drop_text
        self.canvas.cell_clicked.connect(self._on_canvas_cell_clicked)
        self.caption = caption(hint)
        self.use_picked = button("Use picked sample", use_picked_tip)
        self.names = caption("")
        self.names.setToolTip("What each image is, left to right (hover an image for its label)")

        self.headline = QLabel("–")
        self.headline.setObjectName("readoutHeadline")
        font = QFont(self.headline.font())
        font.setPointSizeF(max(20.0, font.pointSizeF() * 2.4))
        font.setWeight(QFont.Weight.DemiBold)
        self.headline.setFont(font)
        self.headline.setToolTip("The figure that matters most for this result")
        self.unit = caption("")
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.legend = HeatLegend()
        self.legend.hide()
        panel = QFrame()
        panel.setObjectName("readout")
        panel.setFrameShape(QFrame.Shape.StyledPanel)
        panel.setMinimumWidth(250)
        panel.setMaximumWidth(340)
        side = QVBoxLayout(panel)
        side.addWidget(self.headline)
        side.addWidget(self.unit)
        side.addSpacing(6)
        side.addWidget(self.details)
        side.addWidget(self.legend)
        side.addStretch(1)
        self.panel = panel

        top = QHBoxLayout()
        top.addWidget(self.caption, 1)
        top.addWidget(self.use_picked)
        left = QVBoxLayout()
        left.addWidget(self.canvas, 1)
        left.addWidget(self.names)
        body = QHBoxLayout()
        body.addLayout(left, 1)
        body.addWidget(panel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addLayout(body, 1)
        self.use_picked.clicked.connect(self.use_picked_requested)

        self.source: np.ndarray | None = None
        self.result: Result | None = None
        self.readout: Readout | None = None
        self.selection: list[int] = []
        self._show_waiting()

    def set_source(self, image: np.ndarray) -> None:
        """The image the next run reads: shown alone until its result comes."""
        self.source = np.asarray(image)
        self.result = self.readout = None
        self.selection = []
        self.canvas.set_image(self.source)
        self.names.setText("")
        self._show_waiting("Press Generate (Ctrl+Enter) to read this image.")

    def show_result(self, result: Result) -> None:
        self.result = result
        self.selection = []
        image = result.request.inputs.get("image")
        if image is not None:
            self.source = np.asarray(image)
        self.canvas.set_images(result.images, result.columns, result.labels)
        self.names.setText("  ·  ".join(f"{i + 1}. {label}" for i, label in enumerate(result.labels)))
        self.readout = self.describe(result, self.classes)
        self.headline.setText(self.readout.headline)
        self.unit.setText(self.readout.unit)
        self.details.setText(self.readout.details)
        if self.readout.legend is not None:
            self.legend.set_range(*self.readout.legend)
        self.legend.setVisible(self.readout.legend is not None)

    def clear(self) -> None:
        self.source = self.result = self.readout = None
        self.selection = []
        self.canvas.clear()
        self.names.setText("")
        self._show_waiting()

    def _show_waiting(self, text: str = "") -> None:
        self.headline.setText("–")
        self.unit.setText("")
        self.details.setText(text or "Drop an image file on the canvas, or pick a sample and "
                                     "press Use picked sample.")
        self.legend.hide()

    def _on_canvas_cell_clicked(self, index: int, _modifiers: Any) -> None:
        if self.result is not None and 0 <= index < len(self.result.images):
            self.selection = [index]
            self.canvas.set_selection(self.selection)
