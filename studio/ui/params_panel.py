"""The Parameters dock: an op chooser, a Generate button and editors built from specs.

No hand-built form per family: every editor comes from the op's `ParamSpec`s. The panel
only reports edits (`value_changed`); the window writes them into the session.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.params import SEED_MAX, OpSpec, ParamSpec, random_seed
from studio.ui import icons
from studio.ui.wheel_guard import guard_wheel

SLIDER_MAX_INT_RANGE = 64  # int params with a range this small also get a slider


@dataclass
class _Row:
    spec: ParamSpec
    get: Callable[[], Any]
    set: Callable[[Any], None]
    reset: QToolButton
    editor: QWidget
    label: QLabel


@dataclass
class _Form:
    """The editors of one op, built once and kept: switching models or ops shows another
    form instead of rebuilding one (a rebuild took most of a model switch)."""

    spec: OpSpec
    widget: QWidget
    rows: dict[str, _Row]
    sections: dict[str, Section]
    seed_lock: QToolButton | None
    seed_random: QToolButton | None


class Section(QWidget):
    """A collapsible group: a header button that shows or hides its grid of rows."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = QToolButton(text=title, checkable=True, checked=True)
        self.header.setObjectName("section")
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setArrowType(Qt.ArrowType.DownArrow)
        self.header.toggled.connect(self._on_header_toggled)
        self.body = QWidget()
        self.grid = QGridLayout(self.body)
        self.grid.setContentsMargins(4, 0, 0, 6)
        self.grid.setHorizontalSpacing(8)
        self.grid.setVerticalSpacing(6)
        self.grid.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.header)
        layout.addWidget(self.body)

    def _on_header_toggled(self, expanded: bool) -> None:
        self.header.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        self.body.setVisible(expanded)

    @property
    def expanded(self) -> bool:
        return self.header.isChecked()


