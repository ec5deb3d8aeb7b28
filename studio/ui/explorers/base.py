"""What every explorer has in common, and the plainest one.

The centre of the window is an *explorer*: a tab per view of the current family (the
VAE's Samples, Interpolate, Traverse, Map; the GAN's Seeds, Truncation & directions,
Walk, Style mix). `FamilyInfo.explorer` names which one a family gets, through the
explorer table (studio.ui.explorers); a kind not in the table gets SamplesExplorer.
Each explorer follows the session (`attach`): it re-reads it after undo, reset and
restore, and shows the results the session announces.

The window asks an explorer what is shown (`result`, `current_image`, `selected_index`,
`animation_result`) and which view shows what (`current_view`, `set_view`, `view_of`,
`ops_of_view`); it never calls down to change one. Everything else comes through the
session's events: results and previews, undo and restore, a live slider moved in the
panel (`rerender_live`), and the offers of a Generate (`take_generate`) or an opened
image (`take_image`), which the explorer on screen may take. Every explorer has a
"samples" view: a SamplesView, where results of unknown ops land and where sample
previews grow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.params import OpSpec
from studio.core.requests import Request, Result
from studio.core.session import WHOLESALE, Session
from studio.ui import images as imgs
from studio.ui.canvas import Canvas
from studio.ui.jobs import JobRouter

SAMPLES = "samples"


def caption(text: str = "") -> QLabel:
    """A muted, wrapping line of help above a view."""
    label = QLabel(text)
    label.setObjectName("caption")
    label.setWordWrap(True)
    return label


def button(text: str, tip: str, checkable: bool = False) -> QPushButton:
    out = QPushButton(text)
    out.setToolTip(tip)
    out.setCheckable(checkable)
    return out


def counter_label(tip: str) -> QLabel:
    """Where a running job's step or row count shows ("step 3/20", "row 5 of 16")."""
    label = QLabel("")
    label.setObjectName("stepCounter")
    label.setToolTip(tip)
    label.setMinimumWidth(90)
    label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return label


# -- the samples view, shared by every explorer --------------------------------------------
class SamplesView(QWidget):
    """A grid of samples (or encoded images). Click picks A, shift-click picks B."""

    picked = Signal()  # the A/B selection changed

    def __init__(self, parent: QWidget | None = None, *,
                 placeholder: str = "Press Generate (Ctrl+Enter) to sample,\n"
                                    "or drop images here to encode them",
                 hint: str = "Click an image to pick A · Shift+click to pick B · "
                             "drop image files to encode them") -> None:
        super().__init__(parent)
        self.canvas = Canvas(placeholder=placeholder)
        self.canvas.cell_clicked.connect(self._on_canvas_cell_clicked)
        self.caption = caption(hint)
        self.interpolate_button = QPushButton("Interpolate A → B")
        self.interpolate_button.setToolTip("Open the Interpolate view between the picked images")
        self.interpolate_button.setEnabled(False)
        self.buttons = QHBoxLayout()  # explorers add their own actions here
        self.buttons.setSpacing(6)
        self.buttons.addWidget(self.interpolate_button)
        top = QHBoxLayout()
        top.addWidget(self.caption, 1)
        top.addLayout(self.buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.canvas, 1)
        self.result: Result | None = None
        self.images: np.ndarray | None = None  # (N, H, W, C) shown
        self.latents: np.ndarray | None = None  # (N, ...) matching, when known
        self.appending = False  # encoded images collect into one grid
        self.selection: list[int] = []

    def show_result(self, result: Result) -> None:
        latents = result.latents
        if result.request.op == "reconstruct":  # (input, reconstruction): one latent
            latents = np.repeat(latents, result.count, axis=0) if latents is not None else None
        if result.request.op == "encode" and self.appending and self.images is not None \
                and self.images.shape[1:] == result.images.shape[1:] and latents is not None \
                and self.latents is not None:
            self.images = np.concatenate([self.images, result.images])
            self.latents = np.concatenate([self.latents, latents])
        else:
            self.images, self.latents = result.images, latents
            self.selection = []
        self.appending = result.request.op == "encode"
        self.result = result
        columns = result.columns if not self.appending else 0
        self.canvas.set_images(self.images, columns, self.labels_of(result))
        self.canvas.set_selection(self.selection)

    def labels_of(self, result: Result) -> Sequence[str]:
        """The cells' tooltips."""
        return result.labels if len(result.labels) == len(self.images) else ()

    def clear(self) -> None:
        self.result = self.images = self.latents = None
        self.selection = []
        self.canvas.clear()

    def pick(self, index: int, as_b: bool = False) -> None:
        if self.images is None or not 0 <= index < len(self.images):
            return
        if as_b and self.selection:
            self.selection = [self.selection[0], index]
        else:
            self.selection = [index]
        self.canvas.set_selection(self.selection)
        self.picked.emit()

    def picked_item(self, slot: int) -> tuple[np.ndarray, np.ndarray | None] | None:
        """(image, latent) picked as A (slot 0) or B (slot 1)."""
        if self.images is None or slot >= len(self.selection):
            return None
        index = self.selection[slot]
        latent = None if self.latents is None else self.latents[index]
        return self.images[index], latent

    def _on_canvas_cell_clicked(self, index: int, modifiers: Any) -> None:
        self.pick(index, as_b=bool(modifiers & Qt.KeyboardModifier.ShiftModifier))


