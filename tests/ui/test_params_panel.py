"""ParamsPanel: editors built from specs, tooltips, reset, seed randomise and lock."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSlider, QSpinBox

from studio.core.params import OpSpec, ParamSpec
from studio.ui.params_panel import ParamsPanel

SPEC = OpSpec("try", (
    ParamSpec("seed", "seed", default=5, help="the seed"),
    ParamSpec("strength", "float", default=0.5, minimum=0.0, maximum=1.0, step=0.05,
              help="how strong", live=True),
    ParamSpec("steps", "int", default=10, minimum=1, maximum=50, help="steps", group="Sampler"),
    ParamSpec("width", "int", default=256, minimum=8, maximum=4096, help="width", group="Sampler"),
    ParamSpec("method", "choice", default="a", choices=("a", "b"), help="which method"),
    ParamSpec("tile", "bool", default=False, help="tile it"),
    ParamSpec("prompt", "text", default="", help="what to draw"),
    ParamSpec("latent", "latent", help="not shown: arrays come from the canvas"),
), help="An op with every kind")


@pytest.fixture
def panel(qtbot):
    widget = ParamsPanel()
    qtbot.addWidget(widget)
    widget.set_ops([SPEC], "try")
    widget.set_spec(SPEC, SPEC.defaults())
    widget.show()
    return widget


def test_editors_follow_the_spec_kinds(panel):
    assert set(panel.values()) == {"seed", "strength", "steps", "width", "method", "tile", "prompt"}
    assert panel.editor("strength").findChild(QSlider) is not None  # float: slider + spin
    assert panel.editor("steps").findChild(QSlider) is not None  # small int range: slider
    assert isinstance(panel.editor("width"), QSpinBox)  # a wide range: spin box only
    assert isinstance(panel.editor("method"), QComboBox)
    assert isinstance(panel.editor("tile"), QCheckBox)
    assert isinstance(panel.editor("prompt"), QLineEdit)
    assert panel.seed_random is not None and panel.seed_lock is not None
    assert panel.editor("strength").toolTip() == "how strong"
    assert set(panel.sections()) == {"General", "Sampler"}
    assert panel.values() == SPEC.defaults()


def test_edits_emit_value_changed_and_live_only_for_live_params(panel, qtbot):
    live = []
    panel.live_value_changed.connect(lambda name, value: live.append(name))
    with qtbot.waitSignal(panel.value_changed) as blocker:
        panel.editor("strength").findChild(QSlider).setValue(16)
    assert blocker.args == ["strength", pytest.approx(0.8)]
    with qtbot.waitSignal(panel.value_changed) as blocker:
        panel.editor("method").setCurrentText("b")
    assert blocker.args == ["method", "b"] and live == ["strength"]


def test_reset_buttons_restore_defaults(panel, qtbot):
    panel.set_value("steps", 30)
    row = panel._rows["steps"]
    assert row.reset.isEnabled()
    with qtbot.waitSignal(panel.value_changed) as blocker:
        QTest.mouseClick(row.reset, Qt.MouseButton.LeftButton)
    assert blocker.args == ["steps", 10] and not row.reset.isEnabled()
    panel.set_value("width", 512)
    panel.set_value("tile", True)
    with qtbot.waitSignal(panel.values_reset) as blocker:
        QTest.mouseClick(panel.reset_all_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0]["width"] == 256 and panel.values() == SPEC.defaults()


def test_seed_randomise_and_lock(panel, qtbot):
    with qtbot.waitSignal(panel.value_changed) as blocker:
        QTest.mouseClick(panel.seed_random, Qt.MouseButton.LeftButton)
    assert blocker.args[0] == "seed"
    with qtbot.waitSignal(panel.seed_lock_toggled) as blocker:
        QTest.mouseClick(panel.seed_lock, Qt.MouseButton.LeftButton)
    assert blocker.args == [True]
    panel.set_spec(SPEC, SPEC.defaults())  # a rebuild keeps the lock
    assert panel.seed_lock.isChecked()


def test_set_values_is_silent_and_sections_collapse(panel, qtbot):
    changes = []
    panel.value_changed.connect(lambda *args: changes.append(args))
    panel.set_values({"steps": 20, "prompt": "a cat"})
    assert changes == [] and panel.value("steps") == 20 and panel.value("prompt") == "a cat"
    section = panel.sections()["Sampler"]
    QTest.mouseClick(section.header, Qt.MouseButton.LeftButton)
    assert not section.expanded and section.body.isHidden()


def test_generate_button_and_busy_state(panel, qtbot):
    assert not ParamsPanel().generate_button.isEnabled()  # nothing to run yet
    panel.set_busy(False, ready=True)
    with qtbot.waitSignal(panel.generate_requested):
        QTest.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    panel.set_busy(True)
    assert not panel.generate_button.isEnabled() and "Generating" in panel.generate_button.text()
    panel.set_busy(False)
    assert panel.generate_button.isEnabled()


def test_rows_a_view_shows_itself_are_hidden_and_a_section_left_empty_too(panel, qtbot):
    panel.set_hidden(("strength", "steps", "width"))
    assert not panel.is_shown("strength") and panel.is_shown("seed")
    assert not panel.editor("strength").isVisible() and panel.editor("seed").isVisible()
    assert not panel.sections()["Sampler"].isVisible()  # both of its rows are hidden
    assert panel.sections()["General"].isVisible()
    # a hidden row still follows the values (the view's own control writes them)
    panel.set_values({"strength": 0.75})
    assert panel.value("strength") == pytest.approx(0.75)
    # another op, or the same again, keeps the choice until the view changes it
    panel.set_spec(SPEC, SPEC.defaults())
    assert not panel.editor("steps").isVisible()
    panel.set_hidden(())
    assert panel.editor("strength").isVisible() and panel.sections()["Sampler"].isVisible()


def test_a_class_list_names_minus_one_as_the_op_says(qtbot):
    panel = ParamsPanel()
    qtbot.addWidget(panel)
    spec = OpSpec("score", (
        ParamSpec("class_index", "int", default=-1, minimum=-1, maximum=9,
                  unset_label="Any (all classes)"),
        ParamSpec("negative_class_index", "int", default=-1, minimum=-1, maximum=9),
    ))
    panel.set_class_names(["zero", "one"])
    panel.set_ops([spec], "score")
    panel.set_spec(spec, spec.defaults())
    assert panel.editor("class_index").itemText(0) == "Any (all classes)"
    assert panel.editor("negative_class_index").itemText(0) == "None"
    assert [panel.editor("class_index").itemText(i) for i in (1, 2)] == ["zero", "one"]