class ParamsPanel(QWidget):
    value_changed = Signal(str, object)  # name, value
    live_value_changed = Signal(str, object)  # for specs with live=True
    values_reset = Signal(dict)  # "Reset all": every default at once (one undo step)
    generate_requested = Signal()
    op_chosen = Signal(str)
    seed_lock_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: dict[str, _Row] = {}
        self._sections: dict[str, Section] = {}
        self._silent = False
        self._spec: OpSpec | None = None
        self._forms: dict[tuple[int, tuple[str, ...]], _Form] = {}  # (id(spec), classes) → form
        self._class_names: tuple[str, ...] = ()  # the model's classes, for class pickers
        self._hidden: frozenset[str] = frozenset()  # rows the current view's tab owns
        self._shown: _Form | None = None
        self.seed_lock: QToolButton | None = None
        self.seed_random: QToolButton | None = None

        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("primary")
        self.generate_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.generate_button.setToolTip("Run the op with these settings (Ctrl+Enter)")
        self.generate_button.clicked.connect(self.generate_requested)
        self.op_combo = QComboBox()
        self.op_combo.setToolTip("What to do with the model")
        self.op_combo.activated.connect(self._on_op_combo_activated)
        self.op_help = QLabel()
        self.op_help.setObjectName("caption")
        self.op_help.setWordWrap(True)
        op_row = QHBoxLayout()
        op_row.addWidget(QLabel("Op"))
        op_row.addWidget(self.op_combo, 1)

        self._form = QWidget()
        self._form_layout = QVBoxLayout(self._form)
        self._form_layout.setContentsMargins(0, 0, 6, 0)
        self._form_layout.setSpacing(0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self._form)
        self.reset_all_button = QPushButton("Reset all")
        self.reset_all_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_BrowserReload))
        self.reset_all_button.setToolTip("Every parameter of this op back to its default")
        self.reset_all_button.clicked.connect(self._on_reset_all_clicked)
        self.reset_all_button.setEnabled(False)  # until an op is shown
        self.generate_button.setEnabled(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addWidget(self.generate_button)
        layout.addLayout(op_row)
        layout.addWidget(self.op_help)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.reset_all_button, 0, Qt.AlignmentFlag.AlignRight)

    # -- building ---------------------------------------------------------------------
    def set_ops(self, ops: Sequence[OpSpec], current: str) -> None:
        self.op_combo.clear()
        for op in ops:
            self.op_combo.addItem(op.label, op.name)
            self.op_combo.setItemData(self.op_combo.count() - 1, op.help, Qt.ItemDataRole.ToolTipRole)
        index = self.op_combo.findData(current)
        self.op_combo.setCurrentIndex(max(0, index))

    def set_spec(self, spec: OpSpec, values: Mapping[str, Any]) -> None:
        """Rebuild the editors for `spec`, showing `values`."""
        self._spec = spec
        index = self.op_combo.findData(spec.name)
        if index >= 0:
            self.op_combo.setCurrentIndex(index)
        self.op_help.setText(spec.help)
        self.op_help.setVisible(bool(spec.help))
        locked = self.seed_lock.isChecked() if self.seed_lock is not None else False
        key = (id(spec), self._class_names)  # a form per op and per list of classes
        form = self._forms.get(key)
        if form is None or form.spec is not spec:
            form = self._forms[key] = self._build_form(spec)
        if self._shown is not form:
            if self._shown is not None:
                self._shown.widget.hide()
            form.widget.show()  # at once: a layout shows children only on the next pass
            self._shown = form
        self._rows, self._sections = form.rows, form.sections
        self.seed_lock, self.seed_random = form.seed_lock, form.seed_random
        self.reset_all_button.setEnabled(bool(spec.scalar_params))
        if self.seed_lock is not None:
            self.set_seed_locked(locked)
        self._show_rows()
        self.set_values(values)

    def _build_form(self, spec: OpSpec) -> _Form:
        widget = QWidget()
        widget.hide()
        layout = QVBoxLayout(widget)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self._rows, self._sections = {}, {}
        self.seed_lock = self.seed_random = None
        for param in spec.scalar_params:
            section = self._sections.get(param.group)
            if section is None:
                section = self._sections[param.group] = Section(param.group)
                layout.addWidget(section)
            self._add_row(section, param)
        if not spec.scalar_params:
            note = QLabel("This op takes its input from the canvas: drop an image onto it.")
            note.setObjectName("caption")
            note.setWordWrap(True)
            layout.addWidget(note)
        layout.addStretch(1)
        self._form_layout.addWidget(widget)
        guard_wheel(widget)
        return _Form(spec, widget, self._rows, self._sections, self.seed_lock, self.seed_random)

    def _add_row(self, section: Section, spec: ParamSpec) -> None:
        label = QLabel(spec.label)
        label.setToolTip(spec.help)
        editor, get, put = self._make_editor(spec)
        editor.setToolTip(spec.help)
        reset = QToolButton()
        reset.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_BrowserReload))
        reset.setAutoRaise(True)
        reset.setToolTip(f"Reset to default ({spec.default})")
        reset.clicked.connect(lambda _=False, name=spec.name: self.reset(name))
        row = section.grid.rowCount()
        section.grid.addWidget(label, row, 0)
        section.grid.addWidget(editor, row, 1)
        section.grid.addWidget(reset, row, 2)
        self._rows[spec.name] = _Row(spec, get, put, reset, editor, label)

    def set_hidden(self, names: Sequence[str]) -> None:
        """Hide the rows of these parameters: the view's own tab shows them (the GAN's
        truncation and direction sliders), and a setting appears in one place only. A
        section with nothing left to show hides too. Applies to every op from now on."""
        self._hidden = frozenset(names)
        self._show_rows()

    def is_shown(self, name: str) -> bool:
        """Whether the current op's `name` has a row the user can see and edit here."""
        row = self._rows.get(name)
        return row is not None and name not in self._hidden

    def _show_rows(self) -> None:
        for name, row in self._rows.items():
            shown = name not in self._hidden
            for widget in (row.label, row.editor, row.reset):
                widget.setVisible(shown)
        for title, section in self._sections.items():
            section.setVisible(any(row.spec.group == title and name not in self._hidden
                                   for name, row in self._rows.items()))

    def set_class_names(self, names: Sequence[str]) -> None:
        """The current model's class names: its class parameters become lists of them
        (set before `set_spec`)."""
        self._class_names = tuple(str(n) for n in names)

    def _make_editor(self, spec: ParamSpec) -> tuple[QWidget, Callable[[], Any], Callable[[Any], None]]:
        rows = self._rows  # the form being built: only its own editors speak for it
        emit = lambda value, name=spec.name: self._emit(name, value, rows)  # noqa: E731
        if (spec.kind == "int" and spec.name.endswith("class_index") and spec.minimum == -1
                and self._class_names):
            return self._class_editor(spec, emit)
        if spec.kind == "float":
            return self._float_editor(spec, emit)
        if spec.kind in ("int", "seed"):
            return self._int_editor(spec, emit)
        if spec.kind == "bool":
            box = QCheckBox()
            box.toggled.connect(emit)
            return box, box.isChecked, lambda v: box.setChecked(bool(v))
        if spec.kind == "choice":
            combo = QComboBox()
            combo.addItems(list(spec.choices))
            combo.currentTextChanged.connect(emit)
            return combo, combo.currentText, lambda v: combo.setCurrentText(str(v))
        line = QLineEdit()
        line.setPlaceholderText(spec.help)
        line.textChanged.connect(emit)
        return line, line.text, lambda v: line.setText("" if v is None else str(v))

    def _float_editor(self, spec: ParamSpec, emit: Callable[[Any], None]):
        low = spec.minimum if spec.minimum is not None else -1e6
        high = spec.maximum if spec.maximum is not None else 1e6
        step = spec.step or ((high - low) / 100 if spec.maximum is not None else 0.1)
        spin = QDoubleSpinBox()
        spin.setRange(low, high)
        spin.setSingleStep(step)
        spin.setDecimals(max(1, min(4, -math.floor(math.log10(step)) + 1)))
        spin.setKeyboardTracking(False)
        spin.valueChanged.connect(emit)
        if spec.minimum is None or spec.maximum is None:
            return spin, spin.value, spin.setValue
        slider = QSlider(Qt.Orientation.Horizontal)
        ticks = max(1, round((high - low) / step))
        slider.setRange(0, ticks)
        slider.valueChanged.connect(lambda t: spin.setValue(low + t * step))
        spin.valueChanged.connect(lambda v: _set_quietly(slider, round((v - low) / step)))
        spin.setFixedWidth(72)
        box = _hbox(slider, spin)
        box.setToolTip(spec.help)
        slider.setToolTip(spec.help)

        def put(value: Any) -> None:
            spin.setValue(float(value))
            _set_quietly(slider, round((float(value) - low) / step))

        return box, spin.value, put

    def _int_editor(self, spec: ParamSpec, emit: Callable[[Any], None]):
        spin = QSpinBox()
        if spec.kind == "seed":
            spin.setRange(0, SEED_MAX)
        else:
            spin.setRange(int(spec.minimum if spec.minimum is not None else -2**31),
                          int(spec.maximum if spec.maximum is not None else 2**31 - 1))
        spin.setKeyboardTracking(False)
        spin.valueChanged.connect(emit)
        if spec.kind == "seed":
            return self._seed_editor(spec, spin)
        small = (spec.minimum is not None and spec.maximum is not None
                 and spec.maximum - spec.minimum <= SLIDER_MAX_INT_RANGE)
        if not small:
            return spin, spin.value, lambda v: spin.setValue(int(v))
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(spin.minimum(), spin.maximum())
        slider.setToolTip(spec.help)
        slider.valueChanged.connect(spin.setValue)
        spin.valueChanged.connect(lambda v: _set_quietly(slider, v))
        spin.setFixedWidth(72)

        def put(value: Any) -> None:
            spin.setValue(int(value))
            _set_quietly(slider, int(value))

        return _hbox(slider, spin), spin.value, put

    def _class_editor(self, spec: ParamSpec, emit: Callable[[Any], None]):
        """A class from a list of the model's classes; −1 first: "Random" (a class per
        image, from the seed), for a negative class "None" (the unconditional model), or
        what the op says it does without a class (its spec's `unset_label`)."""
        combo = QComboBox()
        combo.addItem(spec.unset_name, -1)
        for index, name in enumerate(self._class_names):
            if spec.maximum is None or index <= spec.maximum:
                combo.addItem(name, index)
        combo.setToolTip(spec.help)
        combo.currentIndexChanged.connect(lambda _i: emit(combo.currentData()))

        def put(value: Any) -> None:
            combo.setCurrentIndex(max(0, combo.findData(int(value))))

        return combo, combo.currentData, put

    def _seed_editor(self, spec: ParamSpec, spin: QSpinBox):
        dice = QToolButton()
        dice.setIcon(icons.dice_icon())
        dice.setToolTip("New random seed")
        dice.clicked.connect(lambda: spin.setValue(random_seed()))
        lock = QToolButton(checkable=True)
        lock.setIcon(icons.lock_icon(False))
        lock.setToolTip("Lock the seed. Unlocked, every Generate draws a new one.")
        lock.toggled.connect(self._on_seed_lock_toggled)
        # a seed the user types is the seed they want: it locks (what you type is what runs)
        spin.lineEdit().textEdited.connect(lambda _text: lock.setChecked(True))
        self.seed_random, self.seed_lock = dice, lock
        return _hbox(spin, dice, lock, stretch_first=True), spin.value, lambda v: spin.setValue(int(v))

    # -- values -----------------------------------------------------------------------
    def set_values(self, values: Mapping[str, Any]) -> None:
        """Show `values` without emitting anything (e.g. after undo or a restore)."""
        self._silent = True
        try:
            for name, value in values.items():
                row = self._rows.get(name)
                if row is not None and value is not None:
                    row.set(value)
                    self._update_reset(row)
        finally:
            self._silent = False

    def values(self) -> dict[str, Any]:
        return {name: row.get() for name, row in self._rows.items()}

    def commit_editing(self) -> None:
        """Take the number being typed in a field now, as Enter or leaving the field
        would: Ctrl+Enter must run what the field shows, not the value before the typing."""
        focused = QApplication.focusWidget()
        for box in self.findChildren(QAbstractSpinBox):
            if box is focused or box.isAncestorOf(focused) or box.lineEdit() is focused:
                box.interpretText()  # emits valueChanged: the session takes the value

    def value(self, name: str) -> Any:
        return self._rows[name].get()

    def set_value(self, name: str, value: Any) -> None:
        """Set one editor as the user would: emits `value_changed`."""
        self._rows[name].set(value)

    def editor(self, name: str) -> QWidget:
        return self._rows[name].editor

    def reset(self, name: str) -> None:
        self.set_value(name, self._rows[name].spec.default)

    def _emit(self, name: str, value: Any, rows: dict[str, _Row] | None = None) -> None:
        if self._silent or (rows is not None and rows is not self._rows):
            return  # quiet, or an editor of a hidden form (it loses focus as it hides)
        row = self._rows.get(name)
        if row is None:
            return
        self._update_reset(row)
        self.value_changed.emit(name, value)
        if row.spec.live:
            self.live_value_changed.emit(name, value)

    def _update_reset(self, row: _Row) -> None:
        row.reset.setEnabled(row.get() != row.spec.default)

    def _on_reset_all_clicked(self) -> None:
        if self._spec is None:
            return
        defaults = {k: v for k, v in self._spec.defaults().items() if v is not None}
        self.set_values(defaults)
        self.values_reset.emit(defaults)

    # -- following the session ---------------------------------------------------------------
    def follow(self, session: Any) -> None:
        """Show the session's values whenever they change (a seed drawn, an explorer's
        slider, undo, a restored recipe), except the panel's own edits, and its seed lock."""
        self._session = session
        session.events.values_changed.connect(self._on_session_values_changed)
        session.events.seed_lock_changed.connect(self.set_seed_locked)

    def _on_session_values_changed(self, op: str, _cause: str, source: object) -> None:
        if source is self or self._spec is None or op != self._spec.name:
            return
        if self._session.family is not None and op in self._session.registry.get(
                self._session.family).op_names:
            self.set_values(self._session.values(op))

    # -- seed lock, op and busy state ---------------------------------------------------
    def set_seed_locked(self, locked: bool) -> None:
        if self.seed_lock is not None:
            self.seed_lock.setChecked(locked)
            self.seed_lock.setIcon(icons.lock_icon(locked))

    def _on_seed_lock_toggled(self, locked: bool) -> None:
        if self.seed_lock is not None:
            self.seed_lock.setIcon(icons.lock_icon(locked))
        self.seed_lock_toggled.emit(locked)

    def _on_op_combo_activated(self, index: int) -> None:
        self.op_chosen.emit(self.op_combo.itemData(index))

    def set_busy(self, busy: bool, ready: bool = True) -> None:
        """Generate is off while a generation runs or before a model is ready."""
        self.generate_button.setEnabled(ready and not busy)
        self.generate_button.setText("Generating…" if busy else "Generate")

    def sections(self) -> dict[str, Section]:
        return dict(self._sections)


def _set_quietly(widget: QWidget, value: int) -> None:
    blocked = widget.blockSignals(True)
    widget.setValue(value)
    widget.blockSignals(blocked)


def _hbox(*widgets: QWidget, stretch_first: bool = False) -> QWidget:
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(6)
    for i, widget in enumerate(widgets):
        layout.addWidget(widget, 1 if (i == 0 and (stretch_first or isinstance(widget, QSlider))) else 0)
    return box