# -- the common interface ----------------------------------------------------------------------
class Explorer(QTabWidget):
    """The base of every explorer: tabs of named views, zoom buttons, the hooks the
    window calls. Subclasses fill `VIEWS`, `VIEW_LABELS` and `OPS_OF_VIEW` and add
    their views with `_add_view`; the first op a view lists is where its results go."""

    VIEWS: tuple[str, ...] = (SAMPLES,)
    VIEW_LABELS: dict[str, str] = {SAMPLES: "Samples"}
    # the ops the parameter panel offers in each view; ops no view lists go to samples
    OPS_OF_VIEW: dict[str, tuple[str, ...]] = {}
    # the parameters a view's own controls set (the GAN's truncation slider): the panel
    # hides them in that view, so each setting appears in one place
    TAB_PARAMS: dict[str, tuple[str, ...]] = {}

    view_changed = Signal(str)
    # paths, target: "samples" (picked as A, B), "a" / "b" (an endpoint), "ab" (both ends)
    files_dropped = Signal(object, str)
    generate_requested = Signal()  # the explorer wants the current view rendered
    message_raised = Signal(str)
    error_raised = Signal(str)
    export_animation_requested = Signal()
    export_sheet_requested = Signal()  # File ▸ Export Contact Sheet of the current view

    def __init__(self, session: Session, jobs: JobRouter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.jobs = jobs
        self.card: Any = None  # the current model's card (set_model)
        self.views: dict[str, QWidget] = {}
        self.setDocumentMode(True)
        self.setCornerWidget(self._zoom_buttons(), Qt.Corner.TopRightCorner)
        self.currentChanged.connect(self._on_tabs_current_changed)

    def _add_view(self, name: str, view: QWidget, icon: QStyle.StandardPixmap | None = None,
                  tip: str = "") -> None:
        assert name in self.VIEWS, name
        self.views[name] = view
        label = self.VIEW_LABELS[name].replace("&", "&&")  # a plain "&", not a mnemonic
        if icon is None:
            index = self.addTab(view, label)
        else:
            index = self.addTab(view, self.style().standardIcon(icon), label)
        if tip:
            self.setTabToolTip(index, tip)

    def _zoom_buttons(self) -> QWidget:
        box = QWidget()
        layout = QHBoxLayout(box)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.setSpacing(2)
        for text, tip, slot in (("−", "Zoom out (Ctrl+-, wheel)", lambda: self.canvas().zoom_out()),
                                ("Fit", "Fit to view (F on the canvas, Ctrl+0)", lambda: self.canvas().fit()),
                                ("+", "Zoom in (Ctrl+=, wheel)", lambda: self.canvas().zoom_in())):
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.setAutoRaise(True)
            button.clicked.connect(slot)
            layout.addWidget(button)
        return box

    @property
    def samples(self) -> SamplesView:
        view = self.views[SAMPLES]
        assert isinstance(view, SamplesView)
        return view

    # -- views -----------------------------------------------------------------------------
    def current_view(self) -> str:
        widget = self.currentWidget()
        return next((name for name, view in self.views.items() if view is widget), SAMPLES)

    def set_view(self, view: str) -> None:
        """Show a view; a view this explorer lacks (another family's) shows samples."""
        self.setCurrentWidget(self.views.get(view, self.views[SAMPLES]))

    def has_view(self, view: str) -> bool:
        return view in self.views

    def view_of(self, request: Request) -> str:
        """The view a result of `request` is shown in: the first that lists its op."""
        for view in self.VIEWS:
            if request.op in self.OPS_OF_VIEW.get(view, ()):
                return view
        return SAMPLES

    def tab_params(self, view: str) -> tuple[str, ...]:
        """The parameters `view` shows in its own controls (the panel hides them)."""
        return self.TAB_PARAMS.get(view, ())

    def ops_of_view(self, view: str, ops: Sequence[OpSpec]) -> list[OpSpec]:
        """The ops the parameter panel offers in `view`."""
        listed = {name for names in self.OPS_OF_VIEW.values() for name in names}
        wanted = self.OPS_OF_VIEW.get(view, ())
        chosen = [op for op in ops if op.name in wanted or (view == SAMPLES and op.name not in listed)]
        # the view's own order first (its first op is its default), then the rest
        return sorted(chosen, key=lambda op: wanted.index(op.name) if op.name in wanted else len(wanted))

    def _on_tabs_current_changed(self, _index: int) -> None:
        self.view_changed.emit(self.current_view())

    # the view an image file is being dropped on, while the window opens it
    _drop_target: str | None = None

    def _emit_drop(self, files: list, view: str, target: str = SAMPLES) -> None:
        """The window opens dropped files at once (and calls take_image): remember where
        they fell meanwhile, for explorers whose views take images differently."""
        self._drop_target = view
        try:
            self.files_dropped.emit(files, target)
        finally:
            self._drop_target = None

    # -- results -----------------------------------------------------------------------------
    def show_result(self, result: Result) -> None:
        self.views[self.view_of(result.request)].show_result(result)

    def result(self, view: str | None = None) -> Result | None:
        return getattr(self.views.get(view or self.current_view()), "result", None)

    def selected_index(self) -> int | None:
        """The picked cell of the current view (for export and copy), if any."""
        selection = getattr(self.views[self.current_view()], "selection", [])
        return selection[0] if selection else None

    def current_image(self) -> np.ndarray | None:
        """The image the user is looking at: a picked cell, else the whole grid."""
        result, index = self.result(), self.selected_index()
        if result is None:
            return None
        if index is not None:
            return result.images[index]
        return imgs.grid_image(result.images, result.columns)

    def animation_result(self) -> Result | None:
        """The frames File ▸ Export Animation writes, if any."""
        return None

    def animation_fps(self) -> int:
        return 12

    animation_hint = "This model's explorer has no animation to export."

    def canvas(self) -> Canvas:
        """The main canvas of the current view (zoom and fit act on it)."""
        return self.views[self.current_view()].canvas

    def canvases(self) -> list[Canvas]:
        return [view.canvas for view in self.views.values() if hasattr(view, "canvas")]

    def clear(self) -> None:
        """A new model: latents of the old one mean nothing."""
        for view in self.views.values():
            view.clear()

    # -- following the session -------------------------------------------------------------
    @property
    def subject(self) -> Any:
        """What the editing views work on (the explorer's own shape), kept in the
        session's state of the current model, not in a widget."""
        return self.session.subject

    @subject.setter
    def subject(self, subject: Any) -> None:
        self.session.set_subject(subject)

    ctx: Any = None  # the ExplorerContext it was built with (studio.ui.explorers)

    def attach(self, ctx: Any) -> None:
        """Follow the session: re-read it after an undo, redo, reset or restore (what this
        explorer did not change itself), and show the results it announces. Only the
        explorer on screen answers; the others show their family's models."""
        self.ctx = ctx
        ctx.session.events.values_changed.connect(self._on_session_values_changed)
        ctx.session.events.result_added.connect(self._on_session_result_added)
        ctx.session.events.previewed.connect(self._on_session_previewed)
        ctx.session.events.run_ended.connect(self._on_session_run_ended)
        ctx.session.events.live_edited.connect(self._on_session_live_edited)
        ctx.session.events.generate_offered.connect(self._on_session_generate_offered)
        ctx.session.events.image_offered.connect(self._on_session_image_offered)

    def _on_session_values_changed(self, _op: str, cause: str, source: object) -> None:
        if cause in WHOLESALE and source is not self and self.ctx.is_current(self):
            self.session_changed()

    def _on_session_result_added(self, _view: str, result: Result) -> None:
        if self.ctx.is_current(self):
            self.show_result(result)

    def _on_session_previewed(self, request: Request, images: np.ndarray) -> None:
        # a growing grid while a sample runs
        if (self.ctx.is_current(self) and request.op == "sample"
                and self.view_of(request) == SAMPLES):
            count = int(request.params.get("count", len(images)))
            self.samples.canvas.set_images(imgs.pad_grid(images, count))

    def _on_session_run_ended(self, _request: Request, state: str) -> None:
        if state == "cancelled" and self.ctx.is_current(self) and self.samples.result is not None:
            self.samples.show_result(self.samples.result)  # take back the partial preview

    def _on_session_live_edited(self, op: str, _name: str) -> None:
        if not self.ctx.is_current(self) or self.rerender_live():
            return
        # re-render what is on screen, if it was made by this op: latest wins
        result = self.result()
        if result is None or result.request.op != op or self.session.model_id is None:
            return
        # the shown result's own seed: the one drawn in advance is for the next Generate
        spec = self.session.op_spec(op)
        seeds = {p.name: result.request.params[p.name] for p in spec.scalar_params
                 if p.kind == "seed" and p.name in result.request.params}
        request = self.session.request(op, params=seeds, inputs=result.request.inputs)
        self.jobs.submit(request, lane="live", latest_wins=True, label=f"{op} (live)",
                         on_result=lambda _job, r: self.session.add_result(r, self.view_of(r.request)))

    def _on_session_generate_offered(self, claim: Any) -> None:
        if self.ctx.is_current(self) and not claim.taken and self.take_generate():
            claim.take()

    def _on_session_image_offered(self, claim: Any, image: np.ndarray, path: str) -> None:
        if self.ctx.is_current(self) and not claim.taken and self.take_image(image, path):
            claim.take()

    # -- what an explorer may do differently ---------------------------------------------------
    def set_model(self, card: Any) -> None:
        """The model whose results this explorer shows (once: each model has its own)."""
        self.card = card

    def take_image(self, image: np.ndarray, path: str) -> bool:
        """An image file the user dropped or opened, fitted to the model: True when the
        explorer takes it (the GAN projects it); False lets the window encode it."""
        return False

    def take_generate(self) -> bool:
        """Generate pressed: True when the explorer runs it itself (a dialog, an edit of
        the picked image); False lets the window run the session's request."""
        return False

    def rerender_live(self) -> bool:
        """A live parameter changed in the panel: True when the explorer re-rendered
        itself; False re-renders the shown result (if the current op made it)."""
        return False

    def session_changed(self) -> None:
        """Session values changed behind the explorer's back (undo, restore, reset):
        called from the session's `values_changed` event."""


class SamplesExplorer(Explorer):
    """For families without an explorer of their own: every result in one grid."""

    def __init__(self, session: Session, jobs: JobRouter, parent: QWidget | None = None) -> None:
        super().__init__(session, jobs, parent)
        view = SamplesView(placeholder="Press Generate (Ctrl+Enter) to run the model",
                           hint="Click an image to pick it · Shift+click to pick a second one")
        view.interpolate_button.hide()
        self._add_view(SAMPLES, view, QStyle.StandardPixmap.SP_FileDialogListView)
        view.canvas.files_dropped.connect(lambda files: self.files_dropped.emit(files, SAMPLES))
